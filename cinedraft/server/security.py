"""Request checks every route goes through (one ASGI middleware).

1. **Host**: the Host header must name this server (loopback names, or the host it was bound
   to): a DNS-rebinding page that points its own name at 127.0.0.1 is refused.
2. **Origin** on every state-changing request (POST, PUT, PATCH, DELETE): a browser's Origin
   must be this server's own; ``Origin: null`` and cross-site fetches (Sec-Fetch-Site) are
   refused. Clients that are not browsers (curl, scripts) send no Origin and are let through
   (they cannot be driven by a web page).
3. **Auth**, when a token is configured: ``Authorization: Bearer <token>`` or the session
   cookie that ``POST /login`` sets (HttpOnly, SameSite=Strict); everything else but the
   login page answers 401.
4. **Headers** on every response: ``X-Content-Type-Options: nosniff``, a strict CSP (no inline
   script, no third-party anything), no framing, no referrer.
"""

from __future__ import annotations

import secrets

from starlette.responses import JSONResponse, Response

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
OPEN_PATHS = {"/login"}
COOKIE = "cinedraft_session"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Sessions:
    """The token (None: auth off) and the ids of logged-in browser sessions."""

    def __init__(self, token: str | None):
        self.token = token
        self._ids: set[str] = set()

    def check_token(self, token: str) -> bool:
        return self.token is not None and secrets.compare_digest(token, self.token)

    def new(self) -> str:
        session = secrets.token_urlsafe(32)
        self._ids.add(session)
        return session

    def authorised(self, headers: dict[str, str]) -> bool:
        if self.token is None:
            return True
        bearer = headers.get("authorization", "")
        if bearer.startswith("Bearer ") and self.check_token(bearer[7:]):
            return True
        for part in headers.get("cookie", "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == COOKIE and value in self._ids:
                return True
        return False


class Guard:
    """The ASGI middleware (see the module docstring)."""

    def __init__(self, app, *, sessions: Sessions, hosts: set[str]):
        self.app = app
        self.sessions = sessions
        self.hosts = {h.lower() for h in hosts} | LOOPBACK

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

    def _refusal(self, scope, headers: dict[str, str]) -> Response | None:
        host = headers.get("host", "")
        if _host_name(host) not in self.hosts:
            return JSONResponse({"detail": f"host {host!r} is not this server"}, status_code=400)
        if scope["method"] in UNSAFE:
            origin = headers.get("origin")
            if origin is not None:
                expected = {f"{scheme}://{host}" for scheme in ("http", "https")}
                if origin.lower() == "null" or origin.lower() not in expected:
                    return JSONResponse({"detail": "cross-origin request refused"}, status_code=403)
            if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
                return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        if scope["path"] not in OPEN_PATHS and not self.sessions.authorised(headers):
            return JSONResponse({"detail": "authentication required"}, status_code=401,
                                headers={"www-authenticate": "Bearer"})
        return None

    @staticmethod
    def _with_headers(response: Response) -> Response:
        for name, value in HEADERS:
            response.headers[name.decode()] = value.decode()
        return response
