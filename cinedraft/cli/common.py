"""What every command shares: error handling, destinations, progress bars, output. Each
command's library, engine and editor come from the :class:`~cinedraft.workspace.Workspace`
in its context."""

from __future__ import annotations

import functools
import json
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ..errors import EXIT_CODE, CinedraftError, InputError, OutputError, first_problem
from ..ids import ASSET_ID
from ..media.files import write_atomic
from ..request import Result, no_progress

if TYPE_CHECKING:
    from ..workspace import Workspace

T = TypeVar("T")

# Text a terminal would act on rather than show: C0 and C1 controls (ESC starts the escape
# sequences that clear a screen, retitle a window or write a link; 0x9b is CSI on 8-bit
# terminals) but the newline and tab, and the bidirectional overrides that reorder what is
# shown (U+202A-202E, U+2066-2069). A prompt is a file's untrusted metadata once imported.
_UNSHOWABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with what a terminal would act on written out as escapes (``\\x1b``)."""
    return _UNSHOWABLE.sub(lambda m: m.group().encode("unicode_escape").decode(), text)


# The widest a table printed to a pipe or a log may be: a row of a long prompt stays one line.
_LOG_WIDTH = 100_000


class _Console(Console):
    """A console that shows control characters in what it prints instead of sending them to
    the terminal (Rich passes ESC through: an imported file's prompt could clear the screen
    of whoever listed the library). Every string printed or put in a table passes here."""

    def render_str(self, text: str, **kwargs):
        return super().render_str(printable(text), **kwargs)

    def print_json(self, json: str | None = None, **kwargs) -> None:
        """JSON with everything outside ASCII as ``\\u`` escapes: still JSON, and no C1
        control or bidirectional override reaches the terminal (Rich re-encodes the text,
        past :meth:`render_str`)."""
        super().print_json(json, **({"ensure_ascii": True} | kwargs))

    def print(self, *objects, **kwargs) -> None:
        """Never cuts what it prints. Rich crops every line at the console's width, and a
        result table is wider than an 80-column terminal: the characters past the edge of
        each folded line of a file's path were lost, so the path shown was not the file's.
        A terminal too narrow for a table wraps it instead. A pipe or a log has no width
        (Rich assumes 80): a table there is as wide as its widest row, a path on one line.
        A line of text is printed as it is and wrapped, if at all, by the terminal: Rich
        broke a path longer than 80 characters in two with a newline, so
        ``$(cinedraft library export ...)`` was not a path."""
        kwargs.setdefault("crop", False)
        tables = [o for o in objects if isinstance(o, Table)]
        if not tables:
            kwargs.setdefault("soft_wrap", True)
        if self.is_terminal or not tables:
            super().print(*objects, **kwargs)
            return
        unbounded = self.options.update_width(_LOG_WIDTH)
        kept = self.width
        self.width = max(kept, *(self.measure(t, options=unbounded).maximum for t in tables))
        try:
            super().print(*objects, **kwargs)
        finally:
            self.width = kept


err = _Console(stderr=True)
out = _Console()

# Options of every command that samples a model (generate, promote, video, extend, lab).
Steps = Annotated[int | None, typer.Option(help="Sampling steps (default: the tier's).")]
Guidance = Annotated[float | None, typer.Option(help="Classifier-free guidance scale.")]
Scheduler = Annotated[str | None, typer.Option(help="dpm++, euler, euler-a, ddim, unipc, ...")]
Negative = Annotated[str, typer.Option("--negative", help="Negative prompt.")]
Styles = Annotated[
    list[str] | None,
    typer.Option(
        "--style",
        help="A style from the styles file (A1111's styles.csv: HOME/styles.csv or "
        "CINEDRAFT_STYLES); repeatable, applied in order.",
    ),
]
ClipSkip = Annotated[
    int | None,
    typer.Option(
        "--clip-skip",
        help="A1111's Clip skip: 2 reads the text encoder's next-to-last layer (most anime "
        "SD 1.x models want it); SD 1.x/2.x models.",
    ),
]
# extend's options (top-level `extend` and `edit extend`)
ExtendSeconds = Annotated[float, typer.Option("--seconds", help="Length of the continuation.")]
Before = Annotated[bool, typer.Option("--before", help="A lead-in before the first frame.")]
# extend's model: the clip's own unless named (not the configured video model)
ClipModel = Annotated[
    str | None, typer.Option(help="Video model (default: the one that made the clip).")
]
ClipSeed = Annotated[
    int | None, typer.Option(help="Seed of the first chunk; random if not set or -1.")
]


def parsed_option(text: str | None, parse: Callable[[str], T], option: str) -> T | None:
    """``parse(text)`` for an option given as text (None when not given); its ValueError
    becomes a usage error naming ``option``."""
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def file_or_asset(state: Workspace, ref: Path) -> tuple[Path, str]:
    """A file named on the command line, or the stored file of an asset id (as every command
    that works on outputs takes them): its path, and what to call it in what is printed."""
    if not ref.exists() and ASSET_ID.match(str(ref)):
        return Path(state.library().get(str(ref)).path), str(ref)
    return ref, ref.name


def refuse_options(option: str, given: dict[str, bool], why: str) -> None:
    """A usage error naming every option in ``given`` that was set, when ``option`` (which
    they do not go with) was given; ``why``: the reason, said once."""
    refused = [name for name, on in given.items() if on]
    if refused:
        raise typer.BadParameter(
            f"{', '.join(refused)} cannot be used with {option} ({why})", param_hint=option
        )


def say_error(message: str) -> None:
    """``error: message`` on one line of stderr (never wrapped; the message is not markup)."""
    err.print("[red]error:[/] ", end="")
    err.print(" ".join(message.split()), markup=False, highlight=False, soft_wrap=True)


def handles_errors(fn):
    """Turn cinedraft and validation errors into a one-line message and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            say_error(first_problem(exc))
            raise typer.Exit(EXIT_CODE) from None
        except CinedraftError as exc:
            say_error(str(exc))
            raise typer.Exit(EXIT_CODE) from None

    return wrapper


