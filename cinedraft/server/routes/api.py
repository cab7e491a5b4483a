"""The REST API. Every handler builds a request object or calls one Library/JobQueue method."""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path
from typing import Annotated, Literal

from fastapi import (
    APIRouter,
    File,
    Header,
    HTTPException,
    Path as PathParam,
    Query,
    Request,
    UploadFile,
)
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from pydantic import BaseModel, Field, ValidationError

from ...catalogue.sheet import DEFAULT_ASPECTS
from ...catalogue.staging import stage
from ...cluster import KINDS as CLUSTER_KINDS
from ...cluster.status import worker_rows
from ...errors import InputError, first_problem
from ...ids import ASSET_ID, ASSET_ID_PATTERN, JOB_ID_PATTERN
from ...jobs import Job
from ...library import Asset, AssetQuery, Library
from ...media.files import sha256_bytes, sniff_extension
from ...quality.compare import analyze_images, analyze_video
from ...editor import grade_adjustments
from ...render.delivery import PROFILES
from ...render.video import PRESETS, preset_for
from ...engine.folders import (
    ADAPTER_FOLDERS,
    in_models_folder,
    listing,
    remote_model_problem,
)
from ...engine.like import settings_like
from ...engine.schedulers import OWN, SCHEDULERS, check_name as check_scheduler
from ...styles import read_styles, styled
from ...engine.threads import thread_of
from ...request import (
    MAX_VIDEO_SECONDS,
    EditRequest,
    ImageRequest,
    Overrides,
    Seed,
    VideoRequest,
)
from ..limits import MAX_UPLOAD, off_loop

router = APIRouter(prefix="/api")
AssetId = Annotated[str, PathParam(pattern=ASSET_ID_PATTERN, description="12 hex digits")]
JobId = Annotated[str, PathParam(pattern=JOB_ID_PATTERN, description="16 hex digits")]
AssetRef = Annotated[
    str, Field(pattern=ASSET_ID_PATTERN, description="An asset id (12 hex digits).")
]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]
# Lower runs first: drafts, then edits, then production renders, catalogues, then clips.
PRIORITY = {"draft": 0, "edit": 5, "production": 10, "catalogue": 15, "video": 20}


class JobOut(BaseModel):
    id: str
    kind: str
    state: str
    priority: int
    request: dict
    result: dict | None = None
    error: str | None = None
    progress: dict | None = None
    created: str
    started: str | None = None
    finished: str | None = None
    attempts: int = 0
    actor: str | None = Field(None, description="Who asked: the name of the token used.")
    worker: str | None = Field(
        None, description="Who ran it: `local` (this server) or the cluster workers' names."
    )

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(**job.__dict__)


class PromoteBody(Overrides):
    asset_id: AssetRef
    size: str | None = Field(None, pattern=r"^\d{2,4}x\d{2,4}$")


class EditBody(BaseModel):
    op: Literal["cut", "merge", "speed", "reframe", "mute", "grade"]
    sources: list[AssetRef] = Field(min_length=1, max_length=20)
    instruction: str | None = Field(
        None, max_length=1_000, description="grade: exact changes ('a touch warmer')."
    )
    start: float | None = Field(None, ge=0, le=86_400)
    end: float | None = Field(None, ge=0, le=86_400)
    factor: float | None = Field(None, ge=0.25, le=4)
    aspect: Literal["9:16", "1:1", "4:5", "16:9"] | None = None
    transition: str | None = Field(None, pattern=r"^(crossfade|fade):\d{1,2}(\.\d{1,3})?$")


class ExtendBody(Overrides):
    source: AssetRef = Field(description="The video asset to continue.")
    seconds: float = Field(
        4.0, gt=0, le=MAX_VIDEO_SECONDS, description="Length of the continuation."
    )
    prompt: str = Field("", max_length=4000, description="What happens next.")
    before: bool = Field(False, description="A lead-in before the first frame instead.")
    seed: Seed = Field(None, description="Seed of the first chunk; random if not set.")
    negative_prompt: str = Field("", max_length=4000, description="Negative prompt.")


MASK_DATA = r"^data:image/png;base64,[A-Za-z0-9+/=]+$"


class TurnBody(BaseModel):
    """What every edit turn takes: the image to change (an asset id: the server reads no
    paths it is sent) and how to sample."""

    source: AssetRef = Field(description="The image to change.")
    model: str | None = Field(None, description="Default: the one that made the image.")
    steps: int | None = Field(None, ge=1, le=500)
    guidance: float | None = Field(None, ge=0.0, le=50.0)
    seed: Seed = None


