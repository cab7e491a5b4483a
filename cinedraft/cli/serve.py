"""``serve``: the studio in a browser, on loopback unless given a token."""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated

import typer

from ..cluster import Options
from ..errors import InputError
from ..workspace import Workspace
from .common import err, handles_errors


TOKEN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def named_tokens(given: list[str]) -> dict[str, str]:
    """``NAME=SECRET`` (or a bare secret, named ``token``) for each ``--token``: the name is
    who the jobs and the audit trail say asked."""
    tokens: dict[str, str] = {}
    for value in given:
        name, sep, secret = value.partition("=")
        if not (sep and TOKEN_NAME.fullmatch(name)):
            name, secret = "token", value
        if len(secret) < 16:
            raise InputError(f"the token {name!r} must be at least 16 characters")
        if name in tokens:
            raise InputError(f"two tokens are named {name!r}: give each its own name")
        tokens[name] = secret
    return tokens


def require_ray() -> None:
    """One line, not a traceback, when the ray extra is not installed."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        raise InputError("--ray needs Ray: pip install 'cinedraft[ray]'")


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
        list[str] | None,
        typer.Option(
            help="Access token, NAME=SECRET (repeatable: one per person or script; the name "
            "is who jobs and the audit trail name), or a bare secret (or CINEDRAFT_TOKEN); "
            "turns on auth.",
        ),
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
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            help="Run image jobs on a Ray cluster: host:port of its head node, or auto "
            "(the one on this machine, else a new one). Needs `pip install cinedraft[ray]`.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            min=0, help="With --ray: workers to start (default: one per GPU, or CPU slot)."
        ),
    ] = None,
    worker_cpus: Annotated[
        float, typer.Option(min=0.5, help="With --ray and no GPU: CPUs per worker.")
    ] = 2,
) -> None:
    """Serve the studio (web UI + REST API at /api, OpenAPI at /openapi.json)."""
    import uvicorn

    from ..server import create_app
    from ..server.security import host_name

    state: Workspace = ctx.obj
    from_env = os.environ.get("CINEDRAFT_TOKEN")
    tokens = named_tokens(token or ([from_env] if from_env else []))
    if not is_loopback(host) and not tokens:
        raise InputError(
            f"refusing to serve on {host} without a token: anyone on the network "
            "could drive this machine (pass --token or set CINEDRAFT_TOKEN)"
        )
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
    if workers is not None and ray is None:
        raise InputError("--workers goes with --ray")
    cluster = Options(ray, workers, worker_cpus) if ray is not None else None
    if cluster is not None:  # join now: a cluster nobody answers is one line, not a traceback
        require_ray()
        from ..cluster import runtime
        from ..cluster.head import preflight

        address = runtime.connect(ray)
        preflight(cluster)
        err.print(f"cinedraft cluster at {address}")
    # Non-loopback: the session cookie is Secure, so browsers send it only over https
    # (--ssl-certfile, or a TLS proxy in front); scripts use the bearer token either way.
    app = create_app(
        state.settings,
        token=tokens,
        hosts={host, *names},
        secure_cookie=not is_loopback(host),
        cluster=cluster,
    )
    scheme = "https" if ssl_certfile else "http"
    err.print(
        f"cinedraft studio on {scheme}://{host}:{port}" + (" (token required)" if tokens else "")
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
    )
