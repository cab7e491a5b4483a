"""Exact adjustments: the edits a photo editor makes, done on the pixels without diffusion.

"make it warmer", "more contrast", "crop to 9:16" name a change that arithmetic does exactly,
so a diffusion model (which redraws everything a little) has no business doing them. An
instruction is parsed into :class:`Adjustment` s (:func:`parse`, ``None`` when any part of it
is not one of these), and :func:`apply` runs them: per-channel lookup tables (cv2.LUT) for
tone and colour, one colour-space mix for saturation, a slice for crops. Nothing else in the
image moves, so the drift of such a turn is zero by construction, and the record says so.

Words: ``warmer``, ``cooler``, ``brighter``, ``darker``, ``more contrast``, ``less contrast``,
``more saturated`` / ``more vivid``, ``less saturated`` / ``desaturate`` / ``muted``, ``black
and white`` / ``grayscale``, ``mirror`` / ``flip horizontally``, ``crop to W:H``. ``slightly``
or ``a bit`` halves a step, ``much`` or ``a lot`` doubles it; several join with ``and`` or a
comma ("warmer and a bit brighter").
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from PIL import Image

# One step of each tonal adjustment (what "warmer" alone does).
WARMTH = 0.08  # red gain +8 %, blue gain -8 %
BRIGHTNESS = 0.12  # gamma 1/1.12 .. 1.12 on 0..1 values (no clipping of highlights)
CONTRAST = 0.15  # slope 1.15 about the image's mean luma
SATURATION = 0.25  # chroma * 1.25 (or 0.75)

_AMOUNT = {"slightly": 0.5, "a bit": 0.5, "a little": 0.5, "much": 2.0, "a lot": 2.0}
_FILLER = re.compile(r"^(please\s+)?(make\s+(it|the\s+image|the\s+picture)\s+)?", re.I)
_CROP = re.compile(r"^crop\s+(?:it\s+)?(?:to\s+)?(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)$")
_WORDS: dict[str, tuple[str, float]] = {
    "warmer": ("warmth", 1),
    "cooler": ("warmth", -1),
    "colder": ("warmth", -1),
    "brighter": ("brightness", 1),
    "lighter": ("brightness", 1),
    "darker": ("brightness", -1),
    "more contrast": ("contrast", 1),
    "higher contrast": ("contrast", 1),
    "less contrast": ("contrast", -1),
    "lower contrast": ("contrast", -1),
    "more saturated": ("saturation", 1),
    "more vivid": ("saturation", 1),
    "more colourful": ("saturation", 1),
    "more colorful": ("saturation", 1),
    "less saturated": ("saturation", -1),
    "desaturate": ("saturation", -1),
    "desaturated": ("saturation", -1),
    "muted": ("saturation", -1),
    "black and white": ("grayscale", 1),
    "grayscale": ("grayscale", 1),
    "greyscale": ("grayscale", 1),
    "mirror": ("mirror", 1),
    "mirrored": ("mirror", 1),
    "flip horizontally": ("mirror", 1),
}
# What to tell a user the exact route does (each has synonyms above).
WORDS = (
    "warmer",
    "cooler",
    "brighter",
    "darker",
    "more/less contrast",
    "more/less saturated",
    "black and white",
    "mirror",
    "crop to W:H",
)


@dataclass(frozen=True)
class Adjustment:
    """One exact change: ``kind`` (warmth, brightness, contrast, saturation, grayscale,
    mirror, crop), ``amount`` in steps (negative: the other way) or the crop's aspect."""

    kind: str
    amount: float = 1.0
    aspect: tuple[float, float] | None = None

    def to_record(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse(instruction: str) -> list[Adjustment] | None:
    """The adjustments ``instruction`` asks for, or ``None`` when any part is not one."""
    text = _FILLER.sub("", instruction.strip().lower().rstrip(".!"))
    parts = [p.strip() for p in re.split(r",|\band\b(?!\s+white)|\bthen\b", text) if p.strip()]
    if not parts:
        return None
    out = []
    for part in parts:
        part = _FILLER.sub("", part).strip()
        if part.startswith("make "):
            part = part.removeprefix("make ").strip()
        scale = 1.0
        for word, factor in _AMOUNT.items():
            if part.startswith(word + " "):
                scale, part = factor, part[len(word) :].strip()
        crop = _CROP.match(part)
        if crop:
            w, h = float(crop.group(1)), float(crop.group(2))
            if w <= 0 or h <= 0:
                return None
            out.append(Adjustment("crop", aspect=(w, h)))
        elif part in _WORDS:
            kind, sign = _WORDS[part]
            out.append(Adjustment(kind, sign * scale))
        else:
            return None
    return out


def apply(image: Image.Image, adjustments: list[Adjustment]) -> Image.Image:
    """``image`` with each adjustment applied in order (uint8 in, uint8 out)."""
    rgb = np.asarray(image.convert("RGB"))
    for adj in adjustments:
        rgb = _APPLY[adj.kind](rgb, adj)
    return Image.fromarray(np.ascontiguousarray(rgb))


def _lut(fn) -> np.ndarray:
    x = np.arange(256, dtype=np.float64) / 255
    return np.clip(np.rint(fn(x) * 255), 0, 255).astype(np.uint8)


def _warmth(rgb: np.ndarray, adj: Adjustment) -> np.ndarray:
    gain = WARMTH * adj.amount
    tables = [_lut(lambda x: x * (1 + gain)), _lut(lambda x: x), _lut(lambda x: x * (1 - gain))]
    return cv2.LUT(rgb, np.stack(tables, axis=1)[:, None, :])


def _brightness(rgb: np.ndarray, adj: Adjustment) -> np.ndarray:
    gamma = (1 + BRIGHTNESS) ** (-adj.amount)
    return cv2.LUT(rgb, _lut(lambda x: x**gamma))


def _contrast(rgb: np.ndarray, adj: Adjustment) -> np.ndarray:
    slope = (1 + CONTRAST) ** adj.amount
    mean = float(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).mean()) / 255
    return cv2.LUT(rgb, _lut(lambda x: mean + (x - mean) * slope))


def _saturation(rgb: np.ndarray, adj: Adjustment) -> np.ndarray:
    factor = max(0.0, 1 + SATURATION * adj.amount)
    gray = cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    # gray + factor * (rgb - gray), rounded and clipped to uint8 by cv2
    return cv2.addWeighted(rgb, factor, gray, 1 - factor, 0)


def _grayscale(rgb: np.ndarray, adj: Adjustment) -> np.ndarray:
    return cv2.cvtColor(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)


def _mirror(rgb: np.ndarray, adj: Adjustment) -> np.ndarray:
    return rgb[:, ::-1]


def crop_box(size: tuple[int, int], aspect: tuple[float, float]) -> tuple[int, int, int, int]:
    """The largest centred ``(left, top, width, height)`` of ``size`` at ``aspect``."""
    w, h = size
    want = aspect[0] / aspect[1]
    if w / h > want:
        cw, ch = max(1, round(h * want)), h
    else:
        cw, ch = w, max(1, round(w / want))
    return (w - cw) // 2, (h - ch) // 2, cw, ch


def _crop(rgb: np.ndarray, adj: Adjustment) -> np.ndarray:
    left, top, cw, ch = crop_box((rgb.shape[1], rgb.shape[0]), adj.aspect)
    return rgb[top : top + ch, left : left + cw]


_APPLY = {
    "warmth": _warmth,
    "brightness": _brightness,
    "contrast": _contrast,
    "saturation": _saturation,
    "grayscale": _grayscale,
    "mirror": _mirror,
    "crop": _crop,
}
