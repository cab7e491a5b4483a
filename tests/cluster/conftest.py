"""A real local Ray cluster for the cluster-mode tests: `ray start --head` with 2 CPUs, no
dashboard, on loopback, shared by the session and stopped at its end. Heads (the studio
app, or `cinedraft serve --ray` in its own process) join it; workers take half a CPU each
so a head's two workers and a joining machine's worker fit."""

import os
import secrets

# Token mode, as Ray 2.60 clusters run, set before Ray is imported (see runtime.connect). A
# machine that never made a token (~/.ray/auth_token, `ray get-auth-token --generate`) gets
# one for this session's cluster: `ray start`, the heads and the workers all read it here.
os.environ.setdefault("RAY_AUTH_MODE", "token")
if not (
    os.environ.get("RAY_AUTH_TOKEN")
    or os.path.isfile(
        os.environ.get("RAY_AUTH_TOKEN_PATH") or os.path.expanduser("~/.ray/auth_token")
    )
):
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import ray
from fastapi.testclient import TestClient

from cinedraft.cluster import Options, runtime
from cinedraft.server import create_app

from ..server.conftest import HOST, free_port, settings

RAY = str(Path(sys.executable).parent / "ray")


@pytest.fixture(scope="session")
def ray_address():
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # Ray's socket paths must stay short
    port = free_port()
    subprocess.run(
        [
            RAY,
            "start",
            "--head",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--node-ip-address=127.0.0.1",
            f"--temp-dir={temp}",
            "--disable-usage-stats",
        ],
        check=True,
        capture_output=True,
        env=os.environ | {"HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"},
    )
    address = f"127.0.0.1:{port}"
    runtime.connect(address)  # as a head joins
    yield address
    ray.shutdown()
    subprocess.run([RAY, "stop", "--force"], capture_output=True)
    shutil.rmtree(temp, ignore_errors=True)


def options(address: str, **kw) -> Options:
    return Options(address, **{"workers": 2, "worker_cpus": 0.5, "lease_s": 4, "beat_s": 0.3} | kw)


def cluster_app(home: Path, address: str, **kw):
    return create_app(settings(home), hosts={HOST}, cluster=options(address, **kw))


def until(check, timeout: float = 120, what: str = "the cluster"):
    """Poll ``check()`` until it returns something true; that value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise TimeoutError(f"waited {timeout} s for {what}")


def ready_workers(client: TestClient, count: int) -> list[dict]:
    """Wait until the head has ``count`` idle workers; their rows."""

    def idle():
        rows = [w for w in client.get("/api/cluster").json()["workers"] if w["state"] == "idle"]
        return rows if len(rows) >= count else None

    return until(idle, what=f"{count} idle workers")


@pytest.fixture(scope="module")
def head(tmp_path_factory, ray_address):
    """A studio in cluster mode with two workers, shared by a module's tests."""
    with TestClient(cluster_app(tmp_path_factory.mktemp("head"), ray_address)) as client:
        ready_workers(client, 2)
        yield client
