"""A job queue kept in the library database, so jobs survive a restart.

- submit: a queued row (idempotency key: the same key and request return the same job, the
  same key with another request is refused, as payment APIs do; a bound on queued jobs
  answers :class:`QueueFullError`, which the server turns into HTTP 429);
- claim: one atomic UPDATE moves the most urgent job (lowest priority number, then oldest)
  of the kinds a worker takes to ``running``;
- finish / fail / cancel: one terminal state per job. A running job sees a cancel request at
  its next progress report (:class:`JobCancelled`);
- recover (at startup, before any worker, after the library has adopted what dead writers
  left): a job left ``running`` by a dead server is queued again if it stored nothing yet,
  otherwise marked failed with the outputs it did store, so no job is lost and no output is
  made twice; a job that was already started :data:`MAX_ATTEMPTS` times fails with that
  reason instead of being queued again (a job that kills its server must not do so forever).

Progress lives in memory (fanned out to listeners, Server-Sent Events) and is written to the
row only when the job ends: a durable write per sampling step would cost an fsync each.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError, JobCancelled, QueueFullError
from ..ids import new_job_id, utc_now
from ..library.db import connect
from ..library.records import assets_of_job
from . import records

TERMINAL = ("done", "failed", "cancelled")
MAX_ATTEMPTS = 3


@dataclass
class Job:
    id: str
    kind: str
    priority: int
    state: str
    request: dict
    result: dict | None
    error: str | None
    progress: dict | None
    created: str
    started: str | None
    finished: str | None
    attempts: int
    actor: str | None = None  # who asked (the server's token name)
    worker: str | None = None  # who ran it: "local", or the cluster workers' names

    @classmethod
    def from_row(cls, row: dict) -> Job:
        return cls(**{k: row[k] for k in cls.__dataclass_fields__})


class JobQueue:
    """Jobs in ``library.db``; thread-safe (one connection behind a lock)."""

    def __init__(self, db_path: Path, max_queued: int = 500):
        self.conn: sqlite3.Connection = connect(db_path)
        self.max_queued = max_queued
        self._lock = threading.RLock()
        self.lock = self._lock  # held around any use of ``conn`` (cluster mode's leases too)
        self._wake = threading.Condition(self._lock)
        self._listeners: dict[str, list[Callable[[dict], None]]] = {}
        self._progress: dict[str, dict] = {}  # running job -> latest progress
        self._cancelled: set[str] = set()  # running jobs whose cancel was requested

    # ------------------------------------------------------------------ producers

    def submit(
        self,
        kind: str,
        request: dict,
        priority: int,
        idem_key: str | None = None,
        actor: str | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; ``(job, created)``. The same ``idem_key`` returns the first job.
        ``actor``: who asked, for the audit trail."""
        row = {
            "id": new_job_id(),
            "kind": kind,
            "priority": priority,
            "request": request,
            "idem_key": idem_key or None,
            "created": utc_now(),
            "actor": actor,
        }  # an empty key is no key
        with self._lock:
            job, created = records.insert_job(self.conn, row, self.max_queued)
            if created is None:
                raise QueueFullError(
                    f"the queue is full ({self.max_queued} jobs waiting); try again later"
                )
            self._wake.notify_all()
        if not created and (job["kind"], job["request"]) != (kind, json.loads(json.dumps(request))):
            raise InputError(
                f"Idempotency-Key {idem_key!r} was used for another request "
                f"(job {job['id']}); use a new key for a new request"
            )
        return Job.from_row(job), created

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            row = records.get_job(self.conn, job_id)
            return self._with_progress(row) if row else None

    def list(self, state: str | None = None, limit: int = 100) -> list[Job]:
        with self._lock:
            return [self._with_progress(r) for r in records.list_jobs(self.conn, state, limit)]

    def _with_progress(self, row: dict) -> Job:
        if row["state"] == "running" and row["id"] in self._progress:
            row = row | {"progress": self._progress[row["id"]]}
        return Job.from_row(row)

    def cancel(self, job_id: str) -> str | None:
        with self._lock:
            state = records.cancel_job(self.conn, job_id, utc_now())
            if state == "running":
                self._cancelled.add(job_id)
        if state == "cancelled":
            self._publish(job_id, {"state": "cancelled"})
        return state

    def cancel_requested(self, job_id: str) -> bool:
        """Whether a cancel was asked for this running job."""
        with self._lock:
            return job_id in self._cancelled

    # ------------------------------------------------------------------ workers

    def claim(self, kinds: tuple[str, ...], timeout: float = 1.0) -> Job | None:
        """The next job of ``kinds``, waiting up to ``timeout`` seconds for one."""
        with self._lock:
            row = records.claim_job(self.conn, kinds, utc_now())
            if row is None:
                self._wake.wait(timeout)
                row = records.claim_job(self.conn, kinds, utc_now())
        if row is None:
            return None
        self._publish(row["id"], {"state": "running"})
        return Job.from_row(row)

    def report(
        self, job_id: str, stage: str, done: int, total: int, outputs: list[str] | None = None
    ) -> None:
        """Progress from inside a job (``outputs``: assets stored so far); raises
        :class:`JobCancelled` if cancel was asked."""
        progress = {"stage": stage, "done": done, "total": total}
        if outputs is not None:
            progress["outputs"] = outputs
        with self._lock:
            self._progress[job_id] = progress
            cancel = job_id in self._cancelled
        self._publish(job_id, {"state": "running", "progress": progress})
        if cancel:
            raise JobCancelled(job_id)

    def finish(
        self,
        job_id: str,
        state: str,
        result: dict | None = None,
        error: str | None = None,
        worker: str | None = None,
    ) -> None:
        """End a running job; ``worker``: who ran it."""
        with self._lock:
            progress = self._progress.pop(job_id, None)
            self._cancelled.discard(job_id)
            records.finish_job(self.conn, job_id, state, utc_now(), result, error, progress, worker)
        self._publish(job_id, {"state": state, "result": result, "error": error})

    def recover(
        self, resume: Callable[[dict], bool] | None = None, requeue: tuple[str, ...] = ()
    ) -> dict:
        """Settle jobs a dead server left running (see the module docstring). A job for
        which ``resume(job)`` is true stays running: cluster mode finishes its parts. A job of
        a ``requeue`` kind is queued again even after storing outputs: it finds them and makes
        only the rest (a catalogue)."""
        report = {"requeued": [], "failed": [], "resumed": []}
        with self._lock:
            for job in records.running_jobs(self.conn):
                stored = assets_of_job(self.conn, job["id"])
                if resume is not None and resume(job):
                    report["resumed"].append(job["id"])
                elif stored and job["kind"] not in requeue:
                    records.finish_job(
                        self.conn,
                        job["id"],
                        "failed",
                        utc_now(),
                        {"outputs": stored, "partial": True},
                        f"interrupted by a restart after {len(stored)} output(s)",
                    )
                    report["failed"].append(job["id"])
                elif job["attempts"] >= MAX_ATTEMPTS:
                    records.finish_job(
                        self.conn,
                        job["id"],
                        "failed",
                        utc_now(),
                        None,
                        f"gave up after {job['attempts']} attempts: the server stopped during each",
                    )
                    report["failed"].append(job["id"])
                else:
                    records.requeue_job(self.conn, job["id"])
                    report["requeued"].append(job["id"])
        return report

    # ------------------------------------------------------------------ listeners

    def listen(self, job_id: str, callback: Callable[[dict], None]) -> Callable[[], None]:
        """Call ``callback(event)`` on every event of ``job_id``; returns the unsubscribe."""
        with self._lock:
            self._listeners.setdefault(job_id, []).append(callback)

        def stop() -> None:
            with self._lock:
                if callback in self._listeners.get(job_id, []):
                    self._listeners[job_id].remove(callback)

        return stop

    def _publish(self, job_id: str, event: dict) -> None:
        with self._lock:
            listeners = list(self._listeners.get(job_id, []))
        for callback in listeners:
            callback({"job": job_id, **event})

    def close(self) -> None:
        self.conn.close()
