"""The one contract between front ends (CLI, API, UI) and the engine.

Front ends build an :class:`ImageRequest`; the engine returns a :class:`Result` holding one
:class:`ImageOutput` per image. Fields left ``None`` are filled from the tier preset.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from . import prompt_tags
from .weighting import prompt_editing

# Progress callbacks: (stage, done, total), called from inside long work.
Progress = Callable[[str, int, int], None]


def no_progress(stage: str, done: int, total: int) -> None:
    """The progress callback when nobody is watching."""


MAX_SIDE = 4096
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def parse_size(text: str) -> tuple[int, int]:
    """'1024x768' -> (1024, 768); raises ValueError with the accepted form."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"size must look like WIDTHxHEIGHT (e.g. 1024x1024), got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _unset_if_minus_one(seed: object) -> object:
    return None if seed == -1 else seed


# A seed; unset (or -1, which A1111 and its API users send for "random"): a random one, which
# the record keeps.
Seed = Annotated[Annotated[int, Field(ge=0, lt=2**63)] | None, BeforeValidator(_unset_if_minus_one)]


class Overrides(BaseModel):
    """How to sample when a stored output is made again (``promote``) or continued
    (``extend``): each field left ``None`` keeps what the model, tier or source would use."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(None, description="'builtin', a local folder or a hub id.")
    steps: int | None = Field(None, ge=1, le=500)
    guidance: float | None = Field(None, ge=0.0, le=50.0)
    scheduler: str | None = Field(None, description="dpm++, euler, euler-a, ddim, unipc, ...")


class Lora(BaseModel):
    """A LoRA to apply: a ``.safetensors`` file, or a name in the models folder's ``loras/``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ref: str = Field(min_length=1, max_length=4096)
    weight: float | None = Field(
        None,
        ge=-4.0,
        le=4.0,
        description="Unset: the scale its authors publish for a speed LoRA (Hyper-SD's FLUX and "
        "SD 3 LoRAs: 0.125), else 1.",
    )

    @classmethod
    def parse(cls, text: str) -> Lora:
        """``FILE`` or ``FILE:WEIGHT`` (the command line's ``--lora``)."""
        ref, _, weight = text.rpartition(":")
        if ref and re.fullmatch(r"[-+]?\d*\.?\d+", weight):
            return cls(ref=ref, weight=float(weight))
        return cls(ref=text)


