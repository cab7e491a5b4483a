"""Edit pairs for the built-in edit model: the same scene before and after one change.

A change is one of: the object's colour, its kind, its place, the surface it stands on, the
lighting. :func:`sample_edit` draws a scene and a change and says it as an instruction in
one of several phrasings; both renders share one seed, so grain and jitter are the same and
nothing but the change moves.

Held out: a change whose (kind, value, object) is in :func:`held_out` is never drawn for
training (``held_out=False``) and is all the evaluation draws (``held_out=True``): about
one in six of each kind's combinations, and for colours exactly the colour/object pairs the
image model never saw (``scenes.HELD_OUT_PAIRS``).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import cv2
import numpy as np

from .adherence import classify_colour, classify_position
from .scenes import (
    COLOURS,
    HELD_OUT_PAIRS,
    LIGHTINGS,
    OBJECTS,
    POSITIONS,
    SURFACES,
    Scene,
    caption_scene,
    render_scene,
    sample_scene,
)

KINDS = ("colour", "object", "position", "surface", "lighting")
_SURFACE = {
    "glass": "a glass table",
    "wooden": "a wooden table",
    "marble": "a marble table",
    "plain": "a plain backdrop",
}
_PLACE = {"left": "to the left", "center": "to the center", "right": "to the right"}
PHRASES = {
    "colour": ("make the {obj} {v}", "make it {v}", "turn the {obj} {v}", "change it to {v}"),
    "object": ("replace the {obj} with a {v}", "turn the {obj} into a {v}", "make it a {v}"),
    "position": ("move the {obj} {place}", "move it {place}", "put the {obj} on the {v}"),
    "surface": ("put it on {surface}", "place the {obj} on {surface}", "make the table {v}"),
    "lighting": ("make the lighting {v}", "use {v} lighting", "change to {v} lighting"),
}


@dataclass(frozen=True)
class Edit:
    before: Scene
    after: Scene
    kind: str
    value: str
    instruction: str
    seed: int  # the render seed both images share


def held_out(kind: str, value: str, obj: str) -> bool:
    """Whether this change of this object is kept out of training."""
    if kind == "colour":
        return (value, obj) in HELD_OUT_PAIRS
    return zlib.crc32(f"{kind}:{value}:{obj}".encode()) % 6 == 0


def _values(kind: str) -> tuple[str, ...]:
    return {
        "colour": tuple(COLOURS),
        "object": OBJECTS,
        "position": tuple(POSITIONS),
        "surface": SURFACES,
        "lighting": LIGHTINGS,
    }[kind]


def _current(scene: Scene, kind: str) -> str:
    return {
        "colour": scene.colour,
        "object": scene.object,
        "position": scene.position,
        "surface": scene.surface,
        "lighting": scene.lighting,
    }[kind]


def sample_edit(rng: np.random.Generator, *, held_out_only: bool = False) -> Edit:
    """A scene, a change and its instruction; training draws (``held_out_only`` False) never
    show a held-out change, evaluation draws show only those."""
    while True:
        before = sample_scene(rng, held_out=None if held_out_only else False)
        kind = KINDS[rng.integers(len(KINDS))]
        options = [v for v in _values(kind) if v != _current(before, kind)]
        value = options[rng.integers(len(options))]
        obj = value if kind == "object" else before.object
        colour = value if kind == "colour" else before.colour
        # the after-scene's object must be a pair the image model knew, unless held out
        pair_out = (colour, obj) in HELD_OUT_PAIRS and kind != "colour"
        if pair_out or (before.colour, before.object) in HELD_OUT_PAIRS:
            continue
        if held_out(kind, value, before.object) == held_out_only:
            break
    change: dict = {kind: value}
    if kind == "position":  # the same small offset from the new place as from the old
        change["x"] = POSITIONS[value] + (before.cx - POSITIONS[before.position])
    after = before.replace(**change)
    phrases = PHRASES[kind]
    instruction = phrases[rng.integers(len(phrases))].format(
        obj=before.object,
        v=value,
        place=_PLACE.get(value, ""),
        surface=_SURFACE.get(value, ""),
    )
    return Edit(before, after, kind, value, instruction, int(rng.integers(2**31)))


def render_pair(edit: Edit, size: int = 64) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Before and after (uint8 RGB) with the same grain, and the union of the object's
    coverage in both (0..1): what the change may touch when it is the object's."""
    a, cov_a = render_scene(edit.before, size, np.random.default_rng(edit.seed))
    b, cov_b = render_scene(edit.after, size, np.random.default_rng(edit.seed))
    return a, b, np.maximum(cov_a, cov_b)


