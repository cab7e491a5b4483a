"""Held-out figures of the built-in edit model, through the same path as `cinedraft refine`.

Each held-out edit (``cinedraft_training.edits``: a change of colour, kind, place, surface
or lighting whose (change, value, object) no training pair showed) starts from the true
render of its scene, goes through ``Engine.edit`` as an instruction, and is scored:

- **did what was asked**: the changed attribute, read back from the output by analysis by
  synthesis (``edits.changed_as_asked``: 100 % on the true after-renders, 0 % on the
  unchanged before-renders, checked in the tests);
- **kept the rest**: SSIM of the output against the source outside the object in both
  scenes (2 px margin), and for a surface change also above the table's edge
  (``edits.untouched_region``); a lighting change relights everything and has no such
  region.

    python scripts/evaluate_builtin_edit.py [--n 120] [--model FOLDER] [--write]

``--write`` stores the figures in the model's ``evaluation.json`` (the model card quotes it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from cinedraft import Engine, Settings  # noqa: E402
from cinedraft.builtin import EDIT_MODEL  # noqa: E402
from cinedraft.quality.metrics import masked_ssim  # noqa: E402
from cinedraft.request import EditRequest  # noqa: E402
from cinedraft_training.edits import (  # noqa: E402
    KINDS,
    changed_as_asked,
    render_pair,
    sample_edit,
    untouched_region,
)

SEED = 4321  # the seed of every published figure


def evaluate(model: Path, n: int, seed: int = SEED) -> dict:
    rng = np.random.default_rng(seed)
    done: dict[str, list[bool]] = {k: [] for k in KINDS}
    kept: dict[str, list[float]] = {k: [] for k in KINDS}
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True, device="cpu", provenance=False))
        for i in range(n):
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
            region = untouched_region(edit)
            if region is not None:
                kept[edit.kind].append(masked_ssim(after, before, region))
        engine.library.close()
    every = [x for v in done.values() for x in v]
    ssims = [x for v in kept.values() for x in v]
    return {
        "held_out_edits": n,
        "seed": seed,
        "did_what_was_asked": round(sum(every) / len(every), 3),
        "untouched_ssim_mean": round(statistics.mean(ssims), 3),
        "untouched_ssim_p10": round(float(np.percentile(ssims, 10)), 3),
        "per_kind": {
            k: {
                "edits": len(done[k]),
                "did_what_was_asked": round(sum(done[k]) / len(done[k]), 3) if done[k] else None,
                "untouched_ssim_mean": round(statistics.mean(kept[k]), 3) if kept[k] else None,
            }
            for k in KINDS
        },
        "targets": {"did_what_was_asked": 0.80, "untouched_ssim_mean": 0.85},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--model", type=Path, default=EDIT_MODEL)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    figures = evaluate(args.model, args.n)
    print(json.dumps(figures, indent=2))
    if args.write:
        (args.model / "evaluation.json").write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
