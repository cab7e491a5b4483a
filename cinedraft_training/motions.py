"""Procedural clips for the built-in video model: a scene plus a motion, and their captions.

A motion changes one continuous field of a :class:`~cinedraft_training.scenes.Scene` over the
clip (the object slides, bounces or rotates; the camera zooms; a light sweeps across).
:func:`render_clip` draws the frames, :func:`caption_clip` describes the clip with the scene
grammar plus a motion phrase, and :func:`parse_motion` reads the motion back from a prompt
(the ground truth the motion scorer in ``adherence.py`` checks against).
"""

from __future__ import annotations

import re

import numpy as np

from .scenes import Scene, caption_scene, grammar_words, position_word, render_scene, sample_scene

FRAMES = 8  # frames per training clip
FPS = 8  # the clip's native frame rate: one second of motion

# motion -> (field, value at t in 0..1 given the scene)
MOTIONS = ("slide_left", "slide_right", "bounce", "rotate", "zoom_in", "zoom_out", "light_sweep")
SLIDES = ("slide_left", "slide_right")  # the motions that carry the object across the frame
SLIDE = 0.30  # fraction of the width an object slides per clip

# Motion/object pairs never shown in training: motion adherence is measured on them.
HELD_OUT_MOTIONS = frozenset(
    {
        ("slide_left", "jar"),
        ("slide_right", "ball"),
        ("bounce", "box"),
        ("rotate", "cup"),
        ("zoom_in", "tube"),
        ("zoom_out", "bottle"),
        ("light_sweep", "jar"),
    }
)

_PHRASES = {
    "slide_left": ("the {o} slides left", "the {o} slides to the left", "the {o} moves left"),
    "slide_right": ("the {o} slides right", "the {o} slides to the right", "the {o} moves right"),
    "bounce": ("the {o} bounces", "the {o} bounces up and down", "the {o} jumps"),
    "rotate": ("the {o} rotates", "the {o} turns", "the {o} tilts over"),
    "zoom_in": ("camera zooms in", "zoom in", "camera slowly zooms in"),
    "zoom_out": ("camera zooms out", "zoom out", "camera pulls back"),
    "light_sweep": ("light sweeps across", "a light sweep", "light moves across"),
}
_PATTERNS = [  # first match wins; "on the left" alone is a position, not a motion
    ("slide_left", r"\b(slides?|moves?|glides?)\s+(to\s+the\s+)?left\b"),
    ("slide_right", r"\b(slides?|moves?|glides?)\s+(to\s+the\s+)?right\b"),
    ("zoom_in", r"\bzooms?\s+in\b|\bzoom\s+in\b|\bpush(es)?\s+in\b"),
    ("zoom_out", r"\bzooms?\s+out\b|\bpulls?\s+back\b"),
    ("light_sweep", r"\blight\s+(sweeps?|moves?)\b|\blight\s+sweep\b"),
    ("bounce", r"\b(bounces?|jumps?)\b"),
    ("rotate", r"\b(rotates?|turns?|spins?|tilts?)\b"),
]


def motion_at(scene: Scene, motion: str, t: float) -> Scene:
    """The scene at time ``t`` (0..1 across one clip; beyond 1 the motion carries on)."""
    if motion == "slide_left":
        return scene.replace(x=scene.cx - SLIDE * t)
    if motion == "slide_right":
        return scene.replace(x=scene.cx + SLIDE * t)
    if motion == "bounce":  # one hop per clip, repeating
        return scene.replace(lift=0.16 * abs(np.sin(np.pi * t)))
    if motion == "rotate":
        return scene.replace(tilt=0.7 * t)
    if motion == "zoom_in":  # geometric, as a camera zoom looks steady
        return scene.replace(zoom=1.6**t)
    if motion == "zoom_out":
        return scene.replace(zoom=1.6 ** (1 - t))
    if motion == "light_sweep":  # across and back again
        phase = t % 2.0
        return scene.replace(sweep_x=0.05 + 0.9 * (phase if phase <= 1 else 2 - phase))
    raise ValueError(f"unknown motion {motion!r}; known: {', '.join(MOTIONS)}")


MIRRORS = {
    "slide_left": "slide_right",
    "slide_right": "slide_left",
    "zoom_in": "zoom_out",
    "zoom_out": "zoom_in",
}  # a motion played backwards


def played_backwards(
    scene: Scene, motion: str, start: float = 0.0
) -> tuple[Scene, str, float] | None:
    """``(scene, motion, start)`` whose clip is this one's frames in reverse order (a slide
    left played backwards is a slide right from where it ended; a zoom in, a zoom out), or
    None when the motion has no mirror or the mirror would be a held-out pair. The scene's
    position word names where the reversed clip starts, as a caption's does."""
    mirror = MIRRORS.get(motion)
    if mirror is None or (mirror, scene.object) in HELD_OUT_MOTIONS:
        return None
    if motion in ("zoom_in", "zoom_out"):  # 1.6 ** (start + 1 - u) == 1.6 ** (1 - (u - start))
        return scene, mirror, -start
    x = motion_at(scene, motion, start + 1.0).cx
    return scene.replace(x=x, position=position_word(x)), mirror, 0.0


