"""Server benchmarks: queue overhead under 50 concurrent clients, and library API latency.

1. A server process (``cinedraft serve``) and, from this process, 50 clients at once, each
   submitting one draft job (built-in model, one image, distinct seeds) and following it by
   Server-Sent Events to the end. The same 50 requests are then run by calling the engine
   directly, one after the other (the server also runs one model job at a time). Ratio of
   wall times, server / direct: the queue's overhead (target <= 1.10).
2. ``GET /api/assets`` p50/p95 with 100k assets in the library: newest list, a filter, a rare
   and a common full-text term.
3. ``GET /api/health`` p99 while 4 large uploads (6000x6000 PNGs, 36 Mpx each, a few KB on
   the wire) are decoded and measured, side by side with the same server idle (target:
   p99 <= 50 ms under load).

    python benches/bench_server.py [--clients 50] [--rows 100000] [--only N] [--quick]
    (--quick: 2 clients, 2,000 rows, 2 uploads of 1000x1000: a smoke run)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx  # noqa: E402
import numpy as np  # noqa: E402
import uvicorn  # noqa: E402

from benches.bench_library import synthetic_rows  # noqa: E402
from cinedraft import ImageRequest, Settings  # noqa: E402
from cinedraft.library import records  # noqa: E402
from cinedraft.server import create_app  # noqa: E402

PROMPT = "a red bottle on a glass table, studio lighting"


def serve(settings: Settings) -> tuple[str, uvicorn.Server, object]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(settings, max_queued=10_000)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}", server, app


def serve_process(home: Path) -> tuple[str, subprocess.Popen]:
    """``cinedraft serve`` in its own process (as users run it), once it answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "CINEDRAFT_HOME": str(home), "CINEDRAFT_DEVICE": "cpu"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinedraft", "serve", "--port", str(port)],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    while True:
        try:
            httpx.get(f"{base}/api/health", timeout=1)
            return base, proc
        except httpx.HTTPError:
            time.sleep(0.2)


async def client(base: str, seed: int) -> str:
    async with httpx.AsyncClient(timeout=600) as http:
        job = (
            await http.post(f"{base}/api/jobs/generate", json={"prompt": PROMPT, "seed": seed})
        ).json()
        async with http.stream("GET", f"{base}/api/jobs/{job['id']}/events") as stream:
            async for line in stream.aiter_lines():
                if line.startswith("data: ") and '"state": "done"' in line:
                    return json.loads(line[6:])["state"]
                if line.startswith("data: ") and (
                    '"state": "failed"' in line or '"state": "cancelled"' in line
                ):
                    return "failed"
    return "lost"


