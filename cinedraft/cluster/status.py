"""What ``cluster status`` and ``GET /api/cluster`` show: the workers' rows the head keeps in
the library database (no Ray needed to read them)."""

from __future__ import annotations

from ..jobs import JobQueue
from ..jobs import leases as sql


def worker_rows(queue: JobQueue) -> list[dict]:
    """Every worker the head has seen, with its throughput in images per minute of render."""
    with queue.lock:
        rows = sql.workers(queue.conn)
    for row in rows:
        busy = row["busy_s"]
        row["images_per_minute"] = round(row["images"] * 60 / busy, 2) if busy else None
    return rows
