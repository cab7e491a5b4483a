import os
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from cinedraft import Settings
from cinedraft.server import create_app

HOST = "testserver"  # the TestClient's Host header


def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path, offline=True, device="cpu")


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    """A running studio (workers on) over the built-in model, shared by a module's tests;
    yielded once its default model has loaded: diffusers loads under accelerate's
    ``init_empty_weights``, which patches torch for every thread, so a fixture building a
    tiny model meanwhile would get weights on the meta device."""
    app = create_app(settings(tmp_path_factory.mktemp("studio")), hosts={HOST})
    with TestClient(app) as c:
        deadline = time.time() + 300
        while c.get("/api/health").json()["model"] in ("waiting", "loading"):
            assert time.time() < deadline, "the default model did not load"
            time.sleep(0.05)
        yield c


@pytest.fixture(scope="module")
def quiet(tmp_path_factory):
    """An app whose workers are off: requests are checked, jobs only queue."""
    with TestClient(
        create_app(settings(tmp_path_factory.mktemp("sec")), hosts={HOST}, workers=False)
    ) as c:
        yield c


def wait(client, job_id: str, timeout: float = 120) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.1)
    raise TimeoutError(job_id)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home, port, *args: str, host: str = "127.0.0.1", headers=None) -> subprocess.Popen:
    """``cinedraft serve`` in its own process, once ``/api/health`` answers."""
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "CINEDRAFT_HOME": str(home),
        "CINEDRAFT_DEVICE": "cpu",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cinedraft", "serve", "--host", host, "--port", str(port), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if (
                httpx.get(
                    f"http://{host}:{port}/api/health", timeout=1, headers=headers
                ).status_code
                == 200
            ):
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise TimeoutError("server did not start")
