"""Diffusion refine: img2img at low strength at the output size (SDEdit, Meng et al., 2022).

Low strength re-noises only the last part of the schedule, so the model redraws fine detail
lost in upscaling while the composition stays that of the input. Even so, a model run at a
size it was not trained at shifts colours; :func:`keep_colour` puts the input's back. Above
the sizes a model knows, :func:`refine_tiled` refines overlapping tiles of a size it knows
and feathers them together (as tiled upscalers such as Ultimate SD Upscale do).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from PIL import Image


def refine_image(
    img2img,
    image: Image.Image,
    *,
    prompt_kwargs: dict,
    strength: float,
    steps: int,
    seed: int,
    on_step=None,
) -> Image.Image:
    """One image through an image-to-image pipeline; ``prompt_kwargs`` holds the prompt or
    its embeddings (a batch of one) and the guidance, as the model takes them."""

    def step_end(pipe, step, timestep, kwargs):
        if on_step:
            on_step()
        return kwargs

    out = img2img(
        image=image,
        strength=strength,
        num_inference_steps=steps,
        generator=torch.Generator("cpu").manual_seed(seed),
        callback_on_step_end=step_end,
        **prompt_kwargs,
    )
    return out.images[0]


def tile_starts(size: int, tile: int, overlap: int) -> list[int]:
    """Offsets of the fewest ``tile``-pixel tiles that cover ``size`` pixels overlapping by
    at least ``overlap``, spread evenly, on the 8-pixel grid the VAE needs; the last ends at
    ``size``."""
    if size <= tile:
        return [0]
    count = math.ceil((size - overlap) / (tile - overlap))
    step = (size - tile) / (count - 1)
    starts = [min(round(i * step / 8) * 8, size - tile) for i in range(count)]
    starts[-1] = size - tile
    return starts


def tile_grid(width: int, height: int, tile: int) -> list[tuple[int, int]]:
    """The (x, y) offsets of the tiles :func:`refine_tiled` refines, rows first; tiles
    overlap by at least an eighth of a tile."""
    xs, ys = _starts(width, height, tile)
    return [(x, y) for y in ys for x in xs]


def _starts(width: int, height: int, tile: int) -> tuple[list[int], list[int]]:
    return (
        tile_starts(width, min(tile, width), tile // 8),
        tile_starts(height, min(tile, height), tile // 8),
    )


def refine_tiled(
    img2img,
    image: Image.Image,
    *,
    tile: int,
    prompt_kwargs: dict,
    strength: float,
    steps: int,
    seed: int,
    on_step=None,
) -> tuple[Image.Image, int]:
    """:func:`refine_image` over overlapping tiles of at most ``tile`` pixels a side, each
    seeded apart (``seed + i``, rows first), blended with linear ramps across each overlap so
    no seam shows. Returns the image and the number of tiles."""
    width, height = image.size
    tw, th = min(tile, width), min(tile, height)
    xs, ys = _starts(width, height, tile)
    total = np.zeros((height, width, 3), np.float64)
    weight = np.zeros((height, width, 1), np.float64)
    for i, (row, col) in enumerate((r, c) for r in range(len(ys)) for c in range(len(xs))):
        x, y = xs[col], ys[row]
        piece = refine_image(
            img2img,
            image.crop((x, y, x + tw, y + th)),
            prompt_kwargs=prompt_kwargs,
            strength=strength,
            steps=steps,
            seed=seed + i,
            on_step=on_step,
        )
        ramp = np.outer(_ramp(ys, row, th), _ramp(xs, col, tw))[..., None]
        total[y : y + th, x : x + tw] += np.asarray(piece.convert("RGB"), np.float64) * ramp
        weight[y : y + th, x : x + tw] += ramp
    blended = np.clip(np.rint(total / weight), 0, 255).astype(np.uint8)
    return Image.fromarray(blended), len(xs) * len(ys)


def _ramp(starts: list[int], index: int, length: int) -> np.ndarray:
    """A tile's weight along one axis: 1 inside, rising across the part it shares with the
    tile before and falling across the part it shares with the tile after (never exactly 0,
    so every pixel keeps some weight)."""
    ramp = np.ones(length)
    if index > 0:
        shared = starts[index - 1] + length - starts[index]
        ramp[:shared] = (np.arange(shared) + 0.5) / shared
    if index < len(starts) - 1:
        shared = starts[index] + length - starts[index + 1]
        ramp[-shared:] = np.minimum(ramp[-shared:], (np.arange(shared)[::-1] + 0.5) / shared)
    return ramp


def _wavelet_bands(image: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(high, low) of an a trous wavelet decomposition: ``levels`` 3x3 B-spline blurs with
    dilation 1, 2, 4, ...; high is the sum of the detail bands, image = high + low."""
    kernel1d = np.array([0.25, 0.5, 0.25], np.float32)
    high, low = np.zeros_like(image), image
    for level in range(levels):
        r = 2**level
        k = np.zeros(2 * r + 1, np.float32)
        k[[0, r, 2 * r]] = kernel1d  # the same taps, r pixels apart
        blurred = cv2.sepFilter2D(low, -1, k, k, borderType=cv2.BORDER_REFLECT)
        high += low - blurred
        low = blurred
    return high, low


def keep_colour(refined: Image.Image, reference: Image.Image, levels: int = 5) -> Image.Image:
    """``refined``'s detail on ``reference``'s colour. The colour (Cr, Cb) is the reference's,
    the refine pass's input; so is the luma's low band (structures over ~2**levels px: the
    wavelet colour fix of StableSR, Wang et al., 2023); the luma's finer bands are the refined
    image's. The built-in model refined at 4x its size painted magenta and green blotches
    with detail of its own colour, which a fix of the low band alone kept."""
    ref = reference.convert("RGB").resize(refined.size, Image.Resampling.LANCZOS)
    a = cv2.cvtColor(np.asarray(refined.convert("RGB")), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    out = cv2.cvtColor(np.asarray(ref), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    high, _ = _wavelet_bands(np.ascontiguousarray(a[..., 0]), levels)
    _, low = _wavelet_bands(np.ascontiguousarray(out[..., 0]), levels)
    out[..., 0] = high + low
    out = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return Image.fromarray(cv2.cvtColor(out, cv2.COLOR_YCrCb2RGB))
