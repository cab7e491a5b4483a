"""Model-loading benchmarks, baseline and ours side by side in one run.

1. LoRA overhead per image: the engine's draft tier on the built-in model with no LoRA
   (baseline) against the same with a LoRA, requests alternating, so each LoRA request
   fuses it and the next plain one unfuses it (ours; it stays loaded, turned off, in
   between). Target <= 1.05x per image at a batch of 8. Also printed: alternating two LoRA
   files, so each request loads its file too. Runs are interleaved; each ratio is the median
   of the rounds' ratios.
2. Single-file checkpoint vs folder, time to first image: an SD 1.5-architecture model
   (the shipped configs: 1.07 B parameters, random fp16 weights, as a fine-tune is shipped)
   saved as a diffusers folder (baseline) and as one LDM-layout file (ours), each loaded by a
   fresh engine that then draws one draft image. Target <= 1.3x. Rounds alternate which goes
   first; the ratio is the median of the rounds' ratios.

    python benches/bench_models.py [--quick]   (--quick: one round, and part 2 on a model
                                                an eighth the width: a smoke run)
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
from cinedraft.engine.clip_vocab import clip_tokenizer  # noqa: E402
from cinedraft.engine.single_file import SHIPPED  # noqa: E402
from cinedraft.request import Lora  # noqa: E402
from tests.ldm_layout import clip_to_ldm, unet_to_ldm, vae_to_ldm  # noqa: E402

ROUNDS = 7


def _lora(engine: Engine, out: Path, seed: int = 0) -> Path:
    """A random rank-8 LoRA over the built-in UNet's attention, in diffusers' format."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    unet = engine.models.get("builtin").pipe.unet
    torch.manual_seed(seed)
    name = f"bench{seed}"
    unet.add_adapter(
        LoraConfig(r=8, lora_alpha=8, target_modules=["to_q", "to_k", "to_v", "to_out.0"]),
        adapter_name=name,
    )
    layers = get_peft_model_state_dict(unet, adapter_name=name)
    unet.delete_adapters([name])  # the engine's model must be left as it was
    StableDiffusionPipeline.save_lora_weights(out, unet_lora_layers=layers)
    return out / "pytorch_lora_weights.safetensors"


def _sd15(root: Path, small: bool) -> tuple[Path, Path, Path]:
    """An SD 1.5-architecture model with random fp16 weights, saved as a diffusers folder
    and as a single LDM-layout file; and the configs folder to load the file with (the
    shipped one, or for ``small`` a copy with every width divided by 8)."""
    import json
    import shutil

    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    configs = root / "configs"
    shutil.copytree(SHIPPED, configs)
    if small:
        for part, keys in (("unet", ("block_out_channels",)), ("vae", ("block_out_channels",))):
            path = configs / "sd15" / part / "config.json"
            config = json.loads(path.read_text())
            config["block_out_channels"] = [c // 8 for c in config["block_out_channels"]]
            config["norm_num_groups"] = 8
            config |= {"attention_head_dim": 4, "cross_attention_dim": 64} if part == "unet" else {}
            path.write_text(json.dumps(config))
        path = configs / "sd15" / "text_encoder" / "config.json"
        text = json.loads(path.read_text()) | {"hidden_size": 64, "intermediate_size": 128}
        path.write_text(json.dumps(text | {"num_attention_heads": 4, "num_hidden_layers": 2}))
    folder = configs / "sd15"
    torch.manual_seed(0)
    pipe = StableDiffusionPipeline(
        vae=AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae")),
        text_encoder=CLIPTextModel(CLIPTextConfig.from_pretrained(folder / "text_encoder")),
        tokenizer=clip_tokenizer(),
        unet=UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet")),
        scheduler=DDIMScheduler.from_pretrained(folder / "scheduler"),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).to(torch.float16)
    pipe.save_pretrained(root / "sd15-folder", safe_serialization=True)
    state = unet_to_ldm(pipe.unet.state_dict(), dict(pipe.unet.config))
    state |= vae_to_ldm(pipe.vae.state_dict(), len(pipe.vae.config.block_out_channels))
    state |= clip_to_ldm(pipe.text_encoder.state_dict(), "cond_stage_model.transformer.")
    save_file({k: v.contiguous() for k, v in state.items()}, root / "sd15-file.safetensors")
    return root / "sd15-folder", root / "sd15-file.safetensors", configs


def _first_image(home: Path, model: Path, configs: Path) -> float:
    """Seconds from a fresh engine to its first draft image of ``model``."""
    t0 = time.perf_counter()
    settings = Settings(home=home, offline=True, device="cpu", single_file_configs=configs)
    request = ImageRequest(prompt="a red bottle", model=str(model), steps=1, width=256, height=256)
    Engine(settings).render_images(request, lambda *a: None)
    return time.perf_counter() - t0


def single_file_vs_folder(root: Path, rounds: int, small: bool) -> None:
    folder, file, configs = _sd15(root, small)
    gb = file.stat().st_size / 1e9
    for model in (folder, file):  # imports and the page cache, for both
        _first_image(root / "warm", model, configs)
    ratios, base, ours = [], [], []
    for i in range(rounds):
        if i % 2:
            o, b = _first_image(root / f"f{i}", file, configs), _first_image(root, folder, configs)
        else:
            b, o = _first_image(root, folder, configs), _first_image(root / f"f{i}", file, configs)
        base.append(b)
        ours.append(o)
        ratios.append(o / b)
    size = "an eighth-width" if small else "a full-size"
    print(f"2. time to first image, {size} SD 1.5 model ({gb:.2f} GB file, fp16)")
    print(f"   diffusers folder (baseline): {statistics.median(base):.2f} s")
    print(f"   single file (ours): {statistics.median(ours):.2f} s")
    print(f"   ours/baseline = {statistics.median(ratios):.3f} (target <= 1.3)")


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="One round: a smoke run.")
    quick = parser.parse_args().quick
    rounds, count = (1, 2) if quick else (ROUNDS, 8)
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True, device="cpu"))
        plain = ImageRequest(prompt="a red bottle on a glass table", count=count, seed=1)
        styled = [
            plain.model_copy(update={"loras": [Lora(ref=str(path), weight=0.8)]})
            for path in (_lora(engine, Path(home) / f"lora{i}", seed=i) for i in range(2))
        ]

        def per_image(request: ImageRequest) -> float:
            t0 = time.perf_counter()
            engine.render_images(request, lambda *a: None)
            return (time.perf_counter() - t0) / count

        per_image(plain), per_image(styled[0])  # warm up both paths
        base, same, switched = [], [], []
        for i in range(rounds):
            base.append(per_image(plain))
            same.append(per_image(styled[0]))
        for i in range(rounds):  # two files in turn: each request loads its file
            switched.append(per_image(styled[(i + 1) % 2]) / per_image(plain))
        ratios = [o / b for b, o in zip(base, same)]
        print("1. LoRA overhead per image (draft tier, built-in model, batch of %d)" % count)
        print(f"   no LoRA (baseline): {statistics.median(base) * 1000:.1f} ms/image")
        print(f"   LoRA, fused per request (ours): {statistics.median(same) * 1000:.1f} ms/image")
        print(f"   ours/baseline = {statistics.median(ratios):.3f} (target <= 1.05)")
        print(
            f"   another LoRA file each request (loaded too): "
            f"{statistics.median(switched):.3f}x the baseline"
        )
    with tempfile.TemporaryDirectory() as root:
        single_file_vs_folder(Path(root), 1 if quick else 3, small=quick)


if __name__ == "__main__":
    main()
