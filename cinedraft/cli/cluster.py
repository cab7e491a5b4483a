"""``worker`` and ``cluster status``: join a cluster from another machine, and see its workers."""

from __future__ import annotations

import json
import signal
import threading
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InputError
from ..workspace import Workspace
from .common import err, handles_errors, out
from .library import Json
from .serve import require_ray

cluster = typer.Typer(help="Cluster mode: the workers of `serve --ray`.", no_args_is_help=True)


@handles_errors
def worker(
    ctx: typer.Context,
    ray: Annotated[
        str, typer.Option("--ray", help="host:port of the cluster's head node (ray start --head).")
    ],
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Workers to start here (default: one per GPU, else one)."),
    ] = None,
    worker_cpus: Annotated[
        float, typer.Option(min=0.5, help="CPUs per worker where there is no GPU.")
    ] = 2,
) -> None:
    """Join a cluster from this machine: start workers here for the head of `serve --ray`.

    They use this machine's settings (models folder, device) and run until Ctrl-C."""
    require_ray()
    from ..cluster import runtime
    from ..cluster.protocol import card, refusal

    state: Workspace = ctx.obj
    runtime.connect(ray)
    head = runtime.head_card()
    if head is None:
        raise InputError(
            f"no cinedraft head runs in the cluster at {ray}: start `serve --ray` first"
        )
    mine = card("this machine", "?")
    if reason := refusal(mine, head):
        raise InputError(f"refused by the head: {reason}")
    import torch

    gpus = torch.cuda.device_count()
    count = workers or max(1, gpus)
    policy = state.settings.policy_file
    started = runtime.start_workers(
        count,
        state.settings.model_dump(mode="json"),
        policy.read_text() if policy and policy.is_file() else None,
        cpus=0 if gpus else worker_cpus,
        gpus=1 if gpus else 0,
        this_node=True,
    )
    err.print(f"{count} worker(s) joined {ray}: {', '.join(started)} (Ctrl-C to leave)")
    # Its own handlers: a process started in the background by a script inherits SIGINT
    # ignored, and Python then never raises KeyboardInterrupt (the worker could not leave).
    leave = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: leave.set())
    while not leave.wait(1):
        pass
    for handle in started.values():
        runtime.kill(handle)
    err.print(f"left {ray}")


@cluster.command()
@handles_errors
def status(ctx: typer.Context, as_json: Json = False) -> None:
    """The workers the head has seen and their throughput (from the library; no Ray needed).

    Machine, device, state, loaded models, the lease each holds, images rendered."""
    from ..cluster.status import worker_rows
    from ..jobs import JobQueue

    state: Workspace = ctx.obj
    queue = JobQueue(state.library().root / "library.db")
    try:
        rows = worker_rows(queue)
    finally:
        queue.close()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        err.print("no workers yet: start a head with `cinedraft serve --ray auto`")
        return
    table = Table("worker", "machine", "device", "state", "models", "lease", "images", "img/min")
    for r in rows:
        table.add_row(
            r["name"],
            r["node"],
            r["device"],
            r["state"] + (f" ({r['note']})" if r["note"] else ""),
            ", ".join(r["models"]),
            r["lease"] or "",
            str(r["images"]),
            "" if r["images_per_minute"] is None else f"{r['images_per_minute']:.1f}",
        )
    out.print(table)
