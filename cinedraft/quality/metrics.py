"""Quality metrics: pure functions on images (PIL) or float arrays in 0..1.

- Laplacian variance: focus measure of Pech-Pacheco et al. (2000); higher = sharper.
- High-frequency energy ratio: share of spectral power above a radial frequency cut-off.
- Drift SSIM: structural similarity (Wang et al., 2004) between a production image brought
  back to its draft's size and the draft; 1 = same composition.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from torchmetrics.functional.image import structural_similarity_index_measure


def _gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """(H, W) float64 luma in 0..1 (Rec. 601 weights)."""
    arr = np.asarray(image, dtype=np.float64)
    if arr.max() > 1.0:
        arr = arr / 255.0
    if arr.ndim == 3:
        arr = arr[..., :3] @ np.array([0.299, 0.587, 0.114])
    return arr


def laplacian_variance(image: Image.Image | np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of the luma."""
    g = _gray(image)
    lap = -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]
    return float(lap.var())


def high_frequency_ratio(image: Image.Image | np.ndarray, cutoff: float = 0.25) -> float:
    """Fraction of (mean-removed) spectral power above ``cutoff`` x Nyquist radius."""
    g = _gray(image)
    power = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean()))) ** 2
    h, w = g.shape
    fy = np.fft.fftshift(np.fft.fftfreq(h))[:, None] / 0.5
    fx = np.fft.fftshift(np.fft.fftfreq(w))[None, :] / 0.5
    high = np.hypot(fx, fy) > cutoff
    total = power.sum()
    return float(power[high].sum() / total) if total > 0 else 0.0


def ssim(a: Image.Image, b: Image.Image) -> float:
    """SSIM of two same-size RGB images (Gaussian window 11, sigma 1.5)."""
    ta = torch.from_numpy(np.asarray(a.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None]
    tb = torch.from_numpy(np.asarray(b.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None]
    return float(structural_similarity_index_measure(ta, tb, data_range=1.0))


def drift_ssim(draft: Image.Image, production: Image.Image) -> float:
    """SSIM of ``production`` downscaled (area filter) to ``draft``'s size against ``draft``."""
    small = production.convert("RGB").resize(draft.size, Image.Resampling.BOX)
    return ssim(draft, small)
