"""Held-out measurements of the built-in video model, shared by
``scripts/evaluate_builtin_video.py`` (which writes ``models/video/evaluation.json``) and the
tests that hold the shipped weights to a floor of held-out motion adherence and to reading a
slide's direction word (``tests/builtin/test_video_model.py``).

Prompts name only held-out motion/object pairs (``motions.HELD_OUT_MOTIONS``): no training
clip showed that object making that motion. Each clip goes through the normal engine as one
chunk, delivered at the model's own 64x64 and 8 fps (H.264), and the decoded clip is scored
by :func:`~cinedraft_training.adherence.score_clip`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from cinedraft.media.codec import decode_frames
from cinedraft.render.video import VideoPreset
from cinedraft.request import VideoRequest
from .adherence import score_clip, slide_travel
from .motions import (
    FPS,
    FRAMES,
    MIRRORS,
    SLIDES,
    caption_clip,
    motion_at,
    parse_motion,
    sample_clip,
)
from .scenes import position_word, render_scene

NATIVE = VideoPreset("native", 64, 64, FPS, FRAMES / FPS, crf=12)
ONE_CHUNK = (FRAMES - 1) / FPS  # seconds whose frames fit one call
SEED = 4321  # the seed of every published figure (model card, evaluation.json)


def held_out_clips(n: int, seed: int = SEED, *, held_out: bool = True) -> list[tuple]:
    """``n`` (scene, motion) pairs of held-out motion/object pairs (``held_out=False``: of
    pairs the training clips show, a control that separates composing a new pair from moving
    at all)."""
    rng = np.random.default_rng(seed)
    return [sample_clip(rng, held_out=held_out) for _ in range(n)]


def held_out_prompts(n: int, seed: int = SEED) -> list[str]:
    """Full captions of :func:`held_out_clips`: scene, place, lighting and motion."""
    return [caption_clip(*clip, full=True) for clip in held_out_clips(n, seed)]


def one_chunk(
    engine,
    model: str,
    prompt: str,
    seed: int,
    image: str | None = None,
    hold_subject: bool = True,
) -> np.ndarray:
    """One chunk through ``engine`` (a :class:`cinedraft.Engine`), delivered natively; its
    decoded frames (F, H, W, 3). ``hold_subject=False``: the model's first draw."""
    return draw_clip(engine, model, prompt, seed, image=image, hold_subject=hold_subject)[0]


def draw_clip(
    engine,
    model: str,
    prompt: str,
    seed: int,
    *,
    image: str | None = None,
    seconds: float = ONE_CHUNK,
    hold_subject: bool = True,
) -> tuple[np.ndarray, dict]:
    """A clip through ``engine``, delivered natively: its decoded frames (F, H, W, 3) and its
    record (``hold_subject=False``: the model's first draws, never redrawn for a lost
    subject)."""
    request = VideoRequest(
        prompt=prompt,
        image=image,
        seconds=seconds,
        seed=seed,
        model=model,
        hold_subject=hold_subject,
    )
    result = engine.video.generate(request, model, preset=NATIVE)
    return np.stack(decode_frames(result.path)), result.record


def first_frame_file(scene, motion: str, path: Path) -> str:
    """Render the true first frame of ``scene`` making ``motion`` (as ``render_clip`` draws it,
    without rendering the rest of the clip) into the PNG ``path``; the path as a string, for
    ``VideoRequest.image``."""
    Image.fromarray(render_scene(motion_at(scene, motion, 0.0), NATIVE.width)[0]).save(path)
    return str(path)


def swapped_travel(
    engine, model: str, scene, slide: str, seed: int, folder: Path
) -> dict[str, float]:
    """The word-swap control: ``scene``'s object moved to the middle of the frame (where its
    place tells no direction), its true first frame given, drawn once asked to ``slide`` and
    once asked the mirror way, the same seed. How far the object travelled each time
    (``adherence.slide_travel``, in widths, positive to the right), by the slide asked for; a
    model that ignores the direction word travels the same way twice."""
    middle = scene.replace(x=0.5, position=position_word(0.5))
    start = first_frame_file(middle, slide, folder / "middle.png")
    travel = {}
    for asked in (slide, MIRRORS[slide]):
        prompt = caption_clip(middle, asked, full=True)
        travel[asked] = slide_travel(one_chunk(engine, model, prompt, seed, image=start))[1]
    return travel


def word_swaps(
    engine, model: str, clips: list[tuple], seed: int, folder: Path, limit: int | None = None
) -> tuple[list[bool], list[float]]:
    """:func:`swapped_travel` for the (first ``limit``) slides among ``clips``, clip i drawn
    with seed ``seed + i``: whether each went the asked way both times, and how much further
    right it went asked right than asked left (in widths)."""
    slides = [(i, clip) for i, clip in enumerate(clips) if clip[1] in SLIDES][:limit]
    both, gaps = [], []
    for i, (scene, slide) in slides:
        (folder / f"swap-{i}").mkdir()
        travel = swapped_travel(engine, model, scene, slide, seed + i, folder / f"swap-{i}")
        both.append(travel["slide_right"] > 0 > travel["slide_left"])
        gaps.append(travel["slide_right"] - travel["slide_left"])
    return both, gaps


@dataclass
class MotionTally:
    """Motion verdicts of a set of clips, and what the wrong ones were taken for."""

    ok: list[bool] = field(default_factory=list)
    confusions: Counter = field(default_factory=Counter)

    def add(self, frames: np.ndarray, prompt: str) -> None:
        score = score_clip(frames, prompt)
        self.ok.append(bool(score.motion_ok))
        if not score.motion_ok:
            self.confusions[f"{parse_motion(prompt)}->{score.motion}"] += 1

    @property
    def accuracy(self) -> float:
        return float(np.mean(self.ok)) if self.ok else 0.0
