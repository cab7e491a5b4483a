"""Long clips from short calls: how many frames each chunk makes, the loop that draws them
(:class:`ChunkLoop`), how a chunk's colour is held to the first one's, how well it joins
the chunk before it, and whether it still shows the clip's subject.

All of it works on the model's own frames ((F, H, W, 3) uint8 at its native rate), before
the rendering pipeline, so a bad chunk is caught while it can still be drawn again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from ..quality.metrics import mean_lab
from ..quality.seams import score_seam
from ..quality.subject import Held, Subject, still_holds, subject_of
from ..request import Progress
from ..tiers import VideoFamily


@dataclass
class Given:
    """Frames a call must keep: (K, H, W, 3) uint8 at the model's size, at the start of the
    call or (a lead-in) at its end; ``latents`` (1, C, K, h, w) when already known.

    ``region`` (x0, y0, x1, y1) is the part of the frames that is really known: a clip
    delivered at another aspect than the model's shows only a band of the model's frame
    (see :func:`~cinedraft.render.video.unfit`); only that band is held, and the model
    draws the rest, which delivery crops away again. ``anchor`` is where that band sits
    (the delivered clip's crop, :func:`~cinedraft.render.video.fit_frame`'s anchor): the
    continuation is delivered through the same crop, so the two line up."""

    frames: np.ndarray
    at_end: bool = False
    latents: torch.Tensor | None = None
    region: tuple[int, int, int, int] | None = None
    anchor: tuple[float, float] | None = None

    def crop(self, frames: np.ndarray) -> np.ndarray:
        if self.region is None:
            return frames
        x0, y0, x1, y1 = self.region
        return frames[:, y0:y1, x0:x1]

    def new_in(self, frames: np.ndarray) -> np.ndarray:
        """The frames of a call's output that are not these given ones."""
        n = len(self.frames)
        return frames[:-n] if self.at_end else frames[n:]


@dataclass
class Drawn:
    """One call's output: every frame (the given ones included) and, for latent
    conditioning, the latents they were decoded from (1, C, F, h, w)."""

    frames: np.ndarray
    latents: torch.Tensor | None
    seed: int

    def edge(self, k: int, at_start: bool) -> Given:
        """The ``k`` frames the next call continues from: the last ones, or the first ones for
        a lead-in (made backwards in time), with their latents."""
        part = slice(0, k) if at_start else slice(-k, None)
        latents = None if self.latents is None else self.latents[:, :, part]
        return Given(self.frames[part], at_end=at_start, latents=latents)


# draw(frames, continuing, seed, given, on_step): one pipeline call (``continuing``: it
# continues given frames rather than starting from a first image or from nothing).
Draw = Callable[[int, bool, int, "Given | None", Callable[[int], None]], Drawn]


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


@dataclass
class Chunked:
    """What :class:`ChunkLoop` made: the new frames in time order, the score of each join
    (``request.Seam``'s fields), the seed each chunk kept and, when the subject was held,
    per chunk whether its last frame still shows the clip's subject (``chunk``, ``kept``,
    ``why``, ``attempts``; empty when there was none to hold or holding was off)."""

    frames: np.ndarray
    seams: list[dict]
    seeds: list[int]
    subject: list[dict]


