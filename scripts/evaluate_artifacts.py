"""Artifacts of the production tier against the draft it was promoted from, enlarged.

For held-out prompts of the image evaluation, a draft is made and promoted through the normal
engine (watermark and all), and ``cinedraft analyze`` compares the two files: the draft is
enlarged to the production size as a screen would. Printed: each artifact metric's mean for
both, and on how many prompts ``analyze`` names an artifact against the production image
(blockiness, noise, colour blotches, specks, halos: its own thresholds).

    python scripts/evaluate_artifacts.py --prompts 16
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cinedraft import Engine, ImageRequest, Settings  # noqa: E402
from cinedraft.quality.compare import analyze_images  # noqa: E402
from cinedraft_training.adherence import held_out_prompts  # noqa: E402

ARTIFACTS = ("blockiness", "ringing", "noise", "chroma_outliers", "speckle", "overshoot")
NAMED = ("compression", "noise", "colour blotches", "specks", "halos")


def against_production(engine: Engine, prompt: str, seed: int) -> dict:
    """Metrics of the enlarged draft and of production, and what analyze holds against the
    production image."""
    draft = engine.generate_image(ImageRequest(prompt=prompt, seed=seed)).outputs[0]
    final = engine.promote(draft.asset_id).outputs[0]
    report = analyze_images([Path(draft.path), Path(final.path)])
    shown = {Path(i["path"]).name: i["display"] for i in report["images"]}
    verdict = report["verdict"][0]
    production_is_clearer = verdict["clearer"] == final.path
    against = verdict["despite"] if production_is_clearer else verdict["reasons"]
    return {
        "draft": shown[Path(draft.path).name],
        "production": shown[Path(final.path).name],
        "against": [a for a in against if a.startswith(NAMED)],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        engine = Engine(Settings(home=Path(home), offline=True))
        rows = [
            against_production(engine, prompt, args.seed + i)
            for i, prompt in enumerate(held_out_prompts(args.prompts, args.seed))
        ]
    print(f"| metric (mean of {len(rows)}) | draft, enlarged | production |")
    print("|---|---|---|")
    for key in ARTIFACTS:
        d, p = (np.mean([r[side][key] for r in rows]) for side in ("draft", "production"))
        print(f"| {key} | {d:.3f} | {p:.3f} |")
    named = Counter(a.split(":")[0] for r in rows for a in r["against"])
    print(
        f"\nprompts where analyze names an artifact against production: "
        f"{sum(bool(r['against']) for r in rows)}/{len(rows)} {dict(named)}"
    )
    for r in rows:
        for a in r["against"]:
            print("  ", a)


if __name__ == "__main__":
    main()
