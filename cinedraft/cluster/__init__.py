"""Cluster mode: the same queue, image jobs rendered by Ray workers on many machines.

:mod:`.head` leases the queue's parts to workers and stores what they return;
:mod:`.worker` is one worker; :mod:`.protocol` is what they send each other and the
head's checks; :mod:`.runtime` is the only module that imports Ray. Nothing here is
imported in one-machine mode but this package's constants.
"""

from dataclasses import dataclass

KINDS = ("generate", "promote", "video")  # what workers run; extend and edits stay on the head


@dataclass
class Options:
    """How a head runs its cluster (``serve --ray``)."""

    address: str = "auto"  # host:port of a Ray cluster, or auto (this machine's, or a new one)
    workers: int | None = None  # actors the head starts; None: one per GPU (or CPU slot)
    worker_cpus: float = 2  # CPUs per worker where there is no GPU
    lease_s: float = 30.0  # a lease lasts this long past the worker's last heartbeat
    beat_s: float = 1.0  # how often a busy worker is asked how it is doing
    stall_s: float = 600.0  # a worker reporting no progress for this long is hung
    worker_class: type | None = None  # None: cinedraft.cluster.worker.RenderWorker
