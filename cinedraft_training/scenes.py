"""Procedural "product shot" scenes: the training data and ground truth of the built-in models.

A :class:`Scene` names one object (kind, colour, size, position) standing on a surface under a
lighting setup. :func:`render_scene` draws it with signed-distance shapes (anti-aliased at any
resolution), :func:`caption_scene` describes it with a small grammar, and
:func:`sample_scene` draws random scenes from a seeded generator. Because every image comes
from a known scene, generated images can be scored against the prompt (see ``adherence.py``).

Continuous fields (``x``, ``scale``, ``light_x``, ``lift``, ``tilt``, ``zoom``, ``sweep_x``) let
the video model's clips (``motions.py``) move the object, the camera and the light over time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

OBJECTS = ("bottle", "jar", "tube", "box", "ball", "cup")
COLOURS: dict[str, tuple[float, float, float]] = {
    "red": (0.86, 0.10, 0.10),
    "orange": (0.96, 0.48, 0.06),
    "yellow": (0.96, 0.86, 0.12),
    "green": (0.12, 0.62, 0.18),
    "blue": (0.12, 0.28, 0.88),
    "purple": (0.52, 0.16, 0.70),
    "pink": (0.98, 0.50, 0.72),
    "black": (0.07, 0.07, 0.08),
}
SURFACES = ("glass", "wooden", "marble", "plain")
LIGHTINGS = ("studio", "warm", "cool", "dramatic")
POSITIONS: dict[str, float] = {"left": 0.28, "center": 0.5, "right": 0.72}
SIZES: dict[str, float] = {"small": 0.30, "large": 0.46}

# Colour/object pairs never shown to the model in training: prompts naming them are
# "not trained on verbatim" and measure whether colour binds to any object.
HELD_OUT_PAIRS = frozenset(
    {
        ("red", "jar"),
        ("orange", "ball"),
        ("yellow", "box"),
        ("green", "tube"),
        ("blue", "bottle"),
        ("purple", "cup"),
        ("pink", "box"),
        ("black", "jar"),
    }
)

_HORIZON = 0.56  # table edge, as a fraction of the height
_BASE_Y = 0.80  # where objects stand
_WALL = np.array([0.74, 0.74, 0.76])
_TINTS = {
    "studio": np.array([1.0, 1.0, 1.0]),
    "warm": np.array([1.10, 0.93, 0.72]),
    "cool": np.array([0.80, 0.92, 1.12]),
    "dramatic": np.array([1.0, 1.0, 1.0]),
}


@dataclass(frozen=True)
class Scene:
    """One product shot. Attributes are words of the caption grammar; floats place things."""

    object: str
    colour: str
    surface: str
    lighting: str
    position: str = "center"
    size: str = "large"
    x: float | None = None  # object centre, 0..1 of the width; None: from ``position``
    scale: float | None = None  # object height, 0..1 of the image height; None: from ``size``
    light_x: float | None = None  # key light centre for "dramatic"; None: follows the object
    tone: float = 0.0  # small per-scene variation of backdrop brightness, -1..1
    lift: float = 0.0  # object raised above the table, fraction of the height (bounce)
    tilt: float = 0.0  # object rotated clockwise about its centre, radians
    zoom: float = 1.0  # camera zoom about the object's centre, 1 = none
    sweep_x: float | None = None  # a soft light spot crossing the frame; None: no sweep

    @property
    def cx(self) -> float:
        return POSITIONS[self.position] if self.x is None else self.x

    @property
    def height(self) -> float:
        return SIZES[self.size] if self.scale is None else self.scale

    def replace(self, **changes) -> Scene:
        return dataclasses.replace(self, **changes)


def sample_scene(rng: np.random.Generator, *, held_out: bool | None = False) -> Scene:
    """A random scene; ``held_out`` True draws only held-out colour/object pairs, False none."""
    while True:
        obj = OBJECTS[rng.integers(len(OBJECTS))]
        colour = list(COLOURS)[rng.integers(len(COLOURS))]
        if held_out is None or ((colour, obj) in HELD_OUT_PAIRS) == held_out:
            break
    position = list(POSITIONS)[rng.integers(3)]
    size = list(SIZES)[rng.integers(2)]
    return Scene(
        object=obj,
        colour=colour,
        surface=SURFACES[rng.integers(len(SURFACES))],
        lighting=LIGHTINGS[rng.integers(len(LIGHTINGS))],
        position=position,
        size=size,
        x=POSITIONS[position] + float(rng.uniform(-0.04, 0.04)),
        scale=SIZES[size] * float(rng.uniform(0.92, 1.08)),
        tone=float(rng.uniform(-1, 1)),
    )


# ----------------------------------------------------------------------------------- captions

_SURFACE_WORDS = {
    "glass": "a glass table",
    "wooden": "a wooden table",
    "marble": "a marble table",
    "plain": "a plain backdrop",
}
_POSITION_WORDS = {"left": "on the left", "center": "in the center", "right": "on the right"}


def caption_scene(
    scene: Scene,
    rng: np.random.Generator | None = None,
    *,
    full: bool = False,
    place: bool = True,
) -> str:
    """Describe a scene. With ``rng`` optional parts (size, position, lighting) may be left
    out and the word order varies, as people write prompts; ``full`` keeps every part;
    ``place`` False always leaves out the position word."""

    def keep(p: float) -> bool:
        return full or rng is None or rng.random() < p

    noun = f"{scene.colour} {scene.object}"
    if keep(0.6):
        noun = f"{scene.size} {noun}"
    article = "an" if noun[0] in "aeiou" else "a"
    subject = f"{article} {noun} on {_SURFACE_WORDS[scene.surface]}"
    # keep() draws first, so leaving the place out does not shift the draws after it
    position = _POSITION_WORDS[scene.position] if keep(0.8) and place else ""
    lighting = f"{scene.lighting} lighting" if keep(0.85) else ""
    style = 0 if rng is None else int(rng.integers(3))
    if style == 0:
        parts = [subject, position, f"with {lighting}" if lighting else ""]
        return " ".join(p for p in parts if p)
    if style == 1:
        head = f"{lighting}, " if lighting else ""
        return head + " ".join(p for p in [subject, position] if p)
    tail = ", ".join(p for p in [position, lighting] if p)
    return f"product shot of {subject}" + (f", {tail}" if tail else "")


def parse_prompt(prompt: str) -> dict[str, str]:
    """The scene attributes a prompt names (a subset of object, colour, surface, lighting,
    position, size); words outside the grammar are ignored."""
    words = prompt.lower().replace(",", " ").split()
    found: dict[str, str] = {}
    vocab = {
        "object": OBJECTS,
        "colour": tuple(COLOURS),
        "surface": SURFACES + ("wood",),
        "lighting": LIGHTINGS,
        "position": tuple(POSITIONS) + ("centre",),
        "size": tuple(SIZES),
    }
    for key, options in vocab.items():
        for w in words:
            stem = w[:-1] if w.endswith("s") and w[:-1] in options else w
            if stem in options and key not in found:
                found[key] = {"wood": "wooden", "centre": "center"}.get(stem, stem)
    if "backdrop" in words and "surface" not in found:
        found["surface"] = "plain"
    return found


def grammar_words() -> list[str]:
    """Every word the caption grammar can produce (the tokenizer's whole-word vocabulary)."""
    words = set(OBJECTS) | set(COLOURS) | set(SURFACES) | set(LIGHTINGS) | set(SIZES)
    words |= set(POSITIONS) | {"centre", "wood", "backdrop"}
    for phrase in list(_SURFACE_WORDS.values()) + list(_POSITION_WORDS.values()):
        words |= set(phrase.split())
    words |= {"with", "lighting", "product", "shot", "of", "on", "in", "the", "a", "an", "and"}
    return sorted(words)


# ----------------------------------------------------------------------------------- rendering


def _coverage(sdf: np.ndarray, px: float) -> np.ndarray:
    """Anti-aliased coverage of a signed distance field (negative inside), 1 px ramp."""
    return np.clip(0.5 - sdf / px, 0.0, 1.0)


def _box_sdf(x, y, cx, cy, hw, hh, r=0.0):
    qx = np.abs(x - cx) - hw + r
    qy = np.abs(y - cy) - hh + r
    outside = np.hypot(np.maximum(qx, 0), np.maximum(qy, 0))
    return outside + np.minimum(np.maximum(qx, qy), 0) - r


def _cylinder_shade(x, cx, hw):
    """Brightness across a vertical cylinder lit from the upper left (Lambert + specular)."""
    u = np.clip((x - cx) / max(hw, 1e-6), -1, 1)
    lambert = 0.55 + 0.45 * np.cos((u + 0.35) * np.pi / 2.2)
    spec = 0.35 * np.exp(-(((u + 0.45) / 0.12) ** 2))
    return lambert, spec


def _object_layer(scene: Scene, x, y, px):
    """Object colour (H, W, 3) and coverage (H, W), before lighting."""
    base = np.array(COLOURS[scene.colour])
    h, cx, by = scene.height, scene.cx, _BASE_Y - scene.lift
    if scene.tilt:
        # Rotate the sampling grid about the object's centre: the object turns clockwise.
        cy, c, s = by - 0.5 * h, np.cos(scene.tilt), np.sin(scene.tilt)
        x, y = cx + (x - cx) * c + (y - cy) * s, cy - (x - cx) * s + (y - cy) * c
    rgb = np.broadcast_to(base, x.shape + (3,)).copy()
    spec = np.zeros_like(x)
    if scene.object == "ball":
        r = 0.40 * h
        cy = by - r
        sdf = np.hypot(x - cx, y - cy) - r
        nx, ny = (x - cx) / r, (y - cy) / r
        nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0, 1))
        shade = 0.35 + 0.65 * np.clip(-0.45 * nx - 0.5 * ny + 0.74 * nz, 0, 1)
        spec = 0.6 * np.exp(-(((nx + 0.35) ** 2 + (ny + 0.4) ** 2) / 0.02))
        return rgb * shade[..., None] + spec[..., None], _coverage(sdf, px)
    if scene.object == "box":
        hw = 0.40 * h
        front = _box_sdf(x, y, cx, by - 0.36 * h, hw, 0.36 * h)
        top = _box_sdf(x, y, cx + 0.06 * h, by - 0.78 * h, hw, 0.06 * h)
        sdf = np.minimum(front, top)
        shade = np.where(top < front, 1.25, 0.92 - 0.15 * (x - cx) / hw)
        return rgb * shade[..., None], _coverage(sdf, px)
    if scene.object == "bottle":
        body = _box_sdf(x, y, cx, by - 0.33 * h, 0.19 * h, 0.33 * h, r=0.05 * h)
        shoulder = np.hypot((x - cx) / 0.19, (y - (by - 0.64 * h)) / 0.12) - h
        neck = _box_sdf(x, y, cx, by - 0.85 * h, 0.07 * h, 0.15 * h)
        sdf = np.minimum(np.minimum(body, shoulder * 0.12), neck)
        cap = y < by - 0.90 * h
        hw = 0.19 * h
    elif scene.object == "jar":
        sdf = _box_sdf(x, y, cx, by - 0.36 * h, 0.34 * h, 0.36 * h, r=0.06 * h)
        lid = _box_sdf(x, y, cx, by - 0.80 * h, 0.36 * h, 0.08 * h, r=0.02 * h)
        sdf = np.minimum(sdf, lid)
        cap = y < by - 0.72 * h
        hw = 0.34 * h
    elif scene.object == "tube":
        taper = 0.10 * h + 0.06 * h * np.clip((by - y) / h, 0, 1)
        sdf = np.maximum(np.abs(x - cx) - taper, np.abs(y - (by - 0.48 * h)) - 0.48 * h)
        cap = y > by - 0.14 * h
        hw = 0.16 * h
    elif scene.object == "cup":
        t = np.clip((by - y) / (0.62 * h), 0, 1)
        half = 0.22 * h + 0.10 * h * t
        body = np.maximum(np.abs(x - cx) - half, np.abs(y - (by - 0.31 * h)) - 0.31 * h)
        ring = np.abs(np.hypot(x - (cx + 0.33 * h), y - (by - 0.33 * h)) - 0.12 * h) - 0.03 * h
        sdf = np.minimum(body, ring)
        cap = np.zeros_like(x, dtype=bool)
        hw = 0.30 * h
    else:
        raise ValueError(f"unknown object {scene.object!r}; known: {', '.join(OBJECTS)}")
    lambert, spec = _cylinder_shade(x, cx, hw)
    rgb = rgb * lambert[..., None] + spec[..., None]
    rgb[cap] = 0.35 * base + 0.25 if scene.object != "tube" else 0.92
    return rgb, _coverage(sdf, px)