# ------------------------------------------------------------------------------ scoring


def _reference(scene: Scene, size: int = 64) -> tuple[np.ndarray, np.ndarray]:
    return render_scene(scene, size)


def _mean_lab(image: np.ndarray, where: np.ndarray) -> np.ndarray:
    lab = cv2.cvtColor(image.astype(np.float32) / 255, cv2.COLOR_RGB2LAB)
    return lab[where].mean(axis=0) if where.any() else lab.reshape(-1, 3).mean(axis=0)


def changed_as_asked(edit: Edit, image: np.ndarray) -> bool:
    """Whether ``image`` (64x64 uint8 RGB) shows the edit's change: the adherence scorer for
    colour and place; for kind, surface and lighting the nearest of the scene's renders with
    each option (analysis by synthesis, as the adherence scorer does for colour)."""
    after = edit.after
    if edit.kind == "colour":
        return classify_colour(image, caption_scene(after, full=True)) == edit.value
    if edit.kind == "position":
        return classify_position(image) == edit.value
    if edit.kind == "object":
        # the nearest of the scene rendered with each kind, over where any of them stands
        refs = {obj: _reference(after.replace(object=obj)) for obj in OBJECTS}
        where = np.max([cov for _, cov in refs.values()], axis=0) > 0.05
        seen = image.astype(np.float32)[where]
        return min(OBJECTS, key=lambda o: np.abs(refs[o][0][where] - seen).mean()) == edit.value
    # surface or lighting: the background's colour where the object is not
    _, cov = _reference(after)
    rows = np.arange(image.shape[0])[:, None] / image.shape[0]
    where = (cov < 0.05) & ((rows > 0.62) if edit.kind == "surface" else (rows >= 0))
    seen = _mean_lab(image, where)
    options = SURFACES if edit.kind == "surface" else LIGHTINGS
    field = edit.kind

    def distance(option: str) -> float:
        ref = _reference(after.replace(**{field: option}))[0]
        return float(np.linalg.norm(_mean_lab(ref, where) - seen))

    return min(options, key=distance) == edit.value


def untouched_region(edit: Edit, size: int = 64) -> np.ndarray | None:
    """Where nothing should change (bool): outside the object in both scenes, grown by 2 px,
    where the true before and after renders agree (a glass table's reflection and a
    dramatic spotlight follow the object); for a surface change also above the table's edge
    only; None for lighting (it relights all) and where under a tenth of the frame is left
    (a dramatic spotlight that follows a moved object relights it all)."""
    if edit.kind == "lighting":
        return None
    before, after, cov = render_pair(edit, size)
    touched = cv2.dilate((cov > 0.02).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    touched |= np.abs(before.astype(int) - after).max(axis=2) > 2
    if edit.kind == "surface":
        rows = np.arange(size)[:, None] / size
        touched |= np.broadcast_to(rows > 0.53, touched.shape)
    return None if (~touched).mean() < 0.1 else ~touched


def understood(kinds: tuple[str, ...] | list[str] = KINDS) -> list[dict]:
    """The instructions the edit model was trained on, as whole-string patterns with an
    example each: saved in the model's ``cinedraft.json`` so that cinedraft refuses, naming
    these, an instruction the model never learned (rather than returning a guess)."""
    import re

    alternatives = {
        "obj": OBJECTS,
        "place": tuple(_PLACE.values()),
        "surface": tuple(_SURFACE.values()),
    }
    out = []
    for kind, phrases in PHRASES.items():
        if kind not in kinds:
            continue
        values = _values(kind)
        for phrase in phrases:
            pattern = re.escape(phrase)
            for name, options in alternatives.items():
                pattern = pattern.replace(re.escape("{" + name + "}"), f"({'|'.join(options)})")
            pattern = pattern.replace(re.escape("{v}"), f"({'|'.join(values)})")
            example = phrase.format(
                obj="jar", v=values[-1], place=_PLACE["left"], surface=_SURFACE["marble"]
            )
            out.append({"kind": kind, "pattern": f"^{pattern}$", "example": example})
    return out