# What a file a command writes may be named: a clip is an MP4 file (which .m4v and .mov
# name too); a timeline is OTIO's JSON, which OpenTimelineIO reads back only from .otio.
# A clip's bytes under `--out clip.gif` were an MP4 that nothing opens as a GIF.
DESTINATIONS = {"clip": (".mp4", ".m4v", ".mov"), "timeline": (".otio",)}
_WRITTEN_AS = {"clip": "MP4 (.mp4, .m4v or .mov)", "timeline": "OpenTimelineIO (.otio)"}


def writable_destination(path: Path | None, kind: str = "clip") -> Path | None:
    """``path`` if a file of ``kind`` (:data:`DESTINATIONS`) can be written there, checked
    before any work is done (its name's suffix; a temp file is created and removed beside
    it), else :class:`InputError` or :class:`OutputError`."""
    if path is None:
        return None
    path = Path(path).expanduser()
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name")
    if path.suffix.lower() not in DESTINATIONS[kind]:
        raise InputError(
            f"{path}: a {kind} is written as {_WRITTEN_AS[kind]}; "
            f"name it {path.stem}{DESTINATIONS[kind][0]}"
        )
    try:
        fd, probe = tempfile.mkstemp(
            dir=path.parent if str(path.parent) else ".", prefix=".cinedraft-"
        )
    except OSError as exc:
        raise OutputError(f"cannot write to {path}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)
    return path


def copy_out(source: Path, dest: Path) -> None:
    """Copy a stored file to where the user asked (atomically: never half a file there)."""
    try:
        write_atomic(dest, Path(source).read_bytes(), shared=True)
    except OSError as exc:
        raise OutputError(f"cannot write {dest}: {exc.strerror or exc}") from None


LINE_EVERY = 5.0  # seconds between plain progress lines of one stage (its start and end: always)


@contextmanager
def progress_bars(enabled: bool = True):
    """A Rich progress display on stderr; yields the engine's ``on_progress`` callback.
    When stderr is not a terminal (CI, a pipe, a log file) progress is plain lines instead:
    ``stage done/total elapsed``, at each stage's start and end and every few seconds."""
    if not enabled:
        yield no_progress
        return
    if not err.is_terminal:
        yield _progress_lines()
        return
    with Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bars:
        tasks: dict[str, int] = {}

        def on_progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield on_progress


def _progress_lines():
    started = time.monotonic()
    last: dict[str, tuple[float, int]] = {}  # stage -> (when its last line was, done then)

    def on_progress(stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        when, shown = last.get(stage, (None, -1))
        finished = done >= total
        if when is None or (finished and shown < total) or (now - when >= LINE_EVERY):
            last[stage] = (now, done)
            err.print(f"{stage} {done}/{total} {now - started:.1f}s", soft_wrap=True)

    return on_progress


def print_result(result: Result, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(result.model_dump(mode="json")))
        return
    table = Table(title=f"{len(result.outputs)} image(s), {result.request.tier} tier")
    for col in ("asset id", "seed", "size", "s/image", "drift"):
        table.add_column(col, no_wrap=True)
    # each variation's own prompt; at least 12 wide (16 took the table past 80 columns)
    table.add_column("prompt", overflow="fold", min_width=12)
    table.add_column("file", overflow="fold")
    for o in result.outputs:
        if (o.record.get("safety") or {}).get("flagged"):
            err.print(
                f"warning: {o.asset_id} was flagged by the model's safety checker "
                f"({o.record['safety']['checker']}) and is stored black",
                soft_wrap=True,
            )
        if unread := o.record.get("prompt_unread"):
            err.print(
                f"note: {o.asset_id}: the model's text encoder stops at its window; "
                f"not read: {printable(unread)!r}",
                soft_wrap=True,
            )
        if (o.record.get("policy") or {}).get("flagged"):
            hits = ", ".join(h["name"] for h in o.record["policy"]["hits"])
            err.print(f"warning: {o.asset_id} is flagged by the usage policy ({hits})")
        table.add_row(
            o.asset_id,
            str(o.seed),
            f"{o.width}x{o.height}",
            f"{result.seconds_per_image:.2f}",
            "" if o.drift is None else f"{o.drift:.3f}",
            o.prompt,
            o.path,
        )
    out.print(table)
