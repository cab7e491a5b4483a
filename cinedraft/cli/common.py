"""What every command shares: the engine from the context, error handling, progress, output."""

from __future__ import annotations

import functools
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..config import Settings
from ..errors import EXIT_CODE, CinedraftError
from ..library import Library
from ..request import Result

if TYPE_CHECKING:
    from ..editor import Editor
    from ..engine.image import Engine

err = Console(stderr=True)
out = Console()


@dataclass
class State:
    """Per-invocation state built by the app callback; library and engine built on first use."""

    settings: Settings
    _library: Library | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    def library(self) -> Library:
        if self._library is None:
            self._library = Library(self.settings.library_root, provenance=self.settings.provenance)
        return self._library

    def engine(self) -> Engine:
        if self._engine is None:
            # Imported here: torch and diffusers take seconds, library commands need neither.
            from ..engine.image import Engine

            self._engine = Engine(self.settings, self.library())
        return self._engine

    def editor(self, on_progress=None) -> Editor:
        """The editor, whose ``extend`` generates continuations with the video engine (loaded
        only when one is needed)."""
        from ..editor import Editor

        def continuation(clip, seconds, prompt, before):
            return self.engine().continue_clip(clip, seconds, prompt, before, on_progress)

        return Editor(self.library(), generate_continuation=continuation)


def handles_errors(fn):
    """Turn cinedraft and validation errors into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            for e in exc.errors():
                where = ".".join(str(p) for p in e["loc"]) or "request"
                err.print(f"[red]error:[/] {where}: {e['msg'].removeprefix('Value error, ')}")
            raise typer.Exit(EXIT_CODE) from None
        except CinedraftError as exc:
            err.print(f"[red]error:[/] {exc}")
            raise typer.Exit(EXIT_CODE) from None

    return wrapper


@contextmanager
def progress_bars(enabled: bool = True):
    """A Rich progress display on stderr; yields the engine's ``on_progress`` callback."""
    if not enabled:
        yield lambda stage, done, total: None
        return
    with Progress(
        TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, transient=True,
    ) as bars:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield on_progress


def print_result(result: Result, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(result.model_dump(mode="json")))
        return
    table = Table(title=f"{len(result.outputs)} image(s), {result.request.tier} tier")
    for col in ("asset id", "seed", "size", "s/image", "drift"):
        table.add_column(col, no_wrap=True)
    table.add_column("file", overflow="fold")
    for o in result.outputs:
        table.add_row(
            o.asset_id, str(o.seed), f"{o.width}x{o.height}", f"{result.seconds_per_image:.2f}",
            "" if o.drift is None else f"{o.drift:.3f}", o.path,
        )
    out.print(table)
