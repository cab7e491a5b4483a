"""Start-up benchmarks: how long the first thing takes, the import floor as the baseline.

1. Baseline: ``python -c "import torch, diffusers"``, the least any command that runs a
   model pays. Then ``cinedraft --help`` and ``cinedraft library list`` (targets < 0.5 s:
   neither imports the model stack), and a cold CLI's first draft (``cinedraft generate``,
   the built-in model), each a fresh process.
2. A warm server's first draft: ``cinedraft serve`` started and its default model loaded
   (``/api/health`` says ``ready``), then one draft job from submit to done (target < 1 s).

    python benches/bench_startup.py [--quick]   (--quick: one round: a smoke run)
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "cinedraft"]


def _seconds(args: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, env=env, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t0


def commands(home: Path, rounds: int, env: dict) -> None:
    cases = {
        "import torch, diffusers (baseline)": [sys.executable, "-c", "import torch, diffusers"],
        "cinedraft --help": [*CLI, "--help"],
        "cinedraft library list": [*CLI, "--home", str(home), "library", "list"],
        "first draft, cold CLI": [*CLI, "--home", str(home), "generate", "a red jar on a table"],
    }
    times = {
        name: statistics.median(_seconds(a, env) for _ in range(rounds))
        for name, a in cases.items()
    }
    base = times["import torch, diffusers (baseline)"]
    print(f"1. start-up, fresh processes (median of {rounds})")
    for name, seconds in times.items():
        target = (
            " (target < 0.5 s)" if name in ("cinedraft --help", "cinedraft library list") else ""
        )
        print(f"   {name}: {seconds:.2f} s, {seconds / base:.2f}x the baseline{target}")


def warm_server(home: Path, env: dict) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.perf_counter()
    server = subprocess.Popen(
        [*CLI, "--home", str(home), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        while True:
            try:
                state = httpx.get(f"{base}/api/health", timeout=2).json()["model"]
            except httpx.HTTPError:
                state = "starting"
            if state == "ready":
                break
            if state.startswith("failed") or time.perf_counter() - t0 > 300:
                raise RuntimeError(f"the server did not get ready: {state}")
            time.sleep(0.05)
        ready = time.perf_counter() - t0
        t1 = time.perf_counter()
        job = httpx.post(f"{base}/api/jobs/generate", json={"prompt": "a red jar"}).json()
        while httpx.get(f"{base}/api/jobs/{job['id']}").json()["state"] not in ("done", "failed"):
            time.sleep(0.01)
        first = time.perf_counter() - t1
    finally:
        server.terminate()
        server.wait(10)
    print("2. a warm server")
    print(f"   start to model ready: {ready:.2f} s")
    print(f"   first draft, submit to done: {first:.2f} s (target < 1 s)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="One round: a smoke run.")
    rounds = 1 if parser.parse_args().quick else 5
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CINEDRAFT_DEVICE": "cpu"}
    with tempfile.TemporaryDirectory() as tmp:
        commands(Path(tmp) / "cli", rounds, env)
        warm_server(Path(tmp) / "server", env)


if __name__ == "__main__":
    main()
