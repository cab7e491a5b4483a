import io

import numpy as np
import pytest
from PIL import Image

from cinedraft.quality.metrics import blockiness, laplacian_variance
from cinedraft.render.cleanup import clean_adaptive, sharpen_clamped

from ..quality.conftest import scene


def _jpeg(image, quality):
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


@pytest.mark.parametrize(
    "seed, quality, drop", [(0, 15, 0.3), (1, 25, 0.2), (2, 40, 0.05), (3, 40, 0.05)]
)
def test_cleanup_lowers_blocking_without_losing_sharpness(seed, quality, drop):
    compressed = _jpeg(scene(320, seed), quality)
    cleaned, report = clean_adaptive(compressed)
    assert "deblock" in report.steps
    assert blockiness(cleaned) < blockiness(compressed) - drop
    assert laplacian_variance(cleaned) >= laplacian_variance(compressed)


def test_clean_images_are_left_alone():
    image = scene(256, 5)
    cleaned, report = clean_adaptive(image)
    assert report.steps == [] and np.array_equal(np.asarray(cleaned), np.asarray(image))


def test_clamped_sharpening_never_overshoots_the_neighbourhood():
    """Only the lightness is sharpened, and it stays within each pixel's 3x3 range: no halo,
    and the colour differences are the image's own (no fringe)."""
    image = scene(128, 6)

    def ycc(im):
        return np.asarray(im.convert("YCbCr"), int)

    out, src = ycc(sharpen_clamped(image, 2.0)), ycc(image)
    padded = np.pad(src[..., 0], 1, mode="edge")
    windows = np.stack([padded[dy : dy + 128, dx : dx + 128] for dy in range(3) for dx in range(3)])
    assert (out[..., 0] >= windows.min(0) - 2).all() and (out[..., 0] <= windows.max(0) + 2).all()
    # colour kept but where R, G or B reach 0 or 255 (the sharpened lightness is out of gamut)
    assert np.percentile(np.abs(out[..., 1:] - src[..., 1:]), 99.5) <= 2
    assert laplacian_variance(sharpen_clamped(image, 2.0)) > laplacian_variance(image)


def _outlined(rim: int) -> np.ndarray:
    """A mid-grey object on a light backdrop, its outline drawn ``rim`` px dark inside it (a
    halo as the built-in model draws one), a thin dark line on the backdrop, a red patch."""
    a = np.full((64, 64, 3), 200, np.uint8)
    a[16:48, 8:32] = (110, 100, 90)
    if rim:
        a[16:48, 32 - rim : 32] = 40
    a[:, 50] = 30  # a thin line: both its sides alike
    a[4:10, 36:46] = (200, 40, 40)
    return a


def test_dehalo_takes_a_rim_off_an_outline_and_keeps_lines_and_colour():
    from cinedraft.quality.metrics import chroma_outliers, overshoot
    from cinedraft.render.cleanup import dehalo
    from cinedraft.render.upscale import upscale_lanczos

    haloed, clean = _outlined(rim=1), _outlined(rim=0)
    out = np.asarray(dehalo(Image.fromarray(haloed))).astype(int)
    assert np.abs(out[20:44, 31] - clean[20:44, 31]).max() <= 12  # the rim is gone
    assert (out[:, 50] == 30).all()  # the line stays
    assert np.array_equal(np.asarray(dehalo(Image.fromarray(clean))), clean)  # nothing to do

    def big(arr):  # enlarged as production enlarges (Lanczos without its own ringing)
        return upscale_lanczos(Image.fromarray(arr.astype(np.uint8)), (256, 256))

    assert overshoot(big(haloed)) > 20
    assert overshoot(big(out)) < 0.25 * overshoot(big(haloed))
    assert chroma_outliers(big(out)) <= chroma_outliers(big(haloed))


def test_dehalo_takes_a_light_rim_off_a_small_shaded_object():
    """A light rim between a light backdrop and a small object whose body is shaded (darker
    away from the rim, as the built-in model draws a lit jar): only the side a rim goes past,
    the backdrop, has to be flat. Requiring both sides flat left such rims on every object
    narrower than the width dehalo reads across."""
    from cinedraft.render.cleanup import dehalo

    a = np.full((64, 64, 3), 170, np.uint8)
    a[16:48, 24:33] = np.linspace(130, 20, 9).astype(np.uint8)[None, :, None]  # shaded body
    clean = a.copy()
    a[16:48, 23] = 200  # a light rim on its lit side, lighter than the backdrop
    out = np.asarray(dehalo(Image.fromarray(a))).astype(int)
    assert out[20:44, 23].max() <= 172  # the rim is at most the backdrop's lightness now
    body = np.abs(out - clean.astype(int))[16:48, 24:30]
    assert body.max() <= 1  # the body's lit side and middle: as they were
