"""``models``: the models cinedraft can see (the models folder and the HF cache), and what it
would make of each, read from their configs."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..errors import ModelNotFoundError
from ..workspace import Workspace
from .common import handles_errors, out

app = typer.Typer(
    help="The models in the models folder and the HF cache, and what each would get.",
    invoke_without_command=True,
)
Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@app.callback()
@handles_errors
def models(ctx: typer.Context, as_json: Json = False) -> None:
    """List every model: family, kind, precision, size, presets; why one cannot load."""
    if ctx.invoked_subcommand is not None:
        return
    from ..engine.inventory import inventory

    state: Workspace = ctx.obj
    settings = state.settings
    entries = inventory(
        settings.models_root,
        configs=settings.single_file_configs,
        text_encoder=settings.text_encoder,
    )
    if as_json:
        out.print_json(json.dumps([e.to_dict() for e in entries]))
        return
    if not entries:
        out.print(f"no models in {state.settings.models_root} or the HF cache")
        return
    table = Table(title=f"models folder {state.settings.models_root} and the HF cache")
    for col in ("name", "kind", "family", "precision", "MB", "presets / problem"):
        table.add_column(col, overflow="fold")
    for e in entries:
        presets = "; ".join(f"{t}: {p}" for t, p in e.presets.items())
        table.add_row(
            e.name,
            e.kind or "-",
            e.family or "-",
            ", ".join(e.precision) or "-",
            f"{e.bytes / 1e6:.1f}",
            presets if e.problem is None else f"cannot load: {e.problem}",
        )
    out.print(table)


@app.command()
@handles_errors
def show(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name from `cinedraft models`, or a path.")],
    as_json: Json = False,
) -> None:
    """Everything about one model: family, pipeline, components, precision, presets."""
    from pathlib import Path

    from ..engine.inventory import describe, inventory
    from ..engine.folders import in_models_folder

    state: Workspace = ctx.obj
    root = state.settings.models_root
    files = (state.settings.single_file_configs, state.settings.text_encoder)
    found = in_models_folder(name, root)
    if found is not None:
        entry = describe(found, name, "models folder", *files)
    elif Path(name).expanduser().exists():
        entry = describe(Path(name).expanduser(), name, "path", *files)
    else:
        cached = [e for e in inventory(root, True, *files) if e.name == name]
        if not cached:
            raise ModelNotFoundError(f"no model {name!r} in {root} or the HF cache")
        entry = cached[0]
    if as_json:
        out.print_json(json.dumps(entry.to_dict()))
        return
    from ..engine.inventory import show as show_text

    out.print(show_text(entry), soft_wrap=True)
