"""The rendering pipeline for video: model frames in, a delivered clip out.

:func:`finish_clip` reads top to bottom:

1. frame interpolation to the preset's rate: each new frame is the two nearest source frames
   warped towards its instant along DIS optical flow (Kroeger et al., 2016) and blended;
2. upscale to the preset's size (Lanczos, anti-ringed; fit, then crop to the aspect where
   the clip's subject is, one fixed window: :func:`.salience.crop_anchor`);
3. temporal cleanup (deflicker): each frame's mean luma is pulled to a moving average of its
   neighbours', so exposure stays steady while real fades survive;
4. encode with PyAV (H.264 yuv420p MP4, ``faststart``, CRF from the preset; H.265 and AV1
   as options), plus a poster frame and a contact sheet.

Steps 2-4 run one output frame at a time (the deflicker gains are measured on the small
frames: mean luma survives resizing), so a long 1080p clip never sits in memory whole.

Presets are data (:data:`PRESETS`), like the image tiers.
"""

from __future__ import annotations

from ..request import no_progress

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..media.codec import Writer
from ..quality.metrics import laplacian_variance
from ..errors import InputError
from .contact import contact_sheet
from .salience import CENTRE, crop_anchor
from .upscale import within_source


@dataclass(frozen=True)
class VideoPreset:
    name: str
    width: int
    height: int
    fps: int
    seconds: float  # default length
    crf: int
    codec: str = "h264"
    encoder_preset: str = "veryfast"


PRESETS = {
    p.name: p
    for p in (
        VideoPreset("preview", 640, 360, 24, 4, 28),
        VideoPreset("cinematic-1080p", 1920, 1080, 24, 20, 18),
        VideoPreset("vertical-15s", 1080, 1920, 30, 15, 20),
        VideoPreset("square-social", 1080, 1080, 30, 10, 20),
    )
}


def preset_for(name: str) -> VideoPreset:
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return PRESETS[name]


# ---------------------------------------------------------------------- 1. interpolation


def _flow(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """DIS flow from ``a`` to ``b`` (H, W, 2), on luma."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
    return dis.calc(cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY), None)


def _warp(frame: np.ndarray, flow: np.ndarray, t: float) -> np.ndarray:
    """``frame`` moved a fraction ``t`` along ``flow`` (backward warp, first order)."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(
        frame,
        gx - t * flow[..., 0],
        gy - t * flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )


def interpolate(
    frames: Sequence[np.ndarray], src_fps: float, dst_fps: float, frame_count: int | None = None
) -> list[np.ndarray]:
    """``frame_count`` (default: the same duration at ``dst_fps``) frames; output frame j
    shows time j / dst_fps."""
    n = frame_count if frame_count is not None else int(round(len(frames) / src_fps * dst_fps))
    out, flows = [], {}
    for j in range(n):
        pos = min(j * src_fps / dst_fps, len(frames) - 1)
        i, t = int(pos), pos - int(pos)
        if t < 1e-3 or i + 1 >= len(frames):
            out.append(frames[i])
            continue
        if i not in flows:
            flows = {i: (_flow(frames[i], frames[i + 1]), _flow(frames[i + 1], frames[i]))}
        forward, backward = flows[i]
        a = _warp(frames[i], forward, t)
        b = _warp(frames[i + 1], backward, 1 - t)
        out.append(cv2.addWeighted(a, 1 - t, b, t, 0))
    return out


# ---------------------------------------------------------------------- 2.-3. upscale, deflicker


def fit_frame(
    frame: np.ndarray, width: int, height: int, anchor: tuple[float, float] = CENTRE
) -> np.ndarray:
    """Scale to cover ``width`` x ``height`` (Lanczos), then crop: ``anchor`` is the share of
    the cut-off width and height left of and above the crop (the middle by default)."""
    h, w = frame.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    x, y = round((size[0] - width) * anchor[0]), round((size[1] - height) * anchor[1])
    if scale <= 1:
        return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)[y : y + height, x : x + width]
    # Lanczos rings around edges (halos): anti-ringed as the image upscale is
    window = (slice(y, y + height), slice(x, x + width))
    resized = cv2.resize(frame, size, interpolation=cv2.INTER_LANCZOS4)[window]
    return within_source(resized, frame, size, window)


def unfit(
    frame: np.ndarray, width: int, height: int, anchor: tuple[float, float] = CENTRE
) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """The inverse of :func:`fit_frame` with the same ``anchor``: a ``width`` x ``height``
    frame that it would turn back into ``frame`` (scaled into place, edges repeated
    outwards), and the box (x0, y0, x1, y1) of it that ``frame`` really shows."""
    h, w = frame.shape[:2]
    scale = max(w / width, h / height)
    inner_w, inner_h = min(width, round(w / scale)), min(height, round(h / scale))
    x0, y0 = round((width - inner_w) * anchor[0]), round((height - inner_h) * anchor[1])
    small = cv2.resize(frame, (inner_w, inner_h), interpolation=cv2.INTER_AREA)
    full = cv2.copyMakeBorder(
        small, y0, height - inner_h - y0, x0, width - inner_w - x0, cv2.BORDER_REPLICATE
    )
    return full, (x0, y0, x0 + inner_w, y0 + inner_h)


