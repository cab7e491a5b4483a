"""Model-loading benchmarks, baseline and ours side by side in one run.

1. LoRA overhead per image: the engine's draft tier on the built-in model with no LoRA
   (baseline) against the same with a LoRA (ours: loaded, fused for the request, unfused and
   unloaded after it, so every request pays the whole cost). Target <= 1.05x per image at
   a batch of 8. Runs are interleaved; the ratio is the median of the rounds' ratios.
2. Single-file checkpoint vs folder, time to first image: not measured, because single-file
   checkpoints do not load yet (``cinedraft models`` says so for each one).

    python benches/bench_models.py [--quick]   (--quick: one round: a smoke run)
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from cinedraft import Engine, ImageRequest, Settings  # noqa: E402
from cinedraft.request import Lora  # noqa: E402

ROUNDS = 7


def _lora(engine: Engine, out: Path) -> Path:
    """A random rank-8 LoRA over the built-in UNet's attention, in diffusers' format."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = engine.models.get("builtin").pipe.unet
    torch.manual_seed(0)
    unet.add_adapter(
        LoraConfig(r=8, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    )
    layers = get_peft_model_state_dict(unet)
    unet.delete_adapters(["default_0"])
    StableDiffusionPipeline.save_lora_weights(out, unet_lora_layers=layers)
    return out / "pytorch_lora_weights.safetensors"


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="One round: a smoke run.")
    quick = parser.parse_args().quick
    rounds, count = (1, 2) if quick else (ROUNDS, 8)
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True, device="cpu"))
        lora = _lora(engine, Path(home) / "lora")
        plain = ImageRequest(prompt="a red bottle on a glass table", count=count, seed=1)
        styled = plain.model_copy(update={"loras": [Lora(ref=str(lora), weight=0.8)]})

        def per_image(request: ImageRequest) -> float:
            t0 = time.perf_counter()
            engine.render_images(request, lambda *a: None)
            return (time.perf_counter() - t0) / count

        per_image(plain), per_image(styled)  # warm up both paths
        ratios, base, ours = [], [], []
        for _ in range(rounds):
            b, o = per_image(plain), per_image(styled)
            base.append(b)
            ours.append(o)
            ratios.append(o / b)
        print("1. LoRA overhead per image (draft tier, built-in model, batch of %d)" % count)
        print(f"   no LoRA (baseline): {statistics.median(base) * 1000:.1f} ms/image")
        print(f"   LoRA, fused per request (ours): {statistics.median(ours) * 1000:.1f} ms/image")
        print(f"   ours/baseline = {statistics.median(ratios):.3f} (target <= 1.05)")
        print("2. single-file checkpoint vs folder: not measured (single files do not load yet)")


if __name__ == "__main__":
    main()
