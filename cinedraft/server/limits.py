"""Bounds on what one request may cost the server: body bytes, and CPU off the event loop.

- :class:`BodyLimit` (ASGI middleware): a request whose ``Content-Length`` is over its route's
  cap is answered 413 before a byte of the body is read; a body streamed without a length
  is counted as it arrives and cut off at the cap. Uploads may be large, JSON bodies only as
  large as a route needs.
- :func:`off_loop`: decoding, measuring and verifying run in a worker thread, at most
  :data:`CPU_SLOTS` at once, so ``/api/health`` and every other request keep answering while
  a large file is processed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import HTTPException, Request
from starlette.responses import JSONResponse

MAX_UPLOAD = 64 * 1024 * 1024
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around one file
MAX_JSON = 64 * 1024  # the largest JSON body a route takes (a long prompt is a few KiB)
BODY_CAPS = {"/api/uploads": MAX_UPLOAD + MULTIPART_OVERHEAD, "/login": 4096}
CPU_SLOTS = 2

T = TypeVar("T")


class BodyLimit:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app, caps: dict[str, int] | None = None, default: int = MAX_JSON):
        self.app = app
        self.caps = BODY_CAPS if caps is None else caps
        self.default = default

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cap = self.caps.get(scope["path"], self.default)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None:
            if not length.isdigit() or len(length) > 18:
                return await _answer(scope, receive, send, 400, "bad Content-Length")
            if int(length) > cap:
                return await _answer(scope, receive, send, 413, _too_large(cap))
        received = 0

        async def counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:  # FastAPI lets an HTTPException from the body through
                    raise HTTPException(413, _too_large(cap))
            return message

        await self.app(scope, counted, send)


def _too_large(cap: int) -> str:
    return f"the request body is over this route's limit of {cap:,} bytes"


async def _answer(scope, receive, send, status: int, detail: str) -> None:
    await JSONResponse({"detail": detail}, status_code=status, headers={"connection": "close"})(
        scope, receive, send
    )


async def off_loop(request: Request, fn: Callable[..., T], *args) -> T:
    """``fn(*args)`` in a worker thread, holding one of the app's CPU slots."""
    return await anyio.to_thread.run_sync(
        functools.partial(fn, *args), limiter=request.app.state.cpu_slots
    )


def cpu_slots() -> anyio.CapacityLimiter:
    return anyio.CapacityLimiter(CPU_SLOTS)
