"""The head killed mid-job and started again (`cinedraft serve --ray` in its own process):
the job resumes where it was, its stored images are kept, none is made twice, and the
dead head's workers are marked gone."""

import json
import signal
import sqlite3
import time

import httpx

from ..server.conftest import free_port, start_server
from .conftest import until

JOB = {"prompt": "a {red|blue} jar on a {wooden|marble} table", "template": True}


def test_a_killed_head_resumes_its_jobs(tmp_path, ray_address):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    args = ("--ray", ray_address, "--workers", "1", "--worker-cpus", "0.5")
    server = start_server(tmp_path, port, *args)
    db = sqlite3.connect(tmp_path / "library" / "library.db")
    try:
        job = httpx.post(
            f"{base}/api/jobs/generate", json=JOB | {"count": 4, "seed": 9, "steps": 40}
        ).json()

        def first_part():  # one part stored, the other not yet
            rows = db.execute(
                "SELECT state, outputs FROM job_parts WHERE job_id = ? ORDER BY part",
                (job["id"],),
            ).fetchall()
            done = [r for r in rows if r[0] == "done"]
            return done if len(rows) == 2 and len(done) == 1 else None

        kept = until(first_part, what="the first part")[0][1]
        server.send_signal(signal.SIGKILL)
        server.wait()
        time.sleep(1)
        server = start_server(tmp_path, port, *args)
        final = until(
            lambda: (
                (j := httpx.get(f"{base}/api/jobs/{job['id']}").json())["state"] != "running" and j
            ),
            what="the job to end",
        )
        workers = httpx.get(f"{base}/api/cluster").json()["workers"]
    finally:
        server.kill()
        server.wait()
    assert final["state"] == "done", final
    outputs = final["result"]["outputs"]
    assert len(outputs) == 4 and all(a in outputs for a in json.loads(kept))  # the first part kept
    stored = db.execute("SELECT id FROM assets WHERE job_id = ?", (job["id"],)).fetchall()
    assert sorted(r[0] for r in stored) == sorted(outputs)  # nothing made twice
    assert {w["state"] for w in workers} >= {"gone", "idle"}  # the dead head's worker is gone