class ImageRequest(BaseModel):
    """What to generate. ``prompt`` may be a wildcard template when ``count`` > 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(description="Text prompt; weighting like (red:1.3) or (red)1.3 is allowed.")
    negative_prompt: str = ""
    model: str | None = Field(None, description="'builtin', a local folder or a hub id.")
    tier: str = "draft"
    width: int | None = Field(None, ge=8, le=MAX_SIDE)
    height: int | None = Field(None, ge=8, le=MAX_SIDE)
    steps: int | None = Field(None, ge=1, le=500)
    guidance: float | None = Field(None, ge=0.0, le=50.0)
    scheduler: str | None = None
    clip_skip: int | None = Field(
        None,
        ge=1,
        le=12,
        description="A1111's Clip skip (ComfyUI's CLIP Set Last Layer at -N): 2 reads the "
        "text encoder's next-to-last layer, as most anime SD 1.x models were trained to; 1 or "
        "unset, its last. For SD 1.x/2.x models; SDXL reads its next-to-last layer already "
        "(2 is its default, as in A1111 and ComfyUI).",
    )
    seed: Seed = None
    count: int = Field(1, ge=1, le=256, description="Images; seeds are seed, seed+1, ...")
    loras: list[Lora] = Field(
        [], max_length=8, description="LoRAs, besides <lora:name:weight> in the prompt."
    )
    embeddings: list[str] = Field(
        [],
        max_length=8,
        description="Textual-inversion files; each is used where its name is in the prompt.",
    )
    vae: str | None = Field(
        None, description="A VAE to decode with: a diffusers folder, or one .safetensors file."
    )
    tiled_refine: bool | None = Field(
        None,
        description="Production above the size a model refines at (SDXL: 1024 px): true "
        "refines in overlapping tiles of that size (more detail; a strong subject may be "
        "redrawn in several tiles), false refines at that size and scales up; unset, the "
        "model family's default (SDXL-class: tiles; the built-in model: no tiles).",
    )
    template: bool = Field(False, description="Expand {a|b} wildcards, one prompt per image.")
    parent: str | None = Field(None, description="Asset id this output derives from.")

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("prompt is empty: describe what to generate")
        return v.strip()

    @field_validator("prompt", "negative_prompt")
    @classmethod
    def _one_prompt(cls, v: str) -> str:
        if why := prompt_editing(v) or prompt_tags.problem(v):
            raise ValueError(why)
        return v

    @model_validator(mode="after")
    def _size_multiple_of_8(self) -> ImageRequest:
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and value % 8:
                raise ValueError(f"{name} must be a multiple of 8, got {value}")
        return self


class ImageOutput(BaseModel):
    """One generated image as written to disk, with the full record of how it was made."""

    asset_id: str
    path: str
    prompt: str
    seed: int | None = None  # none for an exact adjustment (no model ran)
    width: int
    height: int
    record: dict
    drift: float | None = Field(None, description="SSIM of this output vs its draft (promote).")


class Result(BaseModel):
    """Everything one request produced."""

    request: ImageRequest
    outputs: list[ImageOutput]
    seconds: float
    seconds_per_image: float


class Rerender(BaseModel):
    """A stored record run again: the new output and how its pixels compare to the original."""

    original: str
    output: ImageOutput
    identical: bool = Field(
        description="Every pixel equal after the original's watermark and codec."
    )
    max_abs_diff: int
    mean_abs_diff: float
    psnr: float


EDIT_OPERATIONS = ("img2img", "inpaint", "outpaint", "refine")


class EditRequest(BaseModel):
    """A change to a stored image (the source, an asset id or a file), made into a new asset
    whose lineage points to the source (``edit_of``). Fields left ``None`` come from the
    source's record or the model's draft tier."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = Field(min_length=1, max_length=4096, description="An image asset id or file.")
    operation: Literal["img2img", "inpaint", "outpaint", "refine"]
    prompt: str | None = Field(
        None, max_length=10_000, description="What the changed pixels show; default the source's."
    )
    instruction: str | None = Field(
        None, max_length=1_000, description="refine: the change in words ('make it warmer')."
    )
    negative_prompt: str = ""
    strength: float | None = Field(
        None, description="How far from the source, above 0 and at most 1; default per operation."
    )
    mask: str | None = Field(
        None, description="inpaint: a mask image file (white = change), as a path."
    )
    region: tuple[int, int, int, int] | None = Field(
        None, description="inpaint: the rectangle x, y, w, h to change, in the source's pixels."
    )
    feather: int | None = Field(
        None,
        ge=0,
        le=64,
        description="inpaint: px over which the new pixels fade in, inside the mask (default 6).",
    )
    expand: dict[str, int] | None = Field(
        None, description="outpaint: pixels to add per side (left, right, top, bottom)."
    )
    aspect: str | None = Field(None, description="outpaint: grow the canvas to W:H (9:16).")
    model: str | None = Field(None, description="Default: the source's model, else the default.")
    steps: int | None = Field(None, ge=1, le=500)
    guidance: float | None = Field(None, ge=0.0, le=50.0)
    scheduler: str | None = None
    seed: Seed = None

    @field_validator("strength")
    @classmethod
    def _strength_in_range(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v <= 1:
            raise ValueError(f"strength must be above 0 and at most 1, got {v:g}")
        return v

    @model_validator(mode="after")
    def _fits_operation(self) -> EditRequest:
        op = self.operation
        if op == "refine" and not (self.instruction or "").strip():
            raise ValueError("refine needs an instruction: say what should change")
        if op == "inpaint" and (self.mask is None) == (self.region is None):
            raise ValueError("inpaint needs a mask file or a region (x,y,w,h), one of them")
        if op == "outpaint" and (self.expand is None) == (self.aspect is None):
            raise ValueError("outpaint needs an aspect (9:16) or an expand (left=128,...), one")
        if op != "inpaint" and (self.mask or self.region or self.feather is not None):
            raise ValueError(f"{op} takes no mask, region or feather (inpaint does)")
        if op != "outpaint" and (self.expand or self.aspect):
            raise ValueError(f"{op} takes no aspect or expand (outpaint does)")
        if self.expand is not None:
            sides = {"left", "right", "top", "bottom"}
            if set(self.expand) - sides or any(
                not 0 <= v <= MAX_SIDE for v in self.expand.values()
            ):
                raise ValueError(f"expand takes {', '.join(sorted(sides))}, each 0..{MAX_SIDE} px")
            if not any(self.expand.values()):
                raise ValueError("expand adds no pixels: give a side a positive number")
        return self


class EditResult(BaseModel):
    """One edit turn stored: the new asset, how the instruction was routed, what was kept."""

    request: EditRequest
    output: ImageOutput
    route: str = Field(
        description="exact or move (no diffusion), img2img, inpaint, outpaint, instruct."
    )
    thread: str = Field(description="Asset id of the thread's original image.")
    turn: int = Field(description="1 for the first edit of the original, and so on.")
    preserved: float | None = Field(
        description="SSIM against the thread's original outside every mask of the thread."
    )
    notes: list[str] = []
    seconds: float


MAX_VIDEO_SECONDS = 60.0


class VideoRequest(BaseModel):
    """A clip to generate: text to video, image to video (``image``), or a continuation of a
    clip (``extend``). Fields left ``None`` come from the model family and the preset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(
        description="What happens; with an image or clip, may name just the motion."
    )
    negative_prompt: str = ""
    model: str | None = Field(None, description="'builtin', a local folder or a hub id.")
    preset: str = Field("preview", description="Delivery preset: size, fps, codec, CRF.")
    seconds: float | None = Field(
        None,
        description=f"Length in seconds, above 0 and at most {MAX_VIDEO_SECONDS:g}; "
        "default: the preset's.",
    )
    image: str | None = Field(None, description="First frame: an image asset id or file.")
    extend: str | None = Field(None, description="A video asset id or file to continue.")
    before: bool = Field(False, description="With ``extend``: generate a lead-in instead.")
    steps: int | None = Field(None, ge=1, le=500)
    guidance: float | None = Field(None, ge=0.0, le=50.0)
    scheduler: str | None = Field(
        None, description="A sampler name (see `generate --scheduler`); default the model's own."
    )
    seed: Seed = None
    model_size: tuple[int, int] | None = Field(
        None, description="(width, height) the model generates at; default the family's."
    )
    codec: Literal["h264", "h265", "av1"] | None = Field(
        None, description="h264 (default), h265 or av1."
    )
    retries: int = Field(
        2,
        ge=0,
        le=10,
        description="New seeds tried for a chunk whose seam is bad or that lost the subject.",
    )
    hold_subject: bool = Field(
        True,
        description="Draw a chunk again (up to ``retries`` times) when its last frame no "
        "longer shows the subject of the clip's first frame: another colour, another kind of "
        "object, or split in two.",
    )
    max_seam_ratio: float = Field(
        2.0,
        gt=1.0,
        description="A seam whose warp error exceeds this many times the "
        "within-chunk average is retried.",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("prompt is empty: describe what should happen")
        return v.strip()

    @field_validator("seconds")
    @classmethod
    def _seconds_in_range(cls, v: float | None) -> float | None:
        if v is not None and not 0 < v <= MAX_VIDEO_SECONDS:
            raise ValueError(
                f"seconds must be above 0 and at most {MAX_VIDEO_SECONDS:g}, got {v:g}"
            )
        return v

    @model_validator(mode="after")
    def _one_source(self) -> VideoRequest:
        if self.image and self.extend:
            raise ValueError("give either image (first frame) or extend (a clip), not both")
        if self.before and not self.extend:
            raise ValueError("before needs extend: the clip to lead into")
        if self.model_size is not None and any(
            s < 8 or s > MAX_SIDE or s % 8 for s in self.model_size
        ):
            raise ValueError(f"model_size sides must be multiples of 8 in 8..{MAX_SIDE}")
        return self


class Seam(BaseModel):
    """How one chunk joins the one before it (native frames, before delivery)."""

    at_frame: int = Field(description="Index of the first new frame of the chunk.")
    warp_error: float
    within_average: float
    ratio: float | None = Field(
        description="warp_error / within_average; ~1 looks like any frame pair."
    )
    colour_jump: float = Field(description="Mean Lab colour difference across the seam (ΔE).")
    flicker: float = Field(description="Mean luma jump across the seam, 0..1.")
    attempts: int = Field(description="Seeds tried for this chunk.")


class VideoResult(BaseModel):
    """One stored clip with the full record of how it was made."""

    request: VideoRequest
    asset_id: str
    path: str
    seconds: float
    frames: int
    fps: int
    width: int
    height: int
    chunks: int
    seams: list[Seam]
    subject_kept: bool | None = Field(
        None,
        description="Whether the last frame still shows the first frame's subject "
        "(``hold_subject``); None when not checked: no single subject, or holding was off.",
    )
    poster: str = Field(description="Asset id of the poster frame.")
    contact_sheet: str = Field(description="Asset id of the contact sheet.")
    record: dict
    timings: dict