class RefineBody(TurnBody):
    instruction: str = Field(min_length=1, max_length=1000, description="The change in words.")


class InpaintBody(TurnBody):
    prompt: str = Field(min_length=1, max_length=4000, description="What the masked part shows.")
    region: tuple[int, int, int, int] | None = Field(None, description="x, y, w, h to change.")
    mask: str | None = Field(
        None,
        max_length=8 * 1024 * 1024,
        pattern=MASK_DATA,
        description="A PNG data URL, white = change (the studio's drawn mask).",
    )
    strength: float | None = None
    negative_prompt: str = Field("", max_length=4000)


class OutpaintBody(TurnBody):
    prompt: str | None = Field(None, max_length=4000, description="Default: the image's prompt.")
    aspect: str | None = Field(None, pattern=r"^\d{1,2}(\.\d{1,2})?:\d{1,2}(\.\d{1,2})?$")
    expand: dict[str, int] | None = None
    strength: float | None = None
    negative_prompt: str = Field("", max_length=4000)


class CatalogueBody(BaseModel):
    """A product list as text; its packshots uploaded first and named here by file name."""

    sheet: str = Field(
        min_length=1, max_length=1_000_000, description="The list: CSV with a header, or JSONL."
    )
    format: Literal["csv", "jsonl"] = "csv"
    packshots: dict[str, AssetRef] = Field(
        {}, max_length=1000, description="A packshot cell's file name -> its uploaded image."
    )
    brand: str | None = Field(
        None, max_length=100_000, description="A brand kit's TOML (palette, style, negative)."
    )
    scenes: int = Field(3, ge=1, le=16, description="Drafts of rows that name none.")
    aspects: list[Annotated[str, Field(pattern=r"^\d{1,2}(\.\d{1,2})?:\d{1,2}(\.\d{1,2})?$")]] = (
        Field(list(DEFAULT_ASPECTS), min_length=1, max_length=8)
    )
    model: str | None = Field(None, max_length=4096)
    seed: int = Field(0, ge=0, lt=2**63)


class TagsBody(BaseModel):
    add: list[Annotated[str, Field(min_length=1, max_length=64)]] = []
    remove: list[Annotated[str, Field(min_length=1, max_length=64)]] = []


class RatingBody(BaseModel):
    rating: int = Field(ge=0, le=5)


class FavouriteBody(BaseModel):
    on: bool = True


class ExportBody(BaseModel):
    profile: Literal["lossless", "web", "preview"] = Field(
        description="A delivery profile (render/delivery.py): format, quality, largest side."
    )


class AnalyzeBody(BaseModel):
    asset_ids: list[AssetRef] = Field(min_length=1, max_length=8)


def _links(status: int, description: str, field: str, **operations: str) -> dict:
    """OpenAPI links from a response's ``field`` to the operations that take it (clients and
    schemathesis' stateful tests follow them)."""
    return {
        status: {
            "description": description,
            "links": {
                name: {"operationId": operation, "parameters": {param: f"$response.body#/{field}"}}
                for name, (operation, param) in ((n, o.split(":")) for n, o in operations.items())
            },
        }
    }


JOB_LINKS = _links(202, "Queued", "id", GetJob="get_job:job_id", CancelJob="cancel_job:job_id")
ASSET_LINKS = _links(
    201,
    "Imported",
    "id",
    GetAsset="get_asset:asset_id",
    GetFile="asset_file:asset_id",
    Verify="verify_asset:asset_id",
    Tag="tag_asset:asset_id",
    Rate="rate_asset:asset_id",
    Favourite="favourite_asset:asset_id",
)


def _job_route(path: str, operation_id: str):
    """``POST`` that queues a job: 202 and the job, linked to reading and cancelling it."""
    return router.post(
        path,
        status_code=202,
        response_model=JobOut,
        tags=["jobs"],
        operation_id=operation_id,
        responses=JOB_LINKS,
    )


def _asset_of_kind(request: Request, field: str, ref: str, kind: str) -> Asset:
    """``ref`` must be an asset id of a ``kind`` asset: looked up by id only (the library's
    ``resolve`` would read a file of that name in the server's folder, and the server reads
    no paths it is sent); 404 if absent, 422 if another kind."""
    if not ASSET_ID.match(ref):
        raise HTTPException(422, f"{field} must be an asset id (upload a file first)")
    asset = request.app.state.library.get(ref)
    if not asset.mime.startswith(f"{kind}/"):
        raise HTTPException(422, f"{ref} is not a{'n' * (kind == 'image')} {kind} asset")
    return asset


