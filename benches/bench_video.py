"""Video rendering pipeline: post-processing of a 20 s clip vs the bare encode of its frames.

Model-sized frames (128x72 at 12 fps, a moving textured scene) go through ``finish_clip`` to
the cinematic-1080p preset (interpolate to 24 fps, upscale to 1920x1080, deflicker, encode
H.264). The baseline encodes the same final 480 frames with the same codec settings.
Target: ours / bare encode <= 2.5. Times per stage are printed.

Then the built-in model's neighbourhood attention (``cinedraft/builtin/reach.py``): each
pixel's first-frame neighbourhood as one gather, against the 25 stacked slices it was built
from before (same values, asserted), at the model's latent sizes and, with the model, over a
whole 8-frame chunk at 20 steps (alternating rounds, the median ratio).

Then the whole thing: a 20 s cinematic-1080p clip from the built-in video model (text to
video in chunks, seams scored, colour anchored, then the same rendering pipeline), with the
time of each stage (``--no-model`` skips it).

    python benches/bench_video.py [--seconds 20] [--no-model]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from cinedraft.render.video import PRESETS, deflicker, encode, finish_clip, fit_frame, interpolate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--no-model", action="store_true", help="skip the built-in model render")
    parser.add_argument(
        "--quick", action="store_true", help="1 s, post-processing only: a smoke run."
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.no_model = 1, True
    post_processing(args)
    reach_neighbourhood(args)
    if not args.no_model:
        whole_render(args)


def _stacked_neighbours(self, x, height, width):
    """The baseline: reach's neighbourhood as it was built before, 25 slices stacked."""
    import torch
    import torch.nn.functional as F

    r = self.radius
    grid = F.pad(x.reshape(-1, height, width, x.shape[-1]).permute(0, 3, 1, 2), (r, r, r, r))
    cols = [
        grid[:, :, dy : dy + height, dx : dx + width]
        for dy in range(2 * r + 1)
        for dx in range(2 * r + 1)
    ]
    return torch.stack(cols, -1).permute(0, 2, 3, 4, 1).reshape(x.shape[0], len(cols), -1)


def reach_neighbourhood(args) -> None:
    import os
    import statistics

    import torch

    from cinedraft.builtin import reach

    proc = reach.ReachAttnProcessor(dim=128, heads=4, radius=2)
    gather = reach.ReachAttnProcessor._neighbours
    for side in (8, 4):  # the coarse motion modules' latents for a 64x64 clip
        x = torch.randn(2 * side * side, 128)  # a guided pair of clips, one frame's keys
        assert torch.equal(gather(proc, x, side, side), _stacked_neighbours(proc, x, side, side))
        took = {}
        for name, fn in (("stacked", _stacked_neighbours), ("gather", gather)):
            t0 = time.perf_counter()
            for _ in range(200):
                fn(proc, x, side, side)
            took[name] = (time.perf_counter() - t0) / 200 * 1e3
        print(
            f"reach neighbourhood {side}x{side}: stacked {took['stacked']:.3f} ms, gather "
            f"{took['gather']:.3f} ms, {took['stacked'] / took['gather']:.1f}x"
        )
    if args.no_model:
        return
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from cinedraft import Engine, Settings, VideoRequest
    from cinedraft_training.evaluation import NATIVE, ONE_CHUNK

    # one chunk delivered at the model's size, as the evaluation draws it: the model's time
    request = VideoRequest(
        prompt="a blue jar on a glass table, the jar slides left",
        seconds=ONE_CHUNK,
        seed=7,
        hold_subject=False,
    )
    ratios = []
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True, provenance=False))
        engine.video.generate(request, "builtin", preset=NATIVE)  # warm
        for _ in range(3):
            took = {}
            for name, fn in (("stacked", _stacked_neighbours), ("gather", gather)):
                reach.ReachAttnProcessor._neighbours = fn
                t0 = time.perf_counter()
                engine.video.generate(request, "builtin", preset=NATIVE)
                took[name] = time.perf_counter() - t0
            ratios.append(took["stacked"] / took["gather"])
        reach.ReachAttnProcessor._neighbours = gather
    print(
        f"built-in model, one 8-frame chunk at 20 steps: stacked {took['stacked']:.2f} s, "
        f"gather {took['gather']:.2f} s (last round); median ratio {statistics.median(ratios):.2f}x"
    )


def whole_render(args) -> None:
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from cinedraft import Engine, Settings, VideoRequest

    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True))
        request = VideoRequest(
            prompt="a blue jar on a glass table, the jar slides left, studio lighting",
            seconds=args.seconds,
            preset="cinematic-1080p",
            seed=7,
        )
        t0 = time.perf_counter()
        result = engine.generate_video(request)
        total = time.perf_counter() - t0
    worst = max((s.ratio or 0 for s in result.seams), default=0)
    print(
        f"built-in model, {args.seconds} s cinematic-1080p: {result.frames} frames "
        f"{result.width}x{result.height}, {result.chunks} chunks, worst seam x{worst:.2f}, "
        f"{sum(s.attempts - 1 for s in result.seams)} chunk(s) redrawn"
    )
    print(f"stages (s): {result.timings}; total {total:.1f} s")


def post_processing(args) -> None:
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (72, 400, 3), dtype=np.uint8)
    frames = [
        np.ascontiguousarray(np.roll(texture, 2 * i, axis=1)[:, :128])
        for i in range(args.seconds * 12)
    ]
    preset = PRESETS["cinematic-1080p"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = finish_clip(frames, 12, preset, Path(tmp) / "ours.mp4")
        ours = time.perf_counter() - t0
        final = deflicker(
            [fit_frame(f, preset.width, preset.height) for f in interpolate(frames, 12, preset.fps)]
        )
        t0 = time.perf_counter()
        encode(
            final,
            Path(tmp) / "bare.mp4",
            preset.fps,
            preset.crf,
            preset.codec,
            preset.encoder_preset,
        )
        bare = time.perf_counter() - t0
    print(
        f"{args.seconds} s clip -> {done.frames} frames {done.width}x{done.height}"
        f" at {done.fps} fps"
    )
    print(f"stages (s): {done.timings}")
    print(f"ours {ours:.1f} s vs bare encode {bare:.1f} s: ratio {ours / bare:.2f} (target <= 2.5)")


if __name__ == "__main__":
    main()
