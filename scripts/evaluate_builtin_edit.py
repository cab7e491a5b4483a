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

Each edit goes the way ``refine`` sends it: a move ("move it to the left") is a composite
without a model (``cinedraft.render.relocate``), the rest go to the model; each kind's
figures name the routes it took.

``--write`` stores the figures in the model's ``evaluation.json`` (the model card quotes it)
and lets the model take only the kinds of change whose held-out figures meet every target:
its ``cinedraft.json`` lists their phrasings (a move's are not its), and cinedraft refuses
any other instruction.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cinedraft.builtin import EDIT_MODEL  # noqa: E402
from cinedraft_training.edit_evaluation import accepted_kinds, evaluate, model_kinds  # noqa: E402
from cinedraft_training.edits import understood  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--model", type=Path, default=EDIT_MODEL)
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args()
    marker = args.model / "cinedraft.json"
    if args.write:  # every kind it was trained on, for the evaluation; then the accepted ones
        taught = {"family": "builtin-edit", "understands": understood()}
        marker.write_text(json.dumps(taught, indent=1) + "\n")
    figures = evaluate(args.model, args.n)
    print(json.dumps(figures, indent=2))
    if args.write:
        accepted = accepted_kinds(figures)
        figures["accepted_kinds"] = accepted
        if accepted:  # the route as it ships: only those kinds, a draw of their own
            figures["accepted"] = evaluate(args.model, args.n // 2, kinds=tuple(accepted))
        (args.model / "evaluation.json").write_text(json.dumps(figures, indent=2) + "\n")
        # a move never reaches the model (refine routes it without one): not the model's
        taught = model_kinds(figures, accepted)
        accepting = {"family": "builtin-edit", "understands": understood(taught)}
        marker.write_text(json.dumps(accepting, indent=1) + "\n")
        print(f"accepted kinds (every target met on held-out edits): {accepted}")


if __name__ == "__main__":
    main()
