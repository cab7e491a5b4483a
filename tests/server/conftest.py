import time

import pytest
from fastapi.testclient import TestClient

from cinedraft import Settings
from cinedraft.server import create_app

HOST = "testserver"  # the TestClient's Host header


def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, offline=True, device="cpu")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A running studio (workers on) over the built-in model, shared by a module's tests."""
    app = create_app(settings(tmp_path_factory.mktemp("studio")), hosts={HOST})
    with TestClient(app) as c:
        yield c


def wait(client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise TimeoutError(job_id)
