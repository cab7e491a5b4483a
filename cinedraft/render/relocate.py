"""Moving the object of an image sideways ("move it to the left"), without a model.

An instruction-edit model has to learn to move things from pairs, and the built-in one did
not (17 % of held-out moves landed, EDIT_MODEL_CARD.md). A move is a composite instead:

1. the object is cut out (GrabCut, as the catalogue cuts packshots:
   :mod:`cinedraft.render.cutout`), worked at 128-384 px a side (:data:`CUT_SIDES`), so a
   64 px draft's edge is found (0.1 s) and a 1024 px image's cut stays near 2 s;
2. where it stood is filled from its surroundings (:func:`fill`: the smoothest surface that
   meets the hole's edge, with the surroundings' grain added back; the backdrops of product
   shots are smooth, and no model draws a second object in the hole; OpenCV's Telea
   inpainting drew an X of streaks across a hole the size of the object);
3. the object is laid back at the asked place, its soft edge blended: horizontally, its
   centre at the place's third of the frame (left 0.28, centre 0.5, right 0.72 of the width,
   the places the built-in model draws), kept inside the frame; its height is unchanged.

Only what the move touches changes: the old place and the new one (:attr:`Moved.painted`),
every other pixel is the source's. It works on one object on a plain backdrop (a product
shot); an image in which no single object stands apart is refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from .cutout import cut_out
from .phrasing import plain
from ..errors import InputError

PLACES = {"left": 0.28, "center": 0.5, "centre": 0.5, "middle": 0.5, "right": 0.72}
# The cut is made with the short side at least this large (GrabCut needs some edge to
# follow) and the long side at most this (its time grows with the pixels: 1.3 s at 256²).
CUT_SIDES = (128, 384)
RELAX = 30  # Jacobi steps a pyramid level when filling the old place
ALREADY = 0.05  # of the width: an object this close to the place already stands there
_MOVE = re.compile(
    r"(?:move|put|place|shift|slide) (?:the \w+|it|the object|this)(?: over)? "
    r"(?:(?:to|on|at|in|into) the )?(left|right|center|centre|middle)"
    r"(?: side| of the (?:frame|image|picture))?"
    r"|(center|centre) (?:the \w+|it|the object|this)"
)


@dataclass(frozen=True)
class Moved:
    """A move's result: the new image and what it changed."""

    image: Image.Image
    painted: np.ndarray  # bool (H, W): the old place and the new one
    shift: int  # px to the right (negative: left)
    place: str

    def to_record(self) -> dict:
        return {"place": self.place, "shift_px": self.shift, "painted": round(self.area, 4)}

    @property
    def area(self) -> float:
        return float(self.painted.mean())


def parse(instruction: str) -> str | None:
    """The place a move instruction names ("move the jar to the left", "put it on the
    right"), as left, center or right; None when the instruction is not a move."""
    match = _MOVE.fullmatch(plain(instruction))
    if match is None:
        return None
    place = match.group(1) or match.group(2)
    return "center" if PLACES[place] == PLACES["center"] else place


def move(
    image: Image.Image, place: str, on_step: Callable[[int, int], None] | None = None
) -> Moved:
    """``image`` with its object moved to ``place`` (see the module docstring);
    ``on_step(done, 3)`` after the cut, the fill and the placing."""
    step = on_step or (lambda done, total: None)
    rgb = np.asarray(image.convert("RGB"))
    h, w = rgb.shape[:2]
    alpha = _object_alpha(image)
    step(1, 3)
    xs = np.nonzero(alpha > 0.5)[1]
    left, right = int(xs.min()), int(xs.max()) + 1
    centre = float((alpha.sum(0) * (np.arange(w) + 0.5)).sum() / alpha.sum())
    shift = round(PLACES[place] * w - centre)
    shift = max(-left, min(w - right, shift))  # the object stays whole in the frame
    if abs(shift) < ALREADY * w:  # a nudge of a few pixels would look like nothing done
        raise InputError(f"the object already stands {_where(place)}")
    hole = cv2.dilate((alpha > 0.05).astype(np.uint8), np.ones((5, 5), np.uint8))
    backdrop = fill(rgb, hole > 0)
    step(2, 3)
    moved_rgb = _shifted(rgb, shift)
    moved_alpha = _shifted(alpha, shift)[..., None]
    out = backdrop * (1 - moved_alpha) + moved_rgb * moved_alpha
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    painted = (hole > 0) | (moved_alpha[..., 0] > 0)
    step(3, 3)
    return Moved(Image.fromarray(out), painted, shift, place)