def _police(request: Request, action: str, prompt: str, body, template: bool = False) -> None:
    """The usage policy before a job is queued: a block is a 422 naming the rule (and an
    audit entry naming the token's holder); the worker checks again when the job runs."""
    guard = request.app.state.workspace.guard()
    with guard.acting_as(getattr(request.state, "actor", None)):
        guard.check(action, prompt, body, template)


def _submit(request: Request, kind: str, body: dict, priority: int, key: str | None) -> JobOut:
    """Queue a checked request; its sampler must be one, and its model, when it names one,
    one a client may name (in cluster mode, the image kinds' models are the workers' to
    find)."""
    if body.get("scheduler") is not None:
        check_scheduler(body["scheduler"])
    if body.get("model") is not None:
        settings = request.app.state.workspace.settings
        here = request.app.state.workers.cluster is None or kind not in CLUSTER_KINDS
        problem = remote_model_problem(body["model"], settings.models_root, settings.offline, here)
        if problem:
            raise InputError(problem)
    actor = getattr(request.state, "actor", None)
    job, _ = request.app.state.queue.submit(kind, body, priority, key, actor)
    return JobOut.of(job)


# ---------------------------------------------------------------------- jobs


class GenerateBody(ImageRequest):
    styles: list[str] = Field(
        [],
        max_length=8,
        description="Styles from the server's styles file (A1111's styles.csv), in order.",
    )


@_job_route("/jobs/generate", "submit_generate")
def submit_generate(
    body: GenerateBody, request: Request, idempotency_key: IdemKey = None
) -> JobOut:
    """Queue drafts (or any tier) for a prompt or a wildcard template. LoRAs, embeddings and
    a VAE are named from the models folder: the API takes no paths on the server's disk.
    Styles are applied now: the job holds the prompt they make."""
    settings = request.app.state.workspace.settings
    if body.parent is not None:  # the draft this renders again: an image of this library
        _asset_of_kind(request, "parent", body.parent, "image")
    plain = ImageRequest(**body.model_dump(exclude={"styles"}))
    body = styled(plain, body.styles, settings.styles_file)
    models = settings.models_root
    named = [(lora.ref, "lora", "LoRA") for lora in body.loras]
    named += [(name, "embedding", "embedding") for name in body.embeddings]
    named += [(body.vae, "vae", "VAE")] if body.vae else []
    for name, kind, what in named:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}", name) or ".." in name:
            raise InputError(f"{name!r}: give the name of a file in the models folder, not a path")
        # there, and nowhere else: the job would take a name it cannot find there as a path
        # (the CLI's `--lora FILE`), so a file of that name in the server's working folder
        folder = models / ADAPTER_FOLDERS[kind]
        if in_models_folder(name, folder) is None:
            raise InputError(f"no {what} named {name!r} in {folder}")
    _police(request, "generate", body.prompt, body, body.template)
    return _submit(
        request, "generate", body.model_dump(), PRIORITY.get(body.tier, 10), idempotency_key
    )


@_job_route("/jobs/promote", "submit_promote")
def submit_promote(body: PromoteBody, request: Request, idempotency_key: IdemKey = None) -> JobOut:
    """Queue the production render of a draft."""
    request.app.state.library.get(body.asset_id)  # 404 now rather than a failed job later
    return _submit(request, "promote", body.model_dump(), PRIORITY["production"], idempotency_key)


@_job_route("/jobs/edit", "submit_edit")
def submit_edit(body: EditBody, request: Request, idempotency_key: IdemKey = None) -> JobOut:
    """Queue an edit of video assets (cut, merge, speed, reframe, mute, grade)."""
    # a 404 or a 422 (an image named as a clip) now rather than a failed job
    sources = [_asset_of_kind(request, "sources", ref, "video") for ref in body.sources]
    if body.op == "grade":
        grade_adjustments(body.instruction or "", sources[0])
    return _submit(request, "edit", body.model_dump(), PRIORITY["edit"], idempotency_key)


