"""The catalogue's cut-out against the built-in world's true masks: IoU over 48 packshots
(every object and colour, studio/warm/cool light, left/centre/right, small and large), at
256 and 512 px. The figures in docs/catalogue.md come from this script.

    python scripts/evaluate_cutout.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cinedraft.render.cutout import cut_out  # noqa: E402
from cinedraft_training.scenes import COLOURS, OBJECTS, Scene, render_scene  # noqa: E402

LIGHTINGS = ("studio", "warm", "cool")
POSITIONS = ("left", "center", "right")


def packshots(size: int):
    for i in range(48):
        rng = np.random.default_rng(100 + i)
        scene = Scene(
            OBJECTS[i % len(OBJECTS)],
            list(COLOURS)[(i // 6) % len(COLOURS)],
            "plain",
            LIGHTINGS[i % 3],
            position=POSITIONS[(i // 3) % 3],
            size=("small", "large")[(i // 2) % 2],
            tone=float(rng.uniform(-1, 1)),
        )
        image, cover = render_scene(scene, size, rng)
        yield scene, Image.fromarray(image), cover > 0.5


def main() -> None:
    for size in (256, 512):
        ious = []
        for scene, image, truth in packshots(size):
            found = cut_out(image).alpha > 0.5
            ious.append(float((found & truth).sum() / (found | truth).sum()))
            if ious[-1] < 0.95:
                print(
                    f"  {size} px {scene.colour} {scene.object} ({scene.lighting}): {ious[-1]:.3f}"
                )
        print(f"{size} px: IoU mean {np.mean(ious):.3f}, lowest {min(ious):.3f}, "
              f"{np.mean(np.array(ious) >= 0.9):.0%} at least 0.9")  # fmt: skip


if __name__ == "__main__":
    main()
