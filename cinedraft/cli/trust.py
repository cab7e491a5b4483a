"""``trust ...``: the other libraries whose signatures this library trusts, one function per
command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..workspace import Workspace
from .common import handles_errors, out

app = typer.Typer(
    help="CAs of other libraries whose signed files verify as Trusted.", no_args_is_help=True
)


@app.command()
@handles_errors
def add(
    ctx: typer.Context, ca: Annotated[Path, typer.Argument(help="The other library's keys/ca.pem.")]
) -> None:
    """Trust another library's CA."""
    state: Workspace = ctx.obj
    fingerprint, subject = state.library().trust(ca)
    out.print(f"trusted {subject} (sha256 {fingerprint})")


@app.command("list")
@handles_errors
def list_cas(ctx: typer.Context) -> None:
    """The CAs trusted besides this library's own."""
    state: Workspace = ctx.obj
    for fingerprint, subject in state.library().trusted():
        out.print(f"{fingerprint}  {subject}")


@app.command()
@handles_errors
def remove(
    ctx: typer.Context,
    fingerprint: Annotated[str, typer.Argument(help="As `trust list` shows it.")],
) -> None:
    """Stop trusting a CA."""
    state: Workspace = ctx.obj
    state.library().untrust(fingerprint)
    out.print(f"no longer trusted: {fingerprint}")
