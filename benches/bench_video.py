"""Video rendering pipeline: post-processing of a 20 s clip vs the bare encode of its frames.

Model-sized frames (128x72 at 12 fps, a moving textured scene) go through ``finish_clip`` to
the cinematic-1080p preset (interpolate to 24 fps, upscale to 1920x1080, deflicker, encode
H.264). The baseline encodes the same final 480 frames with the same codec settings.
Target: ours / bare encode <= 2.5. Times per stage are printed.

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
    if not args.no_model:
        whole_render(args)


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