def _surface(scene: Scene, x, y, px, rng):
    """Backdrop and table colour (H, W, 3) and the table coverage (H, W)."""
    wall = _WALL * (1.0 + 0.08 * scene.tone) * (0.92 + 0.14 * (1 - y))[..., None]
    table_cov = _coverage(_HORIZON - y, px)
    if scene.surface == "plain":
        sweep = 0.95 + 0.1 * np.clip((y - _HORIZON) * 2, 0, 1)
        return wall * sweep[..., None], np.zeros_like(x)
    if scene.surface == "glass":
        top = np.array([0.62, 0.72, 0.74]) * (0.85 + 0.3 * (y - _HORIZON))[..., None]
        edge = 0.35 * np.exp(-(((y - _HORIZON - 0.01) / 0.008) ** 2))
        table = top + edge[..., None]
    elif scene.surface == "wooden":
        grain = 0.5 + 0.5 * np.sin(x * 60 + 6 * np.sin(y * 25 + scene.tone) + y * 8)
        table = np.array([0.56, 0.34, 0.18]) * (0.8 + 0.25 * grain)[..., None]
    else:  # marble
        vein = np.abs(np.sin(x * 14 + y * 9 + 2.5 * np.sin(x * 11 - y * 7 + scene.tone)))
        table = np.array([0.90, 0.89, 0.87]) * (0.78 + 0.22 * vein**0.3)[..., None]
    return wall * (1 - table_cov[..., None]) + table * table_cov[..., None], table_cov


