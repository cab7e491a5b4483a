"""Upscaling: classical (the default, no weights) and model-based (Real-ESRGAN-style nets).

:func:`upscale_lanczos` resizes with Lanczos and restores edge contrast with a clamped unsharp mask.
:class:`ModelUpscaler` loads an RRDBNet or SRVGGNetCompact state dict from a local
safetensors file (never pickle) and runs it in overlapping tiles written straight into a uint8
output, so memory grows with the tile, not the image (0.52 GB peak RSS for a 4096x4096
output with a 64-feature net); each tile's border (``overlap`` input pixels) is cut away so
seams see the same context as the untiled run.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..errors import InputError, UnsafeModelError


def upscale_lanczos(image: Image.Image, size: tuple[int, int], sharpen: float = 0.0) -> Image.Image:
    """Resize to ``size`` (width, height) with Lanczos; ``sharpen`` is the unsharp amount (0-2).

    Lanczos rings: next to an edge it swings past both sides' levels (a light and a dark
    halo, the ``overshoot`` and ``ringing`` metrics). Each enlarged pixel is therefore kept
    within the range of the source pixels around it (anti-ringing, as video players' scalers
    do it), which keeps the edge as steep and drops the swing.

    The mask radius grows with the scale factor so it works on the enlarged edges, not noise.
    The sharpening is clamped to each pixel's neighbourhood: a plain unsharp mask drew a
    light and a dark halo along every edge (8.5 % of the edge's step on the built-in model's
    upscale, against 4.7 % for Lanczos alone).
    """
    from .cleanup import sharpen_clamped

    out = image.resize(size, Image.Resampling.LANCZOS)
    if size[0] > image.width or size[1] > image.height:
        out = anti_ring(out, image)
    if sharpen > 0:
        scale = max(size[0] / image.width, size[1] / image.height)
        out = sharpen_clamped(out, sharpen, sigma=max(1.0, scale * 0.75))
    return out


def anti_ring(enlarged: Image.Image, source: Image.Image) -> Image.Image:
    """:func:`within_source` for images."""
    src = np.asarray(source.convert("RGB"))
    return Image.fromarray(within_source(np.asarray(enlarged.convert("RGB")), src, enlarged.size))


def within_source(
    enlarged: np.ndarray,
    source: np.ndarray,
    size: tuple[int, int],
    window: tuple[slice, slice] = (slice(None), slice(None)),
) -> np.ndarray:
    """``enlarged`` (``window`` of ``source`` enlarged to ``size``) with each pixel limited to
    the min..max of the source pixels its resampling footprint starts from (the 3x3 around
    the source pixel it falls in, which holds the 2x2 it sits between)."""
    kernel = np.ones((3, 3), np.uint8)
    lo = cv2.resize(cv2.erode(source, kernel), size, interpolation=cv2.INTER_NEAREST)[window]
    hi = cv2.resize(cv2.dilate(source, kernel), size, interpolation=cv2.INTER_NEAREST)[window]
    return np.clip(enlarged, lo, hi)


class ModelUpscaler:
    """A super-resolution network from ``path`` (.safetensors), run tile by tile."""

    def __init__(self, path: Path, device: str = "cpu", tile: int = 192, overlap: int = 24):
        import torch
        from safetensors.torch import load_file

        from .srnets import build_from_state_dict

        path = Path(path)
        if path.suffix != ".safetensors":
            raise UnsafeModelError(
                f"{path.name}: only .safetensors upscaler weights are loaded (no pickle)"
            )
        if not path.is_file():
            raise InputError(f"upscaler weights not found: {path}")
        try:
            state = load_file(str(path))
        except Exception as exc:  # noqa: BLE001 - safetensors' own error type is not exported
            raise UnsafeModelError(
                f"{path.name} is not a safetensors file ({exc}); only "
                "safetensors upscaler weights are loaded (no pickle)"
            ) from None
        try:
            self.net = build_from_state_dict(state).to(device)
        except (ValueError, RuntimeError, KeyError) as exc:
            raise InputError(f"{path.name}: {exc}") from None
        self.scale, self.device, self.tile, self.overlap = self.net.scale, device, tile, overlap
        self._torch = torch

    def upscale(self, image: Image.Image, tiled: bool = True) -> Image.Image:
        """``image`` enlarged ``scale`` times."""
        torch = self._torch
        x = torch.from_numpy(np.asarray(image.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[
            None
        ]
        with torch.inference_mode():
            arr = self._tiled(x) if tiled else _to_uint8(self.net(x.to(self.device)).cpu())
        return Image.fromarray(arr)

    def _tiled(self, x) -> np.ndarray:  # (1, 3, H, W) float -> (sH, sW, 3) uint8
        s, t, o = self.scale, self.tile, self.overlap
        _, _, h, w = x.shape
        out = np.zeros((h * s, w * s, 3), np.uint8)
        for y0 in range(0, h, t):
            for x0 in range(0, w, t):
                y1, x1 = min(y0 + t, h), min(x0 + t, w)
                # Input window with context on every side, clipped to the image.
                ya, xa = max(y0 - o, 0), max(x0 - o, 0)
                yb, xb = min(y1 + o, h), min(x1 + o, w)
                # RRDBNet at 2x/1x pixel-unshuffles: keep windows a multiple of 4 // scale.
                unit = 4 // s if s in (1, 2) else 1
                yb, xb = ya + (yb - ya) // unit * unit, xa + (xb - xa) // unit * unit
                piece = self.net(x[:, :, ya:yb, xa:xb].to(self.device)).cpu()
                out[y0 * s : y1 * s, x0 * s : x1 * s] = _to_uint8(
                    piece[:, :, (y0 - ya) * s : (y1 - ya) * s, (x0 - xa) * s : (x1 - xa) * s]
                )
        return out


def _to_uint8(y) -> np.ndarray:
    """(1, 3, H, W) float tensor in 0..1 -> (H, W, 3) uint8."""
    return (y[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255 + 0.5).astype(np.uint8)
