"""Tiers as data: what "draft" and "production" mean for each model family.

A :class:`Tier` is a frozen preset; a :class:`Family` groups the tiers of one kind of model
with how to recognise it. The engine only reads fields, so a new tier or family is a new entry
in :data:`FAMILIES`, not a new branch.

Draft: few steps with a fast solver at the model's native size, saved as a compressed preview.
Production: more steps, then the rendering pipeline: upscale (Lanczos + unsharp mask), a
diffusion refine pass (img2img at low strength) at the larger size, cleanup, lossless PNG.
"""

from __future__ import annotations

import re
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
    refine_max_side: int | None = None  # refine no larger than this; Lanczos the rest...
    refine_tiled: bool = False  # ...or in overlapping tiles this large (a request may choose)
    refine_keeps_colour: bool = False  # the refine's input colours on its detail (wavelet fix)
    refine_within_range: bool = False  # each refined pixel within its input's 3x3 range
    cleanup: bool = False  # edge-preserving denoise after refine
    dehalo: bool = False  # the base render's halos taken off before upscaling (render.cleanup)
    format: str = "png"  # png (lossless) | webp | jpeg
    quality: int = 100  # for webp/jpeg

    def with_overrides(self, **changes) -> Tier:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class Family:
    """A model family: how to recognise it, how to weight prompts, and its tiers.

    A folder belongs to the family whose ``pipelines`` hold its pipeline class, whose
    ``requires`` all hold in its configs (``family_for``'s facts: the scheduler class, the
    denoiser's ``guidance_embeds`` and ``qk_norm``), and whose ``name_hint`` (if any) is in its
    name; the most specific match wins."""

    name: str
    pipelines: tuple[str, ...]  # diffusers pipeline class names that belong to it
    tiers: dict[str, Tier]
    compel: str | None = None  # compel wrapper for prompt weighting; None: unsupported
    # A prompt longer than the CLIP encoder's window (75 tokens) is encoded in windows joined
    # end to end, as A1111 and ComfyUI do (through compel), rather than cut at the window.
    prompt_windows: bool = False
    gpu_dtype: str = "float16"
    name_hint: str | None = None  # a word in the model's name that picks this family (turbo)
    requires: tuple[tuple[str, object], ...] = ()  # (fact, value) pairs its configs show
    call: tuple[tuple[str, object], ...] = ()  # extra pipeline arguments of every call
    # Guidance-distilled models (FLUX) take no negative prompt through ``guidance``; with one,
    # a second pass runs at this true-CFG scale (0: the family has no true CFG).
    true_cfg: float = 0.0
    # Models with no guidance input at all (Qwen-Image): the tier's guidance is true CFG
    # (``true_cfg_scale``), against the request's negative prompt or the authors' " ".
    guidance_is_true_cfg: bool = False
    # An instruction-edit model: it changes a given image as a sentence says (``refine``),
    # and makes nothing from text alone.
    instruct: bool = False
    source: str = ""  # where the presets come from (model card or documentation)


def _tiers(draft: Tier, production: Tier) -> dict[str, Tier]:
    return {"draft": draft, "production": production}


def _distilled(steps: int, scheduler: str, draft_steps: int = 1, **production) -> dict:
    """Tiers of a step-distilled model: few steps, no classifier-free guidance; production
    adds the rendering pipeline with a refine pass of the same sampler."""
    return _tiers(
        Tier("draft", draft_steps, 0.0, scheduler, format="webp", quality=80),
        Tier(
            "production",
            steps=steps,
            guidance=0.0,
            scheduler=scheduler,
            upscale=2,
            sharpen=0.4,
            refine_strength=0.5,
            refine_steps=steps,
            cleanup=True,
            **production,
        ),
    )


def _guided(draft: int, steps: int, guidance: float, scheduler: str, **production) -> dict:
    """Tiers of a model sampled with classifier-free guidance: ``draft`` steps for the
    preview, the authors' ``steps`` and the rendering pipeline for production."""
    return _tiers(
        Tier("draft", draft, guidance, scheduler, format="webp", quality=80),
        Tier(
            "production",
            steps=steps,
            guidance=guidance,
            scheduler=scheduler,
            upscale=2,
            **{"sharpen": 0.4, "refine_strength": 0.25, "refine_steps": steps, "cleanup": True}
            | production,
        ),
    )


