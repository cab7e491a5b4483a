"""Measure the built-in model's prompt adherence on prompts it was never trained on.

Prompts name held-out colour/object pairs (``scenes.HELD_OUT_PAIRS``), so no training caption
matched them verbatim. Each is generated at the draft and the production tier through the
normal engine, and scored by ``cinedraft_training.adherence`` (colour and position).

    python scripts/evaluate_builtin.py --prompts 64 --write    # updates evaluation.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np
from PIL import Image

from cinedraft import Engine, ImageRequest, Settings  # noqa: E402
from cinedraft.builtin import IMAGE_MODEL  # noqa: E402
from cinedraft_training.adherence import held_out_prompts, score_image  # noqa: E402
from cinedraft_training.scenes import parse_prompt  # noqa: E402


def evaluate(engine: Engine, prompts: list[str], tier: str, seed: int, model: str) -> dict:
    colour, position, confusions = [], [], Counter()
    started = time.perf_counter()
    for i, prompt in enumerate(prompts):
        out = engine.generate_image(
            ImageRequest(prompt=prompt, tier=tier, seed=seed + i, model=model)
        ).outputs[0]
        with Image.open(out.path) as im:
            s = score_image(im.convert("RGB"), prompt)
        colour.append(s.colour_ok)
        position.append(s.position_ok)
        if not s.colour_ok:
            confusions[f"{parse_prompt(prompt)['colour']}->{s.colour}"] += 1
    return {
        "tier": tier,
        "prompts": len(prompts),
        "colour_accuracy": round(float(np.mean(colour)), 4),
        "position_accuracy": round(float(np.mean(position)), 4),
        "seconds_per_image": round((time.perf_counter() - started) / len(prompts), 3),
        "colour_confusions": dict(confusions.most_common(8)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--tiers", default="draft,production")
    ap.add_argument("--model", default="builtin", help="model to evaluate (a folder)")
    ap.add_argument("--write", action="store_true", help="save evaluation.json in the model")
    args = ap.parse_args()
    prompts = held_out_prompts(args.prompts, args.seed)
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True))
        results = [
            evaluate(engine, prompts, t, args.seed, args.model) for t in args.tiers.split(",")
        ]
    report = {"held_out_pairs": True, "seed": args.seed, "results": results}
    print(json.dumps(report, indent=2))
    if args.write:
        folder = IMAGE_MODEL if args.model == "builtin" else Path(args.model)
        (folder / "evaluation.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
