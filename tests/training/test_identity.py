"""The subject-identity check of the video evaluation (#34): true clips keep their subject;
a clip that ends on another colour, another kind of object or a split object does not."""

import dataclasses

import numpy as np

from cinedraft_training.adherence import subject_identity
from cinedraft_training.evaluation import held_out_clips
from cinedraft_training.motions import caption_clip, motion_at, render_clip
from cinedraft_training.scenes import render_scene


def test_every_true_held_out_clip_keeps_its_subject():
    """Slides, zooms, rotations and light sweeps included: the check must not fail the truth."""
    for i, (scene, motion) in enumerate(held_out_clips(40, 99)):
        frames = render_clip(scene, motion, rng=np.random.default_rng(i))
        identity = subject_identity(frames, caption_clip(scene, motion, full=True))
        assert identity.kept, (scene, motion, identity)


def test_another_colour_kind_or_a_split_is_not_the_same_subject():
    scene, motion = held_out_clips(1, 7)[0]
    prompt = caption_clip(scene, motion, full=True)
    frames = render_clip(scene, motion)
    assert subject_identity(frames, prompt).kept
    end = motion_at(scene, motion, 1.0)  # the scene as the last frame shows it

    other = "yellow" if scene.colour != "yellow" else "blue"
    recoloured = frames.copy()
    recoloured[-1] = render_scene(dataclasses.replace(end, colour=other), 64)[0]
    assert not subject_identity(recoloured, prompt).kept

    kind = "box" if scene.object in ("bottle", "tube") else "bottle"
    reshaped = frames.copy()
    reshaped[-1] = render_scene(dataclasses.replace(end, object=kind), 64)[0]
    assert not subject_identity(reshaped, prompt).kept

    split = frames.copy()
    ys, xs = np.nonzero(render_scene(end, 64)[1] > 0.5)
    middle = (ys.min() + ys.max()) // 2
    rows = slice(middle - 3, middle + 3)  # a band of backdrop across the object's middle
    split[-1, rows, xs.min() : xs.max() + 1] = frames[-1, rows, :1]
    assert not subject_identity(split, prompt).kept


def test_the_crop_measure_sees_what_a_crop_keeps():
    """``subject_in_crop``: a crop that holds the object keeps all of it; one beside it keeps
    none; on true clips of objects placed left or right, the crop delivery places
    (``crop_anchor``) keeps at least as much as the centred one."""
    from cinedraft.render.salience import CENTRE, crop_anchor
    from cinedraft_training.adherence import subject_in_crop

    scene, motion = held_out_clips(1, 7)[0]
    frame = render_scene(dataclasses.replace(scene, x=0.2), 64)[0]
    still = np.stack([frame] * 4)
    assert subject_in_crop(still, (0.0, 0.5), 9 / 16) > 0.95
    assert subject_in_crop(still, (1.0, 0.5), 9 / 16) < 0.05
    for i, (scene, motion) in enumerate(held_out_clips(8, 3)):
        frames = render_clip(scene, motion, rng=np.random.default_rng(i))
        followed = subject_in_crop(frames, crop_anchor(list(frames), 9 / 16), 9 / 16)
        assert followed >= subject_in_crop(frames, CENTRE, 9 / 16) - 0.05, (scene, motion)
