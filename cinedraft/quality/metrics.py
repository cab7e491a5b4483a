"""Quality metrics: pure functions on images (PIL) or arrays (uint8 0..255 or float 0..1).

No-reference, one image:

- ``laplacian_variance``: focus measure of Pech-Pacheco et al. (2000), "Diatom autofocusing in
  brightfield microscopy"; higher = sharper. This is the "sharpness" the library stores.
- ``tenengrad``: mean squared Sobel gradient magnitude (Krotkov, 1987; compared in Pertuz et
  al., 2013, "Analysis of focus measure operators for shape-from-focus"); higher = sharper.
- ``high_frequency_ratio``: share of spectral power above a radial frequency cut-off.
- ``edge_width``: mean width in pixels of vertical edges, from each edge pixel to the local
  extrema on either side along the row (Marziliano et al., 2002, "A no-reference perceptual
  blur metric"); lower = sharper.
- ``blockiness``: mean absolute luma step across the 8x8 block grid over the mean step inside
  blocks (after Wang, Bovik & Evans, 2000, "Blind measurement of blocking artifacts in
  images"); about 1 for clean images, above 1 for JPEG-style blocking.
- ``ringing``: mean |Laplacian| in a band 2-4 px beside strong edges, less the image's own
  texture level (its mean |Laplacian| away from edges), over the mean gradient on those
  edges: the ripples lossy codecs leave around edges (mosquito noise), relative to the edges'
  contrast (a heuristic in the spirit of Marziliano et al., 2004, "Perceptual blur and
  ringing metrics"; 0 for an image without edges). Texture or grain spread over the whole
  image is not counted: without the subtraction, fine grain of sigma 4 scored as JPEG q20.
- ``noise_sigma``: Gaussian noise standard deviation in 0..255 units, Immerkaer (1996), "Fast
  noise variance estimation".
- ``chroma_outliers``: per mille of pixels whose colour nothing around them has (blotches,
  colour fringes, coloured specks); ``speckle``: per mille of isolated pixels far brighter or
  darker than all eight neighbours; ``overshoot``: per cent of an edge's step by which its
  profile goes beyond its two sides (halos). Lower is cleaner for all three.

Full-reference: ``psnr``, ``psnr_b`` (PSNR with a blocking-effect factor, Yim & Bovik, 2011,
"Quality assessment of deblocked images"), ``ssim`` (Wang et al., 2004), ``masked_ssim``
(SSIM over a region), ``drift_ssim``, and ``detail_fidelity``: 1 - |L(test) - L(ref)|^2 /
|L(ref)|^2 over the luma Laplacians L, the PSNR idea restricted to fine detail (1 = the
reference's fine detail exactly; blur and compression artifacts both lower it, where
artifacts raise no-reference sharpness; at or below 0 the fine detail is more error than
signal).

Temporal, consecutive frames: ``flicker`` (jump of mean luma, 0..255 units) and
``warp_error`` (mean absolute luma error after warping the previous frame onto the next with
DIS optical flow, Kroeger et al., 2016), as in the temporal-consistency measure of Lai et al.
(2018), "Learning blind video temporal consistency".
"""

from __future__ import annotations

from collections.abc import Iterable

import cv2
import numpy as np
from PIL import Image

from . import HIGHER_IS_CLEARER  # noqa: F401 - named here too, where the metrics are

ImageLike = Image.Image | np.ndarray


