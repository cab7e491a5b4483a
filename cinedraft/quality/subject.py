"""Does a frame still show the subject of another? The video engine's identity check.

A model can turn a red bottle into a yellow jar over one chunk, or split it in two. The video
engine compares each chunk's last frame with the clip's first (the given image, the clip it
continues) and draws a chunk again when the subject is gone
(:class:`~cinedraft.engine.chunks.ChunkLoop`).

The subject is what stands out from the backdrop, found the way a product shot is laid out
(a backdrop and a surface that change from row to row far more than along a row):

1. each row's median colour (CIELAB) is the backdrop there; pixels far from it are the
   foreground (half the 99th percentile of that distance, at least ``FOREGROUND``);
2. the subject's colour is the median of the most distinct half of the foreground;
3. in the later frame, the subject is the foreground of (nearly) that colour, lightness
   counting less (a lit and a shaded side are one object).

It is kept when the subject's colour still covers about as much of the frame (its area in
that colour within ``AREA`` of the first's: a camera zoom over a chunk moves it by up to
2.6x, a jar turned yellow leaves almost none of its red), its kind holds (height over width
of its largest part within ``SHAPE`` either way: a bottle is tall, a jar is not) and it is one
piece (no second part a third the size of the largest). A frame with no single subject
(nothing stands out, or most of the frame does: a landscape, a close-up) is not checked:
:func:`subject_of` returns None.

Frames are measured at ``SIZE`` px on the short side, so a 1080p model costs what the
built-in one does (about a millisecond a frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

SIZE = 64  # px on the short side the frames are measured at
FOREGROUND = 10.0  # CIELAB distance from the row's backdrop below which a pixel is backdrop
SUBJECT_SHARE = (0.005, 0.6)  # a subject covers this much of the frame, or there is none
NEAR = 25.0  # CIELAB distance (lightness at 0.3) from the subject's colour: still the subject
SHAPE = 1.5  # the most its height over width may change by, either way
AREA = (0.3, 3.5)  # the least and most its area may change by
PIECE = 1 / 3  # a second part this share of the largest one splits the subject
SINGLE = 0.3  # the subject's largest part covers at least this share of the foreground


@dataclass(frozen=True)
class Subject:
    """The subject of a frame: its colour (CIELAB, L 0..100) and its shape."""

    colour: tuple[float, float, float]
    shape: float  # height over width of its largest part
    area: float  # its share of the frame


@dataclass(frozen=True)
class Held:
    """Whether a later frame still shows a subject, and what changed when it does not."""

    kept: bool
    why: str = ""  # what changed, in words ("" when kept)

    def as_dict(self) -> dict:
        return {"kept": self.kept, "why": self.why}


def _small_lab(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> CIELAB float32 at ``SIZE`` px on the short side, blurred 3x3
    (sampling noise is not colour)."""
    h, w = frame.shape[:2]
    scale = SIZE / min(h, w)
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    rgb = cv2.GaussianBlur(np.ascontiguousarray(frame[..., :3]), (3, 3), 0)
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)


def _foreground(lab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's distance from its row's backdrop, and the foreground mask."""
    distance = np.linalg.norm(lab - np.median(lab, axis=1, keepdims=True), axis=2)
    threshold = max(FOREGROUND, 0.5 * float(np.percentile(distance, 99)))
    return distance, distance > threshold


def _colour(lab: np.ndarray, distance: np.ndarray, fg: np.ndarray) -> np.ndarray:
    """The median colour of the most distinct half of the foreground."""
    strong = fg & (distance >= np.median(distance[fg]))
    return np.median(lab[strong], axis=0)


def _near(lab: np.ndarray, fg: np.ndarray, colour: np.ndarray) -> np.ndarray:
    """The foreground of (nearly) ``colour``: the subject, without a light crossing the
    backdrop or a reflection in another colour."""
    near = np.linalg.norm((lab - colour) * (0.3, 1.0, 1.0), axis=2) < NEAR
    mask = (fg & near).astype(np.uint8)
    return cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))


def _parts(mask: np.ndarray) -> tuple[float, int, float, float]:
    """Height over width of the mask's largest part, how many parts are at least ``PIECE``
    of it, the mask's share of the frame and the largest part's."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    areas = stats[1:, cv2.CC_STAT_AREA]
    if not len(areas):
        return 0.0, 0, 0.0, 0.0
    big = stats[1:][np.argmax(areas)]
    shape = float(big[cv2.CC_STAT_HEIGHT] / max(big[cv2.CC_STAT_WIDTH], 1))
    pieces = int((areas >= areas.max() * PIECE).sum())
    return shape, pieces, float(mask.mean()), float(areas.max() / mask.size)


def subject_of(frame: np.ndarray) -> Subject | None:
    """The subject of ``frame`` (H, W, 3) uint8, or None when it has no single one."""
    lab = _small_lab(frame)
    distance, fg = _foreground(lab)
    if not SUBJECT_SHARE[0] <= fg.mean() <= SUBJECT_SHARE[1]:
        return None
    colour = _colour(lab, distance, fg)
    shape, pieces, area, largest = _parts(_near(lab, fg, colour))
    if pieces == 0 or largest < SINGLE * fg.mean():  # scattered: texture, not a subject
        return None
    return Subject(tuple(float(c) for c in colour), shape, area)


def still_holds(subject: Subject | None, frame: np.ndarray) -> Held:
    """Does ``frame`` still show ``subject`` (found by :func:`subject_of` in an earlier
    frame)? Always kept when there was no subject to hold."""
    if subject is None:
        return Held(True)
    lab = _small_lab(frame)
    _, fg = _foreground(lab)
    shape, pieces, area, _ = _parts(_near(lab, fg, np.array(subject.colour)))
    if pieces == 0 or not AREA[0] <= area / subject.area <= AREA[1]:
        change = area / subject.area
        return Held(False, f"its colour or size changed (area in its colour {change:.2f}x)")
    if max(shape, subject.shape) > SHAPE * min(shape, subject.shape):
        return Held(False, f"its shape changed (height/width {subject.shape:.2f} -> {shape:.2f})")
    if pieces > 1:
        return Held(False, f"it split in {pieces}")
    return Held(True)
