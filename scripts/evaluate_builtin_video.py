"""Measure the built-in video model on clips it was never trained on.

Prompts name held-out motion/object pairs (``motions.HELD_OUT_MOTIONS``), so no training clip
showed that object making that motion. Each prompt is generated through the normal engine
(one chunk, delivered at the model's own 64x64 and 8 fps, H.264) and the decoded clip is
scored by ``cinedraft_training.adherence.score_clip``. Also measured, through the engine:

* text to video: motion accuracy, colour accuracy of the first frame, and for slides whether
  the object travelled the asked way or towards the middle from where it started;
* scene_only (a control, run only when asked for): the same clips drawn from the scene's
  caption without its motion phrase and scored against the full prompt; set beside text's
  figures, it shows what the motion words change;
* unplaced (a control, run only when asked for): the same clips drawn from the full prompt
  without its position word and scored against the full prompt; a slide's direction word is
  then the prompt's only side word;
* image to video: SSIM of the delivered first frame against the given image;
* subject kept (text, image and extension): the last frame still shows the first frame's
  object, its colour, kind and one piece (``adherence.subject_identity``). The engine holds
  the subject itself (``quality.subject``: a chunk that loses it is drawn again, up to the
  request's retries); ``--model-alone`` turns that off to measure the model's first draws.
  Also printed: draws per clip, and how often the engine's own check agreed with this one;
* delivery crop (text): the share of the object's pixels, over the whole clip, that a crop
  to 16:9 and to 9:16 keeps in view, centred and placed where delivery places it
  (``render.salience.crop_anchor``; ``adherence.subject_in_crop``);
* image to video from the scene's true (rendered) first frame: motion accuracy alone;
* word_swap (a control, run only when asked for): each slide from a true first frame with the
  object moved to the middle of the frame, drawn once with its prompt and once with the mirror
  direction; the share of slides that travel the asked way both times (a model that ignores
  the direction word travels the same way twice, so it scores 0);
* extension: each seam's warp error against the within-chunk average (target <= 1.5x);
* continuation of a delivered file (the editor's ``extend``, square-social 1080x1080 at
  30 fps, prompted with the motion phrase only): the seam's warp error in the joined file
  against the frame pairs around it (target <= 1.5x).

    python scripts/evaluate_builtin_video.py --prompts 42 --write   # updates evaluation.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from cinedraft import Engine, ImageRequest, Settings, VideoRequest  # noqa: E402
from cinedraft.builtin import VIDEO_MODEL  # noqa: E402
from cinedraft_training.adherence import (  # noqa: E402
    score_clip,
    score_image,
    slide_travel,
    subject_identity,
    subject_in_crop,
)
from cinedraft_training.evaluation import (  # noqa: E402
    SEED,
    MotionTally,
    first_frame_file,
    held_out_clips,
    draw_clip,
    one_chunk,
    word_swaps,
)
from cinedraft_training.motions import SLIDES, caption_clip, parse_motion  # noqa: E402
from cinedraft_training.scenes import caption_scene  # noqa: E402
from cinedraft.editor import Editor  # noqa: E402
from cinedraft.quality.metrics import drift_ssim  # noqa: E402
from cinedraft.render.salience import CENTRE, crop_anchor  # noqa: E402


MODES = (
    "text",
    "scene_only",
    "unplaced",
    "rendered_start",
    "word_swap",
    "image",
    "extension",
    "continuation",
)


CROPS = {"16:9": 16 / 9, "9:16": 9 / 16}  # delivery aspects of the square model's frames


def rounded_mean(values, places: int = 4) -> float | None:
    """The mean of ``values`` (for flags, the share that are true), rounded; None for none."""
    return round(float(np.mean(values)), places) if len(values) else None


class EngineHold:
    """The engine's own subject check (the clip's record) beside the evaluation's."""

    def __init__(self) -> None:
        self.draws: list[int] = []
        self.agree: list[bool] = []

    def add(self, record: dict, kept: bool) -> None:
        checks = record.get("subject") or []
        # the first chunk is drawn again only for its subject; the others for a seam too
        seams = [seam["attempts"] for seam in record["seams"]]
        self.draws.append(sum(c["attempts"] for c in checks) if checks else 1 + sum(seams))
        if checks:
            self.agree.append(all(c["kept"] for c in checks) == kept)

    def summary(self, hold: bool) -> dict:
        return {
            "subject_held_by_engine": hold,
            # pipeline calls per clip (1 per chunk when nothing was drawn again)
            "draws_per_clip": rounded_mean(self.draws, 3),
            # clips where the engine's check (quality.subject) and subject_identity agree
            "engine_check_agrees": rounded_mean(self.agree),
        }