def _gray(image: ImageLike) -> np.ndarray:
    """(H, W) float64 luma in 0..1 (Rec. 601 weights)."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    arr = arr / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float64, copy=False)
    if arr.ndim == 3:
        arr = arr[..., :3] @ np.array([0.299, 0.587, 0.114])
    return arr


def _laplacian(g: np.ndarray) -> np.ndarray:
    """4-neighbour Laplacian of a 2-D array, valid region only."""
    return -4 * g[1:-1, 1:-1] + g[:-2, 1:-1] + g[2:, 1:-1] + g[1:-1, :-2] + g[1:-1, 2:]


def laplacian_variance(image: ImageLike) -> float:
    """Variance of the 4-neighbour Laplacian of the luma (0 for an image under 3 px a side,
    which has no pixel with four neighbours)."""
    lap = _laplacian(_gray(image))
    return float(lap.var()) if lap.size else 0.0


def tenengrad(image: ImageLike) -> float:
    """Mean of gx^2 + gy^2 over 3x3 Sobel gradients of the luma."""
    g = _gray(image).astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.mean(gx * gx + gy * gy))


def high_frequency_ratio(image: ImageLike, cutoff: float = 0.25) -> float:
    """Fraction of (mean-removed) spectral power above ``cutoff`` x Nyquist radius."""
    g = _gray(image)
    power = np.abs(np.fft.fftshift(np.fft.fft2(g - g.mean()))) ** 2
    h, w = g.shape
    fy = np.fft.fftshift(np.fft.fftfreq(h))[:, None] / 0.5
    fx = np.fft.fftshift(np.fft.fftfreq(w))[None, :] / 0.5
    high = np.hypot(fx, fy) > cutoff
    total = power.sum()
    return float(power[high].sum() / total) if total > 0 else 0.0


def edge_width(image: ImageLike, max_edges: int = 4000, seed: int = 0) -> float:
    """Mean width (pixels) of strong vertical edges; 0 when there are none.

    Edge pixels: the strongest 2 % of |Sobel-x| that are also horizontal maxima. Up to
    ``max_edges`` of them (a seeded sample) are walked left and right to the extrema.
    """
    g = _gray(image)
    gx = cv2.Sobel(g.astype(np.float32), cv2.CV_32F, 1, 0, ksize=3)
    mag = np.abs(gx)
    if mag.max() <= 1e-6:
        return 0.0
    threshold = max(np.quantile(mag, 0.98), 0.05 * mag.max())
    peak = np.zeros_like(mag, dtype=bool)
    peak[:, 1:-1] = (mag[:, 1:-1] >= mag[:, :-2]) & (mag[:, 1:-1] >= mag[:, 2:])
    ys, xs = np.nonzero((mag >= threshold) & peak)
    if len(ys) == 0:
        return 0.0
    if len(ys) > max_edges:
        pick = np.random.default_rng(seed).choice(len(ys), max_edges, replace=False)
        ys, xs = ys[pick], xs[pick]
    widths = []
    for y, x in zip(ys, xs):
        row, rising = g[y], gx[y, x] > 0
        left = x
        while left > 0 and ((row[left - 1] < row[left]) if rising else (row[left - 1] > row[left])):
            left -= 1
        right = x
        while right < len(row) - 1 and (
            (row[right + 1] > row[right]) if rising else (row[right + 1] < row[right])
        ):
            right += 1
        widths.append(right - left)
    return float(np.mean(widths))


def blockiness(image: ImageLike, block: int = 8) -> float:
    """Mean |step| across block-grid boundaries over the mean |step| inside blocks."""
    g = _gray(image)
    dx = np.abs(np.diff(g, axis=1))  # dx[:, j] = step between columns j and j+1
    dy = np.abs(np.diff(g, axis=0))
    if dx.shape[1] < 2 * block or dy.shape[0] < 2 * block:
        return 1.0
    on_x = (np.arange(dx.shape[1]) % block) == block - 1
    on_y = (np.arange(dy.shape[0]) % block) == block - 1
    across = (dx[:, on_x].mean() + dy[on_y, :].mean()) / 2
    inside = (dx[:, ~on_x].mean() + dy[~on_y, :].mean()) / 2
    return float(across / inside) if inside > 1e-9 else 1.0


RINGING_AWAY = 17  # px square around edges outside which the texture level is read
RINGING_MIN_AWAY = 0.05  # share of the image that must lie away from edges to read it


def ringing(image: ImageLike) -> float:
    """Band-beside-edges |Laplacian| above the image's own texture level (the mean |Laplacian|
    away from edges), over the on-edge gradient magnitude (0..255 luma units)."""
    g = (np.clip(_gray(image), 0, 1) * 255).astype(np.float32)
    if min(g.shape) < 9:
        return 0.0
    magnitude = np.hypot(cv2.Sobel(g, cv2.CV_32F, 1, 0), cv2.Sobel(g, cv2.CV_32F, 0, 1))
    if magnitude.max() <= 1e-3:
        return 0.0
    edges = (magnitude >= max(np.quantile(magnitude, 0.95), 1e-3)).astype(np.uint8)
    near = cv2.dilate(edges, np.ones((3, 3), np.uint8)) > 0
    band = (cv2.dilate(edges, np.ones((9, 9), np.uint8)) > 0) & ~near
    if not band.any():
        return 0.0
    lap = np.abs(cv2.Laplacian(g, cv2.CV_32F))
    # Grain or texture all over an image is not ringing: only what the band holds beyond it.
    away = cv2.dilate(edges, np.ones((RINGING_AWAY, RINGING_AWAY), np.uint8)) == 0
    texture = float(lap[away].mean()) if away.sum() >= RINGING_MIN_AWAY * g.size else 0.0
    return float(max(lap[band].mean() - texture, 0.0) / magnitude[edges > 0].mean())


def noise_sigma(image: ImageLike) -> float:
    """Noise standard deviation (0..255 units) by Immerkaer's Laplacian-difference mask."""
    g = _gray(image) * 255.0
    h, w = g.shape
    if h < 3 or w < 3:
        return 0.0
    mask = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    conv = cv2.filter2D(g.astype(np.float32), -1, mask, borderType=cv2.BORDER_REFLECT)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) * np.abs(conv).sum() / (6 * (w - 2) * (h - 2)))


