"""Clarity benchmarks: metric speed, and the tiled upscaler's throughput and peak memory.

1. All no-reference image metrics on a 1024x1024 image (time), and the temporal metrics per
   1080p frame (flicker + DIS warp error with the flow at 480 px, the default), as frames per
   second against real time at 24 fps. Then the metrics of a 24 Mpx photo (6000x4000, what
   importing one waits for): ``image_metrics``, which reads the luma once, against the
   baseline of each metric reading the image itself (as it did before), and their ratio.
2. Tiled model upscaler, random weights at real sizes (speed does not depend on the values):
   SRVGGNetCompact (64 features, 32 convs, as realesr-general-x4v3) and RRDBNet (64 features,
   23 blocks, as RealESRGAN_x4plus): megapixels of output per second, and the peak resident
   memory of a 1024x1024 -> 4096x4096 run (SRVGG) in a fresh process.

    python benches/bench_quality.py [--skip-4k] [--quick]   (--quick: toy sizes, a smoke run)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from cinedraft.quality.metrics import (  # noqa: E402
    IMAGE_METRICS,
    image_metrics,
    temporal_metrics,
)


def photo(size: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(
        rng.integers(0, 256, (size // 16, size // 16, 3), dtype=np.uint8)
    ).resize((size, size), Image.Resampling.BICUBIC)


def each_metric_on_its_own(image: Image.Image) -> dict[str, float]:
    """The baseline: every metric of ``image_metrics`` given the image, so each reads its
    pixels and computes the luma itself."""
    return {name: metric(image) for name, metric in IMAGE_METRICS.items()}


def bench_large_photo(size: tuple[int, int] = (6000, 4000)) -> None:
    image = photo(max(size)).crop((0, 0, *size))
    t0 = time.perf_counter()
    baseline = each_metric_on_its_own(image)
    t1 = time.perf_counter()
    ours = image_metrics(image)
    t2 = time.perf_counter()
    assert ours == baseline, "image_metrics must give what each metric gives on its own"
    print(
        f"   all image metrics, {size[0]}x{size[1]}: each metric on its own {t1 - t0:.2f} s, "
        f"image_metrics {t2 - t1:.2f} s: {(t1 - t0) / (t2 - t1):.2f}x faster, same values"
    )


def bench_metrics(side: int = 1024, frames_n: int = 49, frame_size=(1920, 1080)) -> None:
    image = photo(side)
    image_metrics(image)
    t0 = time.perf_counter()
    for _ in range(5):
        image_metrics(image)
    print(f"1. all image metrics, {side}x{side}: {(time.perf_counter() - t0) / 5 * 1000:.0f} ms")
    base = np.asarray(photo(frame_size[1]).resize(frame_size))
    frames = [np.roll(base, 3 * i, axis=1) for i in range(frames_n)]
    temporal_metrics(frames[:3])
    t0 = time.perf_counter()
    temporal_metrics(frames)
    fps = (frames_n - 1) / (time.perf_counter() - t0)
    print(
        f"   video metrics per {frame_size[1]}p frame: {1000 / fps:.1f} ms = {fps:.0f} fps "
        f"({fps / 24:.1f}x real time at 24 fps; flow at 480 px, every frame, no sampling)"
    )


CHILD = """
import json, resource, sys, time, torch
from pathlib import Path
from PIL import Image
from cinedraft.render.upscale import ModelUpscaler
torch.set_num_threads(2)
path, side = sys.argv[1], int(sys.argv[2])
up = ModelUpscaler(Path(path), tile=256, overlap=16)
image = Image.new("RGB", (side, side), (120, 90, 60))
t0 = time.perf_counter()
out = up.upscale(image)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "size": out.size,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _run_child(weights: Path, side: int) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(weights), str(side)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_upscaler(skip_4k: bool, quick: bool = False) -> None:
    from safetensors.torch import save_file

    from cinedraft.render.srnets import RRDBNet, SRVGGNetCompact

    print("2. tiled upscaler (x4, CPU, random weights at real sizes)")
    with tempfile.TemporaryDirectory() as tmp:
        nets = {
            "SRVGGNetCompact 64x32": SRVGGNetCompact(4, 64, 32),
            "RRDBNet 64x23": RRDBNet(4, 64, 23, 32),
        }
        for name, net in nets.items():
            weights = Path(tmp) / f"{name.split()[0]}.safetensors"
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(weights))
            side = (16 if quick else 128) if name.startswith("RRDB") else (32 if quick else 256)
            result = _run_child(weights, side)
            mp = (side * 4) ** 2 / 1e6
            print(
                f"   {name}: {side}->{side * 4}: {mp / result['seconds']:.3f} MP/s output, "
                f"peak RSS {result['peak_mb']:.0f} MB"
            )
            if not skip_4k and name.startswith("SRVGG"):
                result = _run_child(weights, 1024)
                print(
                    f"   {name}: 1024->4096: {result['seconds']:.0f} s, "
                    f"{16.8 / result['seconds']:.3f} MP/s, "
                    f"peak RSS {result['peak_mb']:.0f} MB"
                )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-4k", action="store_true")
    parser.add_argument("--quick", action="store_true", help="Toy sizes, seconds (a smoke run).")
    args = parser.parse_args()
    if args.quick:
        bench_metrics(side=256, frames_n=5, frame_size=(320, 180))
        bench_large_photo((300, 200))
        bench_upscaler(skip_4k=True, quick=True)
        return
    bench_metrics()
    bench_large_photo()
    bench_upscaler(args.skip_4k)


if __name__ == "__main__":
    main()
