"""Moving the object without a model: the instruction's place, the object whole at it, and
every pixel away from its old place and its new one the source's."""

import numpy as np
import pytest
from PIL import Image

from cinedraft.errors import InputError
from cinedraft.render import relocate
from cinedraft_training.adherence import classify_position
from cinedraft_training.scenes import Scene, render_scene


@pytest.mark.parametrize(
    "text, place",
    [
        ("move the jar to the left", "left"),
        ("Move it to the right.", "right"),
        ("put the bottle on the center", "center"),
        ("move it to the centre", "center"),
        ("place the box on the right side", "right"),
        ("move the cup to the left of the frame", "left"),
        ("can you move the jar to the right, please?", "right"),
        ("move it left", "left"),
        ("centre the bottle", "center"),
        ("move it up", None),
        ("move it", None),
        ("make it blue", None),
        ("move the jar to the left and make it blue", None),
    ],
)
def test_a_move_instruction_names_its_place(text, place):
    assert relocate.parse(text) == place


def _scene(position: str, lighting: str = "studio", surface: str = "plain", seed: int = 0):
    scene = Scene("jar", "red", surface, lighting, position, "small")
    image, cover = render_scene(scene, 64, np.random.default_rng(seed))
    return Image.fromarray(image), cover


@pytest.mark.parametrize(
    "start, place, lighting, surface",
    [
        ("left", "right", "studio", "plain"),
        ("right", "center", "dramatic", "wooden"),
        ("center", "left", "warm", "glass"),
    ],
)
def test_the_object_lands_whole_at_the_place_and_nothing_else_moves(
    start, place, lighting, surface
):
    image, cover = _scene(start, lighting, surface)
    moved = relocate.move(image, place)
    before, after = np.asarray(image), np.asarray(moved.image)
    assert classify_position(before) == start and classify_position(after) == place
    # away from the old place and the new one, every pixel is the source's
    assert np.array_equal(after[~moved.painted], before[~moved.painted])
    assert 0.02 < moved.area < 0.5
    # the object's own pixels, shifted (where it is opaque and was not on the image's edge)
    solid = np.roll(cover > 0.99, moved.shift, axis=1)
    solid[:, : max(0, moved.shift)] = solid[:, min(64, 64 + moved.shift) :] = False
    shifted = np.roll(before, moved.shift, axis=1)
    assert np.abs(after[solid].astype(int) - shifted[solid]).mean() < 3
    assert moved.to_record()["place"] == place and moved.to_record()["shift_px"] == moved.shift


def test_a_move_that_cannot_be_made_is_refused():
    image, _ = _scene("left")
    with pytest.raises(InputError, match="already stands on the left"):
        relocate.move(image, "left")
    flat = Image.new("RGB", (64, 64), (120, 120, 120))
    with pytest.raises(InputError, match="no single object stands apart"):
        relocate.move(flat, "right")
    # what the cut finds on an image enlarged to its working size can vanish at the image's
    # own: a 2x2 image (a ValueError from numpy before)
    dot = Image.fromarray(np.random.default_rng(0).integers(0, 256, (2, 2, 3), dtype=np.uint8))
    with pytest.raises(InputError, match="cannot move anything in a 2x2 image"):
        relocate.move(dot, "left")


def test_the_fill_continues_a_smooth_backdrop_across_the_hole():
    """A backdrop's light falls off smoothly: the fill continues the gradient (Telea drew an
    X of streaks across a hole this size) and adds back only the surroundings' grain."""
    ys, xs = np.mgrid[0:96, 0:96].astype(np.float32)
    backdrop = np.stack([60 + xs, 80 + ys, 140 + 0.5 * xs], -1)
    rgb = np.clip(backdrop + np.random.default_rng(1).normal(0, 2, backdrop.shape), 0, 255)
    rgb = rgb.astype(np.uint8)
    hole = np.zeros((96, 96), bool)
    hole[24:72, 30:66] = True
    filled = relocate.fill(rgb, hole)
    assert np.array_equal(filled[~hole], rgb[~hole])
    error = np.abs(filled[hole].astype(np.float32) - backdrop[hole])
    assert error.mean() < 4 and np.percentile(error, 99) < 12
    grain = filled.astype(np.float32) - backdrop
    assert 1.0 < grain[hole].std() < 4.0  # grain like the surroundings' (std 2), not flat
