import av
import numpy as np
import pytest
from PIL import Image, ImageFilter

from cinedraft.errors import InputError
from cinedraft.quality.compare import analyze_images, analyze_video

from .conftest import scene


def _encode(path, frames, fps=12):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = (
            frames[0].shape[1],
            frames[0].shape[0],
            "yuv420p",
        )
        stream.options = {"crf": "18"}
        for arr in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")))
        container.mux(stream.encode(None))


def test_sharper_larger_image_wins_with_reasons(tmp_path):
    sharp = scene(256, 1)
    sharp.save(tmp_path / "sharp.png")
    sharp.filter(ImageFilter.GaussianBlur(2)).resize((128, 128)).save(
        tmp_path / "soft.jpg", quality=40
    )
    report = analyze_images([tmp_path / "soft.jpg", tmp_path / "sharp.png"], tmp_path / "out")
    verdict = report["verdict"][0]
    assert verdict["clearer"].endswith("sharp.png") and verdict["sharpness_ratio"] > 2
    text = " ".join(verdict["reasons"])
    assert "resolution" in text and "compression" in text and "blur" in text
    assert report["display_size"] == [256, 256]
    assert (tmp_path / "out" / "crops.png").exists()


def test_unreadable_image_is_a_clear_error(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnope")
    with pytest.raises(InputError, match="not a readable image") as refused:
        analyze_images([tmp_path / "bad.png"])
    assert "BytesIO" not in str(refused.value)  # Pillow names the buffer, not the file
    assert "its format is none that is read" in str(refused.value)
    with pytest.raises(InputError, match="no such file"):
        analyze_images([tmp_path / "missing.png"])


def test_video_flicker_and_warp_error_per_second(tmp_path):
    base = np.asarray(scene(128, 2), np.int16)
    steady = [np.roll(base, 2 * i, axis=1).astype(np.uint8) for i in range(24)]
    flickering = [
        np.clip(f.astype(np.int16) + (25 if i % 2 else -25), 0, 255).astype(np.uint8)
        for i, f in enumerate(steady)
    ]
    _encode(tmp_path / "steady.mp4", steady)
    _encode(tmp_path / "flicker.mp4", flickering)
    a, b = analyze_video(tmp_path / "steady.mp4"), analyze_video(tmp_path / "flicker.mp4")
    assert a["frames"] == 24 and a["fps"] == 12 and a["seconds"] == 2 and len(a["per_second"]) == 2
    assert b["flicker"] > 10 * max(a["flicker"], 0.5)
    assert b["warp_error"] > a["warp_error"]
    (tmp_path / "cut.mp4").write_bytes((tmp_path / "steady.mp4").read_bytes()[:300])
    with pytest.raises(InputError):
        analyze_video(tmp_path / "cut.mp4")


def test_a_factor_that_favours_the_other_image_is_not_a_reason(tmp_path):
    """issue #34: a lossless PNG that is the blockier and the noisier of the two was given
    'compression' as a reason it is clearer, with a number the table did not show, and its
    noise went unmentioned."""
    import io

    from PIL import Image

    noisy = np.asarray(scene(256, 3), np.float32)
    noisy += np.random.default_rng(0).normal(0, 6, noisy.shape)
    buf = io.BytesIO()
    Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=30)
    Image.open(buf).save(tmp_path / "blocky.png")  # lossless file, lossy past
    scene(256, 3).filter(ImageFilter.GaussianBlur(3)).save(tmp_path / "soft.webp", quality=95)
    report = analyze_images([tmp_path / "soft.webp", tmp_path / "blocky.png"])
    verdict = report["verdict"][0]
    assert verdict["clearer"].endswith("blocky.png")
    assert verdict["compared"] == "Laplacian variance at 256x256"
    assert not any(r.startswith(("compression", "noise")) for r in verdict["reasons"])
    despite = " ".join(verdict["despite"])
    soft, blocky = (i["display"] for i in report["images"])
    assert f"blockiness {blocky['blockiness']:.2f} vs {soft['blockiness']:.2f}" in despite
    assert "noise: sigma" in despite and "counts this noise as detail" in despite
    assert any(r.startswith("blur") for r in verdict["reasons"])


def test_blur_is_told_by_its_ratio_not_by_a_fraction_of_a_pixel(tmp_path):
    """Edges 20 and 21 px wide look the same; 2 and 4 px do not (Weber's law for blur)."""

    def ramp(width: int) -> Image.Image:
        x = np.clip((np.arange(256) - 128) / width + 0.5, 0, 1)
        row = (40 + 160 * x).astype(np.uint8)
        return Image.fromarray(np.repeat(np.repeat(row[None, :, None], 256, 0), 3, 2))

    def blur_named(a: int, b: int) -> bool:
        ramp(a).save(tmp_path / "a.png")
        ramp(b).save(tmp_path / "b.png")
        verdict = analyze_images([tmp_path / "a.png", tmp_path / "b.png"])["verdict"][0]
        return any(r.startswith("blur") for r in verdict["reasons"] + verdict["despite"])

    assert not blur_named(20, 21)
    assert blur_named(2, 4)
