"""Library benchmarks: search latency at scale, ingest rate, provenance cost per image.

1. Search p50/p95 over synthetic records (prompts from the built-in scene grammar) at 100k
   and 1M rows, for a rare term, a very common term (in every prompt), a phrase, a common
   term with a filter, relevance order on the common term, and a filtered list without text.
   Target: p95 <= 50 ms for rare and common terms at 1M. The baseline beside ours is the
   naive query (bm25 rank over every match), which is what makes common terms slow.
2. Ingest: records per second through the full write path (pending note, file, row), with
   provenance off, and bulk row inserts.
3. Provenance: C2PA signing + watermark time per image, as a ratio to the time it takes to
   generate that image (draft and production tier, built-in model).

    python benches/bench_library.py [--rows 100000 1000000] [--skip-provenance] [--quick]

``--quick`` runs every part at toy sizes in seconds (the test suite runs it, so a broken
benchmark fails CI); its figures mean nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from cinedraft_training.scenes import caption_scene, sample_scene  # noqa: E402
from cinedraft.library import Library, records  # noqa: E402
from cinedraft.library.db import connect  # noqa: E402

BATCH = 20_000
QUERIES = {
    "rare term": {"text": "zircon"},
    "common term": {"text": "table OR backdrop"},
    "phrase": {"text": '"glass table"'},
    "common + filter": {"text": "table OR backdrop", "tier": "production"},
    "common, relevance": {"text": "table OR backdrop", "sort": "relevance"},
    "list + filter": {"tier": "production", "model": "builtin"},
}


def synthetic_rows(n: int, start: int, rng: np.random.Generator) -> list[dict]:
    rows = []
    for i in range(start, start + n):
        prompt = caption_scene(sample_scene(rng, held_out=None), rng)
        if i % 100_000 == 7:  # ~10 rows per million carry a rare word
            prompt += ", zircon finish"
        asset_id = f"{i:012x}"
        rows.append(
            {
                "id": asset_id,
                "kind": "image",
                "tier": "production" if i % 5 == 0 else "draft",
                "model": "builtin" if i % 3 else "sdxl-turbo",
                "prompt": prompt,
                "negative_prompt": "",
                "seed": i,
                "created": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z",
                "width": 64,
                "height": 64,
                "mime": "image/webp",
                "path": f"objects/{asset_id[:2]}/{asset_id}.webp",
                "sha256": f"{i:064x}",
                "bytes": 9000,
                "record": {"asset_id": asset_id, "prompt": prompt, "seed": i},
            }
        )
    return rows


def grow(conn, target: int, rng) -> float:
    have = records.count_assets(conn)
    t0 = time.perf_counter()
    while have < target:
        n = min(BATCH, target - have)
        records.insert_many(conn, synthetic_rows(n, have, rng))
        have += n
    conn.execute("INSERT INTO assets_fts (assets_fts) VALUES ('optimize')")
    return time.perf_counter() - t0


def timed(fn, repeats: int = 40) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def naive_common(conn):
    """The baseline: rank every match of a common term by bm25."""
    return conn.execute(
        "SELECT a.* FROM assets_fts f JOIN assets a ON a.seq = f.rowid "
        "WHERE assets_fts MATCH ? ORDER BY f.rank LIMIT 50",
        ("table OR backdrop",),
    ).fetchall()


def bench_search(sizes: list[int]) -> None:
    print("1. search latency (ms), 50 results per query")
    with tempfile.TemporaryDirectory() as tmp:
        conn = connect(Path(tmp) / "library.db")
        rng = np.random.default_rng(0)
        for size in sizes:
            built = grow(conn, size, rng)
            print(
                f"  {size:>9,} rows (built in {built:.0f} s, "
                f"{os.path.getsize(Path(tmp) / 'library.db') / 2**20:.0f} MiB)"
            )
            for name, query in QUERIES.items():
                p50, p95 = timed(lambda q=query: records.find_assets(conn, limit=50, **q))
                print(f"    {name:<18} p50 {p50:7.2f}  p95 {p95:7.2f}")
            p50, p95 = timed(lambda: naive_common(conn), repeats=5)
            print(
                f"    {'baseline: bm25 all':<18} p50 {p50:7.2f}  p95 {p95:7.2f}"
                "  (common term, naive)"
            )


def _pngs(n: int) -> list[bytes]:
    """``n`` distinct small PNGs (the library decodes and measures what it stores)."""
    from io import BytesIO

    from PIL import Image

    rng = np.random.default_rng(2)
    out = []
    for _ in range(n):
        buf = BytesIO()
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(buf, "PNG")
        out.append(buf.getvalue())
    return out


def bench_ingest(n: int = 300, bulk: int = 50_000) -> None:
    print("2. ingest")
    with tempfile.TemporaryDirectory() as tmp:
        library = Library(Path(tmp) / "lib", provenance=False)
        files = _pngs(n)
        t0 = time.perf_counter()
        for i, data in enumerate(files):
            library.add_bytes(
                data, ".png", {"asset_id": library.new_id(), "prompt": f"a red jar {i}"}
            )
        rate = n / (time.perf_counter() - t0)
        print(f"  full write path (metrics, fsynced file + 2 commits): {rate:,.0f} records/s")
        library.close()
        conn = connect(Path(tmp) / "bulk.db")
        t0 = time.perf_counter()
        records.insert_many(conn, synthetic_rows(bulk, 0, np.random.default_rng(1)))
        print(
            f"  bulk rows with full-text index: {bulk / (time.perf_counter() - t0):,.0f} records/s"
        )


def bench_provenance(tiers: tuple[str, ...] = ("draft", "production"), repeats: int = 10) -> None:
    from cinedraft import Engine, ImageRequest, Settings

    print("3. provenance cost per image (built-in model)")
    with tempfile.TemporaryDirectory() as tmp:
        engine = Engine(Settings(home=Path(tmp), offline=True, device="cpu"))
        plain = Library(Path(tmp) / "plain", provenance=False)
        for tier in tiers:
            request = ImageRequest(prompt="a red bottle on a glass table", tier=tier, seed=1)
            engine.render_images(request, lambda *a: None)  # warm up
            t0 = time.perf_counter()
            item = engine.render_images(request, lambda *a: None)[0]
            t_gen = time.perf_counter() - t0
            fmt, quality = item.record.render["format"], item.record.render["quality"]

            def store(library):
                record = item.record.to_dict() | {"asset_id": library.new_id()}
                library.add_image(item.image, record, fmt, quality)

            signed_med, _ = timed(lambda: store(engine.library), repeats=repeats)
            unsigned_med, _ = timed(lambda: store(plain), repeats=repeats)
            extra = (signed_med - unsigned_med) / 1000
            print(
                f"  {tier:<10} {item.image.width}x{item.image.height}: generate {t_gen:.3f} s, "
                f"store {unsigned_med:.1f} ms, +sign+watermark {extra * 1000:.1f} ms "
                f"= {extra / t_gen:.1%} of generation"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-provenance", action="store_true")
    parser.add_argument("--quick", action="store_true", help="Toy sizes, seconds (a smoke run).")
    args = parser.parse_args()
    if args.quick:
        bench_search([2_000])
        bench_ingest(n=10, bulk=1_000)
        if not args.skip_provenance:
            bench_provenance(("draft",), repeats=2)
        return
    bench_search(sorted(args.rows))
    bench_ingest()
    if not args.skip_provenance:
        bench_provenance()


if __name__ == "__main__":
    main()