@_job_route("/jobs/video", "submit_video")
def submit_video(body: VideoRequest, request: Request, idempotency_key: IdemKey = None) -> JobOut:
    """Queue a clip: text to video, or from a first frame (``image``: an image asset id), or a
    continuation of a clip (``extend``: a video asset id). Sources are asset ids here: the
    server reads no paths it is sent."""
    for field, kind in (("image", "image"), ("extend", "video")):
        if getattr(body, field) is not None:
            _asset_of_kind(request, field, getattr(body, field), kind)
    preset_for(body.preset)  # an unknown preset is refused now, not after the queue
    _police(request, "extend" if body.extend else "video", body.prompt, body)
    return _submit(request, "video", body.model_dump(), PRIORITY["video"], idempotency_key)


@_job_route("/jobs/extend", "submit_extend")
def submit_extend(body: ExtendBody, request: Request, idempotency_key: IdemKey = None) -> JobOut:
    """Queue an extension: a continuation generated from the clip's last frames (or a lead-in
    before its first), joined to it; the seam is scored."""
    _asset_of_kind(request, "source", body.source, "video")
    _police(request, "extend", body.prompt, body)
    return _submit(request, "extend", body.model_dump(), PRIORITY["video"], idempotency_key)


def _submit_turn(request: Request, operation: str, body: TurnBody, key: str | None) -> JobOut:
    """An edit turn: checked whole now (an :class:`EditRequest`), run by the model worker."""
    _asset_of_kind(request, "source", body.source, "image")
    try:
        turn = EditRequest(operation=operation, **body.model_dump())
    except ValidationError as exc:  # what fits no operation, said as the CLI says it
        raise InputError(first_problem(exc)) from None
    _police(request, "edit", turn.instruction or turn.prompt or "", turn)
    return _submit(request, operation, turn.model_dump(), PRIORITY["edit"], key)


@_job_route("/jobs/refine", "submit_refine")
def submit_refine(body: RefineBody, request: Request, idempotency_key: IdemKey = None) -> JobOut:
    """Queue an instruction edit: exact adjustments (warmer, crop to 9:16...) without a
    model, other instructions on an instruction-edit model; the result's route says which."""
    return _submit_turn(request, "refine", body, idempotency_key)


@_job_route("/jobs/inpaint", "submit_inpaint")
def submit_inpaint(body: InpaintBody, request: Request, idempotency_key: IdemKey = None) -> JobOut:
    """Queue an inpaint: the region or mask redrawn, every other pixel kept exactly."""
    return _submit_turn(request, "inpaint", body, idempotency_key)


@_job_route("/jobs/outpaint", "submit_outpaint")
def submit_outpaint(
    body: OutpaintBody, request: Request, idempotency_key: IdemKey = None
) -> JobOut:
    """Queue an outpaint: the canvas grown to an aspect (or by pixels per side), the new area
    drawn to match, the old pixels kept exactly."""
    return _submit_turn(request, "outpaint", body, idempotency_key)


@_job_route("/jobs/catalogue", "submit_catalogue")
def submit_catalogue(
    body: CatalogueBody, request: Request, idempotency_key: IdemKey = None
) -> JobOut:
    """Queue a catalogue: per SKU, drafts, the best promoted, every aspect, the product kept
    from its packshot. The list, packshots and brand kit are checked now (a bad file is a
    422; a bad row is skipped by the job and named in its result); progress is reported per
    SKU. Sent again after a failure or a restart, it makes only what is missing."""
    with tempfile.TemporaryDirectory() as tmp:
        sheet, _ = stage(
            request.app.state.library,
            Path(tmp),
            body.sheet,
            body.format,
            body.packshots,
            body.brand,
            body.scenes,
            tuple(body.aspects),
        )
    for product in sheet.products:
        _police(request, "generate", product.prompt, body)
    return _submit(request, "catalogue", body.model_dump(), PRIORITY["catalogue"], idempotency_key)


@router.get("/assets/{asset_id}/thread", tags=["library"], operation_id="get_thread")
def get_thread(asset_id: AssetId, request: Request) -> list[dict]:
    """The edit thread an image belongs to: its original and every turn, depth first."""
    return [t.__dict__ for t in thread_of(request.app.state.library, asset_id)]


