"""``analyze``: which image is clearer, by how much and why; temporal figures for a clip.

Images are compared at a common display size (the largest of them; smaller ones enlarged
bicubically, as a screen would), so a small file is not called sharp for having few pixels.
The reasons name the measured factors that favour the clearer image (resolution, compression
by blockiness, noise, blur by edge width), with the numbers the table shows; factors that
favour the other image are listed apart as what the verdict holds *despite* (a lossless PNG
can still be the blockier one). When the files carry a cinedraft record, how they were made
differently (model, sampling steps, rendering pipeline) is added. The headline ratio says
what it compares: Laplacian variance at the display size, which noise inflates too (said when
the clearer image is the noisier). Crops of the most detailed region are shown side by side
at 1:1.
"""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from ..media.codec import iter_frames, read_frames
from ..media.files import read_regular
from ..media.metadata import DECODE_ERRORS, decode_problem, read_metadata
from ..media.pixels import shown_rgb
from .metrics import image_metrics, temporal_metrics

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv"}
CROP = 128
NOISE_VISIBLE = 1.0  # luma levels: noise below this is not named (8-bit rounding alone is 0.29)
# Artifacts named when two images differ by more than ``least`` and by ``ratio`` times:
# (metric, label, decimals, unit, least, ratio). Lower is cleaner for each.
ARTIFACTS = (
    ("chroma_outliers", "colour blotches", 2, "per mille of pixels of stray colour", 0.2, 2.0),
    ("speckle", "specks", 2, "per mille of pixels alone", 0.2, 2.0),
    ("overshoot", "halos", 1, "% of the edges' step beyond their sides", 5.0, 1.5),
)
BLUR_WEBER = 1.1  # edge widths this many times apart are a blur difference (and > 0.5 px)
MAX_FILE_BYTES = 512 << 20  # an image to analyze


def _load(path: Path) -> tuple[Image.Image, dict, str]:
    if not Path(path).exists():
        raise InputError(f"no such file: {path}")
    data = read_regular(path, MAX_FILE_BYTES)
    try:
        with Image.open(io.BytesIO(data)) as im:
            image, fmt = shown_rgb(im), im.format or path.suffix.lstrip(".")
    except DECODE_ERRORS as exc:
        raise InputError(f"{path.name} is not a readable image: {decode_problem(exc)}") from None
    try:
        record = read_metadata(io.BytesIO(data)).get("record") or {}
    except (OSError, ValueError):
        record = {}
    return image, record, fmt


