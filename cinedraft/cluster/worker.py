"""A cluster worker: one Ray actor per GPU (or CPU slot), holding its own pipelines.

It is a plain class here (Ray wraps it in :mod:`.runtime`, so importing this module does not
import Ray). It renders one part at a time (some images, or one clip) with the same image and
video flows as one-machine mode, minus the library: it stores nothing, signs nothing and
audits nothing; it returns pixels, clips and records to the head, which does all three.
``render`` runs on a thread of its own, always the same one (the actor's ``render``
concurrency group); Ray runs ``card``, ``beat`` and ``cancel`` on a second one, so the head
hears from a worker while it renders, and never two renders at once (diffusers pipelines are
not thread-safe).

The files the head sends with a task (a draft to promote, a first frame, a clip to extend)
live in a folder of their own for that task and go with it. Ray ends an actor by killing its
process, so nothing may be left to clean up at exit: before, each worker left a folder in the
system's temporary directory holding its policy and the last task's files. A worker killed
in the middle of a task still leaves that task's folder, so the folder's name says whose it
is (machine and process) and a worker starting on that machine removes those of workers
that are gone.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from ..config import Settings
from ..engine.device import pick_device
from ..engine.guard import Guard
from ..engine.image import ImageEngine, Part
from ..engine.models import ModelCache
from ..engine.video import VideoEngine
from ..errors import CinedraftError, JobCancelled, ModelNotFoundError
from ..library import Asset
from ..render.upscale import ModelUpscaler
from ..request import ImageRequest, VideoRequest
from .protocol import card


class RenderWorker:
    def __init__(self, name: str, settings: dict, policy: str | None):
        """``settings``: the machine's own (its models folder, device, cache size); ``policy``:
        the head's policy file's text, applied here too (faces are found where pixels are)."""
        self.name = name
        self.settings = Settings(**settings)
        self.device = pick_device(self.settings.device)
        _remove_dead_workers_files()
        guard = _guard(policy)
        self.models = ModelCache.for_settings(self.settings, self.device)
        upscaler = self.settings.upscaler
        self.image = ImageEngine(
            self.settings,
            self.models,
            None,  # no library: the head stores
            self.device,
            ModelUpscaler(upscaler, device=str(self.device)) if upscaler else None,
            guard,
        )
        self.video = VideoEngine(self.models, None, self.device, guard)
        self._task: str | None = None
        self._files: Path | None = None  # the task's files from the head, while it runs
        self._cancel = False
        self._progress: dict = {}
        self._progress_at = time.time()

    def card(self) -> dict:
        return card(self.name, str(self.device))

    def beat(self) -> dict:
        """The heartbeat: what it is doing, when it last made progress, what it has loaded."""
        return {
            "task": self._task,
            "progress": self._progress,
            "progress_at": self._progress_at,
            "models": self.models.loaded(),
        }

    def cancel(self, task: str) -> None:
        if self._task == task:
            self._cancel = True

    def render(self, task: dict) -> dict:
        """Render one part, some images or one clip (see :mod:`.protocol`); an ``error``
        instead when it cannot (``missing_model``: this machine does not have the model)."""
        self._task, self._cancel = task["key"], False
        self._report("start", 0, 1)
        try:
            return self._clip(task) if task.get("kind") == "video" else self._images(task)
        except JobCancelled:
            return {"cancelled": True}
        except ModelNotFoundError as exc:
            return {"error": str(exc), "missing_model": True}
        except CinedraftError as exc:
            return {"error": str(exc)}
        finally:
            if self._files is not None:
                shutil.rmtree(self._files, ignore_errors=True)
            self._task = self._files = None

    def _images(self, task: dict) -> dict:
        parent = task.get("parent")
        rendered = self.image.render_images(
            ImageRequest(**task["request"]),
            self._report,
            part=Part(task["prompts"], task["seeds"], parent and self._source("parent", parent)),
        )
        return {
            "images": [np.asarray(r.image.convert("RGB")) for r in rendered],
            "records": [r.record.to_dict() for r in rendered],
            "drift": [None if r.drift is None else float(r.drift) for r in rendered],
            "models": self.models.loaded(),
        }

    def _report(self, stage: str, done: int, total: int) -> None:
        self._progress = {"stage": stage, "done": done, "total": total}
        self._progress_at = time.time()
        if self._cancel:
            raise JobCancelled(self._task)

    def _clip(self, task: dict) -> dict:
        request = VideoRequest(**task["request"])
        sources = {
            ref: self._source(f"source{i}", source)
            for i, (ref, source) in enumerate(task.get("sources", {}).items())
        }
        clip = self.video.render(request, request.model, self._report, sources=sources)
        return {
            "clip": clip.data,
            "record": clip.record.to_dict(),
            "poster": clip.poster,
            "contact_sheet": clip.contact_sheet,
            "chunks": clip.chunks,
            "seams": clip.seams,
            "models": self.models.loaded(),
        }

    def _source(self, name: str, sent: dict) -> Asset:
        """An asset the head sent (a promotion's draft, a first frame, a clip to extend):
        this machine has no library, so it is a file here for the length of the task."""
        if self._files is None:  # most tasks send no file, and make no folder
            self._files = Path(tempfile.mkdtemp(prefix=_TASK_FILES + f"{os.getpid()}-"))
        path = self._files / f"{name}{Path(sent['asset']['path']).suffix}"
        path.write_bytes(sent["data"])
        return Asset.model_validate(sent["asset"] | {"path": str(path)})


# A task's folder: cinedraft-task-<machine>-<pid>-<random>. The machine's name is in it
# because containers may share a temporary directory and not their process numbers.
_TASK_FILES = f"cinedraft-task-{socket.gethostname()}-"


def _remove_dead_workers_files() -> None:
    """Remove the task folders of this machine's workers whose process is gone (killed in
    the middle of a task: what the head sent them, a user's draft or clip, is still there)."""
    for folder in Path(tempfile.gettempdir()).glob(_TASK_FILES + "*"):
        # whole: a machine named like this one with "-2" after it is another machine
        named = re.fullmatch(r"(\d+)-[a-z0-9_]{8}", folder.name.removeprefix(_TASK_FILES))
        if named and not _alive(int(named[1])):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _guard(policy: str | None) -> Guard:
    """The head's policy (its file's text), read now from a file that is gone when this
    returns; checks only, no audit (the head audits what it stores)."""
    if policy is None:
        return Guard(None, None)
    with tempfile.TemporaryDirectory(prefix="cinedraft-policy-") as folder:
        path = Path(folder) / "policy.toml"
        path.write_text(policy, encoding="utf-8")
        guard = Guard(path, None)
        guard.policy  # noqa: B018 - loaded once, here, while its file exists
    return guard
