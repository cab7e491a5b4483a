"""One seam score for the engine and the editor: the same numbers, one flicker unit."""

import numpy as np

from cinedraft.editor.editor import seam_score
from cinedraft.media.codec import decode_frames
from cinedraft.quality.seams import score_seam

from ..editor.conftest import make_clip


def test_the_editor_reads_a_join_with_the_engines_score(tmp_path):
    path = make_clip(tmp_path / "clip.mp4", frames=48)
    frames = decode_frames(path)
    assert seam_score(path, 24, window=12) == {"at_frame": 24} | score_seam(
        frames[:24], frames[24:], 12
    )


def test_flicker_is_a_fraction_of_full_scale():
    black, white = np.zeros((4, 16, 16, 3), np.uint8), np.full((4, 16, 16, 3), 255, np.uint8)
    assert score_seam(black, white)["flicker"] == 1.0
    assert score_seam(black, black)["flicker"] == 0.0


def test_a_cut_scores_worse_than_a_continuing_motion(tmp_path):
    clip = decode_frames(make_clip(tmp_path / "a.mp4", frames=48))
    other = decode_frames(make_clip(tmp_path / "b.mp4", frames=24, shift=77))
    smooth = score_seam(clip[:24], clip[24:], 12)
    cut = score_seam(clip[:24], other, 12)
    assert smooth["ratio"] < 1.5 < cut["ratio"]