def _detail_window(image: Image.Image, size: int) -> tuple[int, int]:
    """Top-left corner of the ``size`` square with the most Laplacian energy."""
    g = np.asarray(image.convert("L"), np.float32)
    lap = np.abs(-4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:])
    integral = np.pad(lap, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    s = min(size, lap.shape[0], lap.shape[1])
    sums = integral[s:, s:] - integral[:-s, s:] - integral[s:, :-s] + integral[:-s, :-s]
    y, x = np.unravel_index(np.argmax(sums), sums.shape)
    return int(x), int(y)


def _sides(best: dict, other: dict) -> tuple[list[str], list[str]]:
    """The measured factors that differ, split by whom they favour: ``(for, against)`` the
    clearer image. Every number is the one the table shows (at display size); a factor that
    favours the other image is not a reason, it is said as one the verdict holds despite."""
    favour, despite = [], []
    pixels = best["width"] * best["height"] / (other["width"] * other["height"])
    if abs(pixels - 1) > 0.05:
        (favour if pixels > 1 else despite).append(
            f"resolution: {best['width']}x{best['height']} vs {other['width']}x{other['height']} "
            f"({pixels:.2f}x the pixels)"
        )
    b, o = best["display"], other["display"]
    if other["format"] != best["format"] or abs(o["blockiness"] - b["blockiness"]) > 0.1:
        line = (
            f"compression: {best['format']} vs {other['format']}, blockiness "
            f"{b['blockiness']:.2f} vs {o['blockiness']:.2f} (1 = no 8 px grid)"
        )
        (favour if b["blockiness"] < o["blockiness"] else despite).append(line)
    low, high = sorted((b["noise"], o["noise"]))
    if high - low > 0.2 and high > 1.5 * max(low, 1e-6) and high >= NOISE_VISIBLE:
        line = f"noise: sigma {b['noise']:.2f} vs {o['noise']:.2f} ({high / max(low, 1e-6):.0f}x)"
        if b["noise"] > o["noise"]:  # more noise raises Laplacian variance without detail
            line += "; the sharpness figure counts this noise as detail"
        (favour if b["noise"] < o["noise"] else despite).append(line)
    for key, label, decimals, unit, least, ratio in ARTIFACTS:
        low, high = sorted((b[key], o[key]))
        if high - low > least and high > ratio * low:
            (favour if b[key] < o[key] else despite).append(
                f"{label}: {b[key]:.{decimals}f} vs {o[key]:.{decimals}f} {unit}"
            )
    narrow, wide = sorted((b["edge_width"], o["edge_width"]))
    # Blur is told apart by its ratio (Weber's law: about 10-20 % for blurred edges, Watt &
    # Morgan 1983): a 20 px soft edge against a 21 px one is the same to the eye, and an
    # invisible change (a watermark, a JPEG q95 save) moves the walk to the extrema that much.
    if wide - narrow > 0.5 and wide > BLUR_WEBER * narrow:
        (favour if b["edge_width"] < o["edge_width"] else despite).append(
            f"blur: edges {b['edge_width']:.1f} px vs {o['edge_width']:.1f} px wide"
        )
    return favour, despite


def _made(best: dict, other: dict) -> list[str]:
    """How the two were made differently, from their records (causes, not measurements)."""
    made = []
    rb, ro = best["record"], other["record"]
    for key, label in (("model", "model"), ("steps", "sampling steps"), ("tier", "tier")):
        if rb.get(key) is not None and ro.get(key) is not None and rb[key] != ro[key]:
            made.append(f"{label}: {rb[key]} vs {ro[key]}")
    pipe_b, pipe_o = rb.get("render", {}), ro.get("render", {})
    fields = ("upscale", "sharpen", "refine_strength", "cleanup")
    if pipe_b and pipe_o and any(pipe_b.get(f) != pipe_o.get(f) for f in fields):
        describe = lambda p: ", ".join(f"{f} {p.get(f)}" for f in fields)  # noqa: E731
        made.append(f"rendering pipeline: {describe(pipe_b)} vs {describe(pipe_o)}")
    return made


def analyze_images(paths: list[Path], out_dir: Path | None = None) -> dict:
    """Metrics of each image, the verdict with reasons, and (with ``out_dir``) 1:1 crops."""
    items = []
    for path in map(Path, paths):
        image, record, fmt = _load(path)
        items.append(
            {
                "path": str(path),
                "image": image,
                "record": record,
                "format": fmt.lower(),
                "width": image.width,
                "height": image.height,
                "native": image_metrics(image),
            }
        )
    display = max((i["width"], i["height"]) for i in items)
    for item in items:
        shown = (
            item["image"]
            if item["image"].size == display
            else item["image"].resize(display, Image.Resampling.BICUBIC)
        )
        item["display"] = image_metrics(shown)
    ranked = sorted(items, key=lambda i: -i["display"]["sharpness"])
    best = ranked[0]
    verdict = []
    for other in ranked[1:]:
        ratio = best["display"]["sharpness"] / max(other["display"]["sharpness"], 1e-12)
        favour, despite = _sides(best, other)
        made = _made(best, other)
        verdict.append(
            {
                "clearer": best["path"],
                "than": other["path"],
                # what the ratio compares: Laplacian variance, both at the display size
                "compared": f"Laplacian variance at {display[0]}x{display[1]}",
                "sharpness_ratio": round(ratio, 3),
                "reasons": (favour + made) or ["no factor differs measurably"],
                "despite": despite,
                "made": made,
            }
        )
    report = {
        "display_size": list(display),
        "images": [{k: v for k, v in i.items() if k != "image"} for i in items],
        "verdict": verdict,
    }
    if out_dir is not None and len(items) > 1:
        report["crops"] = str(_write_crops(items, best, display, Path(out_dir)))
    return report


def _write_crops(items: list[dict], best: dict, display: tuple[int, int], out_dir: Path) -> Path:
    """The most detailed region of the clearest image, cut from every image at 1:1."""
    shown = (
        best["image"].resize(display, Image.Resampling.BICUBIC)
        if best["image"].size != display
        else best["image"]
    )
    x, y = _detail_window(shown, CROP)
    crops = []
    for item in items:
        sx, sy = item["width"] / display[0], item["height"] / display[1]
        box = (round(x * sx), round(y * sy), round((x + CROP) * sx), round((y + CROP) * sy))
        crops.append(item["image"].crop(box))
    sheet = Image.new(
        "RGB",
        (sum(c.width for c in crops) + 8 * (len(crops) - 1), max(c.height for c in crops)),
        "white",
    )
    left = 0
    for crop in crops:
        sheet.paste(crop, (left, 0))
        left += crop.width + 8
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "crops.png"
    sheet.save(path)
    return path


def analyze_video(path: Path) -> dict:
    """Frame count, rate, size, and flicker / warp error per second (every frame pair)."""
    # Measured as decoded (a frame held at a time), then decoded again up to the middle
    # frame: held whole, a minute of 4K needed 45 GB.
    (first,), fps = read_frames(Path(path), max_frames=1)
    seen = [0]

    def counted():
        for frame in iter_frames(Path(path)):
            seen[0] += 1
            yield frame

    temporal = temporal_metrics(counted())
    count = seen[0]
    per_second = []
    step = max(1, round(fps))
    for start in range(0, count - 1, step):
        flick = temporal["flicker"][start : start + step]
        warp = temporal["warp_error"][start : start + step]
        per_second.append(
            {
                "second": start // step,
                "flicker": round(float(np.mean(flick)), 4),
                "warp_error": round(float(np.mean(warp)), 4),
            }
        )
    middle = Image.fromarray(next(itertools.islice(iter_frames(Path(path)), count // 2, None)))
    return {
        "path": str(path),
        "frames": count,
        "fps": round(fps, 3),
        "width": first.shape[1],
        "height": first.shape[0],
        "seconds": round(count / fps, 3),
        "flicker": round(float(np.mean(temporal["flicker"])) if temporal["flicker"] else 0.0, 4),
        "warp_error": round(
            float(np.mean(temporal["warp_error"])) if temporal["warp_error"] else 0.0, 4
        ),
        "per_second": per_second,
        "middle_frame": {k: round(v, 6) for k, v in image_metrics(middle).items()},
    }
