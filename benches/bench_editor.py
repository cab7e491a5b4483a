"""Editor benchmarks: stream copy vs re-encoding, ours vs MoviePy, side by side in one run.

Three 20 s 1080p H.264 clips (24 fps, a keyframe every 2 s) are made once. Then:

1. concat of the three + a cut of the result (2.5 s .. 47.3 s, not on keyframes):
   ours (copy concat + smart-render cut) vs MoviePy 2 (concatenate_videoclips + subclipped,
   written with libx264 at MoviePy's default preset, medium, and at its fastest, ultrafast);
   target ours >= 50x faster;
2. stream-copy paths as multiples of real time (target >= 100x);
3. smart-render cut vs a full re-encode of the same cut (same encoder settings).

MoviePy is a bench-only dependency with its own venv (it pins Pillow < 12):
``make bench`` builds ``.venv-bench`` from ``benches/requirements-moviepy.txt`` and passes its
interpreter.

    python benches/bench_editor.py [--seconds 20] [--moviepy-python .venv-bench/bin/python]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av  # noqa: E402
import numpy as np  # noqa: E402

from cinedraft.editor import ops  # noqa: E402
from cinedraft.media.codec import Writer  # noqa: E402
from cinedraft.media.probe import Prober  # noqa: E402


def make_clip(path: Path, seconds: int, seed: int) -> None:
    """1080p, 24 fps, GOP 48, ultrafast: moving gradients with noise (realistic bitrate)."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (135, 240, 3), dtype=np.uint8)
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 1920, 1080, "yuv420p"
        stream.options = {
            "preset": "ultrafast",
            "crf": "23",
            "g": "48",
            "keyint_min": "48",
            "sc_threshold": "0",
        }
        big = np.kron(base, np.ones((8, 8, 1), np.uint8))
        for i in range(seconds * 24):
            frame = np.roll(big, i * 4, axis=1)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))


MOVIEPY_JOB = """
import sys
from moviepy import VideoFileClip, concatenate_videoclips
*clips, out, cut_from, cut_to, preset = sys.argv[1:]
sources = [VideoFileClip(p) for p in clips]
concatenate_videoclips(sources).write_videofile(out + "/mp_concat.mp4", codec="libx264",
                                                preset=preset, audio=False, logger=None)
cut = VideoFileClip(out + "/mp_concat.mp4").subclipped(float(cut_from), float(cut_to))
cut.write_videofile(out + "/mp_cut.mp4", codec="libx264", preset=preset, audio=False, logger=None)
"""


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument(
        "--moviepy-python", help="Interpreter with moviepy installed (skipped if unset)."
    )
    parser.add_argument("--quick", action="store_true", help="2 s clips, no MoviePy: a smoke run.")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.moviepy_python = 2, None
    prober = Prober()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t_make = time.perf_counter()
        clips = [tmp / f"clip{i}.mp4" for i in range(3)]
        for i, path in enumerate(clips):
            make_clip(path, args.seconds, i)
        print(f"made 3 x {args.seconds} s 1080p clips in {time.perf_counter() - t_make:.0f} s")
        infos = [prober.probe(p) for p in clips]
        total = 3 * args.seconds
        cut_from, cut_to = (2.5, total - 12.7) if total > 20 else (total * 0.4, total * 0.6)

        # 1. Ours: copy concat, then a smart-render cut of the result.
        t_concat = timed(lambda: ops.merge(infos, tmp / "concat.mp4"))
        merged = prober.probe(tmp / "concat.mp4")
        stats = {}
        t_cut = timed(
            lambda: stats.setdefault("cut", ops.cut(merged, cut_from, cut_to, tmp / "cut.mp4"))
        )
        ours = t_concat + t_cut
        print(
            f"1. ours: concat {t_concat:.3f} s (copy) + cut {t_cut:.3f} s "
            f"({stats['cut'].method}: {stats['cut'].reencoded_frames} frames re-encoded, "
            f"{stats['cut'].copied_packets} packets copied) = {ours:.3f} s"
        )
        # 2. Real-time multiples of the copy paths.
        print(
            f"2. stream copy: concat {total / t_concat:.0f}x real time; "
            f"smart cut {(cut_to - cut_from) / t_cut:.0f}x real time"
        )

        # 3. Smart render vs full re-encode of the same cut.
        def full_reencode():
            frames_from = int(np.ceil(cut_from * 24))
            frames_to = int(np.ceil(cut_to * 24))
            writer = Writer(tmp / "full.mp4", 1920, 1080, Fraction(24))
            with av.open(str(tmp / "concat.mp4")) as container:
                for i, frame in enumerate(container.decode(video=0)):
                    if frames_from <= i < frames_to:
                        writer.add_frame(frame.to_ndarray(format="rgb24"))
            writer.close()

        t_full = timed(full_reencode)
        print(
            f"3. full re-encode of the same cut: {t_full:.2f} s; "
            f"smart render is {t_full / t_cut:.0f}x faster"
        )
        for preset in ("medium", "ultrafast") if args.moviepy_python else ():
            t_mp = timed(
                lambda p=preset: subprocess.run(
                    [
                        args.moviepy_python,
                        "-c",
                        MOVIEPY_JOB,
                        *map(str, clips),
                        str(tmp),
                        str(cut_from),
                        str(cut_to),
                        p,
                    ],
                    check=True,
                )
            )
            print(
                f"   MoviePy ({preset}): {t_mp:.1f} s; "
                f"ours is {t_mp / ours:.0f}x faster (target >= 50x)"
            )
    prober.close()


if __name__ == "__main__":
    main()