def evaluate_text(
    engine: Engine,
    prompts: list[str],
    seed: int,
    model: str,
    drawn: list[str] | None = None,
    mode: str = "text",
    hold: bool = True,
) -> dict:
    """Text to video, each clip scored against its prompt. ``drawn``: the prompts the clips
    are drawn from when not ``prompts`` themselves (the scene_only and unplaced controls)."""
    tally, at_prompt_place, colour_ok, kept, held = MotionTally(), [], [], [], EngineHold()
    in_crop = {(aspect, how): [] for aspect in CROPS for how in ("centred", "followed")}
    slides = []  # (travelled as asked, travelled towards the middle from where it started)
    started = time.perf_counter()
    for i, (prompt, drawn_from) in enumerate(zip(prompts, drawn or prompts)):
        frames, record = draw_clip(engine, model, drawn_from, seed + i, hold_subject=hold)
        tally.add(frames, prompt)
        at_prompt_place.append(score_clip(frames, prompt, from_first_frame=False).motion_ok)
        colour_ok.append(score_image(Image.fromarray(frames[0]), prompt).colour_ok)
        kept.append(subject_identity(frames, prompt).kept)
        held.add(record, kept[-1])
        for aspect, ratio in CROPS.items():
            followed = crop_anchor(list(frames), ratio)
            in_crop[aspect, "centred"].append(subject_in_crop(frames, CENTRE, ratio))
            in_crop[aspect, "followed"].append(subject_in_crop(frames, followed, ratio))
        if (asked := parse_motion(prompt)) in SLIDES:
            start, travel = slide_travel(frames)
            slides.append(((travel > 0) == (asked == "slide_right"), (travel > 0) == (start < 0.5)))
    return {
        "mode": mode,
        "prompts": len(prompts),
        "motion_accuracy": round(tally.accuracy, 4),
        # per prompt, in order (1: moved as asked), to compare runs prompt by prompt
        "motion_verdicts": "".join("1" if ok else "0" for ok in tally.ok),
        # the scorer rendering each motion only from where the prompt puts the object
        "motion_accuracy_from_prompt_place": rounded_mean(at_prompt_place),
        "first_frame_colour_accuracy": rounded_mean(colour_ok),
        # the last frame still shows the first frame's object (adherence.subject_identity)
        "subject_kept": rounded_mean(kept),
        **held.summary(hold),
        # the object's share a delivery crop keeps in view: mean, and the share of clips
        # that keep at least 90 % of it, with the crop centred or following the subject
        "delivery_crop": {
            f"{aspect} {how}": {
                "mean": rounded_mean(shares, 3),
                "clips_keeping_90": rounded_mean(np.array(shares) >= 0.9, 3),
            }
            for (aspect, how), shares in in_crop.items()
        },
        # slides only: the object's travel (adherence.slide_travel) went the asked way, and
        # went towards the frame's middle from where the object started (a model that reads
        # the direction from the object's place, not from the prompt, scores high here)
        "slides": len(slides),
        "slide_travel_as_asked": rounded_mean([asked for asked, _ in slides]),
        "slide_travel_towards_middle": rounded_mean([middle for _, middle in slides]),
        "seconds_per_clip": round((time.perf_counter() - started) / len(prompts), 3),
        "motion_confusions": dict(tally.confusions.most_common(8)),
    }