def _rgb(image: ImageLike) -> np.ndarray:
    """(H, W, 3) uint8."""
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        arr = np.clip(arr * 255 + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(arr[..., None], 3, 2) if arr.ndim == 2 else arr[..., :3]


def _ring(radius: int) -> np.ndarray:
    """A one-pixel ring of ``radius`` as a morphology kernel (its centre left out)."""
    size = 2 * radius + 1
    kernel = np.zeros((size, size), np.uint8)
    cv2.circle(kernel, (radius, radius), radius, 1, 1)
    return kernel


COLOUR_WINDOW = 11  # px: the neighbourhood whose colours a pixel should be a mix of
COLOUR_OFF_LINE = 8.0  # chroma units (0..255) off the neighbourhood's line of colours
COLOUR_RING = 5  # px: the ring a speck's colour is compared with
COLOUR_EXCESS = 10.0  # chroma units beyond every colour on that ring
SPECKLE_EXCESS = 24.0  # luma levels beyond all eight neighbours
OVERSHOOT_REACH = 8  # px either side of an edge that overshoot looks at


def chroma_outliers(image: ImageLike) -> float:
    """Colour blotches, fringes and specks: per mille of pixels whose colour is not a mix of
    the colours around them.

    In the Cr/Cb plane, the colours of an ``COLOUR_WINDOW`` square around an edge between
    two colours (an object on a table, antialiasing, a gradient) lie on one line; a pixel
    more than ``COLOUR_OFF_LINE`` off the window's principal line is a colour neither side
    has (a magenta blotch between a red object and a grey table, a cyan fringe). A lone
    speck makes that line pass through itself, so a pixel whose chroma lies more than
    ``COLOUR_EXCESS`` beyond every chroma on a ring ``COLOUR_RING`` px around it is counted
    too (a green speck in a grey wall). Not seen: a long fringe in the colour opposite one
    side (cyan along red on grey), which lies on that line. False colour measured as
    demosaicing studies do,
    against the local colour line (Lu & Tan, 2003, "Color filter array demosaicking: new
    method and performance measures"; the colour-line model of Omer & Werman, 2004)."""
    ycc = cv2.cvtColor(_rgb(image), cv2.COLOR_RGB2YCrCb).astype(np.float32)
    if min(ycc.shape[:2]) <= COLOUR_WINDOW:
        return 0.0
    cr, cb = ycc[..., 1], ycc[..., 2]

    def mean(a: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(a, -1, (COLOUR_WINDOW, COLOUR_WINDOW), borderType=cv2.BORDER_REFLECT)

    mr, mb = mean(cr), mean(cb)
    vrr, vbb, vrb = mean(cr * cr) - mr * mr, mean(cb * cb) - mb * mb, mean(cr * cb) - mr * mb
    angle = 0.5 * np.arctan2(2 * vrb, vrr - vbb)  # the covariance's principal direction
    off_line = np.abs((cb - mb) * np.cos(angle) - (cr - mr) * np.sin(angle))
    ring, beyond = _ring(COLOUR_RING), np.zeros_like(cr)
    for plane in (cr, cb):
        high = plane - cv2.dilate(plane, ring, borderType=cv2.BORDER_REFLECT)
        low = cv2.erode(plane, ring, borderType=cv2.BORDER_REFLECT) - plane
        beyond = np.maximum(beyond, np.maximum(high, low))
    return float(1000 * np.mean((off_line > COLOUR_OFF_LINE) | (beyond > COLOUR_EXCESS)))


def speckle(image: ImageLike) -> float:
    """Isolated specks: per mille of pixels brighter or darker than all eight neighbours by
    more than ``SPECKLE_EXCESS`` luma levels (a salt-and-pepper impulse test, as impulse-noise
    detectors use before a median filter; a one-pixel line is not counted: its neighbours
    along the line are like it)."""
    g = (_gray(image) * 255).astype(np.float32)
    if min(g.shape) < 3:
        return 0.0
    ring = _ring(1)
    ring[[0, 0, 2, 2], [0, 2, 0, 2]] = 1  # all eight neighbours
    high = g - cv2.dilate(g, ring, borderType=cv2.BORDER_REFLECT)
    low = cv2.erode(g, ring, borderType=cv2.BORDER_REFLECT) - g
    return float(1000 * np.mean(np.maximum(high, low) > SPECKLE_EXCESS))


def overshoot(image: ImageLike, max_edges: int = 4000, seed: int = 0) -> float:
    """Halo: how far edges overshoot their two sides, in per cent of their step.

    Strong edges (the top 2 % of the gradient, at least 10 levels per pixel) are followed
    ``OVERSHOOT_REACH`` px across, along the gradient's main axis. Only edges between two
    flat sides count (each end's last step under a tenth of the edge's step): a texture or
    a thin line is not an edge with sides. The overshoot is the excess above the brighter
    end plus the excess below the darker end, over the step between the ends (an unsharp
    mask's halo, a resampling filter's ringing). A seeded sample of ``max_edges`` edges; 0
    when there are none."""
    g = (_gray(image) * 255).astype(np.float32)
    r = OVERSHOOT_REACH
    if min(g.shape) <= 2 * r + 2:
        return 0.0
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / 8
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / 8
    mag = np.hypot(gx, gy)
    mag[:r, :], mag[-r:, :], mag[:, :r], mag[:, -r:] = 0, 0, 0, 0
    ys, xs = np.nonzero(mag >= max(float(np.quantile(mag, 0.98)), 10.0))
    if len(ys) > max_edges:
        pick = np.random.default_rng(seed).choice(len(ys), max_edges, replace=False)
        ys, xs = ys[pick], xs[pick]
    along_x = np.abs(gx[ys, xs]) >= np.abs(gy[ys, xs])
    offsets = np.arange(-r, r + 1)
    profile = g[
        np.where(along_x[:, None], ys[:, None], ys[:, None] + offsets),
        np.where(along_x[:, None], xs[:, None] + offsets, xs[:, None]),
    ]
    lo = np.minimum(profile[:, 0], profile[:, -1])
    hi = np.maximum(profile[:, 0], profile[:, -1])
    step = hi - lo
    flat_sides = (np.abs(profile[:, 1] - profile[:, 0]) < 0.1 * step) & (
        np.abs(profile[:, -1] - profile[:, -2]) < 0.1 * step
    )
    keep = flat_sides & (step >= 20.0)
    if not keep.any():
        return 0.0
    excess = np.maximum(profile.max(1) - hi, 0) + np.maximum(lo - profile.min(1), 0)
    return float(100 * np.mean(excess[keep] / step[keep]))


# Every no-reference metric stored on a library asset, by its stored name. All read the
# luma, but chroma_outliers, which reads the colours.
IMAGE_METRICS = {
    "sharpness": laplacian_variance,
    "tenengrad": tenengrad,
    "hf_ratio": high_frequency_ratio,
    "edge_width": edge_width,
    "blockiness": blockiness,
    "ringing": ringing,
    "noise": noise_sigma,
    "chroma_outliers": chroma_outliers,
    "speckle": speckle,
    "overshoot": overshoot,
}


def image_metrics(image: ImageLike) -> dict[str, float]:
    """Every metric of :data:`IMAGE_METRICS` of one image.

    The pixels are read and the luma computed once, and every luma metric is given that
    luma (the same values each would compute): computed by each of nine metrics, the luma
    was 40 % of measuring a 36 Mpx photo, which every import of one waits for."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB"))
    luma = _gray(image)
    return {
        name: metric(image if metric is chroma_outliers else luma)
        for name, metric in IMAGE_METRICS.items()
    }


# ---------------------------------------------------------------------- full reference


def _tensor(image: ImageLike):
    import torch  # only the full-reference metrics need torch (torchmetrics)

    return torch.from_numpy(_gray(image).astype(np.float32))[None, None]


def psnr(reference: ImageLike, test: ImageLike) -> float:
    """PSNR (dB) of the luma; inf for identical images."""
    mse = float(np.mean((_gray(reference) - _gray(test)) ** 2))
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def psnr_b(reference: ImageLike, test: ImageLike) -> float:
    """PSNR-B (dB) of the luma: PSNR with the mean squared error raised by the blocking
    effect factor of the test image (torchmetrics)."""
    from torchmetrics.functional.image import peak_signal_noise_ratio_with_blocked_effect

    return float(
        peak_signal_noise_ratio_with_blocked_effect(
            _tensor(test), _tensor(reference), data_range=1.0
        )
    )


def detail_fidelity(reference: ImageLike, test: ImageLike) -> float:
    """1 - |L(test) - L(ref)|^2 / |L(ref)|^2 for the luma Laplacians of same-size images."""
    ref, out = _laplacian(_gray(reference)), _laplacian(_gray(test))
    energy = float((ref * ref).sum())
    return float(1 - ((out - ref) ** 2).sum() / energy) if energy > 0 else 1.0


def ssim(a: Image.Image, b: Image.Image) -> float:
    """SSIM of two same-size RGB images (Gaussian window 11, sigma 1.5)."""
    import torch
    from torchmetrics.functional.image import structural_similarity_index_measure

    ta = torch.from_numpy(np.asarray(a.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None]
    tb = torch.from_numpy(np.asarray(b.convert("RGB"), np.float32) / 255).permute(2, 0, 1)[None]
    return float(structural_similarity_index_measure(ta, tb, data_range=1.0))


def masked_ssim(a: ImageLike, b: ImageLike, keep: np.ndarray) -> float | None:
    """Mean SSIM of the luma of same-size ``a`` and ``b`` over the pixels where ``keep`` is
    true (Wang et al., 2004: Gaussian window sigma 1.5, K1 0.01, K2 0.03); None when ``keep``
    selects nothing. How well an edit kept what it was not asked to change."""
    if not keep.any():
        return None
    x, y = _gray(a).astype(np.float64), _gray(b).astype(np.float64)
    c1, c2 = 0.01**2, 0.03**2

    def blur(v: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(v, (11, 11), 1.5, borderType=cv2.BORDER_REFLECT)

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    ssim_map = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(ssim_map[keep].mean())


def drift_ssim(draft: Image.Image, production: Image.Image) -> float:
    """SSIM of ``production`` downscaled (area filter) to ``draft``'s size against ``draft``."""
    small = production.convert("RGB").resize(draft.size, Image.Resampling.BOX)
    return ssim(draft, small)


# ---------------------------------------------------------------------- temporal


def _luma8(frame: ImageLike) -> np.ndarray:
    """(H, W) uint8 luma; cv2's conversion, several times faster than float math at 1080p."""
    if isinstance(frame, Image.Image):
        frame = np.asarray(frame.convert("RGB"))
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = (np.clip(frame, 0, 1) * 255).astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY) if frame.ndim == 3 else frame


def flicker(prev: ImageLike, nxt: ImageLike) -> float:
    """|mean luma(next) - mean luma(prev)| in 0..255 units: global brightness jumps."""
    return float(abs(float(_luma8(nxt).mean()) - float(_luma8(prev).mean())))


FLOW_MIN_SIDE = 16  # DIS flow refuses frames under 12 px a side


def warp_error(prev: ImageLike, nxt: ImageLike, flow_side: int = 480) -> float:
    """Mean |luma error| (0..255) between ``nxt`` and ``prev`` warped onto it by DIS flow.

    The flow is computed with the frames scaled so the longer side is ``flow_side`` pixels
    (faster than real time for 1080p at 24 fps on two cores), or up so the shorter is
    ``FLOW_MIN_SIDE`` (DIS refuses smaller frames); the error is measured there.
    """
    a, b = _luma8(prev), _luma8(nxt)
    scale = min(1.0, flow_side / max(a.shape))
    scale = max(scale, FLOW_MIN_SIDE / min(a.shape))
    if scale != 1.0:
        size = (round(a.shape[1] * scale), round(a.shape[0] * scale))
        way = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
        a, b = cv2.resize(a, size, interpolation=way), cv2.resize(b, size, interpolation=way)
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    flow = dis.calc(b, a, None)  # (h, w, 2): for each pixel of b, where it came from in a
    h, w = b.shape
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(
        a,
        grid_x + flow[..., 0],
        grid_y + flow[..., 1],
        cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )
    return float(np.abs(warped.astype(np.float32) - b.astype(np.float32)).mean())


def temporal_metrics(frames: Iterable[ImageLike], flow_side: int = 480) -> dict[str, list[float]]:
    """Flicker and warp error for each consecutive pair of ``frames`` (any iterable: a
    decoder's frames are measured as they come, one frame held at a time)."""
    out: dict[str, list[float]] = {"flicker": [], "warp_error": []}
    prev = None
    for frame in frames:
        luma = _luma8(frame)
        if prev is not None:
            out["flicker"].append(flicker(prev, luma))
            out["warp_error"].append(warp_error(prev, luma, flow_side))
        prev = luma
    return out


def mean_lab(frames: np.ndarray) -> np.ndarray:
    """Mean CIELAB (L 0..100, a, b) over frames (F, H, W, 3) uint8."""
    lab = cv2.cvtColor(
        np.ascontiguousarray(frames.reshape(-1, frames.shape[-2], 3)), cv2.COLOR_RGB2LAB
    )
    mean = lab.reshape(-1, 3).astype(np.float64).mean(0)
    return np.array([mean[0] * 100 / 255, mean[1] - 128, mean[2] - 128])