def _qwen_edit(name: str, pipeline: str, steps: int, source: str) -> Family:
    """A Qwen-Image-Edit family: its authors' true CFG 4 at ``steps``, draft at 20; no refine
    pass in production (an instruction-edit pipeline has no image-to-image mapping)."""
    return Family(
        name,
        pipelines=(pipeline,),
        gpu_dtype="bfloat16",
        instruct=True,
        guidance_is_true_cfg=True,
        source=source,
        tiers=_guided(20, steps, 4.0, "own", refine_strength=0.0, cleanup=True),
    )


# SDXL's img2img is documented for 768-1024 px (diffusers docs, "Stable Diffusion XL":
# image-to-image); production refines no larger than that: in tiles of that size above it
# (``refine_tiled``, as Ultimate SD Upscale does), or at that size, Lanczos-scaling the rest,
# when a request says ``tiled_refine=False``.
SDXL_REFINE = 1024
# SDXL's "ensemble of expert denoisers" (diffusers docs, "Stable Diffusion XL": refiner):
# the base denoises the first 80 % of the steps, the refiner the rest (high_noise_frac=0.8).
REFINER_SWITCH = 0.8
REFINER_PIPELINE = "StableDiffusionXLImg2ImgPipeline"
SD15 = ("StableDiffusionPipeline",)
SDXL = ("StableDiffusionXLPipeline",)
SD3 = ("StableDiffusion3Pipeline",)
FLUX = ("FluxPipeline",)
# Qwen-Image's authors sample with true CFG against a negative prompt of one space.
QWEN_NEGATIVE = " "

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        # The shipped 64x64 model: production renders at 4x. Its UNet only knows 64x64, so
        # the refine at 256x256 stays very light: at 0.2 it thinned shapes and lost colour
        # (drift 0.79, colour 3/8 held-out prompts). Even at 0.05 it shifted colours
        # (held-out colour accuracy 94 % before the refine, 79 % after); keeping the input's
        # colour band puts it back to 94 % and raises the lowest drift from 0.74 to 0.79.
        # The refine also painted colour blotches (its colour is now wholly the input's) and
        # halos and specks (each pixel now stays within its input's 3x3 range): measured by
        # chroma_outliers and overshoot, scripts/evaluate_artifacts.py.
        Family(
            "builtin",
            pipelines=(),
            compel="CompelForSD",
            source="measured on the built-in model (docs/models.md)",
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
                    refine_within_range=True,
                    cleanup=True,
                    dehalo=True,
                ),
            ),
        ),
        Family(
            "sd15",
            pipelines=SD15,
            compel="CompelForSD",
            prompt_windows=True,
            source="diffusers StableDiffusionPipeline docs: guidance_scale=7.5; DPM++ 2M at "
            "12 / 40 steps (cinedraft's choice: the docs' 50 PNDM steps, with a faster solver)",
            tiers=_guided(12, 40, 7.5, "dpm++", sharpen=0.5, refine_strength=0.3, refine_steps=30),
        ),
        Family(
            "sd-turbo",
            pipelines=SD15,
            compel="CompelForSD",
            prompt_windows=True,
            name_hint="turbo",
            source="stabilityai/sd-turbo model card: 1-4 steps, guidance_scale=0.0",
            tiers=_distilled(4, "euler-a"),
        ),
        Family(
            "lcm",
            pipelines=("LatentConsistencyModelPipeline", *SD15),
            requires=(("scheduler", "LCMScheduler"),),
            source="SimianLuo/LCM_Dreamshaper_v7 model card: num_inference_steps=4, "
            "guidance_scale=8.0 (guidance is an input of the distilled model)",
            tiers=_guided(4, 4, 8.0, "lcm", refine_strength=0.5),
        ),
        Family(
            "sdxl",
            pipelines=SDXL,
            compel="CompelForSDXL",
            prompt_windows=True,
            source="diffusers StableDiffusionXLPipeline docs (img2img at 768-1024 px); "
            "guidance 6 and DPM++ 2M at 12 / 40 steps (cinedraft's choice)",
            tiers=_guided(
                12,
                40,
                6.0,
                "dpm++",
                refine_steps=30,
                refine_max_side=SDXL_REFINE,
                refine_tiled=True,
            ),
        ),
        Family(
            "sdxl-turbo",
            pipelines=SDXL,
            compel="CompelForSDXL",
            prompt_windows=True,
            name_hint="turbo",
            source="stabilityai/sdxl-turbo model card: 1-4 steps, guidance_scale=0.0",
            tiers=_distilled(4, "euler-a", refine_max_side=SDXL_REFINE),
        ),
        Family(
            "sdxl-lightning",
            pipelines=SDXL,
            compel="CompelForSDXL",
            prompt_windows=True,
            name_hint="lightning",
            source="ByteDance/SDXL-Lightning model card: 4-step checkpoint, "
            "EulerDiscreteScheduler with trailing timesteps, guidance_scale=0",
            tiers=_distilled(
                4, "euler-trailing", draft_steps=4, refine_max_side=SDXL_REFINE, refine_tiled=True
            ),
        ),
        Family(
            "lcm-sdxl",
            pipelines=SDXL,
            compel="CompelForSDXL",
            prompt_windows=True,
            requires=(("scheduler", "LCMScheduler"),),
            source="latent-consistency/lcm-sdxl model card: num_inference_steps=4, "
            "guidance_scale=8.0",
            tiers=_guided(
                4,
                4,
                8.0,
                "lcm",
                refine_strength=0.5,
                refine_max_side=SDXL_REFINE,
                refine_tiled=True,
            ),
        ),
        Family(
            "sd3",
            pipelines=SD3,
            source="diffusers StableDiffusion3Pipeline docs: num_inference_steps=28, "
            "guidance_scale=7.0",
            tiers=_guided(14, 28, 7.0, "flow-euler"),
        ),
        Family(
            "sd3.5",
            pipelines=SD3,
            requires=(("qk_norm", "rms_norm"),),
            source="stabilityai/stable-diffusion-3.5-large model card: "
            "num_inference_steps=28, guidance_scale=3.5",
            tiers=_guided(14, 28, 3.5, "flow-euler"),
        ),
        Family(
            "sd3.5-turbo",
            pipelines=SD3,
            name_hint="turbo",
            requires=(("qk_norm", "rms_norm"),),
            source="stabilityai/stable-diffusion-3.5-large-turbo model card: "
            "num_inference_steps=4, guidance_scale=0.0",
            tiers=_distilled(4, "flow-euler", draft_steps=4),
        ),
        Family(
            "flux",
            pipelines=FLUX,
            compel="CompelForFlux",
            gpu_dtype="bfloat16",
            requires=(("guidance_embeds", True),),
            true_cfg=4.0,
            source="diffusers Flux docs, guidance-distilled FLUX.1-dev: guidance_scale=3.5, "
            "num_inference_steps=50; true CFG (true_cfg_scale > 1 with a negative prompt) "
            "from diffusers' FluxPipeline, at 4.0 (cinedraft's choice)",
            tiers=_guided(28, 50, 3.5, "flow-euler", sharpen=0.3, refine_strength=0.2),
        ),
        Family(
            "flux-schnell",
            pipelines=FLUX,
            compel="CompelForFlux",
            gpu_dtype="bfloat16",
            requires=(("guidance_embeds", False),),
            call=(("max_sequence_length", 256),),
            true_cfg=4.0,
            source="diffusers Flux docs, timestep-distilled FLUX.1-schnell: guidance_scale=0, "
            "max_sequence_length at most 256, few steps; model card: num_inference_steps=4",
            tiers=_distilled(4, "flow-euler", draft_steps=4),
        ),
        Family(
            "qwen-image",
            pipelines=("QwenImagePipeline",),
            gpu_dtype="bfloat16",
            guidance_is_true_cfg=True,
            source="Qwen/Qwen-Image model card: true_cfg_scale=4.0, negative_prompt=' ', "
            "num_inference_steps=50 (draft at 20: cinedraft's choice)",
            tiers=_guided(20, 50, 4.0, "own"),
        ),
        # Instruction-edit models (``refine``): production renders the edit through the
        # rendering pipeline without a refine pass (no image-to-image mapping exists for them).
        # The built-in edit model (scripts/train_builtin_edit.py): InstructPix2Pix from the
        # built-in image model; its guidance scales are the ones its evaluation chose.
        Family(
            "builtin-edit",
            pipelines=(),
            instruct=True,
            call=(("image_guidance_scale", 2.5),),
            source="measured on the built-in edit model (cinedraft/builtin/EDIT_MODEL_CARD.md)",
            tiers=_tiers(
                Tier("draft", steps=20, guidance=4.0, scheduler="dpm++"),
                Tier(
                    "production",
                    steps=20,
                    guidance=4.0,
                    scheduler="dpm++",
                    upscale=4,
                    sharpen=0.6,
                    cleanup=True,
                ),
            ),
        ),
        Family(
            "instruct-pix2pix",
            pipelines=("StableDiffusionInstructPix2PixPipeline",),
            instruct=True,
            call=(("image_guidance_scale", 1.5),),
            source="timbrooks/instruct-pix2pix model card: EulerAncestralDiscreteScheduler, "
            "num_inference_steps=10; diffusers StableDiffusionInstructPix2PixPipeline "
            "defaults: guidance_scale=7.5, image_guidance_scale=1.5; production at 50 steps "
            "(cinedraft's choice, half the pipeline's default 100)",
            tiers=_guided(10, 50, 7.5, "euler-a", refine_strength=0.0, cleanup=True),
        ),
        Family(
            "sdxl-instruct-pix2pix",
            pipelines=("StableDiffusionXLInstructPix2PixPipeline",),
            instruct=True,
            call=(("image_guidance_scale", 1.5),),
            source="diffusers/sdxl-instructpix2pix-768 model card: guidance_scale=3.0, "
            "image_guidance_scale=1.5, num_inference_steps=30 (draft at 15: cinedraft's choice)",
            tiers=_guided(15, 30, 3.0, "own", refine_strength=0.0, cleanup=True),
        ),
        Family(
            "flux-kontext",
            pipelines=("FluxKontextPipeline",),
            gpu_dtype="bfloat16",
            instruct=True,
            # cinedraft sizes the work itself (the source's aspect at the model's area); the
            # pipeline's own snap to its preferred resolutions would resize it again
            call=(("_auto_resize", False),),
            source="diffusers FluxKontextPipeline docs (black-forest-labs/FLUX.1-Kontext-dev): "
            "guidance_scale=2.5, num_inference_steps=28 (draft at 14: cinedraft's choice)",
            tiers=_guided(14, 28, 2.5, "flow-euler", refine_strength=0.0, cleanup=True),
        ),
        # Qwen-Image-Edit reads the source image twice: its VAE latents beside the ones it
        # samples, and the image with the instruction through Qwen2.5-VL (engine.processors).
        _qwen_edit(
            "qwen-image-edit",
            "QwenImageEditPipeline",
            50,
            "Qwen/Qwen-Image-Edit model card: true_cfg_scale=4.0, negative_prompt=' ', "
            "num_inference_steps=50 (draft at 20: cinedraft's choice)",
        ),
        _qwen_edit(
            "qwen-image-edit-plus",
            "QwenImageEditPlusPipeline",
            40,
            "Qwen/Qwen-Image-Edit-2509 model card: true_cfg_scale=4.0, negative_prompt=' ', "
            "num_inference_steps=40, guidance_scale=1.0 (unused: no guidance input) (draft at "
            "20: cinedraft's choice)",
        ),
        # Any other text-to-image pipeline diffusers has (PixArt, Sana, Lumina, HiDream...):
        # no author recipe is known here, so the folder's own scheduler at middle-of-the-road
        # steps, and production without a refine pass (not every one has an img2img pipeline).
        Family(
            "generic",
            pipelines=(),
            source="no published recipe known to cinedraft: the model's own scheduler",
            tiers=_tiers(
                Tier("draft", 20, 4.5, "own", format="webp", quality=80),
                Tier("production", 30, 4.5, "own", upscale=2, sharpen=0.4, cleanup=True),
            ),
        ),
    )
}


