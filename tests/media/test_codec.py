"""Encoding is a function of the frames: the same frames give the same file. A clip's
colours are what was written, in this reader and (``tests/editor/test_playback.py``) in a
browser: the stream says which matrix its frames were converted with."""

import os
import subprocess
import sys

import av
import numpy as np
import pytest

from cinedraft.editor import ops
from cinedraft.errors import InputError
from cinedraft.media.codec import Writer, read_frames, tag_colours, yuv_frame
from cinedraft.media.probe import Prober

PATCHES = [(200, 30, 30), (30, 160, 60), (240, 200, 40), (40, 80, 200)]


def patches(width, height):
    """Four saturated colour bands, where a wrong YUV matrix shows most (up to 19 levels)."""
    frame = np.zeros((height, width, 3), np.uint8)
    for i, colour in enumerate(PATCHES):
        frame[:, i * width // 4 : (i + 1) * width // 4] = colour
    return frame, [(i * width // 4 + width // 8, height // 2) for i in range(4)]


def untagged_clip(path, width, height, frames=12):
    """A clip as many tools write one: BT.601's matrix and no colour description."""
    frame, _ = patches(width, height)
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            yuv = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(format="yuv420p")
            yuv.pts = i
            container.mux(stream.encode(yuv))
        container.mux(stream.encode(None))
    return path


ENCODE = """
import hashlib, sys, tempfile
from pathlib import Path
import av, numpy as np
from cinedraft.media.codec import Writer
size, codec = int(sys.argv[1]), sys.argv[2]
t = np.arange(24)[:, None, None]
y, x = np.mgrid[0:size, 0:size]
# a soft blob drifting right over a ramp, with a little texture: a clip like the model's
luma = 60 + 120 * np.exp(-(((x - 10 - t) / (size / 6)) ** 2 + ((y - size / 2) / (size / 5)) ** 2))
luma = luma + 20 * np.sin(x / 3.0 + y / 5.0)
frames = np.clip(np.stack([luma, luma * 0.8, 200 - luma * 0.5], -1), 0, 255).astype(np.uint8)
path = Path(tempfile.mkdtemp()) / "clip.mp4"
with Writer(path, size, size, 8, codec=codec) as writer:
    for frame in frames:
        writer.add_frame(frame)
with av.open(str(path)) as clip:
    data = b"".join(bytes(p) for p in clip.demux(clip.streams.video[0]))
print(hashlib.sha256(data).hexdigest())
"""


def _encoded(size: int, perturb: int, codec: str = "h264") -> str:
    env = os.environ | {"MALLOC_PERTURB_": str(perturb)}
    run = subprocess.run(
        [sys.executable, "-c", ENCODE, str(size), codec], env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr[-2000:]
    return run.stdout.strip()


def test_the_same_small_frames_encode_to_the_same_file_whatever_the_heap_held():
    """x264's macroblock-tree lookahead read memory it had not written on small frames: the
    built-in model's 64x64 clips (and 48 px ones) came out as one of several bitstreams,
    decoding up to 12 levels apart, depending on what the process's heap held before (glibc's
    MALLOC_PERTURB_ fills it with a chosen byte; before the fix these hashes differed)."""
    for size in (64, 48):
        assert len({_encoded(size, perturb) for perturb in (0, 165, 77, 3)}) == 1, size


def test_h265_refuses_frames_too_narrow_for_x265_and_is_reproducible_above(tmp_path):
    """x265 on frames 64 px wide or narrower wrote outside its buffers (glibc aborted the
    process on 48 px frames: "corrupted size vs. prev_size") and gave a different file per
    heap at 64 px. Such frames are refused before anything is written; from 72 px one
    bitstream."""
    with pytest.raises(InputError, match="h265 needs frames at least 72 px wide"):
        Writer(tmp_path / "narrow.mp4", 64, 360, 24, codec="h265")
    assert not (tmp_path / "narrow.mp4").exists()
    assert len({_encoded(72, perturb, "h265") for perturb in (0, 165, 77)}) == 1


@pytest.mark.parametrize("size", [(64, 64), (1280, 720), (360, 640), (1080, 1920)])
def test_a_written_clip_says_its_colours_and_reads_back_as_written(tmp_path, size):
    frame, points = patches(*size)
    with Writer(tmp_path / "clip.mp4", *size, 24) as writer:
        for _ in range(6):
            writer.add_frame(frame)
    with av.open(str(tmp_path / "clip.mp4")) as clip:
        context = clip.streams.video[0].codec_context
        tags = (context.colorspace, context.color_primaries, context.color_trc, context.color_range)
    assert tags == (6, 1, 1, 1)  # BT.601 matrix (SMPTE 170M), BT.709 primaries, limited range
    read = read_frames(tmp_path / "clip.mp4")[0][0].astype(int)
    for (x, y), colour in zip(points, PATCHES):
        assert np.abs(read[y, x] - colour).max() <= 2


def test_an_untagged_clip_is_read_as_browsers_read_it(tmp_path):
    """Chromium reads an untagged clip 720 px tall or more with BT.709's matrix, a shorter one
    with BT.601's (measured in ``tests/editor/test_playback.py``): so does cinedraft."""
    sd = read_frames(untagged_clip(tmp_path / "sd.mp4", 1280, 700))[0][0].astype(int)
    hd = read_frames(untagged_clip(tmp_path / "hd.mp4", 1280, 720))[0][0].astype(int)
    _, points = patches(1280, 720)
    x, y = points[0]
    assert np.abs(sd[y, x] - PATCHES[0]).max() <= 2
    assert np.abs(hd[y, x] - (215, 46, 28)).max() <= 3  # BT.601's red read with BT.709's matrix


def test_a_cuts_reencoded_ends_say_the_colours_of_its_copied_middle(tmp_path):
    """Smart render's ends are new encoder runs with their own SPS: they carry the source's
    colour description, so a player reads the whole cut with one matrix."""
    frame, _ = patches(320, 180)
    with av.open(str(tmp_path / "clip.mp4"), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)  # as the Writer, a GOP every 12
        stream.width, stream.height, stream.pix_fmt = 320, 180, "yuv420p"
        stream.options = {"g": "12", "keyint_min": "12", "sc_threshold": "0"}
        tag_colours(stream.codec_context)
        for i in range(72):
            yuv = yuv_frame(np.roll(frame, i, axis=1))
            yuv.pts = i
            container.mux(stream.encode(yuv))
        container.mux(stream.encode(None))
    prober = Prober()
    try:
        stats = ops.cut(prober.probe(tmp_path / "clip.mp4"), 0.3, 2.6, tmp_path / "cut.mp4")
    finally:
        prober.close()
    assert stats.method == "smart" and stats.reencoded_frames and stats.copied_packets
    with av.open(str(tmp_path / "cut.mp4")) as cut:
        spaces = {(f.colorspace, f.color_primaries, f.color_trc) for f in cut.decode(video=0)}
    assert spaces == {(6, 1, 1)}


def test_clips_that_say_different_colours_are_not_joined_by_stream_copy(tmp_path):
    """A copy-merge keeps one track: an untagged HD clip and a tagged one would be played
    with one matrix."""
    frame, _ = patches(1280, 720)
    for name in ("a.mp4", "b.mp4"):
        with Writer(tmp_path / name, 1280, 720, 24) as writer:
            for _ in range(12):
                writer.add_frame(frame)
    untagged_clip(tmp_path / "c.mp4", 1280, 720)
    prober = Prober()
    try:
        a, b, c = (prober.probe(tmp_path / n) for n in ("a.mp4", "b.mp4", "c.mp4"))
    finally:
        prober.close()
    assert (a.video.codec, a.video.pix_fmt, a.video.fps) == (
        c.video.codec,
        c.video.pix_fmt,
        c.video.fps,
    )
    assert ops.compatible([a, b]) and not ops.compatible([a, c])
