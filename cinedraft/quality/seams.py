"""The one seam score: how the frame pair across a join compares with the pairs around it.

The video engine scores each chunk against the one before (3 pairs a side, native frames,
to choose between redraws); the editor scores a join in a delivered file (12 pairs a side).
Both use :func:`score_seam`, so a ratio or a flicker means the same wherever it is read:
``ratio`` ~1 looks like any frame pair, ``flicker`` is the mean luma jump in 0..1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .metrics import flicker, mean_lab, warp_error


def score_seam(before: Sequence[np.ndarray], after: Sequence[np.ndarray], window: int = 3) -> dict:
    """How the first frame of ``after`` follows the last of ``before``: warp error against
    the ``window`` frame pairs on each side of the joint (each side counting half), the jump
    of mean colour (ΔE) and of mean luma (0..1).

    Both sides count because a chunk that moves faster or slower than the one before makes a
    visible change of pace at the joint even when its seam pair is like its own pairs."""
    last, first = before[-1], after[0]
    sides = [
        [warp_error(a, b) for a, b in zip(frames, frames[1:])]
        for frames in (before[-window - 1 :], after[: window + 1])
    ]
    means = [float(np.mean(side)) for side in sides if side]
    within = float(np.mean(means)) if means else 0.0
    seam = warp_error(last, first)
    return {
        "warp_error": round(seam, 4),
        "within_average": round(within, 4),
        "ratio": round(seam / within, 3) if within > 1e-6 else None,
        "colour_jump": round(
            float(np.linalg.norm(mean_lab(first[None]) - mean_lab(last[None]))), 3
        ),
        "flicker": round(flicker(last, first) / 255, 4),
    }
