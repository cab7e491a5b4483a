"""A user's image as the 8-bit pixels everything here works on.

PIL opens a 16-bit greyscale PNG (what photo and scanning software exports) in mode
``I;16`` (or ``I``), and its ``convert("RGB")`` clips those values to 0..255 instead of
scaling them: every such image read as a white page.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

WIDE_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def eight_bit(image: Image.Image) -> Image.Image:
    """``image`` itself, or, for 16- and 32-bit greyscale, its values scaled from 0..65535
    to an 8-bit ``L`` image (rounded)."""
    if image.mode not in WIDE_GREY:
        return image
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8), "L")