def bench_queue(clients: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base, proc = serve_process(Path(tmp) / "server")
        try:
            asyncio.run(client(base, 10_000))  # the first job loads the model
            t0 = time.perf_counter()
            states = asyncio.run(_all(base, clients))
            t_server = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait()
        from cinedraft import Engine

        engine = Engine(Settings(home=Path(tmp) / "direct", offline=True, device="cpu"))
        engine.generate_image(ImageRequest(prompt=PROMPT, seed=10_000))  # same warm-up
        t0 = time.perf_counter()
        for seed in range(clients):
            engine.generate_image(ImageRequest(prompt=PROMPT, seed=seed))
        t_direct = time.perf_counter() - t0
    done = states.count("done")
    print(
        f"1. {clients} concurrent clients: {done}/{clients} jobs done; server {t_server:.2f} s, "
        f"engine direct {t_direct:.2f} s; overhead ratio {t_server / t_direct:.3f} (target <= 1.10)"
    )


async def _all(base: str, clients: int) -> list[str]:
    return await asyncio.gather(*(client(base, seed) for seed in range(clients)))


def bench_listing(rows: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(home=Path(tmp), offline=True, device="cpu")
        base, server, app = serve(settings)
        rng = np.random.default_rng(0)
        conn = app.state.library.conn
        for start in range(0, rows, 20_000):
            records.insert_many(conn, synthetic_rows(min(20_000, rows - start), start, rng))
        print(f"2. GET /api/assets with {rows:,} assets (ms, 50 results)")
        with httpx.Client(base_url=base) as http:
            for name, params in {
                "newest": {},
                "filter tier": {"tier": "production"},
                "rare term": {"text": "zircon"},
                "common term": {"text": "table OR backdrop"},
                "common + filter": {"text": "table", "tier": "draft"},
            }.items():
                times = []
                for _ in range(60):
                    t0 = time.perf_counter()
                    assert http.get("/api/assets", params=params).status_code == 200
                    times.append((time.perf_counter() - t0) * 1000)
                times.sort()
                print(
                    f"   {name:<16} p50 {statistics.median(times):6.2f}"
                    f"  p95 {times[int(0.95 * 59)]:6.2f}"
                )
        server.should_exit = True


def _health_times(http: httpx.Client, until, least: int) -> list[float]:
    times = []
    while until() or len(times) < least:
        t0 = time.perf_counter()
        assert http.get("/api/health").status_code == 200
        times.append((time.perf_counter() - t0) * 1000)
        time.sleep(0.02)
    return sorted(times)


def _p99(times: list[float]) -> float:
    return times[min(len(times) - 1, int(0.99 * len(times)))]


def bench_health_under_uploads(uploads: int = 4, side: int = 6000) -> None:
    from io import BytesIO

    from PIL import Image

    bodies = []
    for k in range(uploads):  # distinct files (the library refuses a duplicate at once)
        image = Image.new("L", (side, side))
        image.putpixel((k, 0), 255)
        buf = BytesIO()
        image.save(buf, "PNG")
        bodies.append(buf.getvalue())
    with tempfile.TemporaryDirectory() as tmp:
        base, proc = serve_process(Path(tmp))
        try:
            with httpx.Client(base_url=base, timeout=600) as http:
                idle = _health_times(http, lambda: False, 200)
                statuses = []

                def upload(body: bytes) -> None:
                    with httpx.Client(base_url=base, timeout=600) as own:
                        statuses.append(
                            own.post(
                                "/api/uploads", files={"file": ("big.png", body, "image/png")}
                            ).status_code
                        )

                threads = [threading.Thread(target=upload, args=(b,)) for b in bodies]
                t0 = time.perf_counter()
                for t in threads:
                    t.start()
                busy = _health_times(http, lambda: any(t.is_alive() for t in threads), 20)
                for t in threads:
                    t.join()
                seconds = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait()
    print(
        f"3. GET /api/health while {uploads} uploads of {side}x{side} PNGs are processed "
        f"({seconds:.1f} s, statuses {sorted(statuses)}):"
    )
    print(
        f"   idle     p50 {statistics.median(idle):6.2f} ms  p99 {_p99(idle):6.2f} ms"
        f"  ({len(idle)} requests)"
    )
    print(
        f"   uploads  p50 {statistics.median(busy):6.2f} ms  p99 {_p99(busy):6.2f} ms"
        f"  ({len(busy)} requests); "
        f"p99 ratio {_p99(busy) / _p99(idle):.2f}; target p99 <= 50 ms: "
        f"{'met' if _p99(busy) <= 50 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--only", type=int, choices=(1, 2, 3), help="Run one benchmark.")
    parser.add_argument("--quick", action="store_true", help="Toy sizes, seconds (a smoke run).")
    args = parser.parse_args()
    if args.quick:
        bench_queue(2)
        bench_listing(2_000)
        bench_health_under_uploads(uploads=2, side=1000)
        return
    if args.only in (None, 1):
        bench_queue(args.clients)
    if args.only in (None, 2):
        bench_listing(args.rows)
    if args.only in (None, 3):
        bench_health_under_uploads()


if __name__ == "__main__":
    main()
