"""The head of a cluster: it leases the queue's image and clip jobs to Ray workers, part
by part.

The library database stays the control plane and its only writer: a worker renders and
returns pixels and records; the head checks them (:mod:`.protocol`), then watermarks, signs,
stores and audits them as one-machine mode does. One loop on one thread, each pass:

1. find workers (its own and those other machines started; refuse a foreign version);
2. collect finished renders: store a good part, put back the part of a worker that died,
   sent garbage or failed (at most :data:`MAX_ATTEMPTS` leases per part);
3. heartbeats: a busy worker's answer renews its lease; a lease past its deadline (a hung
   or lost worker) goes back to the queue and the worker is stopped;
4. claim jobs from the queue when a worker would otherwise wait, or a more urgent job came,
   and split each into parts (some images each) so a large job spreads over the workers;
5. lease queued parts, most urgent first, to free workers, preferring one that has the
   part's model loaded;
6. end each job whose parts are all done (or one failed).

A head that dies loses nothing: parts are rows, leases have deadlines, and the next head
puts every lease back (its holders died with the head, or their results have nobody to go
to), skips parts whose assets are already stored, and finishes the job.
"""

from __future__ import annotations

import logging
import math
import secrets
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..engine.image import BATCH, Rendered, prompts_and_seeds
from ..engine.video import Clip
from ..errors import CinedraftError, InputError, JobCancelled
from ..jobs import Job, JobQueue
from ..jobs import leases as sql
from ..jobs.queue import MAX_ATTEMPTS
from ..ids import utc_now
from ..library import Asset
from ..request import ImageRequest, Overrides, VideoRequest, parse_size
from ..workspace import Workspace
from . import KINDS, Options, runtime
from .protocol import MalformedResult, card, clip_of, refusal, rendered_of
from .worker import RenderWorker

log = logging.getLogger("cinedraft.cluster")


@dataclass
class Worker:
    name: str
    handle: Any
    card: dict
    ours: bool  # started by this head (replaced when it dies)
    task: dict | None = None
    render: Any = None  # the render's ObjectRef
    leased_at: float = 0.0
    beat: Any = None  # the outstanding heartbeat's ObjectRef
    beat_at: float = 0.0
    models: list[str] = field(default_factory=list)
    images: int = 0
    busy_s: float = 0.0
    joined: str = field(default_factory=utc_now)


@dataclass
class Running:
    """A claimed job the head is splitting and leasing."""

    job: Job
    # its model (and a clip's seed) named: workers use the head's choice, not their own
    request: ImageRequest | VideoRequest
    parent: str | None = None  # a promotion's draft
    clip: dict | None = None  # a clip job's result, once its clip is stored
    workers: set[str] = field(default_factory=set)
    started: float = field(default_factory=time.perf_counter)

    @property
    def video(self) -> bool:
        return isinstance(self.request, VideoRequest)


