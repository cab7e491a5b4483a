"""The one contract between front ends (CLI, API, UI) and the engine.

Front ends build an :class:`ImageRequest`; the engine returns a :class:`Result` holding one
:class:`ImageOutput` per image. Fields left ``None`` are filled from the tier preset.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

MAX_SIDE = 4096
_SIZE = re.compile(r"^\s*(\d+)\s*[xX×]\s*(\d+)\s*$")


def parse_size(text: str) -> tuple[int, int]:
    """'1024x768' -> (1024, 768); raises ValueError with the accepted form."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"size must look like WIDTHxHEIGHT (e.g. 1024x1024), got {text!r}")
    return int(m.group(1)), int(m.group(2))


class ImageRequest(BaseModel):
    """What to generate. ``prompt`` may be a wildcard template when ``count`` > 1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str = Field(description="Text prompt; compel weighting like (red)1.3 is allowed.")
    negative_prompt: str = ""
    model: str | None = Field(None, description="'builtin', a local folder or a hub id.")
    tier: str = "draft"
    width: int | None = Field(None, ge=8, le=MAX_SIDE)
    height: int | None = Field(None, ge=8, le=MAX_SIDE)
    steps: int | None = Field(None, ge=1, le=500)
    guidance: float | None = Field(None, ge=0.0, le=50.0)
    scheduler: str | None = None
    seed: int | None = Field(None, ge=0, lt=2**63)
    count: int = Field(1, ge=1, le=256, description="Images; seeds are seed, seed+1, ...")
    template: bool = Field(False, description="Expand {a|b} wildcards, one prompt per image.")
    parent: str | None = Field(None, description="Asset id this output derives from.")

    @field_validator("prompt")
    @classmethod
    def _prompt_not_empty(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("prompt is empty: describe what to generate")
        return v.strip()

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
    seed: int
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
    identical: bool = Field(description="Every pixel equal after the original's watermark and codec.")
    max_abs_diff: int
    mean_abs_diff: float
    psnr: float
