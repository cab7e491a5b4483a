"""Masks: checked on the way in, composited so that every pixel outside stays exactly."""

import numpy as np
import pytest
from PIL import Image

from cinedraft.errors import InputError
from cinedraft.render import masks


def _noise(w, h, seed=0):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_a_composite_keeps_every_pixel_outside_the_mask_and_blends_inside():
    source, painted = _noise(64, 48, 0), _noise(64, 48, 1)
    mask = masks.from_region((10, 8, 30, 20), (64, 48))
    out = np.asarray(masks.composite(source, painted, mask))
    outside = mask.pixels == 0
    assert np.array_equal(out[outside], np.asarray(source)[outside])
    core = np.zeros_like(outside)
    core[8 + 6 : 28 - 6, 10 + 6 : 40 - 6] = True  # past the feather: the painted pixels
    assert np.array_equal(out[core], np.asarray(painted)[core])


def test_a_mask_of_another_size_is_resized_with_a_note():
    drawn = Image.new("L", (128, 96), 0)
    drawn.paste(255, (32, 32, 64, 64))
    mask = masks.from_file(drawn, (64, 48))
    assert mask.pixels.shape == (48, 64) and mask.note and "128x96" in mask.note
    assert mask.bbox == (16, 16, 16, 16)


@pytest.mark.parametrize("under", [(255, 255, 255), (0, 0, 0), (40, 200, 90)])
def test_a_mask_painted_on_transparency_is_what_is_painted(under):
    """A mask exported from an editor's layer: white strokes on transparency, with whatever
    colour the editor left under the transparent pixels. Read by its colour alone, white
    left under them made the mask "all white" and it was refused."""
    pixels = np.zeros((48, 64, 4), np.uint8)
    pixels[..., :3] = under
    pixels[16:32, 8:40] = (255, 255, 255, 255)
    mask = masks.from_file(Image.fromarray(pixels, "RGBA"), (64, 48))
    assert mask.bbox == (8, 16, 32, 16)


@pytest.mark.parametrize("value, words", [(0, "empty"), (255, "all white")])
def test_an_empty_or_all_white_mask_is_refused(value, words):
    with pytest.raises(InputError, match=words):
        masks.from_file(Image.new("L", (32, 32), value), (32, 32))


@pytest.mark.parametrize("region", [(0, 0, 0, 10), (70, 0, 5, 5), (-1, 0, 5, 5)])
def test_a_region_outside_the_image_is_refused(region):
    with pytest.raises(InputError, match="not inside"):
        masks.from_region(region, (64, 48))


def test_margins_grow_to_the_aspect_without_cropping():
    m = masks.margins_for_aspect((64, 64), (9, 16))
    assert m["left"] == m["right"] == 0 and m["top"] + m["bottom"] == 114 - 64
    m = masks.margins_for_aspect((64, 64), (16, 9))
    assert m["left"] + m["right"] == 50 and m["top"] == m["bottom"] == 0
    with pytest.raises(InputError, match="already"):
        masks.margins_for_aspect((64, 64), (1, 1))
    # no further than an expand may reach ("99:0.01", which the API's pattern lets through,
    # asked a 31 GB canvas of a 1024 px image)
    assert masks.margins_for_aspect((64, 64), (100, 1))["left"] == 3168
    with pytest.raises(InputError, match="adds 5068288 px on a side, past the 4096"):
        masks.margins_for_aspect((1024, 1024), (99, 0.01))


def test_a_grown_canvas_holds_the_source_and_masks_only_the_new_area():
    source = _noise(40, 30)
    canvas, mask = masks.grow_canvas(source, {"left": 8, "right": 0, "top": 4, "bottom": 100})
    assert canvas.size == (48, 134)
    assert np.array_equal(np.asarray(canvas)[4:34, 8:48], np.asarray(source))
    assert (mask.pixels[4:34, 8:48] == 0).all() and mask.area == pytest.approx(
        1 - 40 * 30 / (48 * 134)
    )


@pytest.mark.parametrize("text", ["left=1,up=2", "left=x", "left=0"])
def test_bad_expand_text_is_refused(text):
    with pytest.raises(ValueError):
        masks.parse_expand(text)