@router.get("/assets/{asset_id}/like", tags=["library"], operation_id="like_asset")
def like_asset(asset_id: AssetId, request: Request) -> dict:
    """A generate request for more images like this one (made here, or in A1111, Forge or
    ComfyUI), to change and submit to ``/jobs/generate``, and ``notes``: what could not be
    carried. LoRAs, embeddings and a VAE are carried by their models-folder names, as that
    route takes them; 422 for a video, or an image that says nothing of how it was made."""
    settings = request.app.state.workspace.settings
    asset = _asset_of_kind(request, "asset_id", asset_id, "image")
    fields, notes = settings_like(asset, settings.models_root)
    here = request.app.state.workers.cluster is None  # else the workers find the models
    fields, more = _by_models_folder_name(fields, settings.models_root, settings.offline, here)
    try:
        like = ImageRequest(**fields)
    except ValidationError as exc:  # an imported image's claim this tool cannot take
        raise InputError(first_problem(exc)) from None
    return {"request": like.model_dump(mode="json"), "notes": notes + more}


def _by_models_folder_name(
    fields: dict, models: Path, offline: bool, here: bool
) -> tuple[dict, list[str]]:
    """``fields`` with the model and each adapter file named as ``/jobs/generate`` takes them
    (from the models folder, by name); one it would refuse is left out, and said."""
    notes: list[str] = []
    model = fields.get("model")
    if model and remote_model_problem(model, models, offline, here):
        path = Path(model)  # a path this server's own record keeps (the CLI's --model)
        named = path.name if path.is_dir() else path.stem
        inside = path.parent.resolve() == models.resolve() and in_models_folder(named, models)
        fields["model"] = named if inside else None
        if not inside:
            notes.append(f"model {path.name!r} is not in {models}: the default is used")

    def name(ref: str, kind: str, what: str) -> str | None:
        folder, file = models / ADAPTER_FOLDERS[kind], Path(ref)
        if in_models_folder(ref, folder):  # a name already (what an A1111 image claims)
            return ref
        if file.parent.resolve() == folder.resolve() and in_models_folder(file.name, folder):
            return file.name  # the path this server's own record keeps
        notes.append(f"{what} {file.name!r} is not in {folder}: not carried")
        return None

    loras = [(lora, name(lora.ref, "lora", "LoRA")) for lora in fields.get("loras", [])]
    fields["loras"] = [lora.model_copy(update={"ref": n}) for lora, n in loras if n]
    embeddings = (name(e, "embedding", "embedding") for e in fields.get("embeddings", []))
    fields["embeddings"] = [n for n in embeddings if n]
    fields["vae"] = fields.get("vae") and name(fields["vae"], "vae", "VAE")
    return fields, notes


@router.get("/policy", tags=["library"])
def policy(request: Request) -> dict:
    """The usage policy in force, read-only: its rules, the allowed names, whether faces are
    flagged (``source`` "no policy" when there is none); 422 when its file cannot be read."""
    return request.app.state.workspace.guard().policy.describe()


@router.get("/models", tags=["jobs"])
def models(request: Request) -> dict:
    """The models a request may name (``default`` and ``video_default``: the ones drafts and
    clips use unless one is named; each model's ``kind``: image, video, refiner or edit),
    the LoRAs, embeddings and VAEs of the models folder, by the names the generate route
    takes, and the samplers (``scheduler``)."""
    settings = request.app.state.workspace.settings
    return (
        {"default": settings.model_for("draft"), "video_default": settings.video_model}
        | listing(settings.models_root)
        | {"schedulers": [OWN, *SCHEDULERS]}
    )


@router.get("/styles", tags=["jobs"])
def styles(request: Request) -> list[dict]:
    """The prompt styles generate's ``styles`` names (the server's styles file; none when it
    has none)."""
    path = request.app.state.workspace.settings.styles_file
    if not path.exists():
        return []
    return [
        {"name": name, "prompt": prompt, "negative_prompt": negative}
        for name, (prompt, negative) in read_styles(path).items()
    ]


@router.get("/presets", tags=["jobs"])
def presets() -> list[dict]:
    """The video delivery presets: size, frame rate, default length."""
    return [
        {"name": p.name, "width": p.width, "height": p.height, "fps": p.fps, "seconds": p.seconds}
        for p in PRESETS.values()
    ]


