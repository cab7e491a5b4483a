"""Diffusion refine: img2img at low strength at the output size (SDEdit, Meng et al., 2022).

Low strength re-noises only the last part of the schedule, so the model redraws fine detail
lost in upscaling while the composition stays that of the input.
"""

from __future__ import annotations

import torch
from PIL import Image


def refine_image(
    img2img, image: Image.Image, *, prompt_kwargs: dict, strength: float, steps: int,
    guidance: float, seed: int, on_step=None,
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
