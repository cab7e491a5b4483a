"""Ray itself: joining a cluster, starting worker actors, finding them. Ray is imported only
here, and only in cluster mode (one-machine mode never imports it).

Every cinedraft actor lives in the Ray namespace ``cinedraft``: the head's desk (``head``,
holding its card, so a joining machine can check it before it starts workers) and the
workers (``worker:<machine>/<n>``), which the head finds by name wherever they were started.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from ..errors import CinedraftError
from .worker import RenderWorker

NAMESPACE = "cinedraft"
DESK = "head"
WORKER = "worker:"
RENDER = "render"  # the worker actors' concurrency group that renders
CONNECT_TIMEOUT = 5.0  # seconds to wait for a cluster's address to answer at all
JOIN_TIMEOUT = 10.0  # then about this long for it to answer as Ray
_numbers = itertools.count(1)


class ClusterError(CinedraftError):
    """The cluster cannot be reached or refused this machine."""


def connect(address: str) -> str:
    """Join the Ray cluster at ``address`` (``host:port``), or with ``auto`` the one running
    on this machine, else a new one of all its CPUs and GPUs; returns the address. An address nobody
    answers fails within :data:`CONNECT_TIMEOUT` seconds; one where something else answers,
    within about :data:`JOIN_TIMEOUT` more."""
    # Ray 2.60 clusters require their token (`ray start` makes one in ~/.ray), but a process
    # joining by address sends it only in token mode, read when Ray is first imported: turn
    # it on when a token is at hand, unless the operator chose a mode.
    if "RAY_AUTH_MODE" not in os.environ and _has_token():
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    if ray.is_initialized():
        return ray.get_runtime_context().gcs_address
    quiet: dict[str, Any] = {
        "namespace": NAMESPACE,
        "log_to_driver": False,  # the head reports what its workers did; their logs stay there
        "logging_level": logging.WARNING,
    }
    if address == "auto":
        try:
            ray.init(address="auto", **quiet)
        except ConnectionError:  # none running here: start one for this machine
            ray.init(include_dashboard=False, **quiet)
    else:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ClusterError(f"--ray {address!r} is not host:port (or auto)")
        try:
            socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
        except OSError as exc:
            raise ClusterError(
                f"no Ray cluster answers at {address} (waited {CONNECT_TIMEOUT:.0f} s: "
                f"{exc.strerror or exc}); start one there with `ray start --head`"
            ) from None
        # Something answers but may not be Ray: bound Ray's own retries (about 1 s each, 20
        # by default) unless the operator set them.
        os.environ.setdefault("RAY_gcs_server_port_wait_time_s", str(int(JOIN_TIMEOUT)))
        try:
            ray.init(address=address, **quiet)
        except (ConnectionError, RuntimeError) as exc:
            raise ClusterError(f"cannot join the Ray cluster at {address}: {exc}") from None
    return ray.get_runtime_context().gcs_address


def _has_token() -> bool:
    path = os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token"
    return bool(os.environ.get("RAY_AUTH_TOKEN")) or Path(path).is_file()


def connected() -> bool:
    import ray

    return ray.is_initialized()


def disconnect() -> None:
    import ray

    ray.shutdown()


def resources() -> dict[str, float]:
    import ray

    return ray.cluster_resources()


def open_desk(head_card: dict) -> Any:
    """The head's named desk actor; :class:`ClusterError` while another head holds it (a
    dead head's desk dies with it)."""
    import ray

    @ray.remote(num_cpus=0)
    class Desk:
        def __init__(self, card: dict):
            self._card = card

        def card(self) -> dict:
            return self._card

    try:
        return Desk.options(name=DESK, namespace=NAMESPACE).remote(head_card)
    except ValueError:  # the name is taken (ActorAlreadyExistsError is a ValueError)
        raise ClusterError(
            "another cinedraft head already runs in this cluster: one head per cluster "
            "(its library database is the only writer); stop it first"
        ) from None


def head_card(timeout: float = 10.0) -> dict | None:
    """The card of the cluster's head, None when no cinedraft head is running in it."""
    import ray

    try:
        desk = ray.get_actor(DESK, namespace=NAMESPACE)
        return ray.get(desk.card.remote(), timeout=timeout)
    except (ValueError, ray.exceptions.RayError):
        return None


def start_workers(
    count: int,
    settings: dict,
    policy: str | None,
    cpus: float,
    gpus: float,
    this_node: bool = False,
    cls: type = RenderWorker,
) -> dict[str, Any]:
    """Start ``count`` worker actors (``this_node``: on this machine); name -> handle."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    options: dict[str, Any] = {
        "num_cpus": cpus,
        "num_gpus": gpus,
        # Renders run on a thread of their own (the RENDER group, one thread), the card,
        # beat and cancel on another (the default group), so the head hears from a worker
        # while it renders, and never two renders at once. One thread, always the same: in
        # a plain threaded actor (max_concurrency 2) renders landed on either of two pool
        # threads, each with its own OpenMP team, and ran 8-10 % slower on CPU.
        "max_concurrency": 1,
        "max_restarts": 0,  # a dead worker is replaced by the head, its lease expired
        "namespace": NAMESPACE,
    }
    if this_node:
        node = ray.get_runtime_context().get_node_id()
        options["scheduling_strategy"] = NodeAffinitySchedulingStrategy(node, soft=False)
    actor = ray.remote(concurrency_groups={RENDER: 1})(cls)
    started = {}
    for _ in range(count):
        name = f"{socket.gethostname()}/{os.getpid()}.{next(_numbers)}"
        started[name] = actor.options(name=WORKER + name, **options).remote(name, settings, policy)
    return started


def named_workers() -> dict[str, Any]:
    """Every live worker actor in the cluster, by name (also those other machines started)."""
    import ray

    found = {}
    for entry in ray.util.list_named_actors(all_namespaces=True):
        if entry["namespace"] == NAMESPACE and entry["name"].startswith(WORKER):
            try:
                found[entry["name"][len(WORKER) :]] = ray.get_actor(entry["name"], NAMESPACE)
            except ValueError:  # it died between the listing and the lookup
                continue
    return found


def kill(handle: Any) -> None:
    """Stop a worker (a dead one is left as it is)."""
    import ray

    try:
        ray.kill(handle, no_restart=True)
    except (ValueError, ray.exceptions.RayError):
        pass


def wait(refs: list, timeout: float) -> list:
    """The refs among ``refs`` that are ready, waiting up to ``timeout`` seconds for one."""
    import ray

    if not refs:
        time.sleep(timeout)
        return []
    ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)  # as soon as one is ready
    if ready:
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
    return ready


def get(ref: Any) -> Any:
    """A ready ref's value; a :class:`WorkerDied` if its actor died, any other error raised
    inside the worker as :class:`WorkerFailed`."""
    import ray

    try:
        return ray.get(ref, timeout=0)
    except ray.exceptions.RayActorError as exc:
        raise WorkerDied(str(exc).splitlines()[0]) from None
    except ray.exceptions.RayTaskError as exc:
        cause = exc.cause
        raise WorkerFailed(f"{type(cause).__name__}: {cause}") from None


class WorkerDied(Exception):
    """The worker's process is gone (killed, crashed, its machine lost)."""


class WorkerFailed(Exception):
    """An unexpected error inside a worker's render."""
