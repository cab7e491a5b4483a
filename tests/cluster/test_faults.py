"""Faults on a real local Ray cluster: a worker killed mid-job, a worker that hangs, a
worker that returns garbage. Each job ends once, with every image stored exactly once."""

import os
import signal
import sqlite3

import pytest


from ..server.conftest import wait
from .conftest import ready_workers, until

SLOW = {"prompt": "a blue jar on a wooden table", "count": 4, "steps": 60}


def _busy_worker(client):
    """The first worker seen holding a lease (its head-side state)."""
    head = client.app.state.workers.cluster
    return until(lambda: next((w for w in list(head.workers.values()) if w.task), None))


def _parts(client, job_id):
    db = sqlite3.connect(client.app.state.library.root / "library.db")
    return db.execute(
        "SELECT part, state, attempts, error FROM job_parts WHERE job_id = ? ORDER BY part",
        (job_id,),
    ).fetchall()


def _each_image_once(client, job):
    db = sqlite3.connect(client.app.state.library.root / "library.db")
    stored = [r[0] for r in db.execute("SELECT id FROM assets WHERE job_id = ?", (job["id"],))]
    assert sorted(stored) == sorted(job["result"]["outputs"])
    seeds = [client.get(f"/api/assets/{a}").json()["seed"] for a in stored]
    assert sorted(seeds) == list(range(SLOW["seed"], SLOW["seed"] + SLOW["count"]))


@pytest.mark.parametrize("fault", ["killed", "hangs"])
def test_a_lost_worker_loses_its_lease_and_the_job_finishes_once(head, fault):
    ready_workers(head, 2)
    SLOW["seed"] = 40 if fault == "killed" else 80
    job = head.post("/api/jobs/generate", json=SLOW).json()
    victim = _busy_worker(head)
    os.kill(victim.card["pid"], signal.SIGKILL if fault == "killed" else signal.SIGSTOP)
    job = wait(head, job["id"], timeout=180)
    assert job["state"] == "done", job
    _each_image_once(head, job)
    # the part it held was leased again, and the other worker (or its replacement) made it
    parts = _parts(head, job["id"])
    assert all(state == "done" for _, state, _, _ in parts) and max(p[2] for p in parts) == 2
    assert victim.name not in job["worker"].split(", ")
    rows = {r["name"]: r for r in head.get("/api/cluster").json()["workers"]}
    why = "died" if fault == "killed" else "stopped answering"
    assert rows[victim.name]["state"] == "gone" and why in rows[victim.name]["note"]
    ready_workers(head, 2)  # the head replaced the worker it started
