"""The refine pass's colour fix: the input's colours, the refined image's detail."""

import numpy as np
from PIL import Image

from cinedraft.render.refine import keep_colour


def _scene(rng) -> np.ndarray:
    """A smooth (256, 256, 3) float image: a coloured disc on a gradient backdrop."""
    ys, xs = np.mgrid[0:256, 0:256].astype(np.float32)
    image = np.stack([80 + 0.3 * ys, 90 + 0.2 * xs, np.full_like(xs, 120.0)], axis=-1)
    disc = ((xs - 128) ** 2 + (ys - 140) ** 2) < 60**2
    image[disc] = (40, 200, 60)
    return image


def test_keep_colour_restores_the_reference_colours_and_keeps_the_detail():
    rng = np.random.default_rng(0)
    reference = _scene(rng)
    detail = rng.normal(0, 12, reference.shape[:2]).astype(np.float32)[..., None]  # fine grain
    refined = reference + np.array([25.0, -30.0, 20.0]) + detail  # a colour shift plus detail
    to_image = lambda a: Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))  # noqa: E731
    fixed = np.asarray(keep_colour(to_image(refined), to_image(reference)), np.float32)
    # colour: back to the reference's means, which the shift had moved by 20-30 levels
    assert np.abs(fixed.mean(axis=(0, 1)) - reference.mean(axis=(0, 1))).max() < 2.0
    # detail: the refined image's grain is still there
    grain = (fixed - reference)[..., 1].ravel()
    assert np.corrcoef(grain, detail.ravel())[0, 1] > 0.8


def test_keep_colour_of_an_image_with_itself_is_the_image():
    image = Image.fromarray(np.clip(_scene(np.random.default_rng(1)), 0, 255).astype(np.uint8))
    same = np.asarray(keep_colour(image, image), np.int16)
    assert np.abs(same - np.asarray(image, np.int16)).max() <= 1
