"""The ``cinedraft`` app: global options, then one command per function."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..config import Settings
from . import analyze, demo, edit, generate, library, serve, video
from .common import State

app = typer.Typer(
    name="cinedraft",
    help="Draft images fast, promote the ones you like to production quality, keep the record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def configure(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="cinedraft home (CINEDRAFT_HOME).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Never download models.")] = False,
) -> None:
    overrides = {k: v for k, v in {"home": home, "device": device}.items() if v is not None}
    if offline:
        overrides["offline"] = True
    ctx.obj = State(settings=Settings(**overrides))


app.command()(generate.generate)
app.command()(generate.vary)
app.command()(generate.promote)
app.command()(video.video)
app.command()(video.extend)
app.command()(demo.demo)
app.command()(library.verify)
app.add_typer(library.app, name="library")
app.command()(analyze.analyze)
app.add_typer(analyze.lab, name="lab")
app.add_typer(edit.app, name="edit")
app.command()(serve.serve)


def main() -> None:
    import transformers

    # Library notices (e.g. "torchvision not installed") are not for CLI users.
    transformers.utils.logging.set_verbosity_error()
    app()