class Head:
    """Cluster mode's side of one server: its loop, its workers, the jobs it is running."""

    def __init__(self, queue: JobQueue, workspace: Workspace, options: Options):
        self.queue, self.workspace, self.options = queue, workspace, options
        self.card = card("head", "none")
        self.address: str | None = None
        self.workers: dict[str, Worker] = {}
        self.refused: set[str] = set()
        self.gone: set[str] = set()  # lost workers, never taken back
        self.joining: dict[str, tuple[Any, Any, bool]] = {}  # name -> (handle, card ref, ours)
        self.jobs: dict[str, Running] = {}
        self.missing: dict[str, set[str]] = {}  # model -> workers that do not have it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._found_at = 0.0
        self._joined_ray = False
        self._desk: Any = None
        self._done: list[tuple[Worker, dict, list]] = []  # checked results, to store
        self._changed: set[str] = set()  # jobs with a part done or failed: _settle looks

    # ------------------------------------------------------------------ life

    def resumable(self, job: dict) -> bool:
        """For :meth:`JobQueue.recover`: a job of ours left running is finished, not restarted."""
        return job["kind"] in KINDS and bool(sql.parts_of(self.queue.conn, job["id"]))

    def start(self) -> None:
        """Join the cluster, start this head's workers, take over what a dead head left."""
        self._joined_ray = not runtime.connected()
        self.address = runtime.connect(self.options.address)
        count = preflight(self.options)
        self._desk = runtime.open_desk(self.card)  # named, but alive only while held
        with self.queue.lock:
            sql.release_all(self.queue.conn)
            sql.workers_gone(self.queue.conn, "not seen since the head restarted")
        self._start_workers(count)
        for job in self.queue.list("running", limit=10_000):
            if job.kind in KINDS:
                self._adopt(job)
        self._thread = threading.Thread(target=self._loop, name="cinedraft-head", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop and the workers this head started (leases left are put back by
        the next head); leave Ray if this head joined it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        handles = [w.handle for w in self.workers.values() if w.ours]
        handles += [handle for handle, _ref, ours in self.joining.values() if ours]
        for handle in handles + ([self._desk] if self._desk is not None else []):
            runtime.kill(handle)
        if self._joined_ray:
            runtime.disconnect()

    def _start_workers(self, count: int) -> None:
        has_gpu = runtime.resources().get("GPU", 0) >= 1
        policy = self.workspace.settings.policy_file
        started = runtime.start_workers(
            count,
            self.workspace.settings.model_dump(mode="json"),
            policy.read_text() if policy and policy.is_file() else None,
            cpus=0 if has_gpu else self.options.worker_cpus,
            gpus=1 if has_gpu else 0,
            cls=self.options.worker_class or RenderWorker,
        )
        for name, handle in started.items():
            self._join(name, handle, ours=True)

    # ------------------------------------------------------------------ the loop

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._pass()
            except Exception:  # noqa: BLE001 - the head must keep serving; the next pass retries
                log.exception("cluster head pass failed")
                time.sleep(1)

    def _pass(self) -> None:
        now = time.monotonic()
        if now - self._found_at > 2:  # 1. find workers; refresh the status rows
            self._find()
            for worker in self.workers.values():
                self._save(worker)
            self._found_at = now
        refs = [w.render for w in self.workers.values() if w.render is not None]
        refs += [w.beat for w in self.workers.values() if w.beat is not None]
        refs += [ref for _handle, ref, _ours in self.joining.values()]
        ready = set(runtime.wait(refs, timeout=0.1))
        for name in [n for n, (_h, ref, _o) in self.joining.items() if ref in ready]:
            self._joined(name)
        for worker in list(self.workers.values()):  # 2. and 3.
            if worker.render is not None and worker.render in ready:
                self._collect(worker)
            if worker.beat is not None and worker.beat in ready:
                self._heard(worker)
        self._send_beats()
        self._expire()
        self._cancelled()
        self._claim()  # 4.
        self._lease()  # 5.
        self._store()  # 2., once every free worker has its next part
        self._settle()  # 6.

    # ------------------------------------------------------------------ 1. workers

    def _find(self) -> None:
        for name, handle in runtime.named_workers().items():
            known = self.workers.keys() | self.refused | self.gone | self.joining.keys()
            if name not in known:
                self._join(name, handle, ours=False)

    def _join(self, name: str, handle: Any, ours: bool) -> None:
        """Ask a new worker for its card; :meth:`_joined` reads it when it comes (a worker
        still loading its libraries does not hold up the loop)."""
        self.joining[name] = (handle, handle.card.remote(), ours)

    def _joined(self, name: str) -> None:
        handle, ref, ours = self.joining.pop(name)
        try:
            worker_card = runtime.get(ref)
        except (runtime.WorkerDied, runtime.WorkerFailed) as exc:
            log.warning("worker %s did not start: %s", name, exc)
            self.gone.add(name)
            self._save_row(name, {}, "gone", f"did not start: {exc}")
            return
        if not isinstance(worker_card, dict):
            worker_card = {}
        reason = refusal(worker_card, self.card)
        if reason:
            log.warning("refused: %s", reason)
            self.refused.add(name)
            self._save_row(name, worker_card, "refused", reason)
            return
        self.workers[name] = Worker(name, handle, worker_card, ours)
        self._save(self.workers[name])

    def _lost(self, worker: Worker, why: str) -> None:
        """A worker is gone (died, hung, sent garbage it cannot be trusted after): its lease
        goes back, a worker this head started is replaced."""
        if self.workers.pop(worker.name, None) is None:
            return  # already seen to be lost (its render and its heartbeat both failed)
        self.gone.add(worker.name)
        if worker.task is not None:
            self._put_back(worker.task, f"worker {worker.name} {why}")
            worker.task = None
        runtime.kill(worker.handle)
        self._save_row(worker.name, worker.card, "gone", why, worker)
        if worker.ours and not self._stop.is_set():
            self._start_workers(1)

    # ------------------------------------------------------------------ 2. results

    def _collect(self, worker: Worker) -> None:
        task, ref = worker.task, worker.render
        worker.task = worker.render = None
        elapsed = time.monotonic() - worker.leased_at
        try:
            result = runtime.get(ref)
        except runtime.WorkerDied as exc:
            worker.task = task  # _lost puts it back
            self._lost(worker, f"died ({exc})")
            return
        except runtime.WorkerFailed as exc:
            self._put_back(task, f"worker {worker.name} failed: {exc}")
            self._save(worker)
            return
        running = self.jobs.get(task["job"])
        if running is None:  # cancelled or ended meanwhile: nothing is stored
            self._save(worker)
            return
        if isinstance(result, dict) and result.get("cancelled"):
            self._save(worker)
            return
        if isinstance(result, dict) and result.get("missing_model"):
            model = task["request"]["model"]
            self.missing.setdefault(model, set()).add(worker.name)
            self._put_back(task, f"worker {worker.name}: {result.get('error')}", refund=True)
            self._save(worker)
            return
        if isinstance(result, dict) and isinstance(result.get("error"), str):
            self._fail_job(running, result["error"])
            self._save(worker)
            return
        try:
            rendered = clip_of(result, task) if running.video else rendered_of(result, task)
        except MalformedResult as exc:
            self._put_back(task, f"worker {worker.name} returned a malformed result: {exc}")
            self._save(worker)
            return
        models = result.get("models")
        worker.models = (
            [m for m in models if isinstance(m, str)] if isinstance(models, list) else []
        )
        worker.images += len(task["seeds"])
        worker.busy_s += elapsed
        self._done.append((worker, task, rendered))  # stored after the next lease is out

    def _store(self) -> None:
        """Store the parts collected this pass (the slow step: watermark, encode, sign)."""
        done, self._done = self._done, []
        for worker, task, rendered in done:
            running = self.jobs.get(task["job"])
            if running is not None:
                self._store_part(running, worker, task, rendered)

    def _store_part(
        self, running: Running, worker: Worker, task: dict, rendered: list[Rendered] | Clip
    ) -> None:
        extra = {"job_id": task["job"], "job_part": task["part"], "worker": worker.name}
        if isinstance(rendered, Clip):
            try:
                ids = [self._store_clip(running, rendered, extra)]
            except InputError as exc:  # the prober refused what the worker sent
                why = f"worker {worker.name} returned a malformed result: {exc}"
                self._put_back(task, why)
                return
        else:
            outputs = self.workspace.engine().image.store(rendered, extra)
            ids = [o.asset_id for o in outputs]
        with self.queue.lock:
            sql.complete(self.queue.conn, task["job"], task["part"], ids)
        self._changed.add(task["job"])
        running.workers.add(worker.name)
        self._save(worker)
        self._report(running)

    def _store_clip(self, running: Running, clip: Clip, extra: dict) -> str:
        """Probe a worker's clip as any untrusted media (in the prober's own process), then
        store it as one machine does; its asset id."""
        with tempfile.NamedTemporaryFile(suffix=".mp4") as f:
            f.write(clip.data)
            f.flush()
            self.workspace.library().prober().probe(Path(f.name))
        result = self.workspace.engine().video.store(clip, running.request, extra)
        running.clip = {
            "poster": result.poster,
            "duration": result.seconds,
            "frames": result.frames,
            "chunks": result.chunks,
        }
        return result.asset_id

    def _put_back(self, task: dict, why: str, refund: bool = False) -> None:
        """A leased part goes back to the queue, or fails once it had its attempts."""
        job_id, part = task["job"], task["part"]
        with self.queue.lock:
            conn = self.queue.conn
            row = sql.part_of(conn, job_id, part)
            if row is None or row["state"] != "leased":
                return
            if row["attempts"] >= MAX_ATTEMPTS and not refund:
                sql.fail(conn, job_id, part, f"{why} (gave up after {row['attempts']} attempts)")
                self._changed.add(job_id)
            else:  # refund: not the part's fault, this machine lacks the model
                sql.release(conn, job_id, part, why, refund)
        log.warning("part %s/%s put back: %s", job_id, part, why)

    # ------------------------------------------------------------------ 3. heartbeats

    def _send_beats(self) -> None:
        now = time.monotonic()
        for worker in self.workers.values():
            every = self.options.beat_s if worker.task is not None else 5 * self.options.beat_s
            if worker.beat is None and now - worker.beat_at >= every:
                worker.beat, worker.beat_at = worker.handle.beat.remote(), now

    def _heard(self, worker: Worker) -> None:
        ref, worker.beat = worker.beat, None
        try:
            beat = runtime.get(ref)
        except (runtime.WorkerDied, runtime.WorkerFailed) as exc:
            self._lost(worker, f"died ({exc})")
            return
        worker.models = list(beat.get("models") or [])
        if worker.task is None:
            return
        if time.time() - float(beat.get("progress_at") or 0) > self.options.stall_s:
            return  # no renewal: the lease runs out and the worker is treated as hung
        with self.queue.lock:
            sql.renew(self.queue.conn, worker.name, time.time() + self.options.lease_s)
        running = self.jobs.get(worker.task["job"])
        progress = beat.get("progress") or {}
        if running is not None and running.job.kind == "promote" and progress.get("stage"):
            self._safe_report(
                running.job.id, progress["stage"], progress["done"], progress["total"]
            )

    def _expire(self) -> None:
        with self.queue.lock:
            late = sql.expired(self.queue.conn, time.time())
        storing = {(task["job"], task["part"]) for _w, task, _r in self._done}
        for part in late:
            key = (part["job_id"], part["part"])
            if key in storing:  # rendered and checked; stored later in this pass
                continue
            holder = self.workers.get(part["worker"])
            if (
                holder is not None
                and holder.task
                and (holder.task["job"], holder.task["part"]) == key
            ):
                self._lost(holder, "stopped answering (its lease expired)")
            else:  # its holder is gone already
                self._put_back(
                    {"job": part["job_id"], "part": part["part"]},
                    f"the lease of worker {part['worker']} expired",
                )

    # ------------------------------------------------------------------ 4. claims

    def _claim(self) -> None:
        while not self._stop.is_set():
            with self.queue.lock:
                waiting = sql.queued_parts(self.queue.conn)
                urgent = sql.next_priority(self.queue.conn, KINDS)
            free = [w for w in self.workers.values() if w.task is None]
            if urgent is None:
                return
            best = min((p["priority"] for p in waiting), default=None)
            if len(waiting) >= len(free) and best is not None and urgent >= best:
                return
            job = self.queue.claim(KINDS, timeout=0)
            if job is None:
                return
            self._split(job)

    def _split(self, job: Job) -> None:
        try:
            with self.workspace.guard().acting_as(job.actor):
                running = self._running(job)
                request = running.request
                if running.video:  # one clip stays on one worker
                    action = "extend" if request.extend else "video"
                    prompts, seeds = [request.prompt], [request.seed]
                    self.workspace.guard().check(action, request.prompt, request)
                else:
                    wildcards = self.workspace.settings.wildcards_root
                    prompts, seeds = prompts_and_seeds(request, wildcards)
                    self.workspace.guard().check(
                        job.kind, request.prompt, request, request.template
                    )
        except CinedraftError as exc:
            self.queue.finish(job.id, "failed", error=str(exc))
            return
        with self.queue.lock:
            sql.split(self.queue.conn, job.id, part_groups(prompts, seeds, len(self.workers)))
        self.jobs[job.id] = running
        self._report(running)

    def _running(self, job: Job) -> Running:
        """A job's request with its model named (the head's settings choose it)."""
        settings, r = self.workspace.settings, job.request
        if job.kind == "video":  # the seed fixed now, so a part leased again makes the same clip
            video = VideoRequest(**r)
            seed = secrets.randbelow(2**32) if video.seed is None else video.seed
            named = {"model": video.model or settings.video_model, "seed": seed}
            return Running(job, video.model_copy(update=named))
        if job.kind == "promote":
            size = parse_size(r["size"]) if r.get("size") else None
            overrides = Overrides(**{k: r.get(k) for k in Overrides.model_fields})
            request = self.workspace.engine().image.promote_request(r["asset_id"], overrides, size)
            parent = r["asset_id"]
        else:
            request, parent = ImageRequest(**r), None
        model = request.model or settings.model_for(request.tier)
        return Running(job, request.model_copy(update={"model": model}), parent)

    def _adopt(self, job: Job) -> None:
        """Take over a job a dead head left running: parts whose assets are stored are done."""
        try:
            running = self._running(job)
        except CinedraftError as exc:
            self.queue.finish(job.id, "failed", error=str(exc))
            return
        with self.queue.lock:
            stored = sql.stored_parts(self.queue.conn, job.id)
            for part in sql.parts_of(self.queue.conn, job.id):
                if part["state"] != "done" and len(stored.get(part["part"], [])) == len(
                    part["seeds"]
                ):
                    sql.complete(self.queue.conn, job.id, part["part"], stored[part["part"]])
        self.jobs[job.id] = running
        self._changed.add(job.id)  # it may be done already

    # ------------------------------------------------------------------ 5. leases

    def _lease(self) -> None:
        free = [w for w in self.workers.values() if w.task is None]
        if not free:
            return
        with self.queue.lock:
            waiting = sql.queued_parts(self.queue.conn)
        for part in waiting:
            running = self.jobs.get(part["job_id"])
            if running is None or not free:
                continue
            model = running.request.model
            lacking = self.missing.get(model, set())
            worker = pick_worker(free, model, lacking)
            if worker is None:
                everyone = self.workers.values()
                if everyone and not self.joining and all(w.name in lacking for w in everyone):
                    names = ", ".join(sorted(lacking))
                    self._fail_job(running, f"model {model!r} is missing on every worker ({names})")
                continue
            with self.queue.lock:
                if not sql.lease(
                    self.queue.conn,
                    part["job_id"],
                    part["part"],
                    worker.name,
                    time.time() + self.options.lease_s,
                ):
                    continue
            free.remove(worker)
            worker.task = self._task(running, part)
            worker.leased_at = time.monotonic()
            render = worker.handle.render.options(concurrency_group=runtime.RENDER)
            worker.render = render.remote(worker.task)

    def _task(self, running: Running, part: dict) -> dict:
        task = {
            "key": f"{running.job.id}:{part['part']}",
            "job": running.job.id,
            "part": part["part"],
            "request": running.request.model_dump(mode="json"),
            "prompts": part["prompts"],
            "seeds": part["seeds"],
        }
        library = self.workspace.library()
        if running.parent is not None:
            task["parent"] = _sent(library.get(running.parent))
        if running.video:  # the first frame or the clip to extend, as files the worker lacks
            request = running.request
            task["kind"] = "video"
            task["sources"] = {
                ref: _sent(library.resolve(ref, kind))
                for ref, kind in ((request.image, "image"), (request.extend, "video"))
                if ref
            }
        return task

    # ------------------------------------------------------------------ 6. endings

    def _cancelled(self) -> None:
        for job_id, running in list(self.jobs.items()):
            if not self.queue.cancel_requested(job_id):
                continue
            del self.jobs[job_id]
            with self.queue.lock:
                sql.fail(self.queue.conn, job_id, None, "cancelled")
            for worker in self.workers.values():
                if worker.task is not None and worker.task["job"] == job_id:
                    worker.handle.cancel.remote(worker.task["key"])
            self.queue.finish(job_id, "cancelled", worker=_names(running))

    def _settle(self) -> None:
        """End the jobs whose parts changed this pass (not every job on every pass)."""
        changed, self._changed = self._changed, set()
        for job_id in changed:
            running = self.jobs.get(job_id)
            if running is None:
                continue
            with self.queue.lock:
                parts = sql.parts_of(self.queue.conn, job_id)
            if not parts:
                continue
            outputs = [a for p in parts for a in (p["outputs"] or [])]
            failed = next((p for p in parts if p["state"] == "failed"), None)
            if failed is not None:
                self._fail_job(running, failed["error"] or "a part failed")
            elif all(p["state"] == "done" for p in parts):
                del self.jobs[job_id]
                result = {"outputs": outputs, "seconds": round(_since(running), 3)}
                if running.video:  # audited as it was stored, like any clip
                    result |= running.clip or self._clip_summary(outputs[0])
                else:
                    self._audit(running, outputs)
                if running.parent:
                    result["parent"] = running.parent
                self.queue.finish(job_id, "done", result, worker=_names(running))

    def _clip_summary(self, clip_id: str) -> dict:
        """A clip job's result from its stored record (a head that restarted stored it)."""
        record = self.workspace.library().get(clip_id).record
        return {
            "duration": record.get("seconds"),
            "frames": record.get("frames"),
            "chunks": len(record.get("chunks") or []),
        }

    def _fail_job(self, running: Running, error: str) -> None:
        job_id = running.job.id
        self.jobs.pop(job_id, None)
        with self.queue.lock:
            sql.fail(self.queue.conn, job_id, None, error)
            parts = sql.parts_of(self.queue.conn, job_id)
        for worker in self.workers.values():
            if worker.task is not None and worker.task["job"] == job_id:
                worker.handle.cancel.remote(worker.task["key"])
        stored = [a for p in parts for a in (p["outputs"] or [])]
        result = {"outputs": stored, "partial": True} if stored else None
        self.queue.finish(job_id, "failed", result, error, worker=_names(running))

    def _audit(self, running: Running, outputs: list[str]) -> None:
        records = [self.workspace.library().get(a).record for a in outputs]
        with self.workspace.guard().acting_as(running.job.actor):
            self.workspace.engine().image.audit_records(running.request, outputs, records)

    def _report(self, running: Running) -> None:
        with self.queue.lock:
            parts = sql.parts_of(self.queue.conn, running.job.id)
        done = sum(len(p["seeds"]) for p in parts if p["state"] == "done")
        total = sum(len(p["seeds"]) for p in parts)
        self._safe_report(running.job.id, "images", done, total)

    def _safe_report(self, job_id: str, stage: str, done: int, total: int) -> None:
        try:
            self.queue.report(job_id, stage, done, total)
        except JobCancelled:  # seen by _cancelled on this pass
            pass

    # ------------------------------------------------------------------ status rows

    def _save(self, worker: Worker) -> None:
        self._save_row(worker.name, worker.card, "busy" if worker.task else "idle", None, worker)

    def _save_row(
        self, name: str, worker_card: dict, state: str, note: str | None, w: Worker | None = None
    ) -> None:
        row = {
            "name": name,
            "node": str(worker_card.get("node", "?")),
            "device": str(worker_card.get("device", "?")),
            "version": str(worker_card.get("version", "?")),
            "state": state,
            "models": w.models if w else [],
            "lease": w.task["key"] if w and w.task else None,
            "images": w.images if w else 0,
            "busy_s": round(w.busy_s, 3) if w else 0.0,
            "joined": w.joined if w else utc_now(),
            "seen": utc_now(),
            "note": note,
        }
        with self.queue.lock:
            sql.save_worker(self.queue.conn, row)


def preflight(options: Options) -> int:
    """How many workers a head starts; :class:`ClusterError` for what would fail later or
    wait forever: another head in the cluster, a worker the cluster could never place."""
    have = runtime.resources()
    gpus, cpus = have.get("GPU", 0), have.get("CPU", 0)
    if options.workers is not None:
        count = options.workers
    else:
        count = int(gpus) if gpus >= 1 else max(1, int(cpus // options.worker_cpus))
    if count and gpus < 1 and options.worker_cpus > cpus:
        raise runtime.ClusterError(
            f"a worker needs {options.worker_cpus:g} CPUs and the cluster has {cpus:g}: "
            "lower --worker-cpus"
        )
    if runtime.head_card() is not None:
        raise runtime.ClusterError(
            "another cinedraft head already runs in this cluster: one head per cluster "
            "(its library database is the only writer); stop it first"
        )
    return count


def part_groups(
    prompts: list[str], seeds: list[int], workers: int
) -> list[tuple[list[str], list[int]]]:
    """A job's images in parts: about two parts per worker so a large job spreads over all
    of them (and a lost part costs little), at most one pipeline batch each."""
    size = max(1, min(BATCH, math.ceil(len(seeds) / (2 * max(1, workers)))))
    return [(prompts[i : i + size], seeds[i : i + size]) for i in range(0, len(seeds), size)]


def pick_worker(free: list[Worker], model: str, lacking: set[str]) -> Worker | None:
    """The free worker for a part of ``model``: one that has it loaded (no load to wait for),
    else any that has not said it lacks the model; None when none can take it now."""
    able = [w for w in free if w.name not in lacking]
    return next((w for w in able if model in w.models), able[0] if able else None)


def _sent(asset: Asset) -> dict:
    """An asset as the head sends it to a worker: its row and its file's bytes."""
    with open(asset.path, "rb") as f:
        return {"asset": asset.model_dump(mode="json"), "data": f.read()}


def _names(running: Running) -> str | None:
    return ", ".join(sorted(running.workers)) or None


def _since(running: Running) -> float:
    return time.perf_counter() - running.started
