"""``serve``: the studio in a browser, on loopback unless given a token."""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated

import typer

from ..errors import InputError
from .common import State, err, handles_errors


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@handles_errors
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs --token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 7860,
    token: Annotated[str | None, typer.Option(help="Access token (or CINEDRAFT_TOKEN); turns on auth.")] = None,
) -> None:
    """Serve the studio (web UI + REST API at /api, OpenAPI at /openapi.json)."""
    import uvicorn

    from ..server import create_app

    state: State = ctx.obj
    token = token or os.environ.get("CINEDRAFT_TOKEN") or None
    if not is_loopback(host) and not token:
        raise InputError(f"refusing to serve on {host} without a token: anyone on the network "
                         "could drive this machine (pass --token or set CINEDRAFT_TOKEN)")
    if token is not None and len(token) < 16:
        raise InputError("the token must be at least 16 characters")
    app = create_app(state.settings, token=token, hosts={host})
    err.print(f"cinedraft studio on http://{host}:{port}" + (" (token required)" if token else ""))
    uvicorn.run(app, host=host, port=port, log_level="warning")
