"""Prompt adherence for the built-in domain: is the object the asked colour, at the asked place?

The scorer works by analysis by synthesis, so lighting and surfaces don't fool it:

1. the background is estimated per row (the median colour of each row: objects cover well
   under half of any row), and foreground pixels are those far from it in CIELAB;
2. the object's colour is the median CIELAB colour of the most distinct half of them, and its
   position the centroid of the foreground;
3. the same estimator runs on renders of the prompt's scene in every palette colour (same
   surface, lighting, place); the nearest reference names the colour.

On ground-truth renders with film grain it scores ~100 % (see tests); chance is 1 / 8.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image

from .scenes import (
    COLOURS,
    Scene,
    caption_scene,
    parse_prompt,
    position_word,
    render_scene,
    sample_scene,
)

SIZE = 64  # the scorer works at the built-in model's native size


@dataclass(frozen=True)
class Estimate:
    colour_lab: tuple[float, float, float]
    x: float  # foreground centroid, 0..1 of the width
    coverage: float  # fraction of pixels in the foreground


def _lab(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> float32 CIELAB (L 0..100)."""
    return cv2.cvtColor(image.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _foreground(image: np.ndarray | Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(CIELAB image, each pixel's distance from its row's backdrop, the object's mask)."""
    if isinstance(image, Image.Image):
        image = np.asarray(image.convert("RGB").resize((SIZE, SIZE), Image.Resampling.BOX))
    # A 3x3 Gaussian first: generated images can keep sampling noise that is not colour.
    lab = _lab(cv2.GaussianBlur(image, (3, 3), 0))
    background = np.median(lab, axis=1, keepdims=True)  # (H, 1, 3)
    dist = np.linalg.norm(lab - background, axis=2)
    threshold = max(10.0, 0.5 * float(np.percentile(dist, 99)))
    fg = dist > threshold
    if fg.sum() < 4:
        fg = dist >= np.percentile(dist, 97)
    return lab, dist, fg


def estimate_object(image: np.ndarray | Image.Image) -> Estimate:
    """Colour and place of the one object in a product shot (steps 1-2 above)."""
    lab, dist, fg = _foreground(image)
    strong = fg & (dist >= np.median(dist[fg]))
    colour = np.median(lab[strong], axis=0)
    xs = np.nonzero(strong)[1]
    return Estimate(
        colour_lab=tuple(float(c) for c in colour),
        x=float((xs.mean() + 0.5) / lab.shape[1]),
        coverage=float(fg.mean()),
    )


@lru_cache(maxsize=512)
def _reference(surface: str, lighting: str, position: str, size: str, obj: str, colour: str):
    scene = Scene(obj, colour, surface, lighting, position, size)
    return np.array(estimate_object(render_scene(scene, SIZE)[0]).colour_lab)


def scene_context(prompt: str) -> tuple[str, str, str, str, str]:
    """(surface, lighting, position, size, object) the prompt names, defaults elsewhere."""
    attrs = parse_prompt(prompt)
    return (
        attrs.get("surface", "plain"),
        attrs.get("lighting", "studio"),
        attrs.get("position", "center"),
        attrs.get("size", "large"),
        attrs.get("object", "jar"),
    )


def classify_colour(image, prompt: str) -> str:
    """The palette colour the object in ``image`` has, judged in the prompt's scene."""
    context = scene_context(prompt)
    seen = np.array(estimate_object(image).colour_lab)
    # Weight lightness less than chroma: shading and lighting move L more than a, b.
    w = np.array([0.5, 1.0, 1.0])
    return min(COLOURS, key=lambda c: float(np.linalg.norm(w * (seen - _reference(*context, c)))))


def classify_position(image) -> str:
    return position_word(estimate_object(image).x)


@dataclass(frozen=True)
class Score:
    colour_ok: bool | None  # None when the prompt names no colour
    position_ok: bool | None
    colour: str
    position: str


def held_out_prompts(n: int, seed: int) -> list[str]:
    """``n`` full prompts that name only held-out colour/object pairs (never a training
    caption), with random surface, lighting, size and position: what the target is measured on."""
    rng = np.random.default_rng(seed)
    return [caption_scene(sample_scene(rng, held_out=True), full=True) for _ in range(n)]


def score_image(image, prompt: str) -> Score:
    """Did ``image`` follow ``prompt``'s colour and position words?"""
    attrs = parse_prompt(prompt)
    colour = classify_colour(image, prompt)
    position = classify_position(image)
    return Score(
        colour_ok=None if "colour" not in attrs else colour == attrs["colour"],
        position_ok=None if "position" not in attrs else position == attrs["position"],
        colour=colour,
        position=position,
    )


# ------------------------------------------------------------------------------ motion


def motion_signature(frames: np.ndarray) -> np.ndarray:
    """Where and when a clip changes, whatever its colours: |frame f - frame 0| of blurred
    luma at 16x16 for every f > 0, normalised to unit length. (F, H, W, 3) uint8 in."""
    small = []
    for frame in frames:
        if frame.shape[:2] != (SIZE, SIZE):
            frame = cv2.resize(frame, (SIZE, SIZE), interpolation=cv2.INTER_AREA)
        luma = cv2.cvtColor(cv2.GaussianBlur(frame, (5, 5), 0), cv2.COLOR_RGB2GRAY).astype(
            np.float32
        )
        small.append(cv2.resize(luma, (16, 16), interpolation=cv2.INTER_AREA))
    change = np.abs(np.stack(small[1:]) - small[0])  # (F-1, 16, 16)
    signature = change.ravel()
    return signature / (np.linalg.norm(signature) + 1e-6)


@lru_cache(maxsize=4096)
def _motion_reference(surface, lighting, position, size, obj, colour, motion, frames, start_x=None):
    from .motions import render_clip, start_scene

    scene = start_scene(Scene(obj, colour, surface, lighting, position, size), motion)
    if start_x is not None:
        scene = scene.replace(x=start_x)
    return motion_signature(render_clip(scene, motion, frames, SIZE))


def classify_motion(frames: np.ndarray, prompt: str, *, from_first_frame: bool = True) -> str:
    """The motion whose rendering of the prompt's scene changes most like ``frames`` do
    (cosine similarity of :func:`motion_signature`). With ``from_first_frame`` each motion is
    also rendered from where the clip's first frame shows the object, and the closer of the
    two renders counts: the motion is judged from where the object is, so a misplaced object
    (a position error, which :func:`score_image` counts) is not also a wrong motion."""
    from .motions import MOTIONS

    context = (*scene_context(prompt), parse_prompt(prompt).get("colour", "red"))
    starts = (None, round(estimate_object(frames[0]).x, 2)) if from_first_frame else (None,)
    seen = motion_signature(frames)

    def likeness(motion: str) -> float:
        return max(
            float(seen @ _motion_reference(*context, motion, len(frames), x)) for x in starts
        )

    return max(MOTIONS, key=likeness)


def slide_travel(frames: np.ndarray) -> tuple[float, float]:
    """Where a clip's object starts and how far it travels across, both in widths (travel
    positive to the right): the median place of the last frames but one minus that of the
    first two (one frame's estimate is noisy, and a generated clip's last frame often
    jumps). Tells whether a slide went the way its place suggests or the way it was asked."""
    xs = [estimate_object(frame).x for frame in frames]
    start = float(np.median(xs[:2]))
    return start, float(np.median(xs[-4:-1])) - start


@dataclass(frozen=True)
class MotionScore:
    motion_ok: bool | None  # None when the prompt names no motion
    motion: str


def score_clip(frames: np.ndarray, prompt: str, *, from_first_frame: bool = True) -> MotionScore:
    """Did the clip (F, H, W, 3) move the way ``prompt`` asks? (``from_first_frame``: see
    :func:`classify_motion`.)"""
    from .motions import parse_motion

    asked = parse_motion(prompt)
    seen = classify_motion(frames, prompt, from_first_frame=from_first_frame)
    return MotionScore(motion_ok=None if asked is None else seen == asked, motion=seen)


@dataclass(frozen=True)
class Identity:
    """Whether a clip's last frame still shows its first frame's subject."""

    kept: bool
    colours: tuple[str, str]  # the object's palette colour, first and last frame
    shapes: tuple[float, float]  # its height over width (the kind: a bottle is tall, a jar not)
    pieces: int  # the object's large parts in the last frame (a split bottle is 2)
    area: float  # its area in the last frame over the first


IDENTITY_SHAPE = 1.5  # the most the object's height/width may change by (either way)
IDENTITY_AREA = (0.3, 3.5)  # its area may shrink or grow this far (a camera zoom: 2.6x)
IDENTITY_COLOUR = 25.0  # CIELAB distance from the first frame's object colour (the mask)


def _object_mask(image: Image.Image, colour_lab: np.ndarray) -> np.ndarray:
    """The foreground pixels of ``colour_lab``'s colour: the object, without a light sweeping
    across the backdrop or its reflection in another colour."""
    lab, _, fg = _foreground(image)
    # lightness counts less: the object's lit and shaded sides are one object
    near = np.linalg.norm((lab - colour_lab) * (0.3, 1.0, 1.0), axis=2) < IDENTITY_COLOUR
    mask = (fg & near).astype(np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)) > 0


def _shape(mask: np.ndarray) -> tuple[float, int, float]:
    """Height over width of the mask's largest part, how many parts have at least a third of
    its area (a split object is two), and the mask's share of the frame."""
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    parts = stats[1:, cv2.CC_STAT_AREA]
    if not len(parts):
        return 0.0, 0, 0.0
    big = stats[1:][np.argmax(parts)]
    ratio = float(big[cv2.CC_STAT_HEIGHT] / max(big[cv2.CC_STAT_WIDTH], 1))
    return ratio, int((parts >= parts.max() / 3).sum()), float(mask.mean())


def subject_identity(frames: np.ndarray, prompt: str) -> Identity:
    """The video evaluation's subject-identity check: the first frame's object keeps its
    colour (the palette colour the scorer sees, in the prompt's scene) and its kind (its
    height over width, within ``IDENTITY_SHAPE``) at the last frame, stays one piece, and
    keeps its area within ``IDENTITY_AREA``."""
    first, last = (Image.fromarray(np.asarray(f)) for f in (frames[0], frames[-1]))
    colours = (classify_colour(first, prompt), classify_colour(last, prompt))
    colour_lab = np.array(estimate_object(first).colour_lab)
    (shape0, _, area0), (shape1, pieces, area1) = (
        _shape(_object_mask(f, colour_lab)) for f in (first, last)
    )
    area = area1 / max(area0, 1e-6)
    same_kind = (
        shape0 > 0 and shape1 > 0 and max(shape0, shape1) <= IDENTITY_SHAPE * min(shape0, shape1)
    )
    kept = (
        colours[0] == colours[1]
        and same_kind
        and pieces == 1
        and IDENTITY_AREA[0] <= area <= IDENTITY_AREA[1]
    )
    return Identity(kept, colours, (round(shape0, 3), round(shape1, 3)), pieces, round(area, 3))


def subject_in_crop(frames: np.ndarray, anchor: tuple[float, float], aspect: float) -> float:
    """The share of the first frame's object (its pixels over every frame, as
    :func:`subject_identity` finds them) that a delivery crop to ``aspect`` (width/height),
    placed at ``anchor`` (:func:`cinedraft.render.video.fit_frame`'s), keeps in view."""
    h, w = frames[0].shape[:2]
    colour_lab = np.array(estimate_object(Image.fromarray(np.asarray(frames[0]))).colour_lab)
    if w / h > aspect:  # the crop cuts the sides
        size = h * aspect
        x0 = int(round((w - size) * anchor[0]))
        box = (slice(None), slice(x0, x0 + int(round(size))))
    else:
        size = w / aspect
        y0 = int(round((h - size) * anchor[1]))
        box = (slice(y0, y0 + int(round(size))), slice(None))
    inside = total = 0
    for frame in frames:
        mask = _object_mask(Image.fromarray(np.asarray(frame)), colour_lab)
        inside, total = inside + int(mask[box].sum()), total + int(mask.sum())
    return inside / total if total else 1.0
