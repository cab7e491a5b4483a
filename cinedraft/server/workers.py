"""Threads that drain the job queue: one owns the model device, one does CPU-only edits.

Job kinds are a table (:data:`KINDS`): each kind names its handler ``(workspace, job,
report) -> result dict`` and the worker that runs it. ``report(stage, done, total)`` stores
progress and raises ``JobCancelled`` when the user cancelled. Handlers build their requests
from the job's stored body and call the same engine, editor and library as the CLI (one
:class:`~cinedraft.workspace.Workspace`).
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..cluster import KINDS as CLUSTER_KINDS
from ..errors import CinedraftError
from ..jobs import Job, JobCancelled, JobQueue
from ..record import EditRecord, read_record
from ..request import EditRequest, ImageRequest, Overrides, Progress, VideoRequest, parse_size
from ..workspace import Workspace

if TYPE_CHECKING:
    from ..cluster.head import Head

log = logging.getLogger("cinedraft.server")
LOCAL = "local"  # the worker name of a job the server's own threads ran


class Workers:
    """Start, run and stop the worker threads of one server."""

    def __init__(self, queue: JobQueue, workspace: Workspace, cluster: Head | None = None):
        """``cluster``: cluster mode's head, which runs the image kinds on Ray workers; the
        server's own threads run the rest (clips, extensions, edits)."""
        self.queue = queue
        self.workspace = workspace
        self.cluster = cluster
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # The default image model, loaded before the first job asks (``/api/health``):
        # "waiting", "loading", "ready", or "failed: why".
        self.model_state = "waiting"

    def start(self) -> None:
        away = CLUSTER_KINDS if self.cluster is not None else ()
        if self.cluster is not None:
            self.cluster.start()
            self.model_state = "on the cluster's workers"
        for worker in ("model", "cpu"):
            kinds = tuple(k for k, kind in KINDS.items() if kind.worker == worker and k not in away)
            warm = self._warm_up if worker == "model" and self.cluster is None else None
            thread = threading.Thread(
                target=self._loop, args=(kinds, warm), name=f"cinedraft-{worker}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _warm_up(self) -> None:
        """Load the default image model on the thread that owns the device (the model cache
        is that thread's alone), so the first draft does not wait for it."""
        self.model_state = "loading"
        try:
            settings = self.workspace.settings
            self.workspace.engine().models.get(settings.model_for("draft"))
        except CinedraftError as exc:  # the first job will say the same, in its own words
            self.model_state = f"failed: {exc}"
        else:
            self.model_state = "ready"

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
        if self.cluster is not None:
            self.cluster.stop(timeout)

    def _loop(self, kinds: tuple[str, ...], warm_up: Callable[[], None] | None = None) -> None:
        if warm_up is not None:
            warm_up()
        while not self._stop.is_set():
            job = self.queue.claim(kinds, timeout=0.5)
            if job is not None:
                self.run(job)

    def run(self, job: Job) -> None:
        """Run one claimed job to exactly one terminal state."""

        def report(stage: str, done: int, total: int) -> None:
            # The UI shows what a job stored so far; asking the library costs a query, so
            # only at the save stage, where outputs appear.
            outputs = self.workspace.library().assets_of_job(job.id) if stage == "save" else None
            self.queue.report(job.id, stage, done, total, outputs)

        try:
            with self.workspace.guard().acting_as(job.actor):  # the audit names who asked
                result = KINDS[job.kind].handler(self.workspace, job, report)
        except JobCancelled:
            self.queue.finish(job.id, "cancelled", worker=LOCAL)
        except CinedraftError as exc:
            self.queue.finish(job.id, "failed", error=str(exc), worker=LOCAL)
        except Exception as exc:  # noqa: BLE001 - a job must end, whatever broke inside it
            log.error("job %s failed:\n%s", job.id, traceback.format_exc())
            self.queue.finish(
                job.id,
                "failed",
                error=f"internal error: {type(exc).__name__}: {exc}",
                worker=LOCAL,
            )
        else:
            self.queue.finish(job.id, "done", result, worker=LOCAL)


def _generate(workspace: Workspace, job: Job, report: Progress) -> dict:
    result = workspace.engine().generate_image(
        ImageRequest(**job.request), report, {"job_id": job.id}
    )
    return {"outputs": [o.asset_id for o in result.outputs], "seconds": round(result.seconds, 3)}


def _promote(workspace: Workspace, job: Job, report: Progress) -> dict:
    r = job.request
    size = parse_size(r["size"]) if r.get("size") else None
    overrides = Overrides(**{k: r.get(k) for k in Overrides.model_fields})
    result = workspace.engine().promote(r["asset_id"], report, {"job_id": job.id}, overrides, size)
    out = result.outputs[0]
    return {
        "outputs": [out.asset_id],
        "parent": r["asset_id"],
        "drift": out.drift,
        "seconds": round(result.seconds, 3),
    }


def _video(workspace: Workspace, job: Job, report: Progress) -> dict:
    result = workspace.engine().generate_video(
        VideoRequest(**job.request), report, {"job_id": job.id}
    )
    return {
        "outputs": [result.asset_id],
        "poster": result.poster,
        "duration": result.seconds,
        "frames": result.frames,
        "chunks": result.chunks,
    }


def _extend(workspace: Workspace, job: Job, report: Progress) -> dict:
    r = job.request
    editor = workspace.editor(on_progress=report, record_extra={"job_id": job.id})
    overrides = Overrides(**{k: r.get(k) for k in Overrides.model_fields})
    asset = editor.extend(
        r["source"],
        r["seconds"],
        r["prompt"],
        None,
        r.get("before", False),
        overrides,
        r.get("seed"),
        r.get("negative_prompt", ""),
    )
    seconds = read_record(asset.record, EditRecord, "an edit").seconds
    return {"outputs": [asset.id], "parent": r["source"], "duration": seconds}


def _edit(workspace: Workspace, job: Job, report: Progress) -> dict:
    r = job.request
    editor = workspace.editor(record_extra={"job_id": job.id})
    report("edit", 0, 1)
    operations: dict[str, Callable] = {
        "cut": lambda: editor.cut(r["sources"][0], r.get("start") or 0.0, r.get("end")),
        "merge": lambda: editor.merge(r["sources"], r.get("transition")),
        "speed": lambda: editor.speed(r["sources"][0], r["factor"]),
        "reframe": lambda: editor.reframe(r["sources"][0], r.get("aspect") or "9:16"),
        "mute": lambda: editor.audio(r["sources"][0], None, "mute"),
        "grade": lambda: editor.grade(r["sources"][0], r.get("instruction") or ""),
    }
    asset = operations[r["op"]]()
    report("edit", 1, 1)
    return {"outputs": [asset.id]}


def _turn(workspace: Workspace, job: Job, report: Progress) -> dict:
    result = workspace.engine().edit(EditRequest(**job.request), report, {"job_id": job.id})
    return {
        "outputs": [result.output.asset_id],
        "parent": result.request.source,
        "route": result.route,
        "thread": result.thread,
        "turn": result.turn,
        "preserved": result.preserved,
        "notes": result.notes,
        "seconds": result.seconds,
    }


def _catalogue(workspace: Workspace, job: Job, report: Progress) -> dict:
    """A product list sent as text (see :mod:`cinedraft.catalogue.staging`), run into the
    job's folder, ``HOME/catalogues/<job id>``; per-SKU progress is reported by SKU."""
    from ..catalogue import Catalogue
    from ..catalogue.staging import stage

    r = job.request
    folder = workspace.settings.home / "catalogues" / job.id
    sheet, brand = stage(
        workspace.library(),
        folder,
        r["sheet"],
        r["format"],
        r["packshots"],
        r.get("brand"),
        r["scenes"],
        tuple(r["aspects"]),
    )
    runner = Catalogue(
        workspace.library(),
        workspace.engine,
        folder / "out",
        brand,
        r.get("model"),
        r["seed"],
        report,
        {"job_id": job.id},
    )
    result = runner.run(sheet)
    skus = [
        {
            "sku": s.sku,
            "line": s.line,
            "problem": s.problem,
            "made": s.made,
            "reused": s.reused,
            "files": [{k: v for k, v in f.items() if k != "record"} for f in s.files],
        }
        for s in result.skus
    ]
    outputs = [f["asset_id"] for s in skus for f in s["files"] if f["role"] in ("hero", "aspect")]
    return {"outputs": list(dict.fromkeys(outputs)), "skus": skus, "failed": result.failed}


@dataclass(frozen=True)
class Kind:
    handler: Callable[[Workspace, Job, Progress], dict]
    worker: str  # "model": the one thread that owns the model device; "cpu": edits


KINDS = {
    "generate": Kind(_generate, "model"),
    "promote": Kind(_promote, "model"),
    "video": Kind(_video, "model"),
    "extend": Kind(_extend, "model"),
    "edit": Kind(_edit, "cpu"),
    "refine": Kind(_turn, "model"),
    "inpaint": Kind(_turn, "model"),
    "outpaint": Kind(_turn, "model"),
    "catalogue": Kind(_catalogue, "model"),
}
RESUMES_ITSELF = ("catalogue",)  # queued again after a restart: it makes only what is missing
