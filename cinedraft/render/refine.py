"""Diffusion refine: img2img at low strength at the output size (SDEdit, Meng et al., 2022).

Low strength re-noises only the last part of the schedule, so the model redraws fine detail
lost in upscaling while the composition stays that of the input. Even so, a model run at a
size it was not trained at shifts colours; :func:`keep_colour` puts the input's back.
"""

from __future__ import annotations

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
    guidance: float,
    seed: int,
    on_step=None,
) -> Image.Image:
    """One image through an image-to-image pipeline; ``prompt_kwargs`` holds the prompt or
    its embeddings (a batch of one)."""

    def step_end(pipe, step, timestep, kwargs):
        if on_step:
            on_step()
        return kwargs

    out = img2img(
        image=image,
        strength=strength,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=torch.Generator("cpu").manual_seed(seed),
        callback_on_step_end=step_end,
        **prompt_kwargs,
    )
    return out.images[0]


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
    """``refined``'s detail on ``reference``'s colour: the wavelet colour fix of StableSR
    (Wang et al., 2023). The low band (structures over ~2**levels px) comes from the
    reference, the refine pass's input; every finer band from the refined image."""
    ref = reference.convert("RGB").resize(refined.size, Image.Resampling.LANCZOS)
    a = np.asarray(refined.convert("RGB"), np.float32)  # (H, W, 3)
    b = np.asarray(ref, np.float32)
    high, _ = _wavelet_bands(a, levels)
    _, low = _wavelet_bands(b, levels)
    return Image.fromarray(np.clip(high + low + 0.5, 0, 255).astype(np.uint8))
