"""An invisible watermark carrying the asset id (invisible-watermark's ``dwtDctSvd``).

Payload: the 48-bit asset id plus a 16-bit CRC, 64 bits, embedded in the luma channel at
quantisation step 36 (the library's default step; on luma it survived JPEG q50-q90, WebP and a
0.5x resize in our trials where the chroma default did not survive JPEG q75). The CRC tells a
real read from noise. The method needs at least 256x256 pixels; smaller images are left
unmarked and their record says so. A resized copy is read by scaling it back to the sizes a
caller suggests (the original size from the file's record) and to 2x, 1.5x and 4/3x.
"""

from __future__ import annotations

import importlib.util
import zlib
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

METHOD = "dwtDctSvd"
MIN_PIXELS = 256 * 256
_SCALES = [36, 0, 0]  # (Y, U, V) quantisation steps
_BITS = 64
_RETRY_SCALES = (2.0, 1.5, 4 / 3)


@cache
def _method():
    """invisible-watermark's ``EmbedDwtDctSvd`` class, loaded on first use.

    The package's ``__init__`` imports its RivaGAN module and with it torch (1.6 s here);
    ``dwtDctSvd.py`` itself needs only cv2 and pywt, so it is loaded from its file alone.
    """
    package = importlib.util.find_spec("imwatermark")
    if package is None:
        raise ImportError("invisible-watermark is not installed (see the README's install notes)")
    spec = importlib.util.spec_from_file_location(
        "imwatermark.dwtDctSvd", Path(package.origin).parent / "dwtDctSvd.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EmbedDwtDctSvd


def _payload(asset_id: str) -> list[int]:
    raw = bytes.fromhex(asset_id)
    crc = zlib.crc32(raw) & 0xFFFF
    return [int(b) for b in np.unpackbits(np.frombuffer(raw + crc.to_bytes(2, "big"), np.uint8))]


def can_mark(image: Image.Image) -> bool:
    return image.width * image.height >= MIN_PIXELS


def embed(image: Image.Image, asset_id: str) -> Image.Image:
    """``image`` with ``asset_id`` (12 hex digits) embedded; needs >= 256x256 pixels."""
    bgr = _bgr(image)
    marked = _method()(_payload(asset_id), wmLen=_BITS, scales=_SCALES).encode(bgr)
    return Image.fromarray(np.ascontiguousarray(marked[..., ::-1]))


def _bgr(image: Image.Image) -> np.ndarray:
    """The channel order the method works in (a view reversed, not OpenCV: importing it
    costs every library command 50 ms)."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[..., ::-1])


def _read(image: Image.Image) -> str | None:
    bgr = _bgr(image)
    bits = _method()([], wmLen=_BITS, scales=_SCALES).decode(bgr)
    data = np.packbits(np.asarray(bits, dtype=np.uint8)).tobytes()
    if int.from_bytes(data[6:8], "big") != zlib.crc32(data[:6]) & 0xFFFF:
        return None
    return data[:6].hex()


def detect(image: Image.Image, sizes: list[tuple[int, int]] = ()) -> str | None:
    """The embedded asset id, or None; tries the image as is, then rescaled."""
    candidates = [image.size, *sizes]
    candidates += [(round(image.width * s), round(image.height * s)) for s in _RETRY_SCALES]
    seen = set()
    for size in candidates:
        if size in seen or size[0] * size[1] < MIN_PIXELS:
            continue
        seen.add(size)
        scaled = image if size == image.size else image.resize(size, Image.Resampling.LANCZOS)
        if (found := _read(scaled)) is not None:
            return found
    return None
