"""Tiers as data: what "draft" and "production" mean for each model family.

A :class:`Tier` is a frozen preset; a :class:`Family` groups the tiers of one kind of model
with how to recognise it. The engine only reads fields, so a new tier or family is a new entry
in :data:`FAMILIES`, not a new branch.

Draft: few steps with a fast solver at the model's native size, saved as a compressed preview.
Production: more steps, then the rendering pipeline: upscale (Lanczos + unsharp mask), a
diffusion refine pass (img2img at low strength) at the larger size, cleanup, lossless PNG.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import InputError


@dataclass(frozen=True)
class Tier:
    """One quality/speed preset for one model family."""

    name: str
    steps: int
    guidance: float
    scheduler: str  # a key of engine.schedulers.SCHEDULERS
    upscale: int = 1  # output side = native side * upscale
    sharpen: float = 0.0  # unsharp-mask amount after upscaling, 0 = off
    refine_strength: float = 0.0  # img2img strength at the output size, 0 = no refine
    refine_steps: int = 0  # scheduler steps of the refine pass (before strength)
    refine_max_side: int | None = None  # refine no larger than this; Lanczos the rest
    cleanup: bool = False  # edge-preserving denoise after refine
    format: str = "png"  # png (lossless) | webp | jpeg
    quality: int = 100  # for webp/jpeg

    def with_overrides(self, **changes) -> Tier:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class Family:
    """A model family: how to recognise it, how to weight prompts, and its tiers."""

    name: str
    pipelines: tuple[str, ...]  # diffusers pipeline class names that belong to it
    tiers: dict[str, Tier]
    compel: str | None = None  # compel wrapper for prompt weighting; None: unsupported
    gpu_dtype: str = "float16"
    name_hint: str | None = None  # a word in the model id that picks this family (turbo)


def _tiers(draft: Tier, production: Tier) -> dict[str, Tier]:
    return {"draft": draft, "production": production}


FAMILIES: dict[str, Family] = {
    # The shipped 64x64 model: production renders at 4x. Its UNet only knows 64x64, so the
    # refine at 256x256 stays very light: at 0.2 it thinned shapes and lost colour (drift
    # 0.79, colour 3/8 held-out prompts) where 0.05 keeps drift 0.86 and colour as the draft.
    "builtin": Family(
        "builtin",
        pipelines=(),
        compel="CompelForSD",
        tiers=_tiers(
            Tier("draft", steps=8, guidance=4.0, scheduler="dpm++", format="webp", quality=80),
            Tier(
                "production", steps=30, guidance=4.0, scheduler="dpm++", upscale=4, sharpen=0.6,
                refine_strength=0.05, refine_steps=20, refine_max_side=256, cleanup=True,
            ),
        ),
    ),
    "sd15": Family(
        "sd15",
        pipelines=("StableDiffusionPipeline",),
        compel="CompelForSD",
        tiers=_tiers(
            Tier("draft", steps=12, guidance=7.0, scheduler="dpm++", format="webp", quality=80),
            Tier(
                "production", steps=40, guidance=7.0, scheduler="dpm++", upscale=2, sharpen=0.5,
                refine_strength=0.3, refine_steps=30, cleanup=True,
            ),
        ),
    ),
    # Distilled: 1-4 steps without guidance; production keeps the model, adds the pipeline.
    "sdxl-turbo": Family(
        "sdxl-turbo",
        pipelines=("StableDiffusionXLPipeline",),
        compel="CompelForSDXL",
        name_hint="turbo",
        tiers=_tiers(
            Tier("draft", steps=1, guidance=0.0, scheduler="euler-a", format="webp", quality=80),
            Tier(
                "production", steps=4, guidance=0.0, scheduler="euler-a", upscale=2, sharpen=0.4,
                refine_strength=0.5, refine_steps=4, cleanup=True,
            ),
        ),
    ),
    "sdxl": Family(
        "sdxl",
        pipelines=("StableDiffusionXLPipeline",),
        compel="CompelForSDXL",
        tiers=_tiers(
            Tier("draft", steps=12, guidance=6.0, scheduler="dpm++", format="webp", quality=80),
            Tier(
                "production", steps=40, guidance=6.0, scheduler="dpm++", upscale=2, sharpen=0.4,
                refine_strength=0.25, refine_steps=30, cleanup=True,
            ),
        ),
    ),
    "sd3": Family(
        "sd3",
        pipelines=("StableDiffusion3Pipeline",),
        tiers=_tiers(
            Tier("draft", steps=12, guidance=5.0, scheduler="flow-euler", format="webp", quality=80),
            Tier(
                "production", steps=36, guidance=5.0, scheduler="flow-euler", upscale=2,
                sharpen=0.4, refine_strength=0.25, refine_steps=28, cleanup=True,
            ),
        ),
    ),
    "flux": Family(
        "flux",
        pipelines=("FluxPipeline",),
        compel="CompelForFlux",
        gpu_dtype="bfloat16",
        tiers=_tiers(
            Tier("draft", steps=4, guidance=3.5, scheduler="flow-euler", format="webp", quality=80),
            Tier(
                "production", steps=28, guidance=3.5, scheduler="flow-euler", upscale=2,
                sharpen=0.3, refine_strength=0.2, refine_steps=28, cleanup=True,
            ),
        ),
    ),
}
DEFAULT_FAMILY = "sd15"  # for pipelines no family names


def family_for(pipeline_class: str, model_ref: str) -> Family:
    """The family of a pipeline class; a name hint in the model id (``turbo``) wins."""
    matches = [f for f in FAMILIES.values() if pipeline_class in f.pipelines]
    for family in matches:
        if family.name_hint and family.name_hint in model_ref.lower():
            return family
    plain = [f for f in matches if not f.name_hint]
    return plain[0] if plain else FAMILIES[DEFAULT_FAMILY]


def tier_for(family: Family, name: str) -> Tier:
    """The preset for ``name`` in ``family``; unknown tiers are an input error."""
    if name not in family.tiers:
        raise InputError(f"unknown tier {name!r}; known: {', '.join(family.tiers)}")
    return family.tiers[name]


TIER_NAMES = tuple(FAMILIES["builtin"].tiers)
