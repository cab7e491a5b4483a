"""The rendering pipeline for video: model frames in, a delivered clip out.

:func:`finish_clip` reads top to bottom:

1. frame interpolation to the preset's rate: each new frame is the two nearest source frames
   warped towards its instant along DIS optical flow (Kroeger et al., 2016) and blended;
2. upscale to the preset's size (Lanczos; fit, then centre-crop to the aspect);
3. temporal cleanup (deflicker): each frame's mean luma is pulled to a moving average of its
   neighbours', so exposure stays steady while real fades survive;
4. encode with PyAV (H.264 yuv420p MP4, ``faststart``, CRF from the preset; H.265 and AV1
   as options), plus a poster frame and a contact sheet.

Presets are data (:data:`PRESETS`), like the image tiers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from PIL import Image

from ..errors import InputError
from .contact import contact_sheet

CODECS = {"h264": "libx264", "h265": "libx265", "av1": "libsvtav1"}


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
    return cv2.remap(frame, gx - t * flow[..., 0], gy - t * flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def interpolate(frames: Sequence[np.ndarray], src_fps: float, dst_fps: float,
                frame_count: int | None = None) -> list[np.ndarray]:
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


def fit(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale to cover ``width`` x ``height`` (Lanczos), then crop the centre."""
    h, w = frame.shape[:2]
    scale = max(width / w, height / h)
    size = (max(width, round(w * scale)), max(height, round(h * scale)))
    resized = cv2.resize(frame, size, interpolation=cv2.INTER_LANCZOS4 if scale > 1 else cv2.INTER_AREA)
    y, x = (size[1] - height) // 2, (size[0] - width) // 2
    return resized[y:y + height, x:x + width]


def deflicker(frames: Sequence[np.ndarray], window: int = 7) -> list[np.ndarray]:
    """Gain per frame so its mean luma follows the centred moving average over ``window``."""
    means = np.array([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).mean() for f in frames], np.float64)
    pad = window // 2
    padded = np.pad(means, pad, mode="edge")
    target = np.convolve(padded, np.ones(window) / window, mode="valid")
    out, levels = [], np.arange(256, dtype=np.float64)
    for frame, mean, goal in zip(frames, means, target):
        gain = goal / mean if mean > 1 else 1.0
        if abs(gain - 1) < 1e-3:
            out.append(frame)
        else:  # a lookup table: a few ms per 1080p frame instead of float maths
            out.append(cv2.LUT(frame, np.clip(levels * gain, 0, 255).astype(np.uint8)))
    return out


# ---------------------------------------------------------------------- 4. encode


def encode(frames: Sequence[np.ndarray], path: Path, fps: int, crf: int, codec: str = "h264",
           encoder_preset: str = "veryfast") -> Path:
    """Frames to an MP4 (yuv420p, ``moov`` first)."""
    if codec not in CODECS:
        raise InputError(f"unknown codec {codec!r}; known: {', '.join(CODECS)}")
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        stream = container.add_stream(CODECS[codec], rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        options = {"crf": str(crf)}
        if codec in ("h264", "h265"):
            options["preset"] = encoder_preset
        if codec == "h265":
            options["x265-params"] = "log-level=error"
            stream.codec_tag = "hvc1"  # the tag Safari and Chromium play
        stream.options = options
        for i, frame in enumerate(frames):
            video_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            video_frame.pts = i
            video_frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(video_frame))
        container.mux(stream.encode(None))
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


def finish_clip(frames: Sequence[np.ndarray], src_fps: float, preset: VideoPreset, out: Path,
                seconds: float | None = None, codec: str | None = None,
                on_progress: Callable[[str, int, int], None] | None = None) -> Finished:
    """Steps 1-4 of the module docstring; ``seconds`` fixes the length (default: the source's)."""
    progress = on_progress or (lambda stage, done, total: None)
    if not frames:
        raise InputError("no frames to render")
    seconds = seconds if seconds is not None else len(frames) / src_fps
    count = int(round(seconds * preset.fps))
    timings = {}
    t0 = time.perf_counter()
    smooth = interpolate(frames, src_fps, preset.fps, count)
    timings["interpolate"] = time.perf_counter() - t0
    progress("interpolate", 1, 4)
    t0 = time.perf_counter()
    sized = [fit(f, preset.width, preset.height) for f in smooth]
    timings["upscale"] = time.perf_counter() - t0
    progress("upscale", 2, 4)
    t0 = time.perf_counter()
    steady = deflicker(sized)
    timings["deflicker"] = time.perf_counter() - t0
    progress("deflicker", 3, 4)
    t0 = time.perf_counter()
    encode(steady, out, preset.fps, preset.crf, codec or preset.codec, preset.encoder_preset)
    timings["encode"] = time.perf_counter() - t0
    progress("encode", 4, 4)
    poster = out.with_suffix(".poster.png")
    Image.fromarray(steady[len(steady) // 2]).save(poster)
    sheet = out.with_suffix(".contact.png")
    picks = [steady[round(k * (len(steady) - 1) / 11)] for k in range(min(12, len(steady)))]
    contact_sheet([Image.fromarray(p) for p in picks], columns=6, tile=240).save(sheet)
    return Finished(out, poster, sheet, len(steady), preset.fps, preset.width, preset.height,
                    {k: round(v, 3) for k, v in timings.items()})
