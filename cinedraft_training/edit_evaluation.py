"""The built-in edit model's held-out evaluation (``scripts/evaluate_builtin_edit.py`` and
the tests' floors): held-out edits through ``Engine.edit``, scored by ``edits``' scorers."""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from cinedraft import Engine, Settings
from cinedraft.quality.metrics import masked_ssim
from cinedraft.request import EditRequest

from .adherence import classify_colour
from .edits import KINDS, changed_as_asked, render_pair, sample_edit, untouched_region
from .scenes import caption_scene

SEED = 4321  # the seed of every published figure


def evaluate(model: Path, n: int, seed: int = SEED, kinds: tuple[str, ...] = KINDS) -> dict:
    """Figures over ``n`` held-out edits of ``kinds`` (all by default)."""
    rng = np.random.default_rng(seed)
    done: dict[str, list[bool]] = {k: [] for k in KINDS}
    same: dict[str, list[bool]] = {k: [] for k in KINDS}  # the object kept its colour
    kept: dict[str, list[float]] = {k: [] for k in KINDS}
    routes: dict[str, set[str]] = {k: set() for k in KINDS}  # instruct, or move: no model
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True, device="cpu", provenance=False))
        for i in range(n):
            edit = sample_edit(rng, held_out_only=True)
            while edit.kind not in kinds:
                edit = sample_edit(rng, held_out_only=True)
            before, _, _ = render_pair(edit)
            source = Path(home) / f"source-{i}.png"
            Image.fromarray(before).save(source)
            result = engine.edit(
                EditRequest(
                    source=str(source),
                    operation="refine",
                    instruction=edit.instruction,
                    model=str(model),
                    seed=i,
                )
            )
            with Image.open(result.output.path) as im:
                after = np.asarray(im.convert("RGB"))
            done[edit.kind].append(changed_as_asked(edit, after))
            routes[edit.kind].add(result.route)
            if edit.kind != "colour":
                caption = caption_scene(edit.after, full=True)
                same[edit.kind].append(classify_colour(after, caption) == edit.before.colour)
            region = untouched_region(edit)
            if region is not None:
                kept[edit.kind].append(masked_ssim(after, before, region))
        engine.library.close()
    done = {k: v for k, v in done.items() if k in kinds}
    every = [x for v in done.values() for x in v]
    kept_colour = [x for v in same.values() for x in v]
    ssims = [x for v in kept.values() for x in v]
    return {
        "held_out_edits": n,
        "seed": seed,
        "did_what_was_asked": round(sum(every) / len(every), 3),
        "untouched_ssim_mean": round(statistics.mean(ssims), 3) if ssims else None,
        "untouched_ssim_p10": round(float(np.percentile(ssims, 10)), 3) if ssims else None,
        # the object's colour where the change was not its colour: is it the same object?
        "object_colour_kept": (
            round(sum(kept_colour) / len(kept_colour), 3) if kept_colour else None
        ),
        "per_kind": {
            k: {
                "edits": len(done[k]),
                "did_what_was_asked": round(sum(done[k]) / len(done[k]), 3) if done[k] else None,
                "untouched_ssim_mean": round(statistics.mean(kept[k]), 3) if kept[k] else None,
                "object_colour_kept": (round(sum(same[k]) / len(same[k]), 3) if same[k] else None),
                "routes": sorted(routes[k]),
            }
            for k in kinds
        },
        "targets": TARGETS,
    }


TARGETS = {"did_what_was_asked": 0.80, "untouched_ssim_mean": 0.85, "object_colour_kept": 0.80}


def model_kinds(figures: dict, accepted: list[str]) -> list[str]:
    """Of the ``accepted`` kinds, those the edit model itself does (not a model-free route
    such as ``move``): what its ``cinedraft.json`` lists."""
    return [k for k in accepted if "instruct" in figures["per_kind"][k]["routes"]]


def accepted_kinds(figures: dict) -> list[str]:
    """The kinds of change whose held-out figures clear every target that applies to them:
    the only ones the shipped model is allowed to take (a figure a kind has none of, such
    as the untouched region of a relighting, does not apply)."""
    return [
        kind
        for kind, f in figures["per_kind"].items()
        if all(f.get(name) is None or f[name] >= floor for name, floor in TARGETS.items())
    ]