@dataclass(frozen=True)
class SpeedLora:
    """A speed LoRA's published recipe: a word in its file name picks it; a step count in
    the name (``8step``, ``4steps``: the authors ship one file per count) replaces
    ``steps``. ``flow``: for flow-matching models (whose samplers are their own);
    ``families``: only for these (None: any family of that kind)."""

    hint: str
    steps: int
    guidance: float
    scheduler: str  # a key of engine.schedulers.SCHEDULERS
    source: str
    flow: bool = False
    families: tuple[str, ...] | None = None
    also: str | None = None  # a second word the name must hold (a variant of the same LoRA)
    weight: float = 1.0  # the scale its authors fuse it at (a request's own weight wins)
    guidance_at: tuple[tuple[int, float], ...] = ()  # (steps, guidance): one per file's count

    def guidance_for(self, steps: int) -> float:
        """The guidance for the file of ``steps`` steps (``guidance`` where none is given)."""
        return dict(self.guidance_at).get(steps, self.guidance)


QWEN_FAMILIES = ("qwen-image", "qwen-image-edit", "qwen-image-edit-plus")

# Speed LoRAs turn a base model into a few-step one: the steps, guidance and sampler their
# authors publish. A LoRA on a model of the other kind (a noise-prediction recipe on a flow
# model) keeps the tier: its sampler would not run there.
SPEED_LORAS: tuple[SpeedLora, ...] = (
    SpeedLora(
        "lcm",
        4,
        1.0,
        "lcm",
        "diffusers docs, Latent Consistency Model (LCM-LoRA): num_inference_steps=4, "
        "guidance_scale=1.0, LCMScheduler",
    ),
    SpeedLora(
        "lightning",
        4,
        0.0,
        "euler-trailing",
        "ByteDance/SDXL-Lightning model card: 2-, 4- and 8-step LoRAs, guidance_scale=0, "
        "Euler with trailing timesteps",
    ),
    SpeedLora(
        "hyper",
        8,
        5.0,
        "ddim-trailing",
        "ByteDance/Hyper-SD model card: the CFG-preserved 8- and 12-step LoRAs take negative "
        "prompts and guidance scales of 5 to 8 (5: the lowest)",
        also="cfg",
    ),
    SpeedLora(
        "hyper",
        8,
        0.0,
        "ddim-trailing",
        "ByteDance/Hyper-SD model card: 2-, 4- and 8-step LoRAs, DDIM with trailing "
        "timesteps, guidance_scale=0",
    ),
    SpeedLora(
        "lightning",
        8,
        1.0,
        "flow-euler-shift3",
        "ModelTC/Qwen-Image-Lightning (generate_with_diffusers.py): 8- and 4-step LoRAs, "
        "true_cfg_scale=1.0, FlowMatchEulerDiscreteScheduler with base_shift = max_shift = "
        "log(3) (the shift of its distillation), exponential time shift, no shift_terminal",
        flow=True,
        families=QWEN_FAMILIES,
    ),
    SpeedLora(
        "hyper",
        8,
        3.5,
        "flow-euler",
        "ByteDance/Hyper-SD model card, FLUX.1-dev: 8- and 16-step LoRAs, "
        "fuse_lora(lora_scale=0.125), guidance_scale=3.5, the pipeline's own "
        "FlowMatchEulerDiscreteScheduler",
        flow=True,
        families=("flux",),
        weight=0.125,
    ),
    SpeedLora(
        "hyper",
        8,
        5.0,
        "flow-euler",
        "ByteDance/Hyper-SD model card, SD 3 CFG LoRAs: 4-, 8- and 16-step, guidance scale "
        "3.0 / 5.0 / 7.0 at 4 / 8 / 16 steps, fused at a small scale (0.125), the pipeline's "
        "own FlowMatchEulerDiscreteScheduler",
        flow=True,
        families=("sd3",),
        also="cfg",
        weight=0.125,
        guidance_at=((4, 3.0), (8, 5.0), (16, 7.0)),
    ),
)
STEPS_IN_NAME = re.compile(r"(\d+)[-_ ]?steps?(?![a-z])")


