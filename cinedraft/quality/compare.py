"""``analyze``: which image is clearer, by how much and why; temporal figures for a clip.

Images are compared at a common display size (the largest of them; smaller ones enlarged
bicubically, as a screen would), so a small file is not called sharp for having few pixels.
The reasons name the factors that differ: resolution, compression (format, blockiness), noise,
blur (edge width), and, when the files carry a cinedraft record, the model, sampling steps and
rendering pipeline. Crops of the most detailed region are shown side by side at 1:1.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ..errors import InputError
from ..media.codec import read_frames
from ..media.files import read_regular
from ..media.metadata import DECODE_ERRORS, read_metadata
from .metrics import image_metrics, temporal_metrics

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv"}
CROP = 128
MAX_FILE_BYTES = 512 << 20  # an image to analyze


def _load(path: Path) -> tuple[Image.Image, dict, str]:
    if not Path(path).exists():
        raise InputError(f"no such file: {path}")
    data = read_regular(path, MAX_FILE_BYTES)
    try:
        with Image.open(io.BytesIO(data)) as im:
            image, fmt = im.convert("RGB"), im.format or path.suffix.lstrip(".")
    except DECODE_ERRORS as exc:
        raise InputError(f"{path.name} is not a readable image: {exc}") from None
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


def _reasons(best: dict, other: dict) -> list[str]:
    """Why ``best`` looks clearer than ``other``: every factor that differs."""
    reasons = []
    pixels = best["width"] * best["height"] / (other["width"] * other["height"])
    if abs(pixels - 1) > 0.05:
        reasons.append(
            f"resolution: {best['width']}x{best['height']} vs {other['width']}x{other['height']} "
            f"({pixels:.2f}x the pixels)"
        )
    b, o = best["native"], other["native"]
    if other["format"] != best["format"] or abs(o["blockiness"] - b["blockiness"]) > 0.1:
        reasons.append(
            f"compression: {best['format']} vs {other['format']}, blockiness "
            f"{b['blockiness']:.2f} vs {o['blockiness']:.2f}"
        )
    if abs(o["noise"] - b["noise"]) > 1.0:
        reasons.append(f"noise: sigma {b['noise']:.1f} vs {o['noise']:.1f}")
    if abs(o["edge_width"] - b["edge_width"]) > 0.5:
        reasons.append(
            f"blur: edges {best['display']['edge_width']:.1f} px vs "
            f"{other['display']['edge_width']:.1f} px wide at display size"
        )
    rb, ro = best["record"], other["record"]
    for key, label in (("model", "model"), ("steps", "sampling steps"), ("tier", "tier")):
        if rb.get(key) is not None and ro.get(key) is not None and rb[key] != ro[key]:
            reasons.append(f"{label}: {rb[key]} vs {ro[key]}")
    pipe_b, pipe_o = rb.get("render", {}), ro.get("render", {})
    fields = ("upscale", "sharpen", "refine_strength", "cleanup")
    if pipe_b and pipe_o and any(pipe_b.get(f) != pipe_o.get(f) for f in fields):
        describe = lambda p: ", ".join(f"{f} {p.get(f)}" for f in fields)  # noqa: E731
        reasons.append(f"rendering pipeline: {describe(pipe_b)} vs {describe(pipe_o)}")
    return reasons or ["no factor differs measurably"]


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
        verdict.append(
            {
                "clearer": best["path"],
                "than": other["path"],
                "sharpness_ratio": round(ratio, 3),
                "reasons": _reasons(best, other),
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
    frames, fps = read_frames(Path(path))
    temporal = temporal_metrics(frames)
    per_second = []
    step = max(1, round(fps))
    for start in range(0, len(frames) - 1, step):
        flick = temporal["flicker"][start : start + step]
        warp = temporal["warp_error"][start : start + step]
        per_second.append(
            {
                "second": start // step,
                "flicker": round(float(np.mean(flick)), 4),
                "warp_error": round(float(np.mean(warp)), 4),
            }
        )
    middle = Image.fromarray(frames[len(frames) // 2])
    return {
        "path": str(path),
        "frames": len(frames),
        "fps": round(fps, 3),
        "width": frames[0].shape[1],
        "height": frames[0].shape[0],
        "seconds": round(len(frames) / fps, 3),
        "flicker": round(float(np.mean(temporal["flicker"])) if temporal["flicker"] else 0.0, 4),
        "warp_error": round(
            float(np.mean(temporal["warp_error"])) if temporal["warp_error"] else 0.0, 4
        ),
        "per_second": per_second,
        "middle_frame": {k: round(v, 6) for k, v in image_metrics(middle).items()},
    }
