"""Request checks every route goes through (one ASGI middleware).

1. **Host**: the Host header must be ``name`` or ``name:port`` and name this server (loopback
   names, the host it was bound to, names given with ``--allowed-host``; with a token also the
   address the request arrived on, so a LAN client can use the machine's IP): a DNS-rebinding
   page that points its own name at 127.0.0.1 is refused.
2. **Origin** on every state-changing request (POST, PUT, PATCH, DELETE): a browser's Origin
   must be this server's own; ``Origin: null`` and cross-site fetches (Sec-Fetch-Site) are
   refused. Clients that are not browsers (curl, scripts) send no Origin and are let through
   (they cannot be driven by a web page).
3. **Auth**, when a token is configured: ``Authorization: Bearer <token>`` or the session
   cookie that ``POST /login`` sets (HttpOnly, SameSite=Strict, expiring, Secure on
   non-loopback binds); everything else but the login page answers 401. Tokens are compared
   as bytes in constant time; a client with :data:`MAX_FAILURES` wrong tokens within
   :data:`FAILURE_WINDOW` seconds is answered 429 until the window has passed.
4. **Headers** on every response: ``X-Content-Type-Options: nosniff``, a strict CSP (no inline
   script, no third-party anything), no framing, no referrer.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections import deque

from starlette.responses import JSONResponse, Response

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_PATHS = {"/login"}
COOKIE = "cinedraft_session"
SESSION_SECONDS = 12 * 3600
MAX_FAILURES, FAILURE_WINDOW = 10, 60.0
# name (letters, digits, dots, dashes) or [IPv6], then an optional :port; nothing else.
_HOST = re.compile(r"^(?P<name>[a-z0-9.-]{1,253}|\[[0-9a-f:.]{2,45}\])(:(?P<port>\d{1,5}))?$")
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def host_name(host: str) -> str | None:
    """The name in a Host header (``[v6]`` kept bracketed), or None when it is malformed."""
    m = _HOST.match(host.strip().lower())
    if m is None or (m["port"] is not None and not 0 < int(m["port"]) < 65536):
        return None
    return m["name"]


class TooManyFailures(Exception):
    """A client guessed wrong too often; ``retry_after`` seconds until it may try again."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after


class Sessions:
    """The tokens by name (none: auth off), logged-in browser sessions and failed tries per
    client. Whoever a request is from is the name of the token it used: the audit trail's
    actor."""

    def __init__(self, tokens: dict[str, str] | str | None, secure_cookie: bool = False):
        if isinstance(tokens, str):
            tokens = {"token": tokens}
        self._tokens = {name: t.encode() for name, t in (tokens or {}).items()}
        self.secure_cookie = secure_cookie
        self._sessions: dict[str, tuple[float, str]] = {}  # id -> (monotonic expiry, name)
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self._tokens)

    def check_token(self, token: str | bytes, client: str = "") -> str | None:
        """The name of the token ``token`` is, or None; counts failures per client (see the
        module doc). Raises :class:`TooManyFailures` while a client is over its limit."""
        if not self._tokens:
            return None
        now = time.monotonic()
        with self._lock:
            tries = self._failures.setdefault(client, deque())
            while tries and tries[0] < now - FAILURE_WINDOW:
                tries.popleft()
            if len(tries) >= MAX_FAILURES:
                raise TooManyFailures(int(tries[0] + FAILURE_WINDOW - now) + 1)
        given = token if isinstance(token, bytes) else token.encode("utf-8", "surrogatepass")
        found = None
        for name, secret in self._tokens.items():  # every one compared: no early exit
            if secrets.compare_digest(given, secret):
                found = name
        if found is not None:
            return found
        with self._lock:
            self._failures[client].append(now)
        return None

    def new(self, name: str) -> str:
        """A browser session for the holder of token ``name``."""
        session = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session] = (time.monotonic() + SESSION_SECONDS, name)
        return session

    def _session(self, session: str) -> str | None:
        with self._lock:
            held = self._sessions.get(session)
            if held is not None and held[0] < time.monotonic():
                del self._sessions[session]
                return None
            return held[1] if held else None

    def who(self, headers: dict[str, str], client: str = "") -> str | None:
        """The token name a request carries (its session cookie or bearer token), or None;
        "" when auth is off (anyone on loopback)."""
        if not self._tokens:
            return ""
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and (holder := self._session(value)) is not None:
                return holder
        bearer = headers.get("authorization", "")
        # Headers arrive as latin-1 text of the raw bytes: compare the raw bytes.
        if not bearer.startswith("Bearer "):
            return None
        return self.check_token(bearer[7:].encode("latin-1"), client)


class Guard:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app, *, sessions: Sessions, hosts: set[str]):
        self.app = app
        self.sessions = sessions
        self.hosts = {h.lower() for h in hosts} | LOOPBACK
        self.hosts |= {f"[{h}]" for h in self.hosts if ":" in h and not h.startswith("[")}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            return await self._with_headers(refusal)(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _known_host(self, name: str | None, scope) -> bool:
        if name is None:
            return False
        if name in self.hosts:
            return True
        # With a token, the address this request arrived on is this machine's own: a LAN
        # client may name it (a rebinding page cannot get past the token anyway).
        server = scope.get("server") or (None,)
        return self.sessions.enabled and server[0] is not None and name.strip("[]") == server[0]

    def _refusal(self, scope, headers: dict[str, str]) -> Response | None:
        host = headers.get("host", "")
        if not self._known_host(host_name(host), scope):
            return JSONResponse(
                {"detail": f"host {host[:100]!r} is not this server"}, status_code=400
            )
        if scope["method"] in UNSAFE:
            origin = headers.get("origin")
            if origin is not None:
                expected = {f"{scheme}://{host}" for scheme in ("http", "https")}
                if origin.lower() == "null" or origin.lower() not in expected:
                    return JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
            if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        if scope["path"] in OPEN_PATHS:
            return None
        client = (scope.get("client") or ("",))[0] or ""
        try:
            actor = self.sessions.who(headers, client)
        except TooManyFailures as exc:
            return too_many_failures(exc)
        if actor is not None:
            # request.state.actor: who the job and the audit trail name
            scope.setdefault("state", {})["actor"] = actor or None
            return None
        return JSONResponse(
            {"detail": "authentication required"},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )

    @staticmethod
    def _with_headers(response: Response) -> Response:
        for name, value in HEADERS:
            response.headers[name.decode()] = value.decode()
        return response


def too_many_failures(exc: TooManyFailures) -> Response:
    return JSONResponse(
        {"detail": f"too many wrong tokens; try again in {exc.retry_after} s"},
        status_code=429,
        headers={"retry-after": str(exc.retry_after)},
    )
