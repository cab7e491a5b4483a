"""The shipped video model: its weights stay in budget, it moves objects the way held-out
prompts ask, and it reads a slide's direction word. The issue's target is 70 % on held-out
motion/object pairs; the shipped weights (run S) measure 71.4 % on these 21 prompts
(``evaluation.json``) and 73.0 % over 252 in six sets of 42 (model card). One verdict of 21 is
4.8 points, so the test holds them to a floor well above chance (14 %) and above the weights
before run F (33 %), not to the target; the word-swap test is the one that earlier weights
(run J, 71.4 % on the same 21 prompts) fail."""

import numpy as np

from cinedraft.builtin import VIDEO_MODEL
from cinedraft_training.evaluation import (
    SEED,
    MotionTally,
    held_out_clips,
    held_out_prompts,
    one_chunk,
    word_swaps,
)


def test_shipped_weights_fit_the_budget():
    """All built-in models together (image, video, edit) stay within 64 MB of weights (issue
    #35's budget; the image and video models alone were 39.9 MB)."""
    total = sum(f.stat().st_size for f in VIDEO_MODEL.parent.rglob("*.safetensors"))
    assert total <= 64 * 1024 * 1024, total
    assert {p.name for p in VIDEO_MODEL.parent.iterdir() if p.is_dir()} >= {
        "image",
        "video",
        "edit",
    }


def test_held_out_text_to_video_moves_as_asked(engine):
    """The evaluation's text-to-video mode: 21 prompts naming motion/object pairs no training
    clip showed, each one chunk through the engine at its default steps, the decoded clip
    judged by the motion scorer. The model's first draws (``--model-alone``): the engine's
    redraws for a lost subject are tested in tests/engine/test_video.py, and here they only
    doubled the time."""
    tally = MotionTally()
    for i, prompt in enumerate(held_out_prompts(21)):
        frames = one_chunk(engine, "builtin", prompt, SEED + i, hold_subject=False)
        tally.add(frames, prompt)
    assert tally.accuracy >= 0.50, (tally.accuracy, dict(tally.confusions))


def test_the_direction_word_decides_which_way_a_slide_goes(engine, tmp_path):
    """The word-swap control on the first four held-out slides: each drawn from a true first
    frame with the object in the middle, where its place tells no direction, once asked to
    slide left and once right. The direction word has to decide: weights that ignore it (all
    shipped weights before run S) travel the same way twice (run J: 0 of 4 both ways, the
    travel asked right less asked left 0.004 of the width on average; run S: 3 of 4, 0.19)."""
    # the clips and seeds of evaluate_builtin_video.py --modes word_swap
    both, gaps = word_swaps(engine, "builtin", held_out_clips(42), SEED, tmp_path, limit=4)
    assert sum(both) >= 2, gaps
    assert np.mean(gaps) > 0.1, gaps  # a tenth of the width further right when asked right
