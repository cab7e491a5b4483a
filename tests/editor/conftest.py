from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from cinedraft.editor import Editor
from cinedraft.media.probe import Prober
from cinedraft.library import Library


def frame_pattern(i: int, size=(160, 96), shift: int = 0) -> np.ndarray:
    """Frame ``i``: a background ramp that changes every frame and a bright square moving
    right, so every frame is distinguishable from its neighbours."""
    w, h = size
    frame = np.zeros((h, w, 3), np.uint8)
    frame[..., 0] = (i * 9) % 256
    frame[..., 1] = np.linspace(40, 200, w, dtype=np.uint8)[None, :]
    frame[..., 2] = 90
    x = (shift + i * 3) % (w - 24)
    frame[h // 3 : h // 3 + 24, x : x + 24] = 255
    return frame


def make_clip(
    path,
    frames: int = 72,
    fps: int = 24,
    size=(160, 96),
    gop: int = 24,
    audio: bool = False,
    shift: int = 0,
    bframes: bool = True,
    first: int = 0,
    pix_fmt: str = "yuv420p",
    rotation: int = 0,
    sar: Fraction | None = None,
) -> str:
    """An H.264 MP4 of ``frame_pattern(first), frame_pattern(first + 1), ...``. With a
    ``rotation`` (degrees anticlockwise) the frames are stored turned back and the display
    matrix turns them upright, as a phone stores a portrait clip: ``size`` is the size shown.
    With a pixel aspect ``sar`` the frames are stored that much narrower (a camcorder's HDV)."""
    turns = rotation // 90 % 4
    stored = size[::-1] if turns % 2 else size
    if sar is not None:
        stored = (round(stored[0] / sar), stored[1])
    with av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = stored[0], stored[1], pix_fmt
        if rotation:
            video.set_display_rotation(rotation)
        if sar is not None:
            video.codec_context.sample_aspect_ratio = sar
        video.options = {
            "crf": "16",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            **({} if bframes else {"bf": "0"}),
        }
        stream_audio = None
        if audio:
            stream_audio = container.add_stream("aac", rate=48000)
            stream_audio.layout = "stereo"
        for i in range(frames):
            pattern = np.ascontiguousarray(np.rot90(frame_pattern(first + i, size, shift), -turns))
            if sar is not None:
                pattern = cv2.resize(pattern, stored, interpolation=cv2.INTER_AREA)
            container.mux(video.encode(av.VideoFrame.from_ndarray(pattern, format="rgb24")))
        container.mux(video.encode(None))
        if stream_audio is not None:
            n = int(frames / fps * 48000)
            t = np.arange(n) / 48000
            tone = np.stack([0.2 * np.sin(2 * np.pi * 330 * t)] * 2).astype(np.float32)
            for start in range(0, n, 1024):
                chunk = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(tone[:, start : start + 1024]),
                    format="fltp",
                    layout="stereo",
                )
                chunk.sample_rate, chunk.pts, chunk.time_base = 48000, start, Fraction(1, 48000)
                container.mux(stream_audio.encode(chunk))
            container.mux(stream_audio.encode(None))
    return str(path)


@pytest.fixture(scope="session")
def prober():
    p = Prober()
    yield p
    p.close()


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "clip.mp4")


@pytest.fixture
def editor(tmp_path, prober):
    library = Library(tmp_path / "lib")
    yield Editor(library, prober)
    library.close()