def fill(rgb: np.ndarray, hole: np.ndarray, seed: int = 0) -> np.ndarray:
    """``rgb`` with the ``hole`` (bool) filled from around it: the smoothest surface that
    meets the hole's edge (Laplace's equation, relaxed coarse to fine over a pyramid of the
    known pixels, so a hole of any size is crossed in a few steps a level), then the
    surroundings' grain added back (its robust spread: an edge nearby does not count), so
    the patch shows neither streaks nor a flat smear. Seeded: the same fill each time."""
    img = rgb.astype(np.float32)
    known = (~hole).astype(np.float32)
    levels = [(img * known[..., None], known)]
    while min(levels[-1][1].shape) > 2 and (levels[-1][1] < 1e-3).any():
        sums, weights = levels[-1]
        levels.append((cv2.pyrDown(sums), cv2.pyrDown(weights)))
    four = np.array([[0, 0.25, 0], [0.25, 0, 0.25], [0, 0.25, 0]], np.float32)
    estimate = None
    for sums, weights in reversed(levels):
        size = (weights.shape[1], weights.shape[0])
        seen = sums / np.maximum(weights, 1e-6)[..., None]
        trust = np.clip(weights, 0, 1)[..., None]
        estimate = seen if estimate is None else cv2.pyrUp(estimate, dstsize=size)
        for _ in range(RELAX):
            relaxed = cv2.filter2D(estimate, -1, four, borderType=cv2.BORDER_REPLICATE)
            estimate = seen * trust + relaxed * (1 - trust)
    grain = img - cv2.GaussianBlur(img, (0, 0), 1.0)
    ring = cv2.dilate(hole.astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool) & ~hole
    spread = (
        1.4826 * np.median(np.abs(grain[ring]), axis=0) if ring.any() else np.zeros(3, np.float32)
    )
    noise = np.random.default_rng(seed).normal(0, 1, img.shape).astype(np.float32) * spread
    out = img.copy()
    out[hole] = estimate[hole] + noise[hole]
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _object_alpha(image: Image.Image) -> np.ndarray:
    """The one object's alpha (float 0..1) at the image's size, cut at :data:`CUT_SIDES`;
    InputError when no single object stands apart."""
    w, h = image.size
    scale = max(CUT_SIDES[0] / min(w, h), min(1.0, CUT_SIDES[1] / max(w, h)))
    work = image.convert("RGB").resize(
        (round(w * scale), round(h * scale)), Image.Resampling.LANCZOS
    )
    try:
        alpha = cut_out(work).alpha
    except InputError:
        raise InputError(
            "cannot move anything here: no single object stands apart from its backdrop "
            "(moving works on one object on a plain backdrop, such as a product shot)"
        ) from None
    alpha = _without_lit_backdrop(np.asarray(work), alpha)
    alpha = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_AREA)
    if not (alpha > 0.5).any():  # the cut, made larger, is under half a pixel at this size
        raise InputError(f"cannot move anything in a {w}x{h} image: no object fills a pixel")
    if (alpha > 0.5).mean() > 0.6:
        raise InputError("cannot move the object: it fills most of the frame")
    return alpha


def _without_lit_backdrop(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``alpha`` less the backdrop a spotlight brightens around the object: GrabCut takes
    that glow for object (it is brighter than the border), and it would move as a patch with
    hard edges. Glow is smooth, brighter than the border and colourless; what is left, in
    pieces at least a tenth of the biggest, is the object. A neutral object (white, grey)
    looks like glow too: when under a fifth of the cut is left, the cut is kept whole."""
    h, w = rgb.shape[:2]
    band = max(2, min(h, w) // 32)
    ring = np.zeros((h, w), bool)
    ring[:band], ring[-band:], ring[:, :band], ring[:, -band:] = True, True, True, True
    lum = rgb.astype(np.float32).sum(-1) + 3.0
    chroma = (rgb.astype(np.float32) + 1.0) / lum[..., None]
    neutral = chroma.max(-1) - chroma.min(-1) < 0.06  # white light on a grey backdrop
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
    gradient = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    glow = neutral & (lum > np.median(lum[ring]) * 1.1) & (gradient < 40)
    solid = ((alpha > 0.5) & ~glow).astype(np.uint8)
    # a table edge's highlight line, a few px tall, is cut with the object: it is not it
    solid = cv2.morphologyEx(solid, cv2.MORPH_OPEN, np.ones((max(3, h // 36), 1), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(solid)
    if count < 2:
        return alpha
    areas = stats[1:, cv2.CC_STAT_AREA]  # the object's pieces (a lid) are big; glow's rims not
    pieces = np.isin(labels, 1 + np.flatnonzero(areas >= 0.1 * areas.max()))
    kept = cv2.dilate(pieces.astype(np.uint8), np.ones((3, 3), np.uint8))
    if kept.sum() < (alpha > 0.5).sum() / 5:
        return alpha
    return alpha * kept


def _shifted(a: np.ndarray, dx: int) -> np.ndarray:
    """``a`` moved ``dx`` columns right (left when negative), zeros where it leaves."""
    out = np.zeros_like(a)
    if dx >= 0:
        out[:, dx:] = a[:, : a.shape[1] - dx]
    else:
        out[:, :dx] = a[:, -dx:]
    return out


def _where(place: str) -> str:
    return "in the center" if place == "center" else f"on the {place}"
