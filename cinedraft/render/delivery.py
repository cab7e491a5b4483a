"""Delivery profiles: how a finished image is compressed for where it goes, as data.

The compression level is the fifth clarity factor (after model, resolution, rendering
pipeline and sampling steps): ``cinedraft lab factors`` sweeps it, ``library export
--profile`` applies it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image


@dataclass(frozen=True)
class Profile:
    name: str
    format: str  # png | webp | jpeg
    quality: int  # ignored for png
    max_side: int | None = None  # downscale (Lanczos) to fit, if set
    purpose: str = ""


PROFILES = {
    p.name: p
    for p in (
        Profile("lossless", "png", 100, None, "masters and archives: every pixel kept"),
        Profile("web", "webp", 85, 2048, "pages and social posts: small, visually clean"),
        Profile("preview", "webp", 60, 512, "thumbnails and quick looks: smallest"),
    )
}


def fit(image: Image.Image, profile: Profile) -> Image.Image:
    """``image`` scaled down to the profile's ``max_side`` (never up)."""
    if profile.max_side is None or max(image.size) <= profile.max_side:
        return image
    scale = profile.max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)
