"""The generation record: what every stored output says about how it was made.

One typed model per kind of output, each built in one place (the flow that makes that kind)
and read by attribute where a flow needs it again (``promote`` and ``rerender`` read an
:class:`ImageRecord`, ``extend`` an :class:`EditRecord`). In files and rows a record is the
JSON object :meth:`Record.to_dict` gives, so any JSON reader can read it; the library adds
what only it knows (watermark, file, claim, job id), which every model keeps as extra fields.

``schema_version`` says which shape a record has. A record written by an older cinedraft is
brought up to date by :func:`upgrade_record` when it is read, one version at a time, the way
OpenTimelineIO upgrades old files; each step says what changed in that version.
"""

from __future__ import annotations

import copy
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError, first_problem
from .ids import ASSET_ID_PATTERN, utc_now

RECORD_VERSION = 1


class Parent(BaseModel):
    """One lineage link: the asset this output was made from, and in what role."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: str = Field(pattern=ASSET_ID_PATTERN)
    role: str = Field(min_length=1, max_length=64)


class Record(BaseModel):
    """What every record holds."""

    # Extra fields are kept: the library's own additions, and fields of a newer version.
    model_config = ConfigDict(extra="allow")

    schema_version: int = RECORD_VERSION
    asset_id: str
    kind: str
    created: str = Field(default_factory=utc_now)
    parents: list[Parent] = []

    def to_dict(self) -> dict:
        """The record as stored: JSON types only, unset optional fields left out."""
        return self.model_dump(mode="json", exclude_none=True)


class Generated(Record):
    """An output a model made: everything needed to understand and reproduce it."""

    prompt: str
    negative_prompt: str = ""
    seed: int
    model: str
    model_path: str
    model_hash: str
    variant: str | None = None  # the weights variant loaded (fp16, bf16); unset: full files
    # a transformer file's text encoders, tokenizers and VAE: from this pipeline folder, or
    # these files (with that folder's configs and tokenizers)
    parts: str | None = None
    policy: dict | None = None  # the usage policy's hits in this prompt: {flagged, hits}
    family: str
    pipeline: str
    sampler: str
    steps: int
    guidance: float
    tier: str
    width: int
    height: int
    device: str
    dtype: str
    versions: dict[str, str]
    timings: dict[str, float] = {}
    call: dict | None = None  # the family's own pipeline arguments (max_sequence_length...)


class ImageRecord(Generated):
    kind: Literal["image"] = "image"
    template: str | None = None  # the prompt template this image's prompt was expanded from
    scheduler: str
    schedule_type: str | None = None  # A1111's "Schedule type" (Karras...), beside the sampler
    clip_skip: int | None = (
        None  # A1111's Clip skip, when the text encoder's last layer was not read
    )
    true_cfg_scale: float | None = None  # FLUX's second, negative-prompt pass, when it ran
    render: dict  # the tier as it ran (tiers.Tier's fields)
    base_width: int
    base_height: int
    # LoRAs, embeddings, VAE applied: kind, name, path, sha256, weight, source (option/prompt)
    adapters: list[dict] | None = None
    refiner: dict | None = None  # SDXL's refiner: its model, hash and where it took over
    cleanup: dict | None = None  # what measured cleanup found and did
    drift_ssim: float | None = None  # SSIM against the draft a promotion started from
    rerender_of: str | None = None
    # An edit of another image (parent role ``edit_of``): operation, route, instruction,
    # strength, mask, where the thread's original sits, what was kept (engine.edits)
    edit: dict | None = None
    # The model's own safety checker: its class ("off" when turned off) and whether it flagged
    # this image (stored black by the pipeline, never silently: the CLI says so too).
    safety: dict | None = None
    # The prompt's words past the text encoder's window, which a model that cuts there (the
    # built-in model: 32 tokens) did not read; unset when it read them all.
    prompt_unread: str | None = None


class VideoRecord(Generated):
    kind: Literal["video"] = "video"
    tier: str = "video"
    chunk_seeds: list[int]
    conditioning: str | None = None  # how chunks continue the frames before them (None: they don't)
    mode: Literal["text", "image", "extend"]
    before: bool = False  # a lead-in: made backwards in time, before the given clip
    continue_guidance: float
    # share of the schedule an image-to-video call skipped, starting from the image noised
    # (tiers.VideoFamily.still_start; 0: from pure noise)
    still_start: float = 0.0
    preset: dict  # the delivery preset (render.video.VideoPreset's fields)
    seconds: float
    fps: float
    frames: int
    model_size: list[int]
    # where the crop to the preset's aspect sits in the model's frame: the share of the
    # cut-off width and height left of and above it ([0.5, 0.5]: centred; render.video)
    crop: list[float] | None = None
    native_fps: int
    chunks: list[int]  # frames per pipeline call
    overlap: int
    seams: list[dict]  # request.Seam's fields, per join
    # per chunk, whether its last frame still shows the clip's subject (engine.chunks.Chunked)
    subject: list[dict] = []
    temporal: dict[str, dict[str, float]]  # per-pair metric -> mean, p95, max


class StillRecord(Record):
    """A clip's poster, contact sheet or first frame (stored for a remix to edit): the
    clip's image parameters, the clip as parent."""

    kind: Literal["poster", "contact_sheet", "first_frame"]
    width: int
    height: int
    prompt: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    model: str | None = None
    model_hash: str | None = None
    sampler: str | None = None
    steps: int | None = None
    guidance: float | None = None
    versions: dict[str, str] | None = None


