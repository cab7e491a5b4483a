"""Engine benchmarks on the built-in model, baseline and ours side by side in one run.

1. Overhead: the same diffusers pipeline called directly (draft tier: same steps, guidance,
   scheduler, batch of 8) against
   - ``Engine.render_images``: the engine itself (request, tier, scheduler, per-step
     progress, records), which is what the <= 1.05 target is about;
   - ``Engine.generate_image``: the engine plus the library storing every image (WebP with
     its record, C2PA signature, clarity metrics, fsynced file and row), work the raw call
     does not do at all; its cost per image is printed too.
   Runs are interleaved, raw / engine / full in turn, and each ratio is the median over the
   rounds of that round's ratio, so a machine that slows down for a while slows both sides.
2. Draft tier: 24 variations from a template, seconds per image.
3. Production tier: seconds per promoted image, and production / draft per image.

    python benches/bench_engine.py [--quick]   (--quick: one round, 2 drafts, a smoke run)
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

PROMPT = (
    "a {red|blue|green|yellow} {bottle|jar|ball} on a {glass|wooden|marble} table, studio lighting"
)
REPEATS = 15


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="One round, 2 drafts: a smoke run.")
    quick = parser.parse_args().quick
    repeats, variations, promotions = (1, 2, 1) if quick else (REPEATS, 24, 3)
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True, device="cpu"))
        model = engine.models.get("builtin")
        tier = model.family.tiers["draft"]
        pipe = model.pipe
        prompts = ["a red bottle on a glass table, studio lighting"] * 8

        def raw():
            pipe.scheduler = make_scheduler(tier.scheduler, pipe.scheduler)
            gens = [torch.Generator("cpu").manual_seed(i) for i in range(8)]
            pipe(
                prompt=prompts,
                num_inference_steps=tier.steps,
                guidance_scale=tier.guidance,
                generator=gens,
                width=64,
                height=64,
            )

        def engine_only():
            engine.render_images(ImageRequest(prompt=prompts[0], count=8, seed=0), lambda *a: None)

        def full():
            engine.generate_image(ImageRequest(prompt=prompts[0], count=8, seed=0))

        raw(), engine_only(), full()  # warm up
        times: dict[str, list[float]] = {"raw": [], "engine": [], "full": []}
        for _ in range(repeats):
            for name, fn in (("raw", raw), ("engine", engine_only), ("full", full)):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)

        def ratio(name: str) -> float:
            return statistics.median(a / b for a, b in zip(times[name], times["raw"]))

        per_image = {k: statistics.median(v) / 8 * 1000 for k, v in times.items()}
        store = statistics.median(
            (f - e) / 8 * 1000 for f, e in zip(times["full"], times["engine"])
        )
        print(
            f"overhead: raw diffusers {per_image['raw']:.1f} ms/image, engine "
            f"{per_image['engine']:.1f} ms/image, "
            f"engine/raw = {ratio('engine'):.3f} (target <= 1.05)"
        )
        print(
            f"with the library: {per_image['full']:.1f} ms/image, full/raw = {ratio('full'):.3f}; "
            f"storing costs {store:.1f} ms/image (WebP + record, C2PA, metrics, file, row)"
        )

        drafts = engine.generate_image(
            ImageRequest(prompt=PROMPT, template=True, count=variations, seed=1)
        )
        print(
            f"draft tier: {variations} variations in {drafts.seconds:.2f} s, "
            f"{drafts.seconds_per_image:.3f} s/image"
        )
        prod_times = []
        for out in drafts.outputs[:promotions]:
            prod_times.append(engine.promote(out.asset_id).seconds_per_image)
        p = statistics.median(prod_times)
        print(
            f"production tier: {p:.2f} s/image (256x256, refine 0.05, cleanup); "
            f"production/draft per image = {p / drafts.seconds_per_image:.1f}x"
        )


if __name__ == "__main__":
    main()
