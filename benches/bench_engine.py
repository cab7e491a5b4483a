"""Engine benchmarks on the built-in model, baseline and ours side by side in one run.

1. Overhead: the same diffusers pipeline called directly vs ``Engine.generate_image`` (draft
   tier: same steps, guidance, scheduler, batch; ours also encodes the WebP with its record,
   signs it (C2PA) and stores it in the library).
   Runs are interleaved and the median of each is compared: ours / raw (target <= 1.05).
2. Draft tier: 24 variations from a template, seconds per image.
3. Production tier: seconds per promoted image, and production / draft per image.
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
from cinedraft.engine.schedulers import make_scheduler  # noqa: E402

PROMPT = "a {red|blue|green|yellow} {bottle|jar|ball} on a {glass|wooden|marble} table, studio lighting"
REPEATS = 7


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True, device="cpu"))
        model = engine.models.get("builtin")
        tier = model.family.tiers["draft"]
        pipe = model.pipe
        prompts = ["a red bottle on a glass table, studio lighting"] * 8

        def raw():
            pipe.scheduler = make_scheduler(tier.scheduler, pipe.scheduler)
            gens = [torch.Generator("cpu").manual_seed(i) for i in range(8)]
            pipe(prompt=prompts, num_inference_steps=tier.steps, guidance_scale=tier.guidance,
                 generator=gens, width=64, height=64)

        def ours():
            engine.generate_image(ImageRequest(prompt=prompts[0], count=8, seed=0))

        raw(), ours()  # warm up
        t_raw, t_ours = [], []
        for _ in range(REPEATS):
            for fn, times in ((raw, t_raw), (ours, t_ours)):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
        r, o = statistics.median(t_raw), statistics.median(t_ours)
        print(f"overhead: raw diffusers {r / 8 * 1000:.1f} ms/image, cinedraft {o / 8 * 1000:.1f} ms/image "
              f"(incl. WebP + record), ours/raw = {o / r:.3f}")

        drafts = engine.generate_image(ImageRequest(prompt=PROMPT, template=True, count=24, seed=1))
        print(f"draft tier: 24 variations in {drafts.seconds:.2f} s, {drafts.seconds_per_image:.3f} s/image")
        prod_times = []
        for out in drafts.outputs[:3]:
            prod_times.append(engine.promote(out.asset_id).seconds_per_image)
        p = statistics.median(prod_times)
        print(f"production tier: {p:.2f} s/image (256x256, refine 0.05, cleanup); "
              f"production/draft per image = {p / drafts.seconds_per_image:.1f}x")


if __name__ == "__main__":
    main()