# The fields of a clip's record a still repeats.
STILL_FIELDS = tuple(
    sorted(
        StillRecord.model_fields.keys() - Record.model_fields.keys() - {"kind", "width", "height"}
    )
)


class EditRecord(Record):
    """A clip the editor made from others: the operation, its timeline and what it cost."""

    kind: Literal["edit"] = "edit"
    operation: str
    parameters: dict
    prompt: str = ""
    model: str | None = None
    width: int
    height: int
    frames: int
    fps: float
    seconds: float
    edit: dict  # editor.ops.EditStats' fields
    timeline: dict  # the OpenTimelineIO timeline, as a dict


class AdjustRecord(Record):
    """An exact adjustment of another image (warmer, crop to 9:16) or its object moved
    (cut out and laid elsewhere): arithmetic on its pixels, no model ran. ``edit`` as in
    :class:`ImageRecord`."""

    kind: Literal["adjusted"] = "adjusted"
    width: int
    height: int
    prompt: str = ""  # the source's, so the library's search finds the turn
    edit: dict
    versions: dict[str, str]


class ImportRecord(Record):
    """A file from outside: what its embedded record claims is kept apart (``claim``)."""

    kind: Literal["import"] = "import"
    imported: str
    imported_from: str
    width: int
    height: int
    prompt: str = ""
    claim: dict | None = None
    # What another tool's metadata (A1111's parameters, ComfyUI's graph) says made the file,
    # as read by ``media.metadata.made_with``: claimed, not known; None when it says nothing.
    made_with: dict | None = None


R = TypeVar("R", bound=Record)


def read_record(record: dict, model: type[R], what: str) -> R:
    """``record`` (upgraded) as ``model``, or :class:`InputError` saying it is not ``what``."""
    try:
        return model.model_validate(upgrade_record(record))
    except ValidationError as exc:
        name = record.get("asset_id", "the asset")
        raise InputError(f"{name} is not {what} ({first_problem(exc, 'record')})") from None


def upgrade_record(record: dict) -> dict:
    """``record`` as this version reads it (a copy when anything changed). A record from a
    newer cinedraft is returned as it is: nothing here knows how to read it better."""
    version = record.get("schema_version", 0)
    while isinstance(version, int) and 0 <= version < RECORD_VERSION:
        record = _UPGRADES[version](copy.deepcopy(record))
        version = record["schema_version"]
    return record


def _to_v1(record: dict) -> dict:
    """Version 1 (2026-12-05): the editor's seam scores give ``flicker`` in 0..1, like the
    engine's; before, the editor wrote 0..255 under the same key."""
    edit = record.get("edit")
    for seam in edit.get("seams", []) if isinstance(edit, dict) else []:
        if isinstance(seam, dict) and isinstance(seam.get("flicker"), (int, float)):
            seam["flicker"] = round(seam["flicker"] / 255, 4)
    record["schema_version"] = 1
    return record


_UPGRADES = {0: _to_v1}  # version -> the step to the next one