def mirror_caption(caption: str, scene: Scene, motion: str) -> str | None:
    """``caption`` (of ``scene`` making ``motion``) with its motion phrase swapped for the
    mirror motion's in the same wording (``the jar slides to the left`` -> ``... to the
    right``), the scene words untouched; None when the motion has no mirror, the caption ends
    in no phrase of it, or the mirror would be a held-out pair."""
    mirror = MIRRORS.get(motion)
    if mirror is None or (mirror, scene.object) in HELD_OUT_MOTIONS:
        return None
    for option, mirrored in zip(_PHRASES[motion], _PHRASES[mirror]):
        phrase = option.format(o=scene.object)
        if caption.endswith(phrase):
            return caption[: -len(phrase)] + mirrored.format(o=scene.object)
    return None


def render_clip(
    scene: Scene,
    motion: str,
    frames: int = FRAMES,
    size: int = 64,
    rng: np.random.Generator | None = None,
    start: float = 0.0,
) -> np.ndarray:
    """(F, H, W, 3) uint8: the motion over one clip of ``frames`` frames from time ``start``."""
    jitter = None if rng is None else rng.uniform(-0.05, 0.05, size=3)
    out = []
    for f in range(frames):
        t = start + f / (FRAMES - 1)
        image, _ = render_scene(motion_at(scene, motion, t), size)
        if rng is not None:  # one colour jitter per clip, fresh grain per frame
            image = image.astype(np.float32) * (1 + jitter) + rng.normal(0, 3.0, image.shape)
            image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
        out.append(image)
    return np.stack(out)


def sample_clip(rng: np.random.Generator, *, held_out: bool | None = False) -> tuple[Scene, str]:
    """A random scene and motion. ``held_out`` True draws only held-out motion/object pairs,
    False none of them (nor any held-out colour/object pair of the image model)."""
    while True:
        scene = sample_scene(rng, held_out=False if held_out is False else None)
        motion = MOTIONS[rng.integers(len(MOTIONS))]
        if held_out is None or ((motion, scene.object) in HELD_OUT_MOTIONS) == held_out:
            break
    return start_scene(scene, motion), motion


def start_scene(scene: Scene, motion: str) -> Scene:
    """Where a motion starts: slides where there is room to move (the caption's position
    names the start), large objects a little smaller when they rise or the camera zooms."""
    if motion == "slide_left" and scene.position == "left":
        scene = scene.replace(position="right", x=scene.cx + 0.44)
    if motion == "slide_right" and scene.position == "right":
        scene = scene.replace(position="left", x=scene.cx - 0.44)
    if motion in ("bounce", "zoom_in", "zoom_out") and scene.size == "large":
        scene = scene.replace(scale=scene.height * 0.85)  # room to rise and to frame
    return scene


def start_anywhere(scene: Scene, rng: np.random.Generator) -> Scene:
    """``scene`` with its object anywhere across the middle of the frame (0.25 to 0.75 of the
    width), its position word the nearest one. A slide from there may head for the edge and
    leave the frame half way, so where an object stands no longer tells which way it slides:
    only the caption's motion phrase does (:func:`start_scene` always leaves room, so a slide
    left never starts on the left)."""
    x = float(rng.uniform(0.25, 0.75))
    return scene.replace(x=x, position=position_word(x))


def caption_clip(
    scene: Scene,
    motion: str,
    rng: np.random.Generator | None = None,
    *,
    full: bool = False,
    motion_only: bool = False,
    place: bool = True,
) -> str:
    """The scene's caption and a motion phrase, e.g. ``a blue jar on a glass table, the jar
    slides left``; ``motion_only`` gives just the phrase (image-to-video and extension
    prompts often say only what should happen next); ``place`` False leaves out the
    position word (:func:`scenes.caption_scene`)."""
    options = _PHRASES[motion]
    phrase = options[0 if rng is None else int(rng.integers(len(options)))].format(o=scene.object)
    if motion_only:
        return phrase
    return f"{caption_scene(scene, rng, full=full, place=place)}, {phrase}"


def parse_motion(prompt: str) -> str | None:
    """The motion a prompt asks for, or None."""
    text = prompt.lower()
    for motion, pattern in _PATTERNS:
        if re.search(pattern, text):
            return motion
    return None


def motion_words() -> list[str]:
    """The tokenizer vocabulary of the video model: the scene grammar plus motion phrases."""
    words = set(grammar_words())
    for options in _PHRASES.values():
        for phrase in options:
            words |= set(phrase.replace("{o}", "").split())
    words |= {
        "slide",
        "move",
        "bounce",
        "rotate",
        "turn",
        "zoom",
        "camera",
        "slowly",
        "stops",
        "and",
        "up",
        "down",
        "spins",
        "pans",
    }
    return sorted(words)
