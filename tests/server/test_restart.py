"""Kill the server mid-job and start it again: every job ends exactly once, no output is lost
or made twice."""

import signal
import sqlite3
import time

import httpx

from .conftest import free_port, start_server

JOB = {"prompt": "a {red|blue|yellow} {jar|box} on a wooden table", "template": True, "steps": 30}


def test_jobs_survive_a_killed_server(tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path, port)
    try:
        ids = [
            httpx.post(f"{base}/api/jobs/generate", json=JOB | {"count": n, "seed": n}).json()["id"]
            for n in (6, 2, 3)
        ]
        deadline = time.time() + 120
        while httpx.get(f"{base}/api/jobs/{ids[0]}").json()["state"] != "running":  # mid-run
            assert time.time() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        server.send_signal(signal.SIGKILL)
        server.wait()
        server = start_server(tmp_path, port)
        states = {}
        deadline = time.time() + 240
        while time.time() < deadline:
            states = {i: httpx.get(f"{base}/api/jobs/{i}").json() for i in ids}
            if all(j["state"] in ("done", "failed", "cancelled") for j in states.values()):
                break
            time.sleep(0.3)
        assert all(j["state"] in ("done", "failed") for j in states.values()), states
    finally:
        server.kill()
        server.wait()
    db = sqlite3.connect(tmp_path / "library" / "library.db")
    for job_id, job in states.items():
        stored = [
            r[0]
            for r in db.execute(
                "SELECT id FROM assets WHERE json_extract(record, '$.job_id') = ? ORDER BY seq",
                (job_id,),
            )
        ]
        # exactly the outputs the job reports, each once: nothing lost, nothing duplicated
        assert sorted(stored) == sorted(job["result"]["outputs"]), job
        if job["state"] == "done":
            assert len(stored) == job["request"]["count"]
        else:
            assert job["result"]["partial"] and "restart" in job["error"]
    assert [
        r[0] for r in db.execute("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')")
    ] == [0]
