"""``Workspace``: the one wiring of settings to a library, an engine and an editor.

The CLI (one per invocation) and the server (one per app) both build their parts here, so
they are wired the same way: the engine stores into the same library, and the editor's
``extend`` generates its continuation with that engine. Everything is built on first use
(torch and diffusers take seconds to import; library commands need neither).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

from .config import Settings
from .library import Library

if TYPE_CHECKING:
    from .editor import Editor
    from .engine.engine import Engine
    from .engine.guard import Guard
    from pathlib import Path

    from .request import Overrides, Progress


class Workspace:
    """Settings, and the library, engine and editors built from them on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._library: Library | None = None
        self._engine: Engine | None = None
        self._guard: Guard | None = None
        # The server's threads (API handlers, the model and CPU workers) build these on
        # first use: one of each, whichever thread comes first. The engine has its own lock:
        # building it takes seconds, which the library and the guard must not wait for.
        self._building = threading.RLock()
        self._building_engine = threading.Lock()

    def library(self) -> Library:
        with self._building:
            if self._library is None:
                self._library = Library(
                    self.settings.library_root, provenance=self.settings.provenance
                )
            return self._library

    def guard(self) -> Guard:
        """The usage policy and audit trail every generation here goes through."""
        with self._building:
            if self._guard is None:
                from .engine.guard import Guard

                settings = self.settings
                self._guard = Guard(
                    settings.policy_file,
                    self.library(),
                    retention_days=settings.audit_retention_days,
                    wildcards=settings.wildcards_root,
                )
            return self._guard

    def engine(self) -> Engine:
        with self._building_engine:
            if self._engine is None:
                from .engine.engine import Engine  # torch and diffusers load here, not at import

                self._engine = Engine(self.settings, self.library(), guard=self.guard())
            return self._engine

    def editor(
        self, on_progress: Progress | None = None, record_extra: dict | None = None
    ) -> Editor:
        """An editor on the library whose ``extend`` generates continuations with the engine
        (loaded only when one is needed); ``record_extra`` goes into every record it writes
        (the server's job id)."""
        from .editor import Editor

        def continuation(
            clip: Path,
            seconds: float,
            prompt: str,
            before: bool,
            overrides: Overrides,
            seed: int | None,
            negative_prompt: str,
        ) -> Path:
            return self.engine().continue_clip(
                clip,
                seconds,
                prompt,
                before,
                on_progress,
                seed=seed,
                overrides=overrides,
                negative_prompt=negative_prompt,
            )

        return Editor(self.library(), generate_continuation=continuation, record_extra=record_extra)

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
