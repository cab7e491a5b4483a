"""Long clips from short calls: how many frames each chunk makes, how a chunk's colour is held
to the first one's, and how well it joins the chunk before it.

All functions work on the model's own frames ((F, H, W, 3) uint8 at its native rate), before
the rendering pipeline, so a bad chunk is caught while it can still be drawn again.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..quality.metrics import mean_lab
from ..tiers import VideoFamily


def native_frames(seconds: float, fps: int) -> int:
    """Frames the model must make at ``fps`` so that interpolation to any delivery rate has a
    source frame on both sides of every output instant."""
    return int(np.ceil(seconds * fps - 1e-9)) + 1


def plan_chunks(family: VideoFamily, need: int, given: int) -> list[int]:
    """Frame counts of the calls that make ``need`` new frames; every call but the first
    without given frames re-uses ``overlap`` frames of the one before (``given`` for the
    first: a first image counts as a new frame, an extension's context does not)."""
    if family.conditioning is None:
        return [family.frames_for(need)]
    calls, made, context = [], 0, given
    while made < need:
        wanted = min(family.chunk_frames, need - made + context)
        frames = family.frames_for(max(wanted, context + 1))
        calls.append(frames)
        made += frames - context
        context = family.overlap
    return calls


# ------------------------------------------------------------------------- colour anchoring


@dataclass(frozen=True)
class Anchor:
    """Pulls each chunk's mean colour part of the way to the first chunk's (Reinhard et al.,
    2001, means only): exposure and white balance stop drifting over many chunks, while a
    real change inside a chunk (a light sweep) stays, because the shift is capped. Each
    chunk starts from the colour of the frame it joins (:meth:`join`)."""

    target: np.ndarray  # mean Lab of the first chunk
    strength: float = 0.5
    limit: tuple[float, float, float] = (6.0, 4.0, 4.0)  # largest shift in L, a, b

    def correction(self, frames: np.ndarray) -> np.ndarray:
        return self._capped(self.strength * (self.target - mean_lab(frames)))

    def _capped(self, shift: np.ndarray) -> np.ndarray:
        return np.clip(shift, -np.array(self.limit), np.array(self.limit))

    def join(self, new: np.ndarray, seen: np.ndarray, edge: np.ndarray | None) -> np.ndarray:
        """``new`` (F, H, W, 3), its first frame next to ``edge`` (the delivered frame it
        follows; None at the start of a clip), shifted in mean colour: on the first frame by
        what makes it match ``edge``, ramped to :meth:`correction` on the last. ``seen`` is
        the part of ``new`` delivery shows, where both are measured. A chunk drawn a little
        darker than the frames it continues then joins them without a step: warp error counts
        a mean-colour step whatever the motion, and the delivery rate interpolates the motion
        but not the step."""
        start = (
            np.zeros(3) if edge is None else self._capped(mean_lab(edge[None]) - mean_lab(seen[:1]))
        )
        return self.apply(new, start, self.correction(seen))

    @staticmethod
    def apply(frames: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Shift frames by a Lab offset ramped from ``start`` (first frame) to ``end`` (last)."""
        out = np.empty_like(frames)
        n = len(frames)
        for i, frame in enumerate(frames):
            shift = start + (end - start) * i / max(n - 1, 1)
            if not np.any(np.abs(shift) > 0.05):
                out[i] = frame
                continue
            lab = cv2.cvtColor(frame, cv2.COLOR_RGB2LAB).astype(np.float32)
            lab += np.array([shift[0] * 255 / 100, shift[1], shift[2]], np.float32)
            out[i] = cv2.cvtColor(np.clip(lab + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)
        return out


# ------------------------------------------------------------------------- seams


def seam_badness(seam: dict) -> float:
    """One number to compare attempts at a chunk: the warp ratio (1 = like any frame pair)."""
    return seam["ratio"] if seam["ratio"] is not None else 0.0
