"""An invisible watermark carrying the asset id.

The feature is invisible-watermark's ``dwtDctSvd``: the Haar wavelet's low band of the luma,
cut into 4x4 blocks (8x8 pixels), each block's DCT, and that DCT's largest singular value
``s0``. One bit per block: ``s0`` is moved onto a lattice of step ``STEP``, at a quarter step
for 0 and three quarters for 1 (quantisation index modulation). JPEG, WebP and resizing keep
an 8x8 block's mean well, so the bit survives them; a blind reader needs no original.

The embedding is ours, not the package's. Its ``encode`` rebuilds the image with the
wavelet's horizontal and vertical detail bands swapped (``idwt2((ca, (v, h, d)))``) and in
8-bit YUV: that, not the mark, turned straight edges into dotted lines and outlines into
jaggies (PSNR 23-41 dB on our renders and photographs). Here only the low band changes, in
float, and that change is added to R, G and B alike (the colours stay). The change is also smooth:
a block-constant change drew a faint 8-pixel grid on flat backgrounds, so it is blurred
(sigma ``SMOOTH`` px) and the blocks' values corrected again until each sits on its lattice
point. ``scripts/evaluate_watermark.py`` measures both choices; the README has the table.

Payload: the 48-bit asset id and a 16-bit CRC, 64 bits, each spread over blocks scattered
across the image (a fixed permutation), so a flat or clipped region does not take out whole
bits. The reader averages each bit's soft score over its blocks and accepts a read only if the
CRC matches and the scores are clearly one-sided (``CONFIDENCE``). It also reads the marks the
package embedded before (``LEGACY``: raster order, step 36). At least 256x256 pixels are
needed; smaller images are left unmarked and their record says so. A resized copy is read by
scaling it back to the sizes a caller suggests (the original size from the file's record) and
to 2x, 1.5x and 4/3x.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image

METHOD = "dwtDctSvd-smooth"
MIN_PIXELS = 256 * 256
STEP = 30.0  # the lattice step of s0 (the package used 36 with a blockier change)
SMOOTH = 5.0  # px: the Gaussian that spreads each block's change over its neighbours
ROUNDS = 10  # corrections after smoothing (the wider the blur, the more it needs)
RELAX = 1.6  # over-correction per round: as close after 6 rounds as after 10 at 1.0
# Mean |soft score| a read needs besides its CRC: unmarked 256x256 images gave at most 0.16
# (fewer blocks per bit, more spread), marked ones after WebP q80 at least 0.48.
CONFIDENCE = 0.3
_BITS = 64
_BLOCK = 4
_RETRY_SCALES = (2.0, 1.5, 4 / 3)
_LUMA = np.array([0.299, 0.587, 0.114])  # BT.601, as the package's YUV


@dataclass(frozen=True)
class _Layout:
    """How bits sit in blocks: the lattice step and whether blocks are scattered."""

    step: float
    scattered: bool


CURRENT = _Layout(STEP, scattered=True)
LEGACY = _Layout(36.0, scattered=False)  # invisible-watermark's own encode (records before)


def _dct_matrix(n: int = _BLOCK) -> np.ndarray:
    """The orthonormal DCT-II matrix (what ``cv2.dct`` computes on an n x n block)."""
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    m = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2 / n)
    m[0] /= np.sqrt(2)
    return m


_DCT = _dct_matrix()
_FLAT = np.eye(_BLOCK)[:, :1]  # the DC coefficient's direction


def _payload(asset_id: str) -> np.ndarray:
    raw = bytes.fromhex(asset_id)
    crc = zlib.crc32(raw) & 0xFFFF
    return np.unpackbits(np.frombuffer(raw + crc.to_bytes(2, "big"), np.uint8))


def can_mark(image: Image.Image) -> bool:
    return image.width * image.height >= MIN_PIXELS


def _bit_of_block(blocks: int, layout: _Layout) -> np.ndarray:
    order = np.arange(blocks) % _BITS
    if layout.scattered:
        order = order[np.random.default_rng(0x5EED).permutation(blocks)]
    return order


def _blocks(luma: np.ndarray):
    """Per 8x8-pixel block, the DCT of its Haar low band (the orthonormal Haar's low band is
    each 2x2 square's sum over 2); and the grid of blocks."""
    rows, cols = luma.shape[0] // 8, luma.shape[1] // 8
    low = luma[: rows * 8, : cols * 8].reshape(rows * 4, 2, cols * 4, 2).sum(axis=(1, 3)) / 2
    blocks = low.reshape(rows, _BLOCK, cols, _BLOCK).swapaxes(1, 2).reshape(-1, _BLOCK, _BLOCK)
    return _DCT @ blocks @ _DCT.T, (rows, cols)


def _top(c: np.ndarray, v: np.ndarray | None = None):
    """Each block's largest singular value and its vectors (u, s0, v as columns).

    From the eigenvectors of c'c; with ``v`` (the last round's vectors, which move little)
    by two power steps from there, and exactly again only where that has not settled (two
    singular values close): ``eigh`` on every block was most of the embedding's time."""
    gram = np.swapaxes(c, 1, 2) @ c
    if v is None:
        unsettled = np.ones(len(c), bool)
    else:
        for _ in range(2):
            v = gram @ v
            v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        gv = gram @ v
        value = (np.swapaxes(v, 1, 2) @ gv)[:, 0, 0]
        unsettled = np.linalg.norm(gv - value[:, None, None] * v, axis=(1, 2)) > 1e-6 * (
            np.abs(value) + 1e-9
        )
        v = v.copy()
    if unsettled.any():
        values, vectors = np.linalg.eigh(gram[unsettled])
        if v is None:
            v = vectors[:, :, -1:]
        else:
            v[unsettled] = vectors[:, :, -1:]
    s0 = np.linalg.norm(c @ v, axis=(1, 2))
    u = (c @ v) / np.maximum(s0, 1e-12)[:, None, None]
    blank = s0 < 1e-6  # a black block has no direction of its own: raise its mean
    u[blank], v[blank] = _FLAT, _FLAT
    return u, s0, v


def _pixels(change: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """A per-block change of the Haar low band, as a change of the blocks' pixels."""
    rows, cols = grid
    low = (_DCT.T @ change @ _DCT).reshape(rows, cols, _BLOCK, _BLOCK).swapaxes(1, 2)
    return np.repeat(np.repeat(low.reshape(rows * 4, cols * 4) / 2, 2, axis=0), 2, axis=1)


def _targets(s0: np.ndarray, bits: np.ndarray, headroom: np.ndarray) -> np.ndarray:
    """Each block's lattice point for its bit: the nearest, or the one the pixels can reach
    where a block is nearly white (only down) or nearly black (only up)."""
    offset = (0.25 + 0.5 * bits) * STEP
    nearest = np.round((s0 - offset) / STEP) * STEP + offset
    below = np.floor((s0 - offset) / STEP) * STEP + offset
    target = np.where(headroom < 0, below, np.where(headroom > 0, below + STEP, nearest))
    return np.where(target < 0, target + STEP, target)


def embed(image: Image.Image, asset_id: str, *, smooth: float = SMOOTH) -> Image.Image:
    """``image`` (as RGB) with ``asset_id`` (12 hex digits) embedded; needs >= 256x256 pixels.
    ``smooth`` 0 keeps each block's change flat (the evaluation shows why it is not)."""
    import cv2

    rgb = np.asarray(image.convert("RGB"), dtype=np.float64)
    luma = rgb @ _LUMA
    c, grid = _blocks(luma)
    bits = _payload(asset_id)[_bit_of_block(len(c), CURRENT)]
    u, s0, v = _top(c)
    target = _targets(s0, bits, _headroom(luma, grid))
    region = (slice(0, grid[0] * 8), slice(0, grid[1] * 8))
    room = (rgb.min(axis=2), rgb.max(axis=2))
    change = np.zeros_like(luma)
    for round_ in range(ROUNDS):
        if round_:  # the first round starts from the image as it is, measured above
            u, s0, v = _top(_blocks(luma + _luma_change(rgb, room, change))[0], v)
        error = (target - s0)[:, None, None] * (u @ np.swapaxes(v, 1, 2))
        step = _pixels(error, grid)
        if smooth > 0:
            step = cv2.GaussianBlur(step, (0, 0), smooth, borderType=cv2.BORDER_REFLECT)
        change[region] += RELAX * step
    out = np.clip(np.rint(rgb + change[..., None]), 0, 255).astype(np.uint8)
    return Image.fromarray(out)


def _luma_change(rgb: np.ndarray, room: tuple, change: np.ndarray) -> np.ndarray:
    """The luma change that adding ``change`` to R, G and B makes, clipped to 0..255 (only
    where a channel would leave that range is it less than ``change``)."""
    near = (room[0] + change < 0) | (room[1] + change > 255)  # the pixels' darkest, brightest
    if not near.any():
        return change
    out = change.copy()
    px, d = rgb[near], change[near][:, None]
    out[near] = np.clip(px + d, 0, 255) @ _LUMA - px @ _LUMA
    return out


def _headroom(luma: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Per block: -1 where it is white (it can only darken), +1 where black, else 0."""
    rows, cols = grid
    means = luma[: rows * 8, : cols * 8].reshape(rows, 8, cols, 8).mean(axis=(1, 3)).ravel()
    return np.where(means >= 250, -1, np.where(means <= 5, 1, 0))


def _read(image: Image.Image, layout: _Layout) -> str | None:
    luma = np.asarray(image.convert("RGB"), dtype=np.float64) @ _LUMA
    s0 = _top(_blocks(luma)[0])[1]
    which = _bit_of_block(len(s0), layout)
    score = -np.sin(2 * np.pi * s0 / layout.step)  # +1 at three quarters (1), -1 at one (0)
    score = np.bincount(which, score, _BITS) / np.maximum(np.bincount(which, None, _BITS), 1)
    if np.abs(score).mean() < CONFIDENCE:
        return None
    data = np.packbits((score > 0).astype(np.uint8)).tobytes()
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
        for layout in (CURRENT, LEGACY):
            if (found := _read(scaled, layout)) is not None:
                return found
    return None