def evaluate_image(
    engine: Engine, prompts: list[str], seed: int, model: str, hold: bool = True
) -> dict:
    """A draft image of the scene, then the motion from it; first-frame SSIM and motion."""
    ssims, motion_ok, kept, held = [], [], [], EngineHold()
    for i, prompt in enumerate(prompts):
        scene_words = prompt.split(",")[0]
        image = engine.generate_image(ImageRequest(prompt=scene_words, seed=seed + i)).outputs[0]
        frames, record = draw_clip(
            engine, model, prompt, seed + i, image=image.asset_id, hold_subject=hold
        )
        with Image.open(image.path) as given:
            ssims.append(drift_ssim(given.convert("RGB"), Image.fromarray(frames[0])))
        motion_ok.append(score_clip(frames, prompt).motion_ok)
        kept.append(subject_identity(frames, prompt).kept)
        held.add(record, kept[-1])
    return {
        "mode": "image",
        "prompts": len(prompts),
        "first_frame_ssim_mean": rounded_mean(ssims),
        "first_frame_ssim_min": round(float(np.min(ssims)), 4),
        "motion_accuracy": rounded_mean(motion_ok),
        "subject_kept": rounded_mean(kept),
        **held.summary(hold),
    }


def evaluate_rendered_start(
    engine: Engine, clips: list[tuple], seed: int, model: str, folder: Path
) -> dict:
    """Image to video from the scene's true first frame (rendered, not drawn): motion alone,
    free of the first-frame drawing's colour and place errors."""
    tally = MotionTally()
    for i, (scene, motion) in enumerate(clips):
        prompt = caption_clip(scene, motion, full=True)
        start = first_frame_file(scene, motion, folder / f"start-{i}.png")
        tally.add(one_chunk(engine, model, prompt, seed + i, image=start), prompt)
    return {
        "mode": "rendered_start",
        "prompts": len(clips),
        "motion_accuracy": round(tally.accuracy, 4),
        "motion_confusions": dict(tally.confusions.most_common(8)),
    }


def evaluate_word_swap(
    engine: Engine, clips: list[tuple], seed: int, model: str, folder: Path
) -> dict:
    """Each held-out slide through ``evaluation.word_swaps``: from a true first frame in the
    middle, does the object's travel follow the direction word both times?"""
    both, gaps = word_swaps(engine, model, clips, seed, folder)
    return {
        "mode": "word_swap",
        "slides": len(both),
        "both_as_asked": rounded_mean(both),
        "travel_gap_mean": rounded_mean(gaps),
    }


def evaluate_extension(
    engine: Engine, prompts: list[str], seed: int, model: str, hold: bool = True
) -> dict:
    """Three-chunk clips: each seam's warp error over the within-chunk average."""
    ratios, attempts, kept, held = [], [], [], EngineHold()
    for i, prompt in enumerate(prompts):
        frames, record = draw_clip(engine, model, prompt, seed + i, seconds=2.5, hold_subject=hold)
        ratios += [s["ratio"] for s in record["seams"] if s["ratio"] is not None]
        attempts += [s["attempts"] for s in record["seams"]]
        kept.append(subject_identity(frames, prompt).kept)
        held.add(record, kept[-1])
    return {
        "mode": "extension",
        "prompts": len(prompts),
        "seams": len(ratios),
        "seam_ratio_mean": rounded_mean(ratios),
        "seam_ratio_max": round(float(np.max(ratios)), 4),
        "seams_within_1_5x": rounded_mean(np.array(ratios) <= 1.5),
        "attempts_mean": rounded_mean(attempts, 3),
        "subject_kept": rounded_mean(kept),  # first frame to the last of the whole clip
        **held.summary(hold),
    }


