"""Product lock: the product's pixels over a scene, the same place at any size, measured."""

import numpy as np
from PIL import Image, ImageFilter

from cinedraft.catalogue import lock
from cinedraft.render.cutout import cut_out

from .conftest import packshot


def test_the_product_is_kept_exactly_and_the_measure_sees_a_change():
    cut = cut_out(packshot("bottle", "red", seed=1)[0])
    scene = Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), np.uint8))
    placed = lock.place(cut, (256, 256))
    out = lock.locked(scene, placed)
    solid = placed.alpha >= 0.999
    assert (np.asarray(out)[solid] == np.rint(placed.rgb[solid])).all()
    assert lock.product_ssim(out, placed) >= 0.999
    blurred = out.filter(ImageFilter.GaussianBlur(2))
    assert lock.product_ssim(blurred, placed) < lock.MIN_SSIM
    # the contact shadow darkens the scene under the product, not above it
    x, y, w, h = placed.bbox
    below = np.asarray(out)[y + h + 1 : y + h + 4, x : x + w].mean()
    before = np.asarray(scene)[y + h + 1 : y + h + 4, x : x + w].mean()
    assert below < 0.8 * before


def test_the_product_stands_in_the_same_place_at_any_size():
    cut = cut_out(packshot("jar", "blue", seed=2)[0])
    small, large = lock.place(cut, (64, 64)), lock.place(cut, (256, 256))
    assert np.allclose(np.array(small.bbox) * 4, large.bbox, atol=6)
    mask = np.asarray(lock.inpaint_mask(small))
    assert ((mask == 0) == (small.alpha > 0.5)).all()  # only the product is kept
