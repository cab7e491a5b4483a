import io

import numpy as np
import pytest
from PIL import Image, ImageFilter

from cinedraft.quality.metrics import (
    IMAGE_METRICS,
    blockiness,
    chroma_outliers,
    detail_fidelity,
    drift_ssim,
    edge_width,
    flicker,
    high_frequency_ratio,
    image_metrics,
    laplacian_variance,
    noise_sigma,
    overshoot,
    psnr,
    psnr_b,
    ringing,
    speckle,
    ssim,
    temporal_metrics,
    tenengrad,
    warp_error,
)

from .conftest import scene


def _jpeg(image: Image.Image, quality: int, fmt: str = "JPEG") -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, fmt, quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_sharpness_measures_fall_monotonically_with_blur(photo):
    images = [photo] + [photo.filter(ImageFilter.GaussianBlur(r)) for r in (0.5, 1, 2, 3)]
    for measure in (laplacian_variance, tenengrad, high_frequency_ratio):
        values = [measure(im) for im in images]
        assert values == sorted(values, reverse=True), measure.__name__
        assert values[-1] < 0.5 * values[0]
    widths = [edge_width(im) for im in images]
    assert widths[0] < widths[2] < widths[4]  # edges widen with blur


def test_low_jpeg_quality_is_blockier_and_further_from_the_source(photo):
    q30, q90 = _jpeg(photo, 30), _jpeg(photo, 90)
    assert blockiness(q30) > blockiness(q90) + 0.2
    assert 0.85 < blockiness(photo) < 1.15  # clean images sit near 1
    assert psnr(photo, q30) < psnr(photo, q90)
    assert psnr_b(photo, q30) <= psnr(photo, q30)  # the blocking factor only lowers it
    assert psnr(photo, photo) == float("inf")
    fidelity = [detail_fidelity(photo, _jpeg(photo, q)) for q in (10, 30, 60, 90)]
    assert fidelity == sorted(fidelity) and fidelity[-1] < 1.0
    webp = [detail_fidelity(photo, _jpeg(photo, q, "WEBP")) for q in (10, 30, 60, 90)]
    assert webp == sorted(webp)


def test_noise_estimate_tracks_added_noise(photo):
    arr = np.asarray(photo, np.float64)
    estimates = []
    for sigma in (0, 5, 10, 20):
        noisy = np.clip(arr + np.random.default_rng(1).normal(0, sigma, arr.shape), 0, 255)
        estimates.append(noise_sigma(noisy.astype(np.uint8)))
    assert estimates == sorted(estimates)
    # Luma of independent per-channel noise has ~0.67 of its sigma (Rec. 601 weights).
    assert 0.4 * 20 < estimates[-1] - estimates[0] < 1.0 * 20


def test_lossy_coding_rings_around_edges(photo):
    assert ringing(_jpeg(photo, 20)) > ringing(_jpeg(photo, 90)) > ringing(photo)
    assert ringing(Image.new("RGB", (64, 64), "gray")) == 0.0


def test_image_metrics_has_every_stored_metric(photo):
    assert set(image_metrics(photo)) == {
        "sharpness",
        "tenengrad",
        "hf_ratio",
        "edge_width",
        "blockiness",
        "ringing",
        "noise",
        "chroma_outliers",
        "speckle",
        "overshoot",
    }


@pytest.mark.parametrize("kind", ["rgb", "rgba", "uint8 array", "float array", "luma array"])
def test_image_metrics_are_what_each_metric_gives_on_its_own(photo, kind):
    """``image_metrics`` reads the luma once and hands it to every metric: the values are
    the ones each metric computes from the image itself, whatever form the image is in."""
    rgb = photo.convert("RGB")
    image = {
        "rgb": rgb,
        "rgba": photo.convert("RGBA"),
        "uint8 array": np.asarray(rgb),
        "float array": np.asarray(rgb) / 255.0,
        "luma array": np.asarray(rgb.convert("L")) / 255.0,
    }[kind]
    each = {name: metric(image) for name, metric in IMAGE_METRICS.items()}
    assert image_metrics(image) == each


def _clip(n: int, flicker_amplitude: float = 0.0, shift: int = 2) -> list[np.ndarray]:
    base = np.asarray(scene(256, 3), np.float32)
    frames = []
    for i in range(n):
        frame = np.roll(base, i * shift, axis=1) + (
            flicker_amplitude if i % 2 else -flicker_amplitude
        )
        frames.append(np.clip(frame, 0, 255).astype(np.uint8))
    return frames


