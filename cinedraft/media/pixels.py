"""A user's image as the 8-bit, upright pixels a viewer shows and everything here works on.

PIL opens a 16-bit greyscale PNG (what photo and scanning software exports) in mode
``I;16`` (or ``I``), and its ``convert("RGB")`` clips those values to 0..255 instead of
scaling them: every such image read as a white page.

A phone stores a portrait photo as landscape pixels with an EXIF Orientation tag that tells
viewers (browsers included) to turn it; PIL hands over the pixels unturned, so an edit, a
video's first frame or a packshot came out on its side.

A photo in a wider colour space than sRGB (a phone's Display P3, a photographer's Adobe RGB)
carries an ICC profile that viewers convert by; PIL does not, and
everything cinedraft writes is sRGB without a profile, so its colours came out washed out
(P3's (200, 60, 40) is sRGB's (219, 37, 13)).

A transparent PNG (a logo, a product cut out) keeps whatever colours its tool left under the
transparent pixels; dropping the alpha showed them (black, or a stripe of green). Where the
work is in RGB, such an image is laid on white, as a shop page or a print shows it.
"""

from __future__ import annotations

import io
from functools import cache

import numpy as np
from PIL import ExifTags, Image, ImageCms, ImageOps

WIDE_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")
# EXIF orientations 5 to 8 turn the image a quarter: its shown width is its stored height.
QUARTER_TURNS = (5, 6, 7, 8)


def eight_bit(image: Image.Image) -> Image.Image:
    """``image`` itself, or, for 16- and 32-bit greyscale, its values scaled from 0..65535
    to an 8-bit ``L`` image (rounded)."""
    if image.mode not in WIDE_GREY:
        return image
    values = np.asarray(image, dtype=np.float64)
    return Image.fromarray(np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8), "L")


def orientation(image: Image.Image) -> int:
    """The EXIF orientation (1 to 8) viewers apply; 1 (as stored) when there is none or the
    EXIF cannot be read (it is the file's untrusted metadata, not its pixels)."""
    try:
        value = image.getexif().get(ExifTags.Base.Orientation, 1)
    except Exception:  # noqa: BLE001 - any fault in untrusted metadata means "no turn"
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def upright(image: Image.Image) -> Image.Image:
    """``image`` itself, or turned and mirrored as its EXIF orientation says."""
    return image if orientation(image) == 1 else ImageOps.exif_transpose(image)


def shown_size(image: Image.Image) -> tuple[int, int]:
    """Width and height as a viewer shows the image (without decoding it)."""
    w, h = image.size
    return (h, w) if orientation(image) in QUARTER_TURNS else (w, h)


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def srgb(image: Image.Image) -> Image.Image:
    """``image`` itself, or, when it carries an ICC profile, converted by it to sRGB (RGB, or
    RGBA keeping its alpha). A profile that cannot be read or does not fit the image's
    colour model is ignored, as browsers do: the pixels are then taken as sRGB."""
    icc = image.info.get("icc_profile")
    if not icc or image.mode not in ("RGB", "RGBA", "CMYK", "L", "P"):
        return image
    mode = "RGBA" if image.mode == "RGBA" or "transparency" in image.info else "RGB"
    source = image.convert(mode) if image.mode == "P" else image
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(source, profile, _srgb_profile(), outputMode=mode)
    except (OSError, ValueError, TypeError, ImageCms.PyCMSError):
        return image


def as_shown(image: Image.Image) -> Image.Image:
    """A user's image as a viewer shows it: upright, wide greyscale scaled to 8 bits, its
    colours converted to sRGB by its ICC profile; its alpha, if any, kept."""
    return srgb(eight_bit(upright(image)))


def has_alpha(image: Image.Image) -> bool:
    """Whether some of ``image`` may be transparent (an alpha band or a transparent colour)."""
    return image.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in image.info


def shown_rgb(image: Image.Image) -> Image.Image:
    """:func:`as_shown` in RGB, transparent parts laid on white."""
    image = as_shown(image)
    if has_alpha(image):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")
