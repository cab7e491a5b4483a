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
    refine_keeps_colour: bool = False  # the refine's input colours on its detail (wavelet fix)
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
    # 0.79, colour 3/8 held-out prompts). Even at 0.05 it shifted colours (held-out colour
    # accuracy 94 % before the refine, 79 % after); keeping the input's colour band puts it
    # back to 94 % and raises the lowest drift from 0.74 to 0.79 (48 prompts).
    "builtin": Family(
        "builtin",
        pipelines=(),
        compel="CompelForSD",
        tiers=_tiers(
            Tier("draft", steps=8, guidance=4.0, scheduler="dpm++", format="webp", quality=80),
            Tier(
                "production",
                steps=30,
                guidance=4.0,
                scheduler="dpm++",
                upscale=4,
                sharpen=0.6,
                refine_strength=0.05,
                refine_steps=20,
                refine_max_side=256,
                refine_keeps_colour=True,
                cleanup=True,
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
                "production",
                steps=40,
                guidance=7.0,
                scheduler="dpm++",
                upscale=2,
                sharpen=0.5,
                refine_strength=0.3,
                refine_steps=30,
                cleanup=True,
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
                "production",
                steps=4,
                guidance=0.0,
                scheduler="euler-a",
                upscale=2,
                sharpen=0.4,
                refine_strength=0.5,
                refine_steps=4,
                cleanup=True,
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
                "production",
                steps=40,
                guidance=6.0,
                scheduler="dpm++",
                upscale=2,
                sharpen=0.4,
                refine_strength=0.25,
                refine_steps=30,
                cleanup=True,
            ),
        ),
    ),
    "sd3": Family(
        "sd3",
        pipelines=("StableDiffusion3Pipeline",),
        tiers=_tiers(
            Tier(
                "draft", steps=12, guidance=5.0, scheduler="flow-euler", format="webp", quality=80
            ),
            Tier(
                "production",
                steps=36,
                guidance=5.0,
                scheduler="flow-euler",
                upscale=2,
                sharpen=0.4,
                refine_strength=0.25,
                refine_steps=28,
                cleanup=True,
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
                "production",
                steps=28,
                guidance=3.5,
                scheduler="flow-euler",
                upscale=2,
                sharpen=0.3,
                refine_strength=0.2,
                refine_steps=28,
                cleanup=True,
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


# ---------------------------------------------------------------------------------- video


@dataclass(frozen=True)
class VideoFamily:
    """How one kind of video pipeline is driven: its defaults, how many frames one call makes,
    and how a call is conditioned on given frames (a first frame, or the end of the previous
    chunk).

    ``conditioning``:
      * ``"latents"`` -- the given frames' latents are held clean at every step (the pipeline's
        latents are (B, C, F, H, W) with one latent per frame: AnimateDiff, ModelScope, the
        built-in model, which was trained for it);
      * ``"image"`` -- the family's image-to-video pipeline takes the last frame as its image
        (LTX-Video); ``overlap`` is then 1;
      * ``None`` -- text only: one call, no image-to-video, no continuation.
    """

    name: str
    pipelines: tuple[str, ...]
    steps: int
    guidance: float
    fps: int  # frame rate of the frames the model makes
    size: tuple[int, int]  # (width, height) it generates at
    chunk_frames: int  # frames per call
    frame_step: int = 1  # frame counts must be 1 + k * frame_step (1: any count)
    overlap: int = 0  # frames of the previous chunk a new chunk is conditioned on
    conditioning: str | None = None
    image_pipeline: str | None = None  # for conditioning == "image"
    noise_correlation: float = 0.0  # share of the initial noise common to all frames
    gpu_dtype: str = "float16"
    # Guidance of the calls that continue given frames (the end of the chunk before, or of a
    # clip being extended); None: ``guidance``. The given frames already fix the scene, and a
    # full-strength push towards the prompt makes such a chunk break from them.
    continue_guidance: float | None = None

    def guidance_for(self, requested: float | None, continuing: bool) -> float:
        """The request's guidance if it sets one, else the family's for this kind of call."""
        if requested is not None:
            return requested
        if continuing and self.continue_guidance is not None:
            return self.continue_guidance
        return self.guidance

    def frames_for(self, wanted: int) -> int:
        """The smallest valid frame count of one call that is at least ``wanted``."""
        if self.frame_step == 1:
            return max(2, wanted)
        return 1 + self.frame_step * max(1, -(-(wanted - 1) // self.frame_step))


VIDEO_FAMILIES: dict[str, VideoFamily] = {
    f.name: f
    for f in (
        # The shipped 64x64 model: 8 frames a second, trained on 8-frame clips with the
        # first 1-4 frames given and noise whose frames share half their variance.
        VideoFamily(
            "builtin-video",
            (),
            steps=20,
            guidance=4.0,
            fps=8,
            size=(64, 64),
            chunk_frames=8,
            overlap=2,
            conditioning="latents",
            noise_correlation=0.5,
            continue_guidance=2.0,
        ),
        VideoFamily(
            "animatediff",
            ("AnimateDiffPipeline",),
            steps=25,
            guidance=7.5,
            fps=8,
            size=(512, 512),
            chunk_frames=16,
            overlap=4,
            conditioning="latents",
        ),
        VideoFamily(
            "modelscope",
            ("TextToVideoSDPipeline",),
            steps=25,
            guidance=9.0,
            fps=8,
            size=(256, 256),
            chunk_frames=16,
            overlap=4,
            conditioning="latents",
        ),
        VideoFamily(
            "ltx-video",
            ("LTXPipeline", "LTXImageToVideoPipeline"),
            steps=40,
            guidance=3.0,
            fps=24,
            size=(704, 480),
            chunk_frames=97,
            frame_step=8,
            overlap=1,
            conditioning="image",
            image_pipeline="LTXImageToVideoPipeline",
            gpu_dtype="bfloat16",
        ),
        VideoFamily(
            "wan",
            ("WanPipeline",),
            steps=40,
            guidance=5.0,
            fps=16,
            size=(832, 480),
            chunk_frames=81,
            frame_step=4,
            gpu_dtype="bfloat16",
        ),
        VideoFamily(
            "cogvideox",
            ("CogVideoXPipeline",),
            steps=50,
            guidance=6.0,
            fps=8,
            size=(720, 480),
            chunk_frames=49,
            frame_step=4,
            gpu_dtype="bfloat16",
        ),
    )
}


def video_family_for(pipeline_class: str) -> VideoFamily:
    """The video family of a pipeline class; an image pipeline is an input error."""
    for family in VIDEO_FAMILIES.values():
        if pipeline_class in family.pipelines:
            return family
    known = ", ".join(p for f in VIDEO_FAMILIES.values() for p in f.pipelines)
    raise InputError(f"{pipeline_class} is not a video pipeline cinedraft drives; known: {known}")