def evaluate_continuation(engine: Engine, prompts: list[str], seed: int, model: str) -> dict:
    """A 1 s delivered clip, continued by 1 s from its file through the editor."""
    ratios = []
    editor = Editor(
        engine.library,
        generate_continuation=lambda path, seconds, prompt, before: engine.video.continue_clip(
            path, seconds, prompt, before, model, seed=seed
        ),
    )
    for i, prompt in enumerate(prompts):
        clip = engine.video.generate(
            VideoRequest(
                prompt=prompt, seconds=1.0, preset="square-social", seed=seed + i, model=model
            ),
            model,
        )
        joined = editor.extend(clip.asset_id, 1.0, prompt.split(",")[-1].strip())
        ratios.append(joined.record["edit"]["seams"][0]["ratio"])
    return {
        "mode": "continuation",
        "prompts": len(prompts),
        "seam_ratios": ratios,
        "seams_within_1_5x": rounded_mean(np.array(ratios) <= 1.5),
    }


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--prompts", type=int, default=42)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--model", default="builtin", help="video model to evaluate (a folder)")
    ap.add_argument(
        "--modes",
        default="text,rendered_start,image,extension,continuation",
        help=f"which measurements, comma-separated, of: {', '.join(MODES)}",
    )
    ap.add_argument(
        "--seen-pairs",
        action="store_true",
        help="prompts of motion/object pairs the training clips show (a control; never written)",
    )
    ap.add_argument(
        "--model-alone",
        action="store_true",
        help="the model's first draws: the engine never draws a chunk again for a lost subject",
    )
    ap.add_argument("--write", action="store_true", help="save evaluation.json in the model")
    args = ap.parse_args()
    modes = args.modes.split(",")
    if unknown := [mode for mode in modes if mode not in MODES]:
        ap.error(f"unknown mode(s) {', '.join(unknown)}; known: {', '.join(MODES)}")
    if args.seen_pairs and args.write:
        ap.error("--seen-pairs is a control: evaluation.json holds held-out pairs only")
    hold = not args.model_alone
    clips = held_out_clips(args.prompts, args.seed, held_out=not args.seen_pairs)
    prompts = [caption_clip(*clip, full=True) for clip in clips]
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True, provenance=False))
        runs = {
            "text": lambda: evaluate_text(engine, prompts, args.seed, args.model, hold=hold),
            # a control: the same clips drawn without the motion phrase (see the docstring)
            "scene_only": lambda: evaluate_text(
                engine,
                prompts,
                args.seed,
                args.model,
                mode="scene_only",
                drawn=[caption_scene(scene, full=True) for scene, _ in clips],
            ),
            "unplaced": lambda: evaluate_text(
                engine,
                prompts,
                args.seed,
                args.model,
                mode="unplaced",
                drawn=[caption_clip(*clip, full=True, place=False) for clip in clips],
            ),
            "rendered_start": lambda: evaluate_rendered_start(
                engine, clips, args.seed, args.model, Path(home)
            ),
            "word_swap": lambda: evaluate_word_swap(
                engine, clips, args.seed, args.model, Path(home)
            ),
            "image": lambda: evaluate_image(
                engine, prompts[: max(4, args.prompts // 3)], args.seed, args.model, hold
            ),
            "extension": lambda: evaluate_extension(
                engine, prompts[: max(2, args.prompts // 6)], args.seed, args.model, hold
            ),
            "continuation": lambda: evaluate_continuation(
                engine, prompts[: max(2, args.prompts // 6)], args.seed, args.model
            ),
        }
        results = [runs[mode]() for mode in modes]
    report = {"held_out_motion_pairs": not args.seen_pairs, "seed": args.seed, "results": results}
    print(json.dumps(report, indent=2))
    if args.write:
        folder = VIDEO_MODEL if args.model == "builtin" else Path(args.model)
        (folder / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
