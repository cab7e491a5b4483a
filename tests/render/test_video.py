"""The video rendering pipeline: exact frame counts, sizes and rates; interpolation in between;
deflicker lowers flicker."""

import av
import cv2
import numpy as np
import pytest

from cinedraft.errors import InputError
from cinedraft.quality.metrics import temporal_metrics
from cinedraft.render.video import (
    PRESETS,
    VideoPreset,
    deflicker,
    encode,
    finish_clip,
    interpolate,
    preset_for,
)


def _square(i: int, size=(96, 64), speed: int = 6) -> np.ndarray:
    w, h = size
    frame = np.full((h, w, 3), 40, np.uint8)
    frame[20:40, 10 + speed * i : 30 + speed * i] = 230
    return frame


def _centre_x(frame: np.ndarray) -> float:
    ys, xs = np.nonzero(frame[..., 0] > 135)
    return float(xs.mean())


def test_interpolated_frames_sit_in_between():
    frames = [_square(i) for i in range(6)]
    out = interpolate(frames, 12, 24)
    assert len(out) == 12
    assert np.array_equal(out[0], frames[0]) and np.array_equal(out[2], frames[1])
    for j in (1, 3, 5):  # halfway frames: the square halfway along (6 px per source frame)
        assert _centre_x(out[j]) == pytest.approx(
            (_centre_x(out[j - 1]) + _centre_x(out[j + 1])) / 2, abs=1.0
        )


def test_finished_clip_has_exact_frames_rate_and_size(tmp_path):
    preset = VideoPreset("tiny", 160, 90, 24, 2, 23)
    frames = [_square(i, speed=2) for i in range(18)]  # 1.5 s at 12 fps
    done = finish_clip(frames, 12, preset, tmp_path / "clip.mp4", seconds=2.0)
    with av.open(str(done.path)) as container:
        stream = container.streams.video[0]
        decoded = [f for f in container.decode(stream)]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert stream.average_rate == 24
    assert len(decoded) == done.frames == 48  # 2 s x 24 fps exactly
    assert (decoded[0].width, decoded[0].height) == (160, 90)
    data = done.path.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")
    assert done.poster.exists() and done.contact_sheet.exists()
    assert set(done.timings) == {"interpolate", "upscale", "deflicker", "encode"}


def test_deflicker_lowers_the_flicker_index():
    rng = np.random.default_rng(0)
    base = rng.integers(60, 190, (64, 96, 3)).astype(np.int16)
    flickering = [
        np.clip(base + (18 if i % 2 else -18), 0, 255).astype(np.uint8) for i in range(24)
    ]
    before = np.mean(temporal_metrics(flickering)["flicker"])
    after = np.mean(temporal_metrics(deflicker(flickering))["flicker"])
    assert after < 0.3 * before
    steady = [base.astype(np.uint8)] * 5
    assert all(np.array_equal(a, b) for a, b in zip(deflicker(steady), steady))


def test_h265_option_and_bad_inputs(tmp_path):
    frames = [_square(i) for i in range(6)]
    encode(frames, tmp_path / "h265.mp4", 12, 28, codec="h265")
    with av.open(str(tmp_path / "h265.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
    with pytest.raises(InputError, match="unknown codec"):
        encode(frames, tmp_path / "x.mp4", 12, 28, codec="mpeg2")
    with pytest.raises(InputError, match="unknown preset"):
        preset_for("8k-imax")
    assert PRESETS["cinematic-1080p"].width == 1920 and PRESETS["vertical-15s"].height == 1920
    with pytest.raises(InputError):
        finish_clip([], 12, PRESETS["preview"], tmp_path / "none.mp4")


def _writer_encode(frames, path):
    from cinedraft.media.codec import Writer

    writer = Writer(path, frames[0].shape[1], frames[0].shape[0], 12)
    for frame in frames:
        writer.add_frame(frame)
    writer.close()
    return path


@pytest.mark.parametrize(
    "write",
    [lambda frames, path: encode(frames, path, 12, 18), _writer_encode],
    ids=["render", "editor"],
)
def test_decode_and_reencode_keep_the_brightness(tmp_path, write):
    """Each decode and re-encode (a continuation conditioned on a delivered clip, an edit
    that re-encodes) keeps the mean luma: swscale's truncating defaults lost about 1.3
    levels a generation, which joined a continuation to its clip with a visible step."""
    from cinedraft.media.codec import decode_frames

    def luma(frames):
        return np.mean(
            [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64).mean() for f in frames]
        )

    y, x = np.mgrid[0:64, 0:96].astype(np.float32)
    frame = np.stack([40 + 2 * x, 220 - 2.5 * y, 120 + 60 * np.sin(x / 9) * np.cos(y / 7)], -1)
    frame = (frame + frame.mean(-1, keepdims=True)) / 2  # half saturated: gradients and a blob
    frames = [np.clip(frame + 3 * i, 0, 255).astype(np.uint8) for i in range(6)]
    original = luma(frames)  # the old conversions: 1.2 levels darker a generation
    for generation in range(3):
        frames = decode_frames(write(frames, tmp_path / f"gen{generation}.mp4"))
        assert abs(luma(frames) - original) < 0.3, generation


def test_the_poster_is_the_sharpest_frame_and_the_sheet_fits_the_aspect(tmp_path):
    """issue #34: the poster was the middle frame however blurred, and a vertical clip's
    contact sheet left half of each square cell empty."""
    from PIL import Image, ImageFilter

    preset = VideoPreset("tall", 90, 160, 12, 2, 23)
    base = np.zeros((160, 90, 3), np.uint8)
    base[::8] = 255  # stripes: detail a blur removes
    sharp = base.copy()
    blurred = np.asarray(Image.fromarray(base).filter(ImageFilter.GaussianBlur(4)))
    frames = [blurred] * 24
    frames[2:6] = [sharp] * 4  # a sharp moment, far from the middle
    done = finish_clip(frames, 12, preset, tmp_path / "clip.mp4", seconds=2.0)
    with Image.open(done.poster) as poster:
        stripes = np.asarray(poster.convert("L"), np.float32)
    assert stripes.std() > 60  # the sharp frame (a blurred one is near flat grey)
    with Image.open(done.contact_sheet) as sheet:
        w, h = sheet.size
        pixels = np.asarray(sheet.convert("L"))
    assert h > w / 6 * 1.5  # two rows of six tall cells, not squares
    assert (pixels == 24).mean() < 0.15  # little empty page
