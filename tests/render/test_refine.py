"""The refine pass's colour fix: the input's colours, the refined image's detail."""

import cv2
import numpy as np
from PIL import Image, ImageFilter

from cinedraft.quality.metrics import chroma_outliers, laplacian_variance, overshoot
from cinedraft.render.cleanup import within_range
from cinedraft.render.refine import keep_colour, refine_image, refine_tiled, tile_grid
from cinedraft.render.upscale import upscale_lanczos


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


def _u8(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))


def _boxes(size: int) -> np.ndarray:
    """Dark and coloured boxes on a light backdrop, softened by a 1 px blur (float RGB)."""
    a = np.full((size, size, 3), (205.0, 200, 195))
    s = size // 8
    a[2 * s : 5 * s, s : 3 * s] = (40, 40, 45)
    a[3 * s : 7 * s, 4 * s : 7 * s] = (190, 40, 30)
    return cv2.GaussianBlur(a.astype(np.float32), (0, 0), size / 256)


def test_keep_colour_takes_no_colour_from_the_refine():
    """The built-in refine painted magenta and green blotches: its colour is now wholly the
    input's, so a blotch goes; only its brightness detail stays."""
    reference = cv2.GaussianBlur(_scene(np.random.default_rng(2)), (0, 0), 2)
    refined = reference.copy()
    refined[196:206, 122:134] = (220, 140, 40)  # orange where the green disc meets the backdrop
    assert chroma_outliers(_u8(refined)) > 0.2
    fixed = keep_colour(_u8(refined), _u8(reference))
    assert chroma_outliers(fixed) <= chroma_outliers(_u8(reference)) + 0.05


def test_the_refine_may_steepen_edges_but_draws_no_halo():
    """Each refined pixel stays within its input's 3x3 range: an edge sharpened with a halo
    (as the built-in refine drew) keeps its steepness and loses the halo and any speck."""
    reference = _u8(_boxes(256))
    refined = reference.filter(ImageFilter.UnsharpMask(radius=3, percent=150, threshold=0))
    specked = np.asarray(refined).copy()
    specked[20, 20] = 0  # a black speck on the backdrop
    assert overshoot(refined) > overshoot(reference) + 5
    fixed = within_range(Image.fromarray(specked), reference)
    assert overshoot(fixed) <= overshoot(reference) + 1
    assert laplacian_variance(fixed) > 1.2 * laplacian_variance(reference)  # still steeper
    assert np.asarray(fixed)[20, 20].min() > 150


def test_upscaling_sharpens_without_halos():
    """A plain unsharp mask after Lanczos drew a light and a dark line along every edge."""
    small = _u8(_boxes(64))
    plain = small.resize((256, 256), Image.Resampling.LANCZOS)  # Lanczos rings a little itself
    unsharp = plain.filter(ImageFilter.UnsharpMask(radius=3, percent=60, threshold=2))
    sharpened = upscale_lanczos(small, (256, 256), sharpen=0.6)
    assert laplacian_variance(sharpened) > 1.5 * laplacian_variance(plain)
    assert overshoot(unsharp) > overshoot(plain) + 20  # what the plain unsharp mask added
    assert overshoot(sharpened) <= overshoot(plain) + 5


def test_upscaling_does_not_ring():
    """issue #34: Lanczos swings past both sides of an edge (halos on production renders);
    each enlarged pixel now stays within its source pixels' range, the edge as steep."""
    from cinedraft.quality.metrics import ringing

    small = _u8(_boxes(64))
    plain = small.resize((256, 256), Image.Resampling.LANCZOS)
    enlarged = upscale_lanczos(small, (256, 256))
    assert overshoot(plain) > 5 and overshoot(enlarged) < 1
    assert ringing(enlarged) < ringing(plain)
    assert laplacian_variance(enlarged) > 0.9 * laplacian_variance(plain)
    src = np.asarray(small.convert("RGB"))
    assert np.asarray(enlarged).min() >= src.min() and np.asarray(enlarged).max() <= src.max()


def test_keep_colour_of_an_image_with_itself_is_the_image():
    image = Image.fromarray(np.clip(_scene(np.random.default_rng(1)), 0, 255).astype(np.uint8))
    same = np.asarray(keep_colour(image, image), np.int16)
    assert np.abs(same - np.asarray(image, np.int16)).max() <= 1


def test_tiles_cover_the_image_on_the_vae_grid_and_overlap():
    for width, height, tile in [(2048, 1152, 1024), (1032, 1024, 1024), (800, 600, 1024)]:
        grid = tile_grid(width, height, tile)
        tw, th = min(tile, width), min(tile, height)
        covered = np.zeros((height, width), bool)
        for x, y in grid:
            assert x % 8 == 0 and y % 8 == 0 and x + tw <= width and y + th <= height
            covered[y : y + th, x : x + tw] = True
        assert covered.all()
        xs = sorted({x for x, _ in grid})
        assert all(b - a <= tw - tile // 8 for a, b in zip(xs, xs[1:]))  # overlap >= 1/8
    assert len(tile_grid(2048, 1152, 1024)) == 3 * 2
    assert tile_grid(800, 600, 1024) == [(0, 0)]


def test_a_tiled_refine_blends_real_refines_of_each_tile(tiny_sd):
    """Each tile is a real img2img pass (seeded ``seed + i``); where a tile overlaps none,
    the result is that tile's pass exactly; the whole is deterministic."""
    from diffusers import AutoPipelineForImage2Image

    pipe = AutoPipelineForImage2Image.from_pretrained(tiny_sd)
    pipe.set_progress_bar_config(disable=True)
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, (96, 160, 3), dtype=np.uint8))
    how = dict(
        prompt_kwargs={"prompt": ["a red jar"], "guidance_scale": 1.0}, strength=0.5, steps=4
    )
    steps = []
    out, tiles = refine_tiled(pipe, image, tile=64, seed=7, on_step=lambda: steps.append(1), **how)
    assert out.size == image.size and tiles == len(tile_grid(160, 96, 64)) == 3 * 2
    assert len(steps) == tiles * 2  # strength 0.5 of 4 steps, per tile
    again, _ = refine_tiled(pipe, image, tile=64, seed=7, **how)
    assert np.array_equal(np.asarray(out), np.asarray(again))
    first = refine_image(pipe, image.crop((0, 0, 64, 64)), seed=7, **how)
    # the first tile's corner no other tile reaches (the next start at x 48, y 32)
    assert np.array_equal(np.asarray(out)[:32, :48], np.asarray(first)[:32, :48])
    assert not np.array_equal(np.asarray(out)[:64, :64], np.asarray(first))  # blended edges
