"""Where the subject of a frame is: a salience map (local contrast and motion), its centre per
frame (the editor's reframe follows it) and the one crop window of a whole clip that keeps
the most of it (the delivery crop of a clip drawn at another aspect)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import cv2
import numpy as np

CENTRE = (0.5, 0.5)  # a crop anchor: the middle of the slack on both axes
NEAR_BEST = 0.02  # windows keeping this little less salience than the best count as equal


def _gray_small(frame: np.ndarray) -> np.ndarray:
    g = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY).astype(np.float32)
    return cv2.resize(
        g, (max(8, g.shape[1] // 4), max(8, g.shape[0] // 4)), interpolation=cv2.INTER_AREA
    )


def salience_maps(frames: Iterable[np.ndarray]) -> list[np.ndarray]:
    """Per frame, at a quarter of its size: local contrast (|Laplacian|) plus motion
    (difference to the previous frame, less the frame-wide change, so a global brightness
    shift does not count), blurred and squared so the peak dominates diffuse texture."""
    return list(_salience(frames))


def _salience(frames: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """:func:`salience_maps`, one at a time."""
    previous = None
    for frame in frames:
        small = _gray_small(frame)
        energy = np.abs(cv2.Laplacian(cv2.GaussianBlur(small, (0, 0), 2), cv2.CV_32F))
        if previous is not None:
            change = small - previous
            energy += 2 * np.abs(change - np.median(change))
        previous = small
        yield cv2.GaussianBlur(energy, (0, 0), 3) ** 2 + 1e-6


def salient_centres(frames: Iterable[np.ndarray]) -> np.ndarray:
    """Per frame, the x and y (0..1) of the salient region's centre (its centre of mass);
    ``frames`` may be a decoder's, read as they come."""
    centres = []
    for energy in _salience(frames):  # one map held at a time
        ys, xs = np.mgrid[0 : energy.shape[0], 0 : energy.shape[1]]
        total = energy.sum()
        centres.append(
            (
                (xs * energy).sum() / total / energy.shape[1],
                (ys * energy).sum() / total / energy.shape[0],
            )
        )
    return np.array(centres)


def crop_anchor(
    frames: Sequence[np.ndarray], aspect: float, samples: int = 16
) -> tuple[float, float]:
    """Where one fixed window of width/height ``aspect``, as large as the frames allow, keeps
    the most of the clip's salience (each frame's map counting alike, ``samples`` frames
    spread over the clip): the share of the cut-off width and height left of and above it.
    A fixed window, so the delivery crop adds no camera move the clip did not have; among
    windows keeping nearly as much (``NEAR_BEST``), the one nearest the middle."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(samples, len(frames))).round())
    maps = salience_maps([frames[int(i)] for i in picks])
    # the first map has no motion term; the rest do: weigh each map as one vote
    total = sum(m / m.sum() for m in maps)
    h, w = total.shape
    if abs(w / h - aspect) < 1e-6:
        return CENTRE
    # slide along the axis the window is shorter on; lengths in map pixels, not rounded
    axis, length, window = (0, w, h * aspect) if w / h > aspect else (1, h, w / aspect)
    profile = total.sum(axis=axis)  # per column (sliding along x) or per row
    cumulative = np.concatenate([[0.0], np.cumsum(profile)]) / profile.sum()
    starts = np.linspace(0, length - window, 101)
    kept = np.interp(starts + window, np.arange(length + 1), cumulative) - np.interp(
        starts, np.arange(length + 1), cumulative
    )
    near = np.flatnonzero(kept >= kept.max() - NEAR_BEST)
    share = float(near[np.argmin(np.abs(near - 50))] / 100)
    return (share, 0.5) if axis == 0 else (0.5, share)
