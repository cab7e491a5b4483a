import numpy as np
from PIL import Image, ImageFilter

from cinedraft.quality.metrics import drift_ssim, high_frequency_ratio, laplacian_variance, ssim


def _checker(size=64):
    y, x = np.mgrid[0:size, 0:size]
    return Image.fromarray(((((x // 8) + (y // 8)) % 2) * 255).astype(np.uint8)).convert("RGB")


def test_blur_lowers_sharpness_measures():
    sharp = _checker()
    blurred = sharp.filter(ImageFilter.GaussianBlur(2))
    assert laplacian_variance(blurred) < 0.5 * laplacian_variance(sharp)
    assert high_frequency_ratio(blurred) < high_frequency_ratio(sharp)


def test_ssim_and_drift():
    img = _checker()
    assert ssim(img, img) > 0.999
    assert drift_ssim(img, img.resize((256, 256), Image.Resampling.NEAREST)) > 0.99
    other = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    assert drift_ssim(img, other.resize((256, 256))) < 0.5
