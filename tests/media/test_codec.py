"""Encoding is a function of the frames: the same frames give the same file."""

import os
import subprocess
import sys

import pytest

from cinedraft.errors import InputError
from cinedraft.media.codec import Writer

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