def speed_lora(file_name: str, family: str, flow: bool) -> tuple[SpeedLora, int] | None:
    """The speed-LoRA recipe a LoRA file's name picks on a model of ``family`` (``flow``: a
    flow-matching one), and its steps; None for any other LoRA."""
    name = file_name.lower()
    for recipe in SPEED_LORAS:
        if (
            recipe.hint in name
            and (recipe.also is None or recipe.also in name)
            and recipe.flow == flow
            and (recipe.families is None or family in recipe.families)
        ):
            counted = STEPS_IN_NAME.search(name)
            return recipe, int(counted.group(1)) if counted else recipe.steps
    return None


def family_for(facts: dict[str, object], model_ref: str) -> Family | None:
    """The family of a model from what its configs say (``facts``: ``pipeline`` and the facts
    a family ``requires``) and its name; None when no family has its pipeline class."""
    name = model_ref.lower().replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    matches = [
        f
        for f in FAMILIES.values()
        if facts.get("pipeline") in f.pipelines
        and all(facts.get(k) == v for k, v in f.requires)
        and (f.name_hint is None or f.name_hint in name)
    ]
    if not matches:
        return None
    return max(matches, key=lambda f: len(f.requires) + (f.name_hint is not None))


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
    # For "latents" conditioning: the share of the sampling schedule an image-to-video call
    # (a given first image) skips. The frames it draws start from the image, noised to that
    # point of the schedule (SDEdit of a still clip, Meng et al., 2022), instead of from pure
    # noise, so they set out from the given scene and motion moves it; 0: from pure noise.
    # Calls that continue a clip start from noise: started from the clip they moved 22 % less
    # (VIDEO_MODEL_CARD.md). Samplers that cannot be cut by step count start from noise too.
    still_start: float = 0.0
    requires: tuple[tuple[str, object], ...] = ()  # (fact, value) pairs, as Family's
    call: tuple[tuple[str, object], ...] = ()  # extra pipeline arguments of every call
    source: str = ""  # where the presets come from

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
            still_start=0.2,
            source="measured on the built-in model (cinedraft/builtin/VIDEO_MODEL_CARD.md)",
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
            source="diffusers AnimateDiff docs: 16 frames at 8 fps, 512x512, 25 steps, "
            "guidance_scale=7.5",
        ),
        # Text only: TextToVideoSDPipeline has no ``callback_on_step_end``, so given frames
        # cannot be held in its latents; one call, no image to video, no extension.
        VideoFamily(
            "modelscope",
            ("TextToVideoSDPipeline",),
            steps=25,
            guidance=9.0,
            fps=8,
            size=(256, 256),
            chunk_frames=16,
            source="diffusers text-to-video docs (damo-vilab/text-to-video-ms-1.7b): 16 frames, "
            "25 steps, guidance_scale=9 (the pipeline's default)",
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
            source="diffusers LTX-Video docs: 704x480, 24 fps, frame counts of 8N+1 "
            "(at most 257), 40-50 steps, guidance_scale=3",
        ),
        VideoFamily(
            "ltx-video-0.9.1",
            ("LTXPipeline", "LTXImageToVideoPipeline"),
            steps=50,
            guidance=3.0,
            fps=24,
            size=(768, 512),
            chunk_frames=161,
            frame_step=8,
            overlap=1,
            conditioning="image",
            image_pipeline="LTXImageToVideoPipeline",
            gpu_dtype="bfloat16",
            requires=(("vae_timestep_conditioning", True),),
            call=(("decode_timestep", 0.03), ("decode_noise_scale", 0.025)),
            source="diffusers LTX-Video docs, 0.9.1 and later (a timestep-conditioned VAE): "
            "768x512, 161 frames, 50 steps, decode_timestep=0.03, decode_noise_scale=0.025",
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
            source="diffusers Wan docs (Wan2.1 T2V 1.3B): 832x480, 81 frames (4N+1) at 16 fps, "
            "guidance_scale=5; 40 steps (cinedraft's choice, the docs' examples use 30-50)",
        ),
        VideoFamily(
            "cogvideox",
            ("CogVideoXPipeline",),
            steps=50,
            guidance=6.0,
            fps=8,
            size=(720, 480),
            chunk_frames=49,
            frame_step=8,
            gpu_dtype="bfloat16",
            source="THUDM/CogVideoX-5b model card: 49 frames (6 s at 8 fps, plus one; counts "
            "of 8N+1), 720x480, 50 steps, guidance_scale=6",
        ),
        VideoFamily(
            "cogvideox-1.5",
            ("CogVideoXPipeline",),
            steps=50,
            guidance=6.0,
            fps=16,
            size=(1360, 768),
            chunk_frames=81,
            frame_step=16,
            gpu_dtype="bfloat16",
            requires=(("patch_size_t", 2),),
            source="THUDM/CogVideoX1.5-5B model card: 81 frames at 16 fps (16N+1), 1360x768, "
            "50 steps, guidance_scale=6; told from 1.0 by its temporal patch (patch_size_t 2)",
        ),
    )
}


def video_family_for(pipeline_class: str, facts: dict[str, object] | None = None) -> VideoFamily:
    """The video family of a pipeline class, the most specific whose ``requires`` hold in
    ``facts`` (see :func:`family_for`); an image pipeline is an input error."""
    facts = facts or {}
    matches = [
        f
        for f in VIDEO_FAMILIES.values()
        if pipeline_class in f.pipelines and all(facts.get(k) == v for k, v in f.requires)
    ]
    if matches:
        return max(matches, key=lambda f: len(f.requires))
    known = ", ".join(p for f in VIDEO_FAMILIES.values() for p in f.pipelines)
    raise InputError(f"{pipeline_class} is not a video pipeline cinedraft drives; known: {known}")
