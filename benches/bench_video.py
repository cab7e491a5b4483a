"""Video rendering pipeline: post-processing of a 20 s clip vs the bare encode of its frames.

Model-sized frames (128x72 at 12 fps, a moving textured scene) go through ``finish_clip`` to
the cinematic-1080p preset (interpolate to 24 fps, upscale to 1920x1080, deflicker, encode
H.264). The baseline encodes the same final 480 frames with the same codec settings.
Target: ours / bare encode <= 2.5. Times per stage are printed.

    python benches/bench_video.py [--seconds 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from cinedraft.render.video import PRESETS, deflicker, encode, finish_clip, fit, interpolate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 255, (72, 400, 3), dtype=np.uint8)
    frames = [np.ascontiguousarray(np.roll(texture, 2 * i, axis=1)[:, :128]) for i in range(args.seconds * 12)]
    preset = PRESETS["cinematic-1080p"]
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        done = finish_clip(frames, 12, preset, Path(tmp) / "ours.mp4")
        ours = time.perf_counter() - t0
        final = deflicker([fit(f, preset.width, preset.height) for f in interpolate(frames, 12, preset.fps)])
        t0 = time.perf_counter()
        encode(final, Path(tmp) / "bare.mp4", preset.fps, preset.crf, preset.codec, preset.encoder_preset)
        bare = time.perf_counter() - t0
    print(f"{args.seconds} s clip -> {done.frames} frames {done.width}x{done.height} at {done.fps} fps")
    print(f"stages (s): {done.timings}")
    print(f"ours {ours:.1f} s vs bare encode {bare:.1f} s: ratio {ours / bare:.2f} (target <= 2.5)")


if __name__ == "__main__":
    main()
