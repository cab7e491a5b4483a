"""Cluster mode against one machine: 64 draft images (the built-in model) in one job.

1. Baseline: the studio in one-machine mode (its own model thread; torch on both cores).
2. The same job on a local Ray cluster: 1 worker (2 CPUs: the same two threads), then
   2 workers (1 CPU each). Target: Ray's overhead per image <= 1.10x the baseline with 1
   worker; with 2 workers, the speed-up over 1 worker is reported as measured (2 cores: two
   workers share what one had).
3. What one image costs the head whatever the model: a Ray round trip of a 1024x1024 RGB
   image and its record, the head's store of it (watermark, encode, C2PA signature, commit)
   and the lease's SQL. From that, the projection for N GPUs: how many images a second one
   head can take, so how many GPUs at a given seconds-per-image it can feed.

Every mode is warmed first (models loaded, workers started) and timed from submit to done.
The baseline and 1 worker run in alternating rounds (5 by default), both studios up, so noise
on this shared machine falls on both; the ratio reported is the median of the rounds'.

    python benches/bench_scale.py [--rounds N] [--quick]   (--quick: 8 images, 1 round)
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import ray  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cinedraft import Settings  # noqa: E402
from cinedraft.cluster import Options  # noqa: E402
from cinedraft.engine.image import Rendered  # noqa: E402
from cinedraft.jobs import leases  # noqa: E402
from cinedraft.record import ImageRecord  # noqa: E402
from cinedraft.request import ImageRequest, no_progress  # noqa: E402
from cinedraft.server import create_app  # noqa: E402

PROMPT = "a {red|blue|green|yellow} {jar|bottle|box} on a {wooden|marble} table"


def _job(client: TestClient, count: int, seed: int) -> float:
    body = {"prompt": PROMPT, "template": True, "count": count, "seed": seed}
    t0 = time.perf_counter()
    job = client.post("/api/jobs/generate", json=body).json()
    while (job := client.get(f"/api/jobs/{job['id']}").json())["state"] not in (
        "done",
        "failed",
    ):
        time.sleep(0.05)  # a studio's poll; faster polls take CPU from the render itself
    if job["state"] != "done":
        raise RuntimeError(job["error"])
    return time.perf_counter() - t0


def _wait_ready(client: TestClient, workers: int) -> None:
    deadline = time.time() + 300
    while time.time() < deadline:
        if workers == 0:
            if client.get("/api/health").json()["model"] == "ready":
                return
        else:
            rows = client.get("/api/cluster").json()["workers"]
            if sum(r["state"] == "idle" for r in rows) >= workers:
                return
        time.sleep(0.1)
    raise RuntimeError("not ready")


@contextmanager
def studio(home: Path, cluster: Options | None) -> Iterator[TestClient]:
    """A studio, warmed: its model loaded on every worker."""
    settings = Settings(home=home, offline=True, device="cpu")
    app = create_app(settings, hosts={"testserver"}, cluster=cluster)
    with TestClient(app) as client:
        _wait_ready(client, cluster.workers if cluster else 0)
        _job(client, 2 * (cluster.workers if cluster else 1), seed=1)  # every worker loads
        yield client


def head_costs(home: Path) -> dict[str, float]:
    """Seconds per image the head pays, whatever the model (section 3)."""

    @ray.remote(num_cpus=0)
    class Echo:
        def image(self, record: dict) -> dict:
            return {"images": [np.zeros((1024, 1024, 3), np.uint8)], "records": [record]}

    echo = Echo.remote()
    record = {"asset_id": "0" * 12, "prompt": "x", "seed": 1, "kind": "image"}
    ray.get(echo.image.remote(record))
    rounds = 5
    t0 = time.perf_counter()
    for _ in range(rounds):
        ray.get(echo.image.remote(record))
    transfer = (time.perf_counter() - t0) / rounds
    ray.kill(echo)

    settings = Settings(home=home, offline=True, device="cpu")
    app = create_app(settings, hosts={"testserver"}, workers=False)
    workspace = app.state.workspace
    image = Image.fromarray(
        np.random.default_rng(0).integers(0, 255, (1024, 1024, 3), np.uint8), "RGB"
    )
    # a real record to store it under: one the built-in model made, made 1024 wide
    base = workspace.engine().render_images(ImageRequest(prompt="a red jar", seed=1), no_progress)
    rec = base[0].record.model_dump()
    rec.update(width=1024, height=1024)
    rec["render"] = rec["render"] | {"format": "png", "quality": 100}
    t0 = time.perf_counter()
    for i in range(rounds):
        item = Rendered(image, ImageRecord.model_validate(rec | {"asset_id": f"{i:012x}"}), None)
        workspace.engine().image.store([item], {"job_id": f"{i:016x}", "job_part": i})
    store = (time.perf_counter() - t0) / rounds
    # the store's steps one by one: what would move off the head first
    from cinedraft.library import watermark
    from cinedraft.library.library import MIME, _measure
    from cinedraft.media.metadata import encode_image

    library = app.state.library
    steps = {"watermark": 0.0, "encode": 0.0, "sign": 0.0, "metrics": 0.0}
    for i in range(rounds):
        t = time.perf_counter()
        marked = watermark.embed(image, f"{i:012x}")
        steps["watermark"] += time.perf_counter() - t
        t = time.perf_counter()
        data = encode_image(marked, rec | {"asset_id": f"{i:012x}"}, "png", 100)
        steps["encode"] += time.perf_counter() - t
        t = time.perf_counter()
        library.signer().sign(data, MIME[".png"], rec | {"asset_id": f"{i:012x}"}, [])
        steps["sign"] += time.perf_counter() - t
        t = time.perf_counter()
        _measure(data)
        steps["metrics"] += time.perf_counter() - t
    queue = app.state.queue
    job, _ = queue.submit("generate", {"prompt": "x"}, 0)
    queue.claim(("generate",), timeout=0)
    leases.split(queue.conn, job.id, [(["x"], [i]) for i in range(rounds)])
    t0 = time.perf_counter()
    for i in range(rounds):
        leases.lease(queue.conn, job.id, i, "w", time.time() + 30)
        leases.renew(queue.conn, "w", time.time() + 30)
        leases.complete(queue.conn, job.id, i, [f"{i}"])
    lease = (time.perf_counter() - t0) / rounds
    return {"transfer": transfer, "store": store, "lease": lease} | {
        k: v / rounds for k, v in steps.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="8 images, 1 round: a smoke run.")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    args = parser.parse_args()
    count, rounds = (8, 1) if args.quick else (64, args.rounds)
    logging.getLogger("cinedraft").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        ray_tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths stay short
        ray.init(
            address="local",  # its own cluster, never one already running here
            _temp_dir=ray_tmp,
            num_cpus=2,
            include_dashboard=False,
            namespace="cinedraft",
            log_to_driver=False,
            logging_level=logging.WARNING,
        )
        try:
            # The baseline and 1 worker alternate, round by round, so a noisy minute on
            # this machine lands on both; each round's ratio is printed, and the median.
            local, one = [], []
            with (
                studio(root / "local", None) as alone,
                studio(root / "ray1", Options("auto", workers=1, worker_cpus=2)) as cluster,
            ):
                for i in range(rounds):
                    local.append(_job(alone, count, seed=100 + i * count))
                    one.append(_job(cluster, count, seed=100 + i * count))
            with studio(root / "ray2", Options("auto", workers=2, worker_cpus=1)) as cluster:
                two = _job(cluster, count, seed=100)
            costs = head_costs(root / "costs")
        finally:
            ray.shutdown()
            shutil.rmtree(ray_tmp, ignore_errors=True)
    ratios = [b / a for a, b in zip(local, one)]
    per = lambda seconds: f"{seconds / count * 1000:.1f} ms/image"  # noqa: E731
    print(f"1. one machine, {count} draft images in one job: {per(statistics.median(local))}")
    print(f"2. cluster mode, local Ray cluster on this machine (2 CPUs), {rounds} rounds")
    print(
        f"   1 worker:  {per(statistics.median(one))}, "
        f"{statistics.median(ratios):.2f}x one machine, the median of "
        f"{', '.join(f'{r:.2f}' for r in ratios)} (target <= 1.10)"
    )
    print(
        f"   2 workers: {per(two)}, {statistics.median(one) / two:.2f}x the speed of 1 "
        "worker (2 cores shared by both)"
    )
    per_image = costs["transfer"] + costs["store"] + costs["lease"]
    print("3. the head's cost per image, whatever the model (1024x1024, PNG)")
    print(
        f"   Ray round trip of the image and record {costs['transfer'] * 1000:.1f} ms, "
        f"store (watermark, encode, sign, commit) {costs['store'] * 1000:.1f} ms, "
        f"lease SQL {costs['lease'] * 1000:.2f} ms: {per_image * 1000:.1f} ms in all"
    )
    print(
        "   of the store: "
        + ", ".join(f"{k} {costs[k] * 1000:.0f} ms" for k in ("watermark", "encode", "sign"))
        + f", metrics {costs['metrics'] * 1000:.0f} ms (on a second thread, beside the next "
        "file's signing)"
    )
    print(f"   one head takes at most {1 / per_image:.1f} images/s, so it feeds about:")
    for gpu_s in (0.5, 2.0, 8.0):
        print(f"     {gpu_s:>4} s/image on a GPU: {gpu_s / per_image:.0f} GPUs")


if __name__ == "__main__":
    main()
