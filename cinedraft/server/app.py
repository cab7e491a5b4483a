"""``create_app(settings)``: the one place the server is wired together.

1. open the library, the job queue (same database) and the media prober;
2. settle jobs a previous run left running (:meth:`JobQueue.recover`);
3. start the workers (model device, CPU edits) when the app starts, stop them when it stops;
4. mount the API, the login page and the web UI behind the security guard, then the body
   caps (:mod:`.limits`: the guard answers first, so a stranger's body is never read).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from .._version import __version__
from ..config import Settings
from ..cluster import Options
from ..errors import AssetNotFoundError, CinedraftError, InputError, InputTooLargeError
from ..jobs import JobQueue, QueueFullError
from ..workspace import Workspace
from .limits import BodyLimit, cpu_slots
from .routes.api import router
from .security import COOKIE, SESSION_SECONDS, Guard, Sessions, TooManyFailures, too_many_failures
from .workers import RESUMES_ITSELF, Workers

WEB = Path(__file__).parent / "web"


def create_app(
    settings: Settings,
    *,
    token: dict[str, str] | str | None = None,
    hosts: set[str] = frozenset(),
    workers: bool = True,
    max_queued: int = 500,
    secure_cookie: bool = False,
    cluster: Options | None = None,
) -> FastAPI:
    """The studio app. ``token`` (one, or several by name: the audit trail's actors) turns
    on auth; ``hosts`` adds names the Host header may use;
    ``secure_cookie`` marks the session cookie Secure (a non-loopback bind, behind TLS);
    ``cluster``: run image jobs on Ray workers (:mod:`cinedraft.cluster`)."""
    # 1. State: the same wiring as the CLI's (the engine loads with the first model job).
    workspace = Workspace(settings)
    library = workspace.library()
    queue = JobQueue(library.root / "library.db", max_queued=max_queued)
    prober = library.prober()
    sessions = Sessions(token, secure_cookie=secure_cookie)
    head = None
    if cluster is not None:
        from ..cluster.head import Head  # imports nothing of Ray until it starts

        head = Head(queue, workspace, cluster)
    pool = Workers(queue, workspace, head)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # 2. and 3.
        app.state.recovered = queue.recover(head.resumable if head else None, RESUMES_ITSELF)
        app.state.cpu_slots = cpu_slots()
        if workers:
            pool.start()
        yield
        pool.stop()
        prober.close()

    app = FastAPI(
        title="cinedraft studio",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )  # the docs pages load scripts from a CDN
    app.state.library, app.state.queue, app.state.prober, app.state.workers = (
        library,
        queue,
        prober,
        pool,
    )
    app.state.workspace = workspace

    # 4. Routes.
    app.include_router(router)

    @app.exception_handler(AssetNotFoundError)
    async def not_found(request: Request, exc: AssetNotFoundError):
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(QueueFullError)
    async def queue_full(request: Request, exc: QueueFullError):
        return JSONResponse({"detail": str(exc)}, status_code=429, headers={"retry-after": "5"})

    @app.exception_handler(CinedraftError)
    async def bad_input(request: Request, exc: CinedraftError):
        status = (
            413
            if isinstance(exc, InputTooLargeError)
            else 422
            if isinstance(exc, InputError)
            else 400
        )
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(WEB / "index.html", media_type="text/html")

    @app.get("/login", include_in_schema=False, response_class=HTMLResponse)
    def login_form():
        return (WEB / "login.html").read_text()

    @app.post("/login", include_in_schema=False)
    def login(request: Request, token: str = Form(..., max_length=1024)):
        try:
            holder = sessions.check_token(token, request.client.host if request.client else "")
        except TooManyFailures as exc:
            return too_many_failures(exc)
        if holder is None:
            return JSONResponse({"detail": "wrong token"}, status_code=401)
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            sessions.new(holder),
            httponly=True,
            samesite="strict",
            max_age=SESSION_SECONDS,
            secure=sessions.secure_cookie,
        )
        return response

    app.mount("/static", StaticFiles(directory=WEB), name="static")
    app.add_middleware(BodyLimit)
    app.add_middleware(Guard, sessions=sessions, hosts=set(hosts))  # added last: runs first
    return app
