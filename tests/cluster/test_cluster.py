"""Cluster mode on a real local Ray cluster: a job is split over the workers by image, the
head stores and signs what they return, and the pictures are the ones one machine makes."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import ray
from fastapi.testclient import TestClient
from PIL import Image
from typer.testing import CliRunner

from cinedraft._version import __version__
from cinedraft.cli.main import app as cli
from cinedraft.cluster import runtime
from cinedraft.cluster.runtime import ClusterError
from cinedraft.cluster.worker import RenderWorker
from cinedraft.request import ImageRequest

from ..server.conftest import wait
from .conftest import cluster_app, ready_workers, until

PROMPT = "a red bottle on a glass table, studio lighting"


def _stored(client, job):
    return [client.get(f"/api/assets/{a}").json() for a in job["result"]["outputs"]]


def test_a_job_is_split_over_the_workers_and_matches_one_machine(head, engine):
    job = head.post("/api/jobs/generate", json={"prompt": PROMPT, "count": 6, "seed": 11}).json()
    job = wait(head, job["id"])
    assert job["state"] == "done", job
    names = {w["name"] for w in head.get("/api/cluster").json()["workers"]}
    ran = set(job["worker"].split(", "))
    assert len(ran) == 2 and ran <= names  # both workers took parts
    assets = _stored(head, job)
    assert sorted(a["seed"] for a in assets) == list(range(11, 17))  # each image once
    assert {a["record"]["worker"] for a in assets} == ran
    assert sorted({a["record"]["job_part"] for a in assets}) == [0, 1, 2]  # 3 parts of 2
    # the head signed and stored them as one machine does
    assert all(a["record"]["job_id"] == job["id"] and a["sha256"] for a in assets)
    verified = head.get(f"/api/assets/{assets[0]['id']}/verify").json()
    assert verified["ok"], verified
    # the same prompt and seeds on one machine make the same pictures (batches differ, so
    # equal to within float rounding, not bit for bit)
    local = engine.generate_image(ImageRequest(prompt=PROMPT, count=6, seed=11)).outputs
    for asset in assets:
        mine = next(o for o in local if o.seed == asset["seed"])
        path = head.app.state.library.get(asset["id"]).path
        with Image.open(path) as a, Image.open(mine.path) as b:
            diff = np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float))
        assert diff.mean() < 1.0, (asset["seed"], diff.mean())
    # the head audits the job once, naming every output
    entries = head.app.state.library.audit_entries()
    assert any(sorted(e["assets"]) == sorted(job["result"]["outputs"]) for e in entries)
    # the workers' throughput, in the API and in `cluster status` (read from the library)
    rows = head.get("/api/cluster").json()["workers"]
    assert sum(r["images"] for r in rows) >= 6 and all(r["images_per_minute"] for r in rows)
    home = str(head.app.state.workspace.settings.home)
    shown = CliRunner().invoke(cli, ["--home", home, "cluster", "status", "--json"])
    assert shown.exit_code == 0, shown.output
    assert {r["name"] for r in json.loads(shown.output)} == names


def test_a_draft_is_promoted_on_a_worker_from_the_draft_the_head_sends(head):
    draft = wait(
        head, head.post("/api/jobs/generate", json={"prompt": PROMPT, "seed": 4}).json()["id"]
    )
    (draft_id,) = draft["result"]["outputs"]
    job = wait(head, head.post("/api/jobs/promote", json={"asset_id": draft_id}).json()["id"])
    assert job["state"] == "done", job
    (out,) = _stored(head, job)
    assert out["record"]["tier"] == "production" and out["seed"] == 4
    assert out["record"]["parents"] == [{"id": draft_id, "role": "draft"}]
    assert 0.3 < out["record"]["drift_ssim"] <= 1  # measured against the draft's pixels
    assert out["record"]["worker"] == job["worker"] and job["result"]["parent"] == draft_id


def test_a_cancelled_job_stops_and_stores_no_more(head):
    body = {"prompt": PROMPT, "count": 8, "seed": 30, "steps": 80}
    job = head.post("/api/jobs/generate", json=body).json()
    until(lambda: head.get(f"/api/jobs/{job['id']}").json()["state"] == "running")
    head.post(f"/api/jobs/{job['id']}/cancel")
    job = wait(head, job["id"])
    assert job["state"] == "cancelled"
    time.sleep(2)  # a part in flight when the cancel came is not stored afterwards
    stored = head.app.state.library.conn.execute(
        "SELECT count(*) FROM assets WHERE job_id = ?", (job["id"],)
    ).fetchone()[0]
    assert stored < 8
    ready_workers(head, 2)  # both workers are free again


def test_a_clip_is_made_on_one_worker_and_stored_by_the_head(head):
    body = {
        "prompt": "a red ball on a wooden table, the ball slides right, studio lighting",
        "preset": "preview",
        "seconds": 1,
        "seed": 7,
        "steps": 4,  # the head's request reaches the worker whole (checked below)
    }
    job = wait(head, head.post("/api/jobs/video", json=body).json()["id"], timeout=300)
    assert job["state"] == "done", job
    assert len(job["worker"].split(", ")) == 1  # one clip, one worker
    (clip_id,) = job["result"]["outputs"]
    clip = head.get(f"/api/assets/{clip_id}").json()
    assert clip["mime"] == "video/mp4" and (clip["width"], clip["height"]) == (640, 360)
    assert clip["record"]["worker"] == job["worker"] and clip["record"]["seed"] == 7
    assert clip["record"]["steps"] == 4
    assert job["result"]["frames"] >= 24 and job["result"]["chunks"] >= 1
    assert head.get(f"/api/assets/{clip_id}/verify").json()["ok"]  # signed by the head
    poster = head.get(f"/api/assets/{job['result']['poster']}").json()
    assert poster["record"]["kind"] == "poster"
    assert [p["id"] for p in poster["parents"]] == [clip_id]
    entries = head.app.state.library.audit_entries()
    assert any(e["action"] == "video" and e["assets"] == [clip_id] for e in entries)


def test_a_model_no_worker_has_fails_with_that_reason(head):
    body = {"prompt": PROMPT, "model": "no-such-model", "seed": 1}
    job = wait(head, head.post("/api/jobs/generate", json=body).json()["id"])
    assert job["state"] == "failed"
    assert "'no-such-model' is missing on every worker" in job["error"], job["error"]


class OtherVersion(RenderWorker):
    """A machine running another cinedraft release (its card says so)."""

    def card(self) -> dict:
        return super().card() | {"version": "0.0.1"}


def test_a_worker_of_another_version_is_refused_naming_both(head):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    settings = head.app.state.workspace.settings.model_dump(mode="json")
    started = runtime.start_workers(1, settings, None, cpus=0.25, gpus=0, cls=OtherVersion)
    try:
        (name,) = started

        def refused():
            rows = head.get("/api/cluster").json()["workers"]
            return next((r for r in rows if r["name"] == name and r["state"] == "refused"), None)

        row = until(refused, what="the refusal")
        assert "0.0.1" in row["note"] and __version__ in row["note"], row["note"]
        assert name not in head.app.state.workers.cluster.workers  # never given a lease
    finally:
        for handle in started.values():
            runtime.kill(handle)


def test_a_machine_joins_with_cinedraft_worker(head, ray_address, tmp_path):
    env = os.environ | {"HF_HUB_OFFLINE": "1", "CINEDRAFT_HOME": str(tmp_path)}
    command = [sys.executable, "-m", "cinedraft", "worker", "--ray", ray_address]
    # its stderr goes to a file, polled: a pipe left unread after the first line could block
    # the process's writes and so its leaving
    log = tmp_path / "worker.err"
    with open(log, "w") as stderr:
        joined = subprocess.Popen(
            [*command, "--workers", "1", "--worker-cpus", "0.5"], env=env, stderr=stderr
        )
    try:
        line = until(lambda: next((x for x in log.read_text().splitlines() if "joined" in x), None))
        assert "1 worker(s) joined" in line, line
        name = line.split(": ")[1].split(" ")[0]

        def seen(state):
            rows = head.get("/api/cluster").json()["workers"]
            return next((r for r in rows if r["name"] == name and r["state"] == state), None)

        row = until(lambda: seen("idle"), what="the joined worker")
        assert row["version"] == __version__ and row["node"]
        joined.send_signal(signal.SIGINT)  # the machine leaves: its worker goes with it
        joined.wait(120)  # it leaves in seconds; this only bounds a failure
        assert "gone" in until(lambda: seen("gone"), what="the worker to be gone")["state"]
    finally:
        joined.kill()
        joined.wait()


def test_one_head_per_cluster(head, tmp_path, ray_address):
    with pytest.raises(ClusterError, match="another cinedraft head already runs"):
        with TestClient(cluster_app(tmp_path, ray_address, workers=0)):
            pass
    serve = [sys.executable, "-m", "cinedraft", "--home", str(tmp_path), "serve"]
    run = subprocess.run([*serve, "--ray", ray_address], capture_output=True, text=True)
    assert run.returncode == 2 and "another cinedraft head already runs" in run.stderr
    assert "Traceback" not in run.stderr


def test_a_worker_the_cluster_could_never_place_is_refused_at_start(tmp_path, ray_address):
    with pytest.raises(ClusterError, match="a worker needs 64 CPUs and the cluster has 2"):
        with TestClient(cluster_app(tmp_path, ray_address, workers=1, worker_cpus=64)):
            pass


class ThreadNoter:
    """Says which thread ran each call (its card is refused, so the head leases it nothing)."""

    def __init__(self, name: str, settings: dict, policy: str | None):
        self.name = name

    def card(self) -> dict:
        return {"version": "thread-noter"}

    def render(self, task: dict) -> tuple[int, float, float]:
        start = time.monotonic()
        time.sleep(0.5)
        return threading.get_ident(), start, time.monotonic()

    def beat(self) -> int:
        return threading.get_ident()


def test_renders_run_one_at_a_time_on_one_thread_and_beats_beside_them(head):
    """Renders queue on the worker's render thread, always the same one (two pool threads
    made two OpenMP teams and slowed CPU renders), while heartbeats answer on another."""
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    (handle,) = runtime.start_workers(1, {}, None, cpus=0.25, gpus=0, cls=ThreadNoter).values()
    try:
        render = handle.render.options(concurrency_group=runtime.RENDER)
        renders = [render.remote({}) for _ in range(4)]
        time.sleep(0.3)
        beat = ray.get(handle.beat.remote(), timeout=30)
        answered_at = time.monotonic()  # the worker is on this machine: the same clock
        done = ray.get(renders, timeout=30)
        assert len({thread for thread, _, _ in done}) == 1  # one render thread
        spans = sorted((start, end) for _, start, end in done)
        # answered mid-render, before the last queued render began (a beat queued behind
        # them would wait about 1.7 s); a bound in seconds (0.5) failed on a slow machine
        assert beat != done[0][0] and answered_at < spans[-1][0]
        assert all(b[0] >= a[1] for a, b in zip(spans, spans[1:]))  # never two at once
    finally:
        runtime.kill(handle)