def render_scene(
    scene: Scene, size: int | tuple[int, int] = 64, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a scene: an (H, W, 3) uint8 image and the object's (H, W) coverage in 0..1.

    ``size`` is the side of a square image or (width, height); geometry is in fractions of
    the height, centred horizontally, so wide frames show more backdrop. ``rng`` adds film
    grain and slight colour jitter; without it the render is deterministic.
    """
    w, h = (size, size) if isinstance(size, int) else size
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    y = (ys + 0.5) / h
    x = (xs + 0.5 - (w - h) / 2) / h  # 0..1 across the central square
    px = 1.0 / h
    if scene.zoom != 1.0:  # the camera zooms about the object's centre
        zx, zy = scene.cx, _BASE_Y - 0.5 * scene.height
        x, y, px = zx + (x - zx) / scene.zoom, zy + (y - zy) / scene.zoom, px / scene.zoom

    # 1. Backdrop and table.
    image, table_cov = _surface(scene, x, y, px, rng)
    # 2. Contact shadow under the object.
    h_obj = scene.height
    shadow = np.exp(-(((x - scene.cx) / (0.32 * h_obj)) ** 2 + ((y - _BASE_Y) / 0.025) ** 2))
    image = image * (1 - 0.45 * shadow / (1 + 8 * scene.lift))[..., None]
    # 3. The object, and its mirror image in a glass table.
    obj_rgb, obj_cov = _object_layer(scene, x, y, px)
    if rng is not None:
        obj_rgb = obj_rgb * (1 + rng.uniform(-0.05, 0.05, size=3))
    if scene.surface == "glass":
        mirror = np.clip(2 * _BASE_Y - y, 0, 1)
        m_rgb, m_cov = _object_layer(scene, x, mirror, px)
        fade = 0.45 * np.clip(1 - (y - _BASE_Y) / (0.6 * h_obj), 0, 1) * (y > _BASE_Y)
        a = (m_cov * fade * table_cov)[..., None]
        image = image * (1 - a) + m_rgb * a
    image = image * (1 - obj_cov[..., None]) + obj_rgb * obj_cov[..., None]
    # 4. Lighting: a colour tint, or a spot that follows the object in the dark.
    image = image * _TINTS[scene.lighting]
    if scene.lighting == "dramatic":
        lx = scene.cx if scene.light_x is None else scene.light_x
        spot = np.exp(-(((x - lx) / 0.30) ** 2 + ((y - 0.6) / 0.45) ** 2))
        image = image * (0.22 + 0.95 * spot)[..., None]
    if scene.sweep_x is not None:
        spot = np.exp(-(((x - scene.sweep_x) / 0.22) ** 2))
        image = image * (0.55 + 0.75 * spot)[..., None]
    # 5. Film grain.
    if rng is not None:
        image = image + rng.normal(0, 0.012, size=image.shape)
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), obj_cov.astype(np.float32)


def position_word(x: float) -> str:
    """The caption's position word nearest an object centre ``x`` (0..1 of the width)."""
    return min(POSITIONS, key=lambda p: abs(POSITIONS[p] - x))
