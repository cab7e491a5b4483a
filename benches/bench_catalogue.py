"""Catalogue benchmarks, baseline and ours in one run.

1. Time per image of a catalogue on the built-in model: ``cinedraft catalogue`` on N SKUs
   (no packshots; 2 drafts each, the best promoted, aspects 1:1, 9:16, 16:9) against the
   same engine calls in a plain loop (the baseline: what a script calling ``generate``,
   ``promote`` and ``outpaint`` per SKU would do, with no ranking, manifest, thumbnails or
   contact sheet). Each in a fresh library; the engine (and so the model) is loaded before
   either is timed. Target <= 1.10x.
2. Resuming the finished catalogue: the same command again in a fresh process' worth of
   objects (library, catalogue; the engine never built). Target: under 1 s for 20 SKUs,
   nothing made.

    python benches/bench_catalogue.py [--quick]   (--quick: 3 SKUs: a smoke run)
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cinedraft import Engine, ImageRequest, Settings  # noqa: E402
from cinedraft.catalogue import Catalogue, read_sheet  # noqa: E402
from cinedraft.library import Library  # noqa: E402
from cinedraft.request import EditRequest  # noqa: E402

OBJECTS = ("bottle", "jar", "tube", "box", "ball", "cup")
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "black")
SURFACES = ("wooden", "marble", "glass")
ASPECTS = ("1:1", "9:16", "16:9")
SCENES = 2


def _products(folder: Path, count: int) -> Path:
    lines = ["sku,name,prompt,scenes,aspects"]
    for i in range(count):
        obj, colour = OBJECTS[i % len(OBJECTS)], COLOURS[i % len(COLOURS)]
        prompt = f"a {colour} {obj} on a {SURFACES[i % 3]} table"
        lines.append(f'S-{i:03d},{obj},{prompt},{SCENES},"{",".join(ASPECTS)}"')
    path = folder / "products.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _loop(engine: Engine, products: list) -> int:
    """The baseline: the same images, one engine call after another."""
    images = 0
    for p in products:
        drafts = engine.generate_image(
            ImageRequest(prompt=p.prompt, seed=0, count=p.scenes)
        ).outputs
        hero = engine.promote(drafts[0].asset_id).outputs[0]
        images += len(drafts) + 1
        for aspect in p.aspects[1:]:
            engine.edit(EditRequest(source=hero.asset_id, operation="outpaint", aspect=aspect,
                                    prompt=p.prompt, seed=0))  # fmt: skip
            images += 1
    return images


def main(quick: bool) -> None:
    count = 3 if quick else 20
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        sheet = read_sheet(_products(tmp, count))
        # the baseline, in its own library
        base = Engine(Settings(home=tmp / "base", offline=True, device="cpu"))
        base.generate_image(ImageRequest(prompt="warm up", seed=0))
        t0 = time.perf_counter()
        images = _loop(base, sheet.products)
        loop = time.perf_counter() - t0
        base.library.close()
        # ours, in another
        engine = Engine(Settings(home=tmp / "ours", offline=True, device="cpu"))
        engine.generate_image(ImageRequest(prompt="warm up", seed=0))
        t0 = time.perf_counter()
        Catalogue(engine.library, lambda: engine, tmp / "out").run(sheet)
        ours = time.perf_counter() - t0
        library_root = engine.library.root
        engine.library.close()
        print(f"1. catalogue of {count} SKUs, {images} images (built-in model, no packshots)")
        print(f"   engine calls in a loop (baseline): {loop / images * 1000:.0f} ms per image")
        print(f"   cinedraft catalogue: {ours / images * 1000:.0f} ms per image")
        print(f"   ours/baseline = {ours / loop:.3f} (target <= 1.10)")
        # resume: a new library object and catalogue, no engine
        t0 = time.perf_counter()
        library = Library(library_root)

        def no_engine():
            raise AssertionError("a finished catalogue must not need the model")

        report = Catalogue(library, no_engine, tmp / "out").run(read_sheet(tmp / "products.csv"))
        resume = time.perf_counter() - t0
        library.close()
        made = sum(s.made for s in report.skus)
        print(f"2. resume the finished catalogue of {count} SKUs: {resume:.3f} s, {made} made")
        print(
            f"   target: under 1 s for 20 SKUs, nothing made ({'met' if made == 0 else 'NOT met'})"
        )


if __name__ == "__main__":
    main("--quick" in sys.argv)
