"""Masks for inpainting and outpainting: read, check, grow a canvas, composite back.

A mask is white where the image may change. :func:`composite` puts the model's pixels back
only inside it, with the edge feathered *inward* (the blend weight is 0 on and outside the
mask's border), so every pixel outside the mask is the source's, byte for byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ..errors import InputError
from ..media.pixels import has_alpha
from ..request import MAX_SIDE

FEATHER = 6  # px of the inward blend at the mask's edge (at the source's scale)
SIDES = ("left", "right", "top", "bottom")
DATA_URL = "data:image/png;base64,"  # how the studio sends a mask it drew


@dataclass(frozen=True)
class Mask:
    """A binary mask (uint8 0/255, the source's size) and what was done to make it fit."""

    pixels: np.ndarray
    note: str | None = None  # e.g. "the mask was 512x512; resized to 64x64"

    @property
    def area(self) -> float:
        """Share of the image the mask covers (0..1)."""
        return float((self.pixels > 0).mean())

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        """``(x, y, w, h)`` of the white pixels."""
        x, y, w, h = cv2.boundingRect((self.pixels > 0).astype(np.uint8))
        return int(x), int(y), int(w), int(h)

    def image(self) -> Image.Image:
        return Image.fromarray(self.pixels, "L")


def from_file(data: Image.Image, size: tuple[int, int]) -> Mask:
    """A mask image (white = change) as a :class:`Mask` of ``size``; a mask of another size
    is resized (nearest) with a note; an empty or all-white one is refused. Where a mask has
    transparency, only what is painted counts: it is laid on black (an editor's layer keeps
    any colour under its transparent pixels, white too)."""
    if has_alpha(data):
        rgba = data.convert("RGBA")
        luma = np.asarray(rgba.convert("L"), np.float32)
        gray = np.rint(luma * np.asarray(rgba.getchannel("A")) / 255).astype(np.uint8)
    else:
        gray = np.asarray(data.convert("L"))
    note = None
    if (gray.shape[1], gray.shape[0]) != size:
        note = f"the mask was {gray.shape[1]}x{gray.shape[0]}; resized to {size[0]}x{size[1]}"
        gray = cv2.resize(gray, size, interpolation=cv2.INTER_NEAREST)
    return _checked(np.where(gray >= 128, 255, 0).astype(np.uint8), note)


def from_region(region: tuple[int, int, int, int], size: tuple[int, int]) -> Mask:
    """A rectangle ``(x, y, w, h)`` in the source's pixels as a :class:`Mask`."""
    x, y, w, h = region
    if w <= 0 or h <= 0 or x < 0 or y < 0 or x >= size[0] or y >= size[1]:
        raise InputError(
            f"region {x},{y},{w},{h} is not inside the {size[0]}x{size[1]} image: give "
            "x,y,w,h with x,y inside it and w,h > 0"
        )
    pixels = np.zeros((size[1], size[0]), np.uint8)
    pixels[y : y + h, x : x + w] = 255
    return _checked(pixels, None)


def parse_region(text: str) -> tuple[int, int, int, int]:
    """'x,y,w,h' -> a tuple of four ints; ValueError with the accepted form."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 4 or not all(re.fullmatch(r"\d+", p) for p in parts):
        raise ValueError(
            f"region must look like x,y,w,h in pixels (e.g. 16,16,32,24), got {text!r}"
        )
    x, y, w, h = (int(p) for p in parts)
    return x, y, w, h


def _checked(pixels: np.ndarray, note: str | None) -> Mask:
    white = int((pixels > 0).sum())
    if white == 0:
        raise InputError("the mask is empty (no white pixels): paint white where it should change")
    if white == pixels.size:
        raise InputError(
            "the mask is all white, so nothing would be kept: for a new image use `generate`, "
            "to redraw the whole image use `generate --from ID --strength S`"
        )
    return Mask(pixels, note)


def feather(mask: Mask, radius: int = FEATHER) -> np.ndarray:
    """Blend weights in 0..1: 0 outside the mask and on its border, rising to 1 within
    ``radius`` pixels inside it (a distance transform, so thin masks still reach 1 inside)."""
    inside = (mask.pixels > 0).astype(np.uint8)
    distance = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
    return np.clip(distance / max(1, radius), 0, 1).astype(np.float32)


def composite(
    source: Image.Image, painted: Image.Image, mask: Mask, radius: int = FEATHER
) -> Image.Image:
    """``painted`` inside ``mask`` (feathered inward over ``radius`` px) over ``source``;
    outside the mask the result is ``source`` exactly."""
    src = np.asarray(source.convert("RGB"))
    new = np.asarray(painted.convert("RGB").resize(source.size, Image.Resampling.LANCZOS))
    alpha = feather(mask, radius)[..., None]
    blended = np.rint(src * (1 - alpha) + new * alpha).astype(np.uint8)
    out = np.where(alpha > 0, blended, src)
    return Image.fromarray(out)


def unchanged_restored(
    source: Image.Image, edited: Image.Image, threshold: float = 12.0, most: float = 0.5
) -> tuple[Image.Image, Mask | None]:
    """``edited`` with every pixel the edit did not really change put back from ``source``
    exactly, and the mask of what it changed; ``(edited, None)`` when it changed more than
    ``most`` of the image (a global change, such as relighting, is kept whole).

    Changed: CIELAB distance above ``threshold`` after a 5x5 blur (below it is the model's
    re-encoding noise, not an edit), specks removed, grown by 3 px, then composited with
    :func:`composite`. An instruction-edit model redraws the whole frame through its VAE;
    this keeps what the instruction did not touch as it was."""
    lab = [
        cv2.cvtColor(
            cv2.GaussianBlur(np.asarray(im.convert("RGB")), (5, 5), 0).astype(np.float32) / 255,
            cv2.COLOR_RGB2LAB,
        )
        for im in (source, edited.resize(source.size, Image.Resampling.LANCZOS))
    ]
    changed = (np.linalg.norm(lab[0] - lab[1], axis=2) > threshold).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    changed = cv2.dilate(changed, np.ones((7, 7), np.uint8))
    share = float(changed.mean())
    if share > most or share == 0:
        return edited, None
    mask = Mask(changed * 255)
    return composite(source, edited, mask, radius=2), mask


# ---------------------------------------------------------------------- outpainting


def parse_expand(text: str) -> dict[str, int]:
    """'left=128,top=64' -> {"left": 128, "top": 64, ...}; ValueError with the form."""
    out = dict.fromkeys(SIDES, 0)
    for item in (p.strip() for p in text.split(",") if p.strip()):
        side, _, value = item.partition("=")
        if side.strip() not in SIDES or not re.fullmatch(r"\d+", value.strip()):
            raise ValueError(
                f"expand must look like left=128,right=0,top=64,bottom=0 (pixels), got {text!r}"
            )
        out[side.strip()] = int(value)
    if not any(out.values()):
        raise ValueError("expand adds no pixels: give at least one side a positive number")
    return out


def parse_aspect(text: str) -> tuple[float, float]:
    """'9:16' -> (9.0, 16.0); ValueError with the form."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*[:x/]\s*(\d+(?:\.\d+)?)\s*", text)
    if not m or float(m.group(1)) <= 0 or float(m.group(2)) <= 0:
        raise ValueError(f"aspect must look like W:H (e.g. 9:16 or 1.91:1), got {text!r}")
    return float(m.group(1)), float(m.group(2))


