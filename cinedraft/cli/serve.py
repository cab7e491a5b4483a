"""``serve``: the studio in a browser, on loopback unless given a token."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from ..workspace import Workspace
from .common import err, handles_errors


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
    host: Annotated[
        str, typer.Option(help="Address to bind; anything but loopback needs --token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 7860,
    token: Annotated[
        str | None, typer.Option(help="Access token (or CINEDRAFT_TOKEN); turns on auth.")
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            "--allowed-host",
            help="A name clients use for this machine (repeatable); with a token "
            "the machine's own addresses are accepted too.",
        ),
    ] = None,
    ssl_certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate (PEM), to serve https.")
    ] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(help="TLS private key (PEM).")] = None,
) -> None:
    """Serve the studio (web UI + REST API at /api, OpenAPI at /openapi.json)."""
    import uvicorn

    from ..server import create_app
    from ..server.security import host_name

    state: Workspace = ctx.obj
    token = token or os.environ.get("CINEDRAFT_TOKEN") or None
    if not is_loopback(host) and not token:
        raise InputError(
            f"refusing to serve on {host} without a token: anyone on the network "
            "could drive this machine (pass --token or set CINEDRAFT_TOKEN)"
        )
    if token is not None and len(token) < 16:
        raise InputError("the token must be at least 16 characters")
    names = list(allowed_host or [])
    if bad := [
        n for n in names if host_name(n) is None or ":" in n.strip("[]") and not n.startswith("[")
    ]:
        raise InputError(f"--allowed-host {bad[0]!r} is not a host name")
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise InputError("--ssl-certfile and --ssl-keyfile go together")
    for path in (ssl_certfile, ssl_keyfile):
        if path is not None and not path.is_file():
            raise InputError(f"no such file: {path}")
    # Non-loopback: the session cookie is Secure, so browsers send it only over https
    # (--ssl-certfile, or a TLS proxy in front); scripts use the bearer token either way.
    app = create_app(
        state.settings, token=token, hosts={host, *names}, secure_cookie=not is_loopback(host)
    )
    scheme = "https" if ssl_certfile else "http"
    err.print(
        f"cinedraft studio on {scheme}://{host}:{port}" + (" (token required)" if token else "")
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )
