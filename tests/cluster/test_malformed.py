"""A worker that returns garbage: refused, retried a bounded number of times, then the job
fails with the reason; nothing of it is stored. (Its own module: one head per cluster.)"""

import sqlite3
import sys

import numpy as np
import ray
from fastapi.testclient import TestClient

from cinedraft.cluster.worker import RenderWorker

from ..server.conftest import wait
from .conftest import cluster_app, ready_workers


class Garbage(RenderWorker):
    """A bad neighbour: renders, then returns pixels that are not the size of the record."""

    def render(self, task: dict) -> dict:
        result = super().render(task)
        result["images"] = [np.zeros((3, 3, 3), np.uint8) for _ in result["images"]]
        return result


def test_a_malformed_result_is_refused_retried_then_the_job_fails(tmp_path, ray_address):
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with TestClient(cluster_app(tmp_path, ray_address, workers=1, worker_class=Garbage)) as bad:
        ready_workers(bad, 1)
        job = bad.post("/api/jobs/generate", json={"prompt": "a red box", "seed": 2}).json()
        job = wait(bad, job["id"])
        assert job["state"] == "failed"
        assert "malformed result: image 0 is not the size its record says" in job["error"]
        assert "gave up after 3 attempts" in job["error"]
        db = sqlite3.connect(bad.app.state.library.root / "library.db")
        part = db.execute("SELECT state, attempts FROM job_parts WHERE job_id = ?", (job["id"],))
        assert part.fetchall() == [("failed", 3)]
        assert bad.get("/api/assets").json() == []  # nothing of it was stored