def margins_for_aspect(size: tuple[int, int], aspect: tuple[float, float]) -> dict[str, int]:
    """The margins that grow ``size`` to ``aspect`` without cropping, split evenly (the
    odd pixel to the right or bottom); refused when the image already has that aspect."""
    w, h = size
    want = aspect[0] / aspect[1]
    said = f"{aspect[0]:g}:{aspect[1]:g}"
    if abs(w / h - want) < 0.01:
        raise InputError(f"the image is {w}x{h}, already {said}")
    if w / h > want:  # too wide: grow the height
        grow = round(w / want) - h
        margins = {"left": 0, "right": 0, "top": grow // 2, "bottom": grow - grow // 2}
    else:
        grow = round(h * want) - w
        margins = {"left": grow // 2, "right": grow - grow // 2, "top": 0, "bottom": 0}
    # as far as an expand may reach: "99:0.01" on a 1024 px image asked a 31 GB canvas
    if max(margins.values()) > MAX_SIDE:
        raise InputError(
            f"growing the {w}x{h} image to {said} adds {max(margins.values())} px on a side, "
            f"past the {MAX_SIDE} px an outpaint adds; choose a nearer aspect"
        )
    return margins


def grow_canvas(source: Image.Image, margins: dict[str, int]) -> tuple[Image.Image, Mask]:
    """The source on a larger canvas and the mask of the new area. The new area starts as the
    source's edge pixels smeared outward and blurred (a neutral start the model redraws; a
    mirror would seed a copy of an object near the edge), not black."""
    src = np.asarray(source.convert("RGB"))
    left, right, top, bottom = (margins[s] for s in SIDES)
    canvas = cv2.copyMakeBorder(src, top, bottom, left, right, cv2.BORDER_REPLICATE)
    blur = cv2.GaussianBlur(canvas, (0, 0), sigmaX=max(2.0, max(margins.values()) / 6))
    pixels = np.full(canvas.shape[:2], 255, np.uint8)
    pixels[top : top + src.shape[0], left : left + src.shape[1]] = 0
    canvas = np.where(pixels[..., None] > 0, blur, canvas)
    return Image.fromarray(canvas), Mask(pixels)
