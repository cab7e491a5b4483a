"""The product cut out of its packshot: the true mask of the built-in world's object."""

import numpy as np
import pytest
from PIL import Image

from cinedraft.render.cutout import cut_out
from cinedraft.errors import InputError
from cinedraft_training.scenes import COLOURS, OBJECTS

from .conftest import packshot


def test_grabcut_finds_the_true_mask_of_every_object():
    """Every object, every colour, three lightings, small and large: IoU >= 0.9 each."""
    lightings = ("studio", "warm", "cool")
    ious = []
    for i, colour in enumerate(COLOURS):
        obj, lighting = OBJECTS[i % len(OBJECTS)], lightings[i % 3]
        image, truth = packshot(obj, colour, lighting, seed=i)
        cut = cut_out(image)
        found = cut.alpha > 0.5
        ious.append((found & truth).sum() / (found | truth).sum())
        assert cut.method == "grabcut"
    # a small black box: a highlight line once cut its lid off the rest (IoU 0.85)
    image, truth = packshot("box", "black", "studio", seed=0)
    found = cut_out(image).alpha > 0.5
    ious.append((found & truth).sum() / (found | truth).sum())
    assert min(ious) >= 0.9, ious


def test_a_cut_out_png_gives_its_own_alpha():
    image, truth = packshot("cup", "purple", seed=3)
    rgba = image.convert("RGBA")
    rgba.putalpha(Image.fromarray((truth * 255).astype(np.uint8)))
    cut = cut_out(rgba)
    assert cut.method == "alpha" and ((cut.alpha > 0.5) == truth).all()


def test_a_packshot_with_no_product_is_refused():
    with pytest.raises(InputError, match="no product stands apart"):
        cut_out(Image.new("RGB", (256, 256), (200, 200, 205)))
    with pytest.raises(InputError, match="at least 128 px"):
        cut_out(Image.new("RGB", (64, 64)))


def test_a_cut_out_is_kept_and_read_back(tmp_path):
    from cinedraft.render.cutout import cached_cut

    image, _ = packshot("ball", "green", seed=5)
    cache = tmp_path / "cut.png"
    first = cached_cut(image, cache)
    assert cache.is_file()
    again = cached_cut(image, cache)
    assert again.method == first.method == "grabcut"
    assert np.abs(again.alpha - first.alpha).max() <= 1 / 255 + 1e-6
    cache.write_bytes(b"damaged")  # a broken cache is made again, not trusted
    assert np.array_equal(cached_cut(image, cache).alpha, first.alpha)  # and GrabCut repeats


def test_the_draft_score_sees_a_second_product(tmp_path):
    """A scene with a ghost of the product beside it ranks below the same scene without."""
    from cinedraft.catalogue import lock
    from cinedraft.catalogue.run import score

    cut = cut_out(packshot("bottle", "red", seed=1)[0])
    placed = lock.place(cut, (128, 128))
    scene = Image.new("RGB", (128, 128), (150, 110, 80))
    clean = lock.locked(scene, placed)
    ghost = np.asarray(clean).copy()
    x, y, w, h = placed.bbox
    ghost[y : y + h, x + w + 6 : x + 2 * w + 6] = np.asarray(clean)[y : y + h, x : x + w]
    mask = placed.alpha > 0.5
    assert score(Image.fromarray(ghost), (), mask) < 0.7 * score(clean, (), mask)