@router.get("/jobs", response_model=list[JobOut], tags=["jobs"])
def list_jobs(
    request: Request,
    state: Literal["queued", "running", "done", "failed", "cancelled"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[JobOut]:
    return [JobOut.of(j) for j in request.app.state.queue.list(state, limit)]


@router.get("/jobs/{job_id}", response_model=JobOut, tags=["jobs"], operation_id="get_job")
def get_job(job_id: JobId, request: Request) -> JobOut:
    job = request.app.state.queue.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return JobOut.of(job)


@router.post(
    "/jobs/{job_id}/cancel", response_model=JobOut, tags=["jobs"], operation_id="cancel_job"
)
def cancel_job(job_id: JobId, request: Request) -> JobOut:
    """Cancel a queued job now, or a running one at its next progress step."""
    if request.app.state.queue.cancel(job_id) is None:
        raise HTTPException(404, f"no job {job_id}")
    return JobOut.of(request.app.state.queue.get(job_id))


@router.get(
    "/jobs/{job_id}/events",
    tags=["jobs"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def job_events(job_id: JobId, request: Request) -> StreamingResponse:
    """Server-Sent Events: ``progress`` while the job runs, then one ``end`` event."""
    queue = request.app.state.queue
    if queue.get(job_id) is None:
        raise HTTPException(404, f"no job {job_id}")
    loop, events = asyncio.get_running_loop(), asyncio.Queue()
    stop = queue.listen(job_id, lambda event: loop.call_soon_threadsafe(events.put_nowait, event))

    async def stream():
        try:
            job = queue.get(job_id)
            yield f"event: state\ndata: {json.dumps(JobOut.of(job).model_dump())}\n\n"
            state = job.state
            while state not in ("done", "failed", "cancelled"):
                try:
                    event = await asyncio.wait_for(events.get(), timeout=10)
                    state = event.get("state", state)
                except TimeoutError:  # nothing for a while: say we are alive, re-read the row
                    yield ": keep-alive\n\n"
                    state = queue.get(job_id).state
                    continue
                if event.get("progress"):
                    yield f"event: progress\ndata: {json.dumps(event['progress'])}\n\n"
            yield f"event: end\ndata: {json.dumps(JobOut.of(queue.get(job_id)).model_dump())}\n\n"
        finally:
            stop()

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"cache-control": "no-store"}
    )


# ---------------------------------------------------------------------- library


def _brief(asset: Asset) -> dict:
    flagged = bool((asset.record.get("policy") or {}).get("flagged"))
    return asset.model_dump(exclude={"record", "path"}) | {"flagged": flagged}


@router.get("/assets", tags=["library"])
def list_assets(request: Request, query: Annotated[AssetQuery, Query()]) -> list[dict]:
    """Search and filter the library (``text`` is full text over prompts)."""
    return [_brief(a) for a in request.app.state.library.find(query)]


@router.get("/assets/{asset_id}", tags=["library"], operation_id="get_asset")
def get_asset(asset_id: AssetId, request: Request) -> dict:
    """The whole record, lineage both ways, tags, metrics."""
    library = request.app.state.library
    asset = library.get(asset_id)
    return asset.model_dump(exclude={"path"}) | {
        "ancestors": [
            {"depth": d, "id": i, "role": r} for d, i, r in library.lineage(asset_id, "parents")
        ],
        "descendants": [
            {"depth": d, "id": i, "role": r} for d, i, r in library.lineage(asset_id, "children")
        ],
    }


@router.get(
    "/assets/{asset_id}/file",
    tags=["library"],
    response_class=FileResponse,
    operation_id="asset_file",
)
def asset_file(asset_id: AssetId, request: Request) -> FileResponse:
    """The stored file, with its media type (range requests work for video)."""
    asset = request.app.state.library.get(asset_id)
    return FileResponse(
        asset.path, media_type=asset.mime, headers={"cache-control": "private, max-age=3600"}
    )


@router.get("/assets/{asset_id}/verify", tags=["library"], operation_id="verify_asset")
async def verify_asset(asset_id: AssetId, request: Request) -> dict:
    """C2PA manifest state, signer, ingredients and watermark of the stored file."""
    library = request.app.state.library
    found = await off_loop(request, library.verify, Path(library.get(asset_id).path))
    return found.model_dump() | {"ok": found.ok}


@router.post("/assets/{asset_id}/tags", tags=["library"], operation_id="tag_asset")
def tag_asset(asset_id: AssetId, body: TagsBody, request: Request) -> dict:
    return _brief(request.app.state.library.tag(asset_id, body.add, body.remove))


@router.post("/assets/{asset_id}/rating", tags=["library"], operation_id="rate_asset")
def rate_asset(asset_id: AssetId, body: RatingBody, request: Request) -> dict:
    return _brief(request.app.state.library.rate(asset_id, body.rating))


@router.post("/assets/{asset_id}/favourite", tags=["library"], operation_id="favourite_asset")
def favourite_asset(asset_id: AssetId, body: FavouriteBody, request: Request) -> dict:
    return _brief(request.app.state.library.favourite(asset_id, body.on))


@router.post("/assets/{asset_id}/export", tags=["library"], operation_id="export_asset")
async def export_asset(asset_id: AssetId, body: ExportBody, request: Request) -> dict:
    """An image converted for a delivery profile: a new, signed asset (record, watermark and a
    link to its source kept, as ``library export --profile``); download it from its file."""
    library = request.app.state.library
    asset = library.get(asset_id)
    if not asset.mime.startswith("image/"):
        raise HTTPException(422, f"{asset_id} is a video: download it as it is")
    profile = PROFILES[body.profile]
    converted = await off_loop(
        request, library.convert, asset_id, profile.format, profile.quality, profile.max_side
    )
    return _brief(converted)


UPLOAD_RESPONSES = ASSET_LINKS | {
    409: {"description": "The same bytes are in the library already: `asset` is that asset."}
}


@router.post(
    "/uploads",
    status_code=201,
    response_model=None,  # a dict, or the 409 JSONResponse
    tags=["library"],
    operation_id="upload",
    responses=UPLOAD_RESPONSES,
)
async def upload(
    request: Request, file: Annotated[UploadFile, File(description="PNG, JPEG, WebP, AVIF or MP4")]
) -> dict | JSONResponse:
    """Import a file: size-capped, type sniffed from its bytes, images fully decoded under a
    pixel cap (decompression bombs), videos probed in the worker process; all of it off the
    event loop. A file that is not a usable image or video answers 422 with the reason; one
    whose bytes the library holds already answers 409 with that asset (a client sending a
    catalogue's packshots again takes their ids from it)."""
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        raise HTTPException(413, f"uploads are limited to {MAX_UPLOAD // 2**20} MiB")
    return await off_loop(request, _import_upload, request.app.state.library, data)


def _import_upload(library: Library, data: bytes) -> dict | JSONResponse:
    twin = library.by_sha(sha256_bytes(data))
    if twin is not None:
        return JSONResponse(
            {"detail": f"this file is already in the library as {twin.id}", "asset": _brief(twin)},
            status_code=409,
        )
    ext = sniff_extension(data, "")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"upload{ext}"
        path.write_bytes(data)
        return _brief(library.import_file(path))


@router.post("/analyze", tags=["clarity"])
async def analyze(body: AnalyzeBody, request: Request) -> dict:
    """Clarity of images (compared) or of a clip (temporal figures)."""
    assets = [request.app.state.library.get(a) for a in body.asset_ids]
    return await off_loop(request, _analyze, assets)


def _analyze(assets: list[Asset]) -> dict:
    videos = [a for a in assets if a.mime.startswith("video/")]
    images = [a for a in assets if not a.mime.startswith("video/")]
    report = analyze_images([Path(a.path) for a in images]) if images else None
    if report:
        names = {a.path: a.id for a in images}
        for item in report["images"]:
            item["asset_id"] = names[item.pop("path")]
            item.pop("record", None)
        for v in report["verdict"]:
            v["clearer"], v["than"] = names[v["clearer"]], names[v["than"]]
    return {
        "images": report,
        "videos": [analyze_video(Path(v.path)) | {"path": v.id} for v in videos],
    }


@router.get("/health", tags=["server"])
def health(request: Request) -> dict:
    """Up, how much is stored and waiting, and the default model: loaded when the server
    starts, before any job asks (``waiting``, ``loading``, ``ready`` or ``failed: ...``)."""
    return {
        "ok": True,
        "assets": request.app.state.library.count(),
        "queued": len(request.app.state.queue.list("queued", 1000)),
        "model": request.app.state.workers.model_state,
    }


@router.get("/cluster", tags=["server"])
def cluster(request: Request) -> dict:
    """Cluster mode: the Ray address and the workers the head has seen (name, machine,
    device, state, loaded models, the lease held, images rendered and their throughput).
    One-machine mode answers ``mode: local`` and no workers."""
    head = request.app.state.workers.cluster
    if head is None:
        return {"mode": "local", "address": None, "workers": []}
    return {"mode": "ray", "address": head.address, "workers": worker_rows(request.app.state.queue)}
