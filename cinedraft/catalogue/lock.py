"""Product lock: the product's own pixels on a generated scene, never redrawn.

1. :func:`place` scales the cut-out product into a frame (its height a share of the frame's,
   standing at :data:`BASE_Y`, centred), the same way at any frame size, so the draft and the
   production render put it in the same place;
2. :func:`canvas` and :func:`inpaint_mask` are what the inpainting pipeline gets: the product
   on its backdrop's colour, and a mask of everything but the product;
3. :func:`locked` draws a contact shadow on the scene and the product over it, with its own
   soft edge;
4. :func:`product_ssim` measures what a stored output kept of the product: SSIM over the
   product's solid pixels against the packshot's at the same scale, set in the output's own
   surroundings (so the window at the edge compares like with like).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from ..quality.metrics import masked_ssim
from ..render.cutout import Cutout

BASE_Y = 0.80  # where the product stands, a share of the frame's height
HEIGHT = (0.30, 0.55)  # the product's height in the frame: its packshot share, within these
SHADOW = 0.45  # darkening at the shadow's centre
MIN_SSIM = 0.98  # the catalogue's bar for "the product is unchanged"
FEATHER_PX = 1  # the inpainting's blend at the product's edge (see inpaint_mask)
# How far the scene is drawn from the canvas (the product on its backdrop's colour). At 1.0
# the built-in model drew a second, ghostly bottle beside the real one in 2 of 4 seeds ("a
# red glass bottle on a wooden table, studio lighting"); at 0.9 in none of 8 (a bottle, a
# jar), with the same surfaces.
STRENGTH = 0.9


@dataclass(frozen=True)
class Placed:
    """The product laid out in a frame: its colour layer and alpha, both the frame's size."""

    rgb: np.ndarray  # (H, W, 3) float32 0..255
    alpha: np.ndarray  # (H, W) float32 0..1
    backdrop: tuple[int, int, int]  # the packshot's backdrop colour

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape[1], self.alpha.shape[0]

    @property
    def bbox(self) -> tuple[int, int, int, int]:
        x, y, w, h = cv2.boundingRect((self.alpha > 0.5).astype(np.uint8))
        return int(x), int(y), int(w), int(h)

    def to_record(self) -> dict:
        return {"bbox": list(self.bbox), "frame": list(self.size)}


def place(cut: Cutout, size: tuple[int, int]) -> Placed:
    """The product of ``cut`` in a frame of ``size`` (see the module docstring, step 1)."""
    width, height = size
    x, y, w, h = cut.bbox
    share = float(np.clip(h / cut.alpha.shape[0], *HEIGHT))
    scale = share * height / h
    pad = 2  # keep the soft edge
    x0, y0 = max(0, x - pad), max(0, y - pad)
    x1, y1 = min(cut.alpha.shape[1], x + w + pad), min(cut.alpha.shape[0], y + h + pad)
    new = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
    rgb = cv2.resize(cut.image[y0:y1, x0:x1], new, interpolation=_filter(scale))
    alpha = cv2.resize(cut.alpha[y0:y1, x0:x1], new, interpolation=cv2.INTER_LINEAR)
    # where the product's top-left goes: centred, its base (not the padding's) at BASE_Y
    left = round(width / 2 - (x + w / 2 - x0) * scale)
    top = round(BASE_Y * height - (y + h - y0) * scale)
    layer = np.zeros((height, width, 3), np.float32)
    matte = np.zeros((height, width), np.float32)
    _paste(layer, rgb.astype(np.float32), left, top)
    _paste(matte, alpha.astype(np.float32), left, top)
    return Placed(layer, np.clip(matte, 0, 1), _backdrop(cut))


def _filter(scale: float) -> int:
    return cv2.INTER_AREA if scale < 1 else cv2.INTER_LANCZOS4


def _paste(dst: np.ndarray, src: np.ndarray, left: int, top: int) -> None:
    """``src`` into ``dst`` at ``(left, top)``, clipped to ``dst``."""
    h, w = src.shape[:2]
    x0, y0 = max(0, left), max(0, top)
    x1, y1 = min(dst.shape[1], left + w), min(dst.shape[0], top + h)
    if x1 > x0 and y1 > y0:
        dst[y0:y1, x0:x1] = src[y0 - top : y1 - top, x0 - left : x1 - left]


def _backdrop(cut: Cutout) -> tuple[int, int, int]:
    """The median colour of the packshot's pixels that are not product."""
    outside = cut.image[cut.alpha < 0.05]
    median = np.median(outside, axis=0) if len(outside) else np.array([200, 200, 200])
    return tuple(int(v) for v in median)


def canvas(placed: Placed) -> Image.Image:
    """The product on a plain field of its backdrop's colour: the inpainting's start."""
    field = np.broadcast_to(np.array(placed.backdrop, np.float32), placed.rgb.shape)
    a = placed.alpha[..., None]
    return Image.fromarray(np.rint(placed.rgb * a + field * (1 - a)).astype(np.uint8))


def inpaint_mask(placed: Placed) -> Image.Image:
    """White (redraw) everywhere but the product. The inpainting is asked for a one-pixel
    feather (:data:`FEATHER_PX`): its default fades the new scene in over 6 px, which at a
    small model's draft size leaves a halo of the packshot's backdrop around the product."""
    return Image.fromarray(np.where(placed.alpha > 0.5, 0, 255).astype(np.uint8), "L")


def locked(scene: Image.Image, placed: Placed, shadow: float = SHADOW) -> Image.Image:
    """``scene`` (the frame's size) with a contact shadow under the product and the product's
    own pixels over it (see the module docstring, step 3)."""
    image = np.asarray(scene.convert("RGB").resize(placed.size, Image.Resampling.LANCZOS))
    image = image.astype(np.float32)
    x, y, w, h = placed.bbox
    height = placed.size[1]
    ys, xs = np.mgrid[0 : placed.size[1], 0 : placed.size[0]].astype(np.float32)
    # an ellipse at the product's base, as wide as the product, a sliver of the frame high
    base = y + h - 0.5
    fall = np.exp(-(((xs - (x + w / 2)) / (0.62 * w)) ** 2 + ((ys - base) / (0.03 * height)) ** 2))
    image *= 1 - shadow * fall[..., None]
    a = placed.alpha[..., None]
    out = placed.rgb * a + image * (1 - a)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def product_ssim(output: Image.Image, placed: Placed, offset: tuple[int, int] = (0, 0)) -> float:
    """SSIM over the product's pixels between ``output`` and the packshot's product at the
    same scale over ``output``'s own background; ``offset``: where ``placed``'s frame sits in
    ``output`` (an outpainted aspect grew the frame)."""
    left, top = offset
    w, h = placed.size
    frame = np.asarray(output.convert("RGB"))[top : top + h, left : left + w].astype(np.float32)
    if frame.shape[:2] != (h, w):
        return 0.0
    solid = placed.alpha >= 0.99  # the product's own pixels, not its rim blended into a scene
    reference = np.where(solid[..., None], placed.rgb, frame)
    score = masked_ssim(frame.astype(np.uint8), np.rint(reference).astype(np.uint8), solid)
    return 0.0 if score is None else round(score, 4)