def deflicker_gains(frames: Sequence[np.ndarray], window: int = 7) -> np.ndarray:
    """Gain per frame so its mean luma follows the centred moving average over ``window``.
    Mean luma survives resizing, so the gains can be measured on model-size frames."""
    means = np.array([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).mean() for f in frames], np.float64)
    pad = window // 2
    padded = np.pad(means, pad, mode="edge")
    target = np.convolve(padded, np.ones(window) / window, mode="valid")
    return np.where(means > 1, target / np.maximum(means, 1e-6), 1.0)


def apply_gain(frame: np.ndarray, gain: float) -> np.ndarray:
    """A lookup table: a few ms per 1080p frame instead of float maths."""
    if abs(gain - 1) < 1e-3:
        return frame
    return cv2.LUT(frame, np.clip(np.arange(256) * gain, 0, 255).astype(np.uint8))


def deflicker(frames: Sequence[np.ndarray], window: int = 7) -> list[np.ndarray]:
    """Every frame with its :func:`deflicker_gains` applied."""
    return [apply_gain(f, g) for f, g in zip(frames, deflicker_gains(frames, window))]


# ---------------------------------------------------------------------- 4. encode


def encode(
    frames: Sequence[np.ndarray],
    path: Path,
    fps: int,
    crf: int,
    codec: str = "h264",
    encoder_preset: str = "veryfast",
) -> Path:
    """Frames to an MP4 (yuv420p, ``moov`` first)."""
    height, width = frames[0].shape[:2]
    with Writer(path, width, height, fps, crf=crf, codec=codec, preset=encoder_preset) as writer:
        for frame in frames:
            writer.add_frame(frame)
    return path


@dataclass
class Finished:
    path: Path
    poster: Path
    contact_sheet: Path
    frames: int
    fps: int
    width: int
    height: int
    timings: dict
    anchor: tuple[float, float]  # where the delivery crop sits (fit_frame's anchor)


def finish_clip(
    frames: Sequence[np.ndarray],
    src_fps: float,
    preset: VideoPreset,
    out: Path,
    seconds: float | None = None,
    codec: str | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
    context: str | None = None,
    anchor: tuple[float, float] | None = None,
) -> Finished:
    """Steps 1-4 of the module docstring; ``seconds`` fixes the length (default: the source's).

    ``context`` "first" (or "last") says ``frames[0]`` (``frames[-1]``) is the frame of
    another clip this one continues (leads into): it is interpolated from, so the first new
    frame comes one output frame after it, and then left out.

    ``anchor`` places the crop to the preset's aspect (:func:`fit_frame`); by default the one
    window that keeps the most of the clip's subject (:func:`~.salience.crop_anchor`), not
    the middle: a square model's object on a table loses its base to a centred 16:9 crop. A
    continuation passes the crop of the clip it continues, so the two line up."""
    progress = on_progress or no_progress
    if not frames:
        raise InputError("no frames to render")
    seconds = seconds if seconds is not None else len(frames) / src_fps
    count = int(round(seconds * preset.fps))
    t0 = time.perf_counter()
    if context == "first":
        smooth = interpolate(frames, src_fps, preset.fps, count + 1)[1:]
    elif context == "last":  # time runs backwards from the given frame
        smooth = interpolate(list(frames)[::-1], src_fps, preset.fps, count + 1)[1:][::-1]
    else:
        smooth = interpolate(frames, src_fps, preset.fps, count)
    timings = {
        "interpolate": time.perf_counter() - t0,
        "upscale": 0.0,
        "deflicker": 0.0,
        "encode": 0.0,
    }
    progress("interpolate", 1, 1)
    if anchor is None:
        anchor = crop_anchor(smooth, preset.width / preset.height)
    # 2.-4. One output frame at a time: a 1080p clip never sits in memory whole.
    gains = deflicker_gains(smooth)
    middle, picks = (
        len(smooth) // 2,
        {round(k * (len(smooth) - 1) / 11) for k in range(min(12, len(smooth)))},
    )
    kept: dict[int, np.ndarray] = {}
    with Writer(
        out,
        preset.width,
        preset.height,
        preset.fps,
        crf=preset.crf,
        codec=codec or preset.codec,
        preset=preset.encoder_preset,
    ) as writer:
        for i, (frame, gain) in enumerate(zip(smooth, gains)):
            t0 = time.perf_counter()
            sized = fit_frame(frame, preset.width, preset.height, anchor)
            t1 = time.perf_counter()
            steady = apply_gain(sized, gain)
            t2 = time.perf_counter()
            writer.add_frame(steady)
            timings["upscale"] += t1 - t0
            timings["deflicker"] += t2 - t1
            timings["encode"] += time.perf_counter() - t2
            if i in picks or i == middle:
                kept[i] = steady
            progress("render", i + 1, len(smooth))
        t0 = time.perf_counter()
    timings["encode"] += time.perf_counter() - t0  # flushing the encoder
    poster = out.with_suffix(".poster.png")
    # the sharpest frame kept (the middle and the sheet's), not the middle blindly: a clip's
    # middle can be mid-motion, blurred, and a poster is what a library shows of it
    sharpest = max(sorted(kept), key=lambda i: laplacian_variance(kept[i]))
    Image.fromarray(kept[sharpest]).save(poster)
    sheet = out.with_suffix(".contact.png")
    contact_sheet([Image.fromarray(kept[i]) for i in sorted(picks)], columns=6, tile=240).save(
        sheet
    )
    return Finished(
        out,
        poster,
        sheet,
        len(smooth),
        preset.fps,
        preset.width,
        preset.height,
        {k: round(v, 3) for k, v in timings.items()},
        anchor,
    )