def test_flickering_clip_has_a_higher_flicker_index():
    steady, flickering = temporal_metrics(_clip(8)), temporal_metrics(_clip(8, 12))
    assert np.mean(flickering["flicker"]) > 10 * (np.mean(steady["flicker"]) + 0.1)
    assert flicker(_clip(1)[0], _clip(1)[0]) == 0


def test_warp_error_is_small_for_motion_and_large_for_a_cut():
    frames = _clip(2, shift=3)
    other = np.asarray(scene(256, 9))
    assert warp_error(frames[0], frames[1]) < 0.3 * warp_error(frames[0], other)


def test_ssim_and_drift(photo):
    assert ssim(photo, photo) > 0.999
    assert drift_ssim(photo.resize((64, 64)), photo) > 0.95
    assert (
        drift_ssim(photo.resize((64, 64)), photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) < 0.6
    )


@pytest.mark.parametrize("size", [(5, 5), (300, 17), (2, 2), (1, 40)])
def test_metrics_handle_small_and_thin_images(size):
    image = Image.new("RGB", size, "gray")
    values = image_metrics(image)
    assert all(np.isfinite(v) for v in values.values())


def test_warp_error_takes_frames_too_small_for_optical_flow():
    """DIS flow refuses frames under 12 px a side: extending or analysing a tiny clip was an
    OpenCV traceback. Such frames are enlarged for the flow."""
    frame = np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert warp_error(frame, frame) == 0
    assert 0 < warp_error(frame, np.roll(frame, 1, axis=1)) < warp_error(frame, 255 - frame)


def _object_on_table() -> np.ndarray:
    """A red object on a grey table, soft-edged (256x256 RGB float)."""
    ys, xs = np.mgrid[0:256, 0:256].astype(np.float32)
    image = np.where((ys > 140)[..., None], (150.0, 160, 165), (200.0, 200, 205)) * np.ones(3)
    inside = np.clip((40 - np.abs(xs - 128)) / 3, 0, 1) * np.clip((200 - ys) / 3, 0, 1)
    inside *= np.clip((ys - 60) / 3, 0, 1)
    return image * (1 - inside[..., None]) + np.array([210.0, 30, 30]) * inside[..., None]


def _u8(a: np.ndarray) -> Image.Image:
    return Image.fromarray(np.clip(a + 0.5, 0, 255).astype(np.uint8))


def test_colour_blotches_fringes_and_specks_are_chroma_outliers():
    clean = _object_on_table()
    assert chroma_outliers(_u8(clean)) == 0.0  # soft edges mix the two colours: not counted
    blotch = clean.copy()
    blotch[196:206, 122:134] = (200, 90, 190)  # magenta at the object's base
    specks = clean.copy()
    specks[30:200:40, 30:230:50] = (120, 200, 120)  # green specks in the grey
    fringe = clean.copy()
    fringe[60:200, 86:88] = (90, 200, 80)  # a green line along the object's left edge
    for broken in (blotch, specks, fringe):
        assert chroma_outliers(_u8(broken)) > 0.2
    assert chroma_outliers(_jpeg(_u8(clean), 90)) < 0.2  # a good JPEG has none to speak of


def test_isolated_specks_count_and_thin_lines_do_not():
    clean = _object_on_table()
    clean[140, :] = 250  # a one-pixel bright table edge: a line, not specks
    assert speckle(_u8(clean)) == 0.0
    specked = clean.copy()
    specked[140, 10:250:12] = 20  # black specks on that bright line
    assert speckle(_u8(specked)) > 0.2


def test_halos_overshoot_and_clean_edges_do_not(photo):
    soft = _u8(_object_on_table()).filter(ImageFilter.GaussianBlur(1.5))
    halo = soft.filter(ImageFilter.UnsharpMask(radius=3, percent=80, threshold=0))
    assert overshoot(soft) < 1.0 and overshoot(halo) > 5.0
    assert overshoot(halo) > overshoot(soft.filter(ImageFilter.UnsharpMask(3, 30, 0)))
    assert overshoot(Image.new("RGB", (64, 64), "gray")) == 0.0


def test_grain_all_over_is_not_ringing(photo):
    """Ringing is what sits beside edges beyond the image's own texture: fine grain over the
    whole image scored like JPEG q20 before the texture level was taken off."""
    rng = np.random.default_rng(0)
    grain = np.asarray(photo, np.float32) + rng.normal(0, 4, (*photo.size[::-1], 1))
    grainy = Image.fromarray(np.clip(grain + 0.5, 0, 255).astype(np.uint8))
    assert ringing(grainy) < ringing(photo) + 0.003
    assert ringing(_jpeg(photo, 90)) > 2 * ringing(grainy)