class ChunkLoop:
    """Step 3 of the video flow: a clip's new frames, one pipeline call per planned chunk.

    For each chunk:

    1. draw it, conditioned on the frames it continues (for a lead-in, the frames it leads
       into: a lead-in is made backwards in time);
    2. keep only the frames it adds, in the order they are made;
    3. match its colour to the frame it joins, pulled towards the first chunk's (:class:`Anchor`);
    4. score its seam, and check that its last frame still shows the clip's subject (the
       given first image's, the continued clip's, or the first chunk's first frame's:
       :mod:`~cinedraft.quality.subject`); while the subject is lost or the seam is worse
       than the bar, draw again with a new seed, and keep the best attempt (a seam within
       the bar first, then the subject, then the better seam); when no attempt kept the
       subject, later chunks hold the one this chunk ends on;
    5. condition the next chunk on this one's raw end (its latents, when the family has them).

    Only the part of each frame delivery shows (``Given.crop``) is coloured and scored.
    """

    def __init__(
        self,
        draw: Draw,
        plan: list[int],
        overlap: int,
        *,
        backwards: bool,
        keeps_first: bool,
        retries: int,
        max_seam_ratio: float,
        hold_subject: bool,
        steps: int,
        progress: Progress,
    ):
        self.draw, self.plan, self.overlap = draw, plan, overlap
        self.backwards, self.keeps_first = backwards, keeps_first
        self.retries, self.max_seam_ratio = retries, max_seam_ratio
        self.hold_subject = hold_subject
        self.steps, self.progress = steps, progress
        self.anchor: Anchor | None = None
        self.subject: Subject | None = None  # the clip's subject, once known
        self.view: Callable[[np.ndarray], np.ndarray] = _whole

    def run(self, given: Given | None, seed: int) -> Chunked:
        self.view = given.crop if given is not None else _whole
        # The delivered frames the next chunk joins (in making order: the last is next to it).
        edge = self._in_order(self.view(given.frames)) if given is not None else None
        self.anchor = Anchor(mean_lab(edge)) if edge is not None else None
        # the frame next to the first chunk is the subject's reference
        self.subject = subject_of(edge[-1]) if edge is not None and self.hold_subject else None
        pieces: list[np.ndarray] = []
        seams: list[dict] = []
        seeds: list[int] = []
        held: list[dict] = []
        context = given
        for k, frames_n in enumerate(self.plan):
            drawn, fixed, seam, attempts, kept = self._best_chunk(k, frames_n, context, edge, seed)
            seeds.append(drawn.seed)
            if seam is not None:
                made = sum(len(p) for p in pieces)
                seams.append(seam | {"at_frame": made, "attempts": attempts})
            if given is None and k == 0 and self.hold_subject:
                self.subject = subject_of(self.view(fixed)[0])  # the clip's first frame
            if self.subject is not None:
                held.append({"chunk": k, **kept.as_dict(), "attempts": attempts})
                if not kept.kept:
                    # No draw found it: later chunks hold what the clip shows now rather than
                    # chase the lost subject with draws that cannot find it.
                    self.subject = subject_of(self.view(fixed)[-1]) or self.subject
            pieces.append(fixed)
            edge = self.view(fixed)
            context = drawn.edge(self.overlap, at_start=self.backwards)
        if not self.backwards:
            return Chunked(np.concatenate(pieces), seams, seeds, held)
        frames = np.concatenate([p[::-1] for p in pieces[::-1]])
        for seam in seams:  # made backwards in time: count from the start of the clip
            seam["at_frame"] = len(frames) - seam["at_frame"]
        return Chunked(frames, seams, seeds, held)

    def _best_chunk(
        self,
        k: int,
        frames_n: int,
        context: Given | None,
        edge: np.ndarray | None,
        seed0: int,
    ) -> tuple[Drawn, np.ndarray, dict | None, int, Held]:
        """Steps 1-4 for chunk ``k``: the call kept, its new frames coloured, its seam (None
        when it joins nothing), how many attempts it took and whether it holds the
        subject."""
        keeps_first = k == 0 and self.keeps_first  # the given first image is an output frame
        continuing = context is not None and not keeps_first
        best = None
        for attempt in range(self.retries + 1):
            seed = seed0 + k * 1_000_003 + attempt * 7919
            stage = f"chunk {k + 1}/{len(self.plan)}" + (f" retry {attempt}" if attempt else "")
            drawn = self.draw(frames_n, continuing, seed, context, self._on_step(stage))
            new = self._in_order(context.new_in(drawn.frames) if continuing else drawn.frames)
            shown = self.view(new)
            anchor = self.anchor or Anchor(mean_lab(shown))  # the first chunk's own colour
            fixed = anchor.join(new, shown, edge[-1] if continuing else None)
            seam = score_seam(edge, self.view(fixed)) if continuing else None
            held = self._held(self.view(fixed), drawn_first=k == 0 and edge is None)
            ratio = seam_badness(seam) if seam else 0.0
            badness = (ratio > self.max_seam_ratio, not held.kept, ratio)
            if best is None or badness < best[0]:
                best = (badness, anchor, drawn, fixed, seam, held)
            if badness[:2] == (False, False):
                break
        _, self.anchor, drawn, fixed, seam, held = best
        return drawn, fixed, seam, attempt + 1, held

    def _held(self, shown: np.ndarray, drawn_first: bool) -> Held:
        """Whether the last frame made still shows the clip's subject (``drawn_first``: the
        chunk drew the clip's first frame, whose subject is the one to hold)."""
        if not self.hold_subject:
            return Held(True)
        return still_holds(subject_of(shown[0]) if drawn_first else self.subject, shown[-1])

    def _in_order(self, frames: np.ndarray) -> np.ndarray:
        """Frames in the order they are made (backwards in time for a lead-in)."""
        return frames[::-1] if self.backwards else frames

    def _on_step(self, stage: str) -> Callable[[int], None]:
        return lambda step: self.progress(stage, step, self.steps)


def _whole(frames: np.ndarray) -> np.ndarray:
    return frames


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
