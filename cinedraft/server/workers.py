"""Threads that drain the job queue: one owns the model device, one does CPU-only edits.

Each job kind has a handler ``(job, report) -> result dict``; ``report(stage, done, total)``
stores progress and raises ``JobCancelled`` when the user cancelled.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable

from ..errors import CinedraftError
from ..jobs import Job, JobCancelled, JobQueue
from ..request import ImageRequest, parse_size

log = logging.getLogger("cinedraft.server")

MODEL_KINDS = ("generate", "promote")
CPU_KINDS = ("edit",)


class Workers:
    """Start, run and stop the worker threads of one server."""

    def __init__(self, queue: JobQueue, engine: Callable, editor: Callable):
        self.queue = queue
        self._engine, self._editor = engine, editor  # factories: built on first use
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, kinds in (("model", MODEL_KINDS), ("cpu", CPU_KINDS)):
            thread = threading.Thread(target=self._loop, args=(kinds,), name=f"cinedraft-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self, kinds: tuple[str, ...]) -> None:
        while not self._stop.is_set():
            job = self.queue.claim(kinds, timeout=0.5)
            if job is not None:
                self.run(job)

    def run(self, job: Job) -> None:
        """Run one claimed job to exactly one terminal state."""
        def report(stage: str, done: int, total: int) -> None:
            self.queue.report(job.id, stage, done, total)

        try:
            result = HANDLERS[job.kind](self, job, report)
        except JobCancelled:
            self.queue.finish(job.id, "cancelled")
        except CinedraftError as exc:
            self.queue.finish(job.id, "failed", error=str(exc))
        except Exception as exc:  # noqa: BLE001 - a job must end, whatever broke inside it
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self.queue.finish(job.id, "failed", error=f"internal error: {type(exc).__name__}: {exc}")
        else:
            self.queue.finish(job.id, "done", result)


def _with_outputs(workers: Workers, job: Job):
    """A progress callback that also names the images stored so far (the UI shows them)."""
    def report(stage: str, done: int, total: int) -> None:
        outputs = workers._engine().library.assets_of_job(job.id) if stage == "save" else None
        workers.queue.report(job.id, stage, done, total, outputs)
    return report


def _generate(workers: Workers, job: Job, report) -> dict:
    engine = workers._engine()
    result = engine.generate_image(ImageRequest(**job.request), _with_outputs(workers, job), {"job_id": job.id})
    return {"outputs": [o.asset_id for o in result.outputs], "seconds": round(result.seconds, 3)}


def _promote(workers: Workers, job: Job, report) -> dict:
    r = job.request
    size = dict(zip(("width", "height"), parse_size(r["size"]))) if r.get("size") else {}
    result = workers._engine().promote(r["asset_id"], _with_outputs(workers, job), {"job_id": job.id},
                                       steps=r.get("steps"), **size)
    out = result.outputs[0]
    return {"outputs": [out.asset_id], "parent": r["asset_id"], "drift": out.drift,
            "seconds": round(result.seconds, 3)}


def _edit(workers: Workers, job: Job, report) -> dict:
    r = job.request
    editor = workers._editor({"job_id": job.id})
    report("edit", 0, 1)
    op = r["op"]
    if op == "cut":
        asset = editor.cut(r["sources"][0], r.get("start") or 0.0, r.get("end"))
    elif op == "merge":
        asset = editor.merge(r["sources"], r.get("transition"))
    elif op == "speed":
        asset = editor.speed(r["sources"][0], r["factor"])
    elif op == "reframe":
        asset = editor.reframe(r["sources"][0], r.get("aspect") or "9:16")
    else:  # mute
        asset = editor.audio(r["sources"][0], None, "mute")
    report("edit", 1, 1)
    return {"outputs": [asset.id]}


HANDLERS = {"generate": _generate, "promote": _promote, "edit": _edit}
