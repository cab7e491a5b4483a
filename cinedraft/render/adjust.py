"""Exact adjustments: the edits a photo editor makes, done on the pixels without diffusion.

"make it warmer", "more contrast", "crop to 9:16" name a change that arithmetic does exactly,
so a diffusion model (which redraws everything a little) has no business doing them. An
instruction is parsed into :class:`Adjustment` s (:func:`parse`, ``None`` when any part of it
is not one of these), and :func:`apply` runs them: per-channel lookup tables (cv2.LUT) for
tone and colour, one colour-space mix for saturation, a slice for crops. Nothing else in the
image moves, so the drift of such a turn is zero by construction, and the record says so.

Words: ``warmer``, ``cooler``, ``brighter``, ``darker``, ``more contrast``, ``less contrast``,
``more saturated`` / ``more vivid``, ``less saturated`` / ``desaturate`` / ``muted``, ``black
and white`` / ``grayscale``, ``mirror`` / ``flip horizontally``, ``crop to W:H``, each also
said as an adjective ("less warm", "too dark"), a noun ("more warmth", "reduce the
contrast") or a verb ("warm it up"), with the asking around it set aside
(:mod:`.phrasing`). ``slightly`` or ``a bit`` halves a step, ``much`` or ``a lot`` doubles
it; several join with ``and`` or a comma ("warmer and a bit brighter"). "more" and "too
much" refer back to the turn before (:func:`again`); the caller has that turn's record.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from PIL import Image

from ..errors import InputError
from .phrasing import plain

# One step of each tonal adjustment (what "warmer" alone does).
WARMTH = 0.08  # red gain +8 %, blue gain -8 %
BRIGHTNESS = 0.12  # gamma 1/1.12 .. 1.12 on 0..1 values (no clipping of highlights)
CONTRAST = 0.15  # slope 1.15 about the image's mean luma
SATURATION = 0.25  # chroma * 1.25 (or 0.75)
MIN_CROP = 8  # px: the least side a crop leaves (the smallest image a model draws)

# How much of a step: "a touch warmer" is half of one, "much warmer" two, "even warmer" one.
_AMOUNT = (  # longest first, so "a little bit" is not read as "a little"
    *((w, 0.5) for w in ("a little bit", "a tiny bit", "just a bit", "a little", "a bit")),
    *((w, 0.5) for w in ("a touch", "a tad", "slightly", "somewhat")),
    *((w, 2.0) for w in ("a lot", "much", "way", "far")),
    ("even", 1.0),
)
_IT = r"(?:it|this|the (?:image|picture|photo|shot|scene|colou?rs?))"
# "make it warmer", "it's too dark", "the image brighter": the change is what follows.
_FILLER = re.compile(
    rf"^(?:(?:with|and|also|plus) )*"
    rf"(?:(?:make|get|have|turn) {_IT} |(?:it's|it is|this is|that's) |{_IT} )?"
)
# "warmer still", "brighter again", "cooler tones"
_AFTER = re.compile(r" (?:still|again|too|now|overall|tones?)$")
_CROP = re.compile(r"^crop\s+(?:it\s+)?(?:to\s+)?(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)$")
_MIRROR = re.compile(rf"^(?:mirror|flip)(?: {_IT})?(?: horizontally| left to right)?$|^mirrored$")
# The graded kinds, each said as a comparative ("warmer"), an adjective after "more", "less"
# or "too" ("more warm", "less bright", "too dark"), a noun after a verb ("more warmth",
# "reduce the contrast") or a verb of its own ("warm it up"); the sign is the direction.
GRADED = ("warmth", "brightness", "contrast", "saturation")
_COMPARATIVES = {
    "warmer": ("warmth", 1),
    "cooler": ("warmth", -1),
    "colder": ("warmth", -1),
    "brighter": ("brightness", 1),
    "lighter": ("brightness", 1),
    "darker": ("brightness", -1),
    "punchier": ("contrast", 1),
    "flatter": ("contrast", -1),
    "desaturate": ("saturation", -1),
    "desaturated": ("saturation", -1),
    "muted": ("saturation", -1),
    "warm it up": ("warmth", 1),
    "warm up": ("warmth", 1),
    "cool it down": ("warmth", -1),
    "cool down": ("warmth", -1),
    "brighten": ("brightness", 1),
    "brighten it": ("brightness", 1),
    "brighten it up": ("brightness", 1),
    "brighten up": ("brightness", 1),
    "lighten it": ("brightness", 1),
    "lighten it up": ("brightness", 1),
    "darken": ("brightness", -1),
    "darken it": ("brightness", -1),
    "desaturate it": ("saturation", -1),
    "saturate it": ("saturation", 1),
}
_ADJECTIVES = {
    "warm": ("warmth", 1),
    "cool": ("warmth", -1),
    "cold": ("warmth", -1),
    "bright": ("brightness", 1),
    "light": ("brightness", 1),
    "dark": ("brightness", -1),
    "contrasty": ("contrast", 1),
    "saturated": ("saturation", 1),
    "vivid": ("saturation", 1),
    "vibrant": ("saturation", 1),
    "colourful": ("saturation", 1),
    "colorful": ("saturation", 1),
    "muted": ("saturation", -1),
}
_NOUNS = {
    "warmth": "warmth",
    "brightness": "brightness",
    "contrast": "contrast",
    "saturation": "saturation",
    "vibrance": "saturation",
    **dict.fromkeys(("colour", "color", "colours", "colors"), "saturation"),
}
_MORE = ("more", "increase", "raise", "boost", "add", "add more", "add some", "turn up", "higher")
_LESS = ("less", "decrease", "reduce", "lower", "turn down", "tone down", "take away some")
_TOGGLES = {
    **dict.fromkeys(("black and white", "black-and-white", "b and w", "monochrome"), "grayscale"),
    **dict.fromkeys(("in black and white", "grayscale", "greyscale"), "grayscale"),
}
_WORDS: dict[str, tuple[str, float]] = {
    **_COMPARATIVES,
    **{f"more {a}": (k, s) for a, (k, s) in _ADJECTIVES.items()},
    **{f"less {a}": (k, -s) for a, (k, s) in _ADJECTIVES.items()},
    **{f"too {a}": (k, -s) for a, (k, s) in _ADJECTIVES.items()},
    **{f"{v} {the}{n}": (k, 1) for v in _MORE for the in ("", "the ") for n, k in _NOUNS.items()},
    **{f"{v} {the}{n}": (k, -1) for v in _LESS for the in ("", "the ") for n, k in _NOUNS.items()},
    **{w: (k, 1) for w, k in _TOGGLES.items()},
}
# "more" or "again" after an exact turn repeats it; "less" or "too much" takes half of it back.
_AGAIN = (
    *((w, 1.0) for w in ("more", "again", "more of that", "once more", "do it again")),
    *((w, 1.0) for w in ("do that again", "same again", "keep going", "stronger", "further")),
    *((w, -0.5) for w in ("less", "too much", "not so much", "not as much", "weaker")),
    *((w, -0.5) for w in ("tone it down", "back off", "back it off", "less of that")),
)
_UNDO = ("undo", "undo that", "undo it", "go back", "revert", "revert that", "take that back")
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
    # contrast turns about this luma (0..1); None: the image's mean. A clip's frames share
    # one (the clip's mean): a pivot per frame would flicker as the frames' means move.
    pivot: float | None = None

    def to_record(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


def parse(instruction: str) -> list[Adjustment] | None:
    """The adjustments ``instruction`` asks for, or ``None`` when any part is not one."""
    text = plain(instruction)
    # "warmer and brighter", "warmer with more contrast" are two; "black and white" is one
    parts = [p.strip() for p in re.split(r",|\s(?:and|with|plus)\s(?!w(?:hite)?\b)|\bthen\b", text)]
    if not any(parts):
        return None
    out = []
    for part in filter(None, parts):
        scale, part = _amount(_AFTER.sub("", _FILLER.sub("", part).strip()))
        crop = _CROP.match(part)
        if crop:
            w, h = float(crop.group(1)), float(crop.group(2))
            if w <= 0 or h <= 0:
                return None
            out.append(Adjustment("crop", aspect=(w, h)))
        elif _MIRROR.match(part):
            out.append(Adjustment("mirror"))
        elif part in _WORDS:
            kind, sign = _WORDS[part]
            out.append(Adjustment(kind, sign * scale if kind in GRADED else 1.0))
        else:
            return None
    return out


def again(instruction: str) -> float | None:
    """How much of the last exact turn ``instruction`` asks for once more ("more": 1, "a bit
    more": 0.5, "too much": -0.5), or ``None`` when it does not refer back to it."""
    scale, text = _amount(plain(instruction))
    for words, step in _AGAIN:
        if text == words:
            return step * scale
    return None


def scaled(made: list, scale: float) -> list[Adjustment]:
    """The graded adjustments of a turn's record (``made``: its ``adjustments``) times
    ``scale``, each without the pivot its image or clip had; [] when it has none."""
    graded = [a for a in made if isinstance(a, dict) and a.get("kind") in GRADED]
    return [Adjustment(a["kind"], round(float(a.get("amount", 1.0)) * scale, 4)) for a in graded]


def undo(instruction: str) -> bool:
    """Whether ``instruction`` asks for the turn to be taken back."""
    return plain(instruction) in _UNDO


def _amount(part: str) -> tuple[float, str]:
    """A leading "a bit", "much", "even" as a scale of one step, and what follows it."""
    for word, factor in _AMOUNT:
        if part.startswith(word + " "):
            return factor, part[len(word) :].strip()
    return 1.0, part


def apply(image: Image.Image, adjustments: list[Adjustment]) -> Image.Image:
    """``image`` with each adjustment applied in order (uint8 in, uint8 out)."""
    return Image.fromarray(apply_rgb(np.asarray(image.convert("RGB")), adjustments))


def apply_rgb(rgb: np.ndarray, adjustments: list[Adjustment]) -> np.ndarray:
    """:func:`apply` on an (H, W, 3) uint8 array, as a clip's frames come."""
    for adj in adjustments:
        rgb = _APPLY[adj.kind](rgb, adj)
    return np.ascontiguousarray(rgb)


def mean_luma(rgb: np.ndarray) -> float:
    """The mean Rec. 601 luma of an (H, W, 3) uint8 array, 0..1: where contrast turns."""
    return float(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).mean()) / 255


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
    mean = mean_luma(rgb) if adj.pivot is None else adj.pivot
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
    """The largest centred ``(left, top, width, height)`` of ``size`` at ``aspect``; refused
    when it would leave a side under :data:`MIN_CROP` ("crop to 1000:1" made a 64x1 image)."""
    w, h = size
    want = aspect[0] / aspect[1]
    if w / h > want:
        cw, ch = max(1, round(h * want)), h
    else:
        cw, ch = w, max(1, round(w / want))
    if min(cw, ch) < MIN_CROP:
        raise InputError(
            f"cropping {w}x{h} to {aspect[0]:g}:{aspect[1]:g} leaves {cw}x{ch} pixels; "
            f"a crop keeps at least {MIN_CROP} on each side"
        )
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
