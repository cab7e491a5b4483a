"""Loading diffusers pipelines safely, offline first, with a small cache.

A model reference is ``"builtin"``, a local diffusers folder, a single-file ``.safetensors``
checkpoint, or a hub id. Hub ids resolve from the local HF cache first and download
(safetensors only) only when online is allowed. Before anything is deserialised the folder is
checked: it must be a diffusers pipeline made of diffusers/transformers classes (no remote
code) whose weights are safetensors (no pickle); a single file must be safetensors and one of
the architectures ``single_file`` knows.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import diffusers
import torch
import transformers

from ..builtin import EDIT_MODEL, IMAGE_MODEL, VIDEO_MODEL, reach
from ..config import Settings
from ..errors import InputError, ModelError, ModelNotFoundError, UnsafeModelError
from ..media.files import open_regular
from ..request import Progress, no_progress
from ..tiers import (
    FAMILIES,
    REFINER_PIPELINE,
    VIDEO_FAMILIES,
    Family,
    VideoFamily,
    family_for,
    video_family_for,
)
from . import single_file
from .folders import BUILTIN_EDIT, hub_offline, in_models_folder
from .processors import image_only_processors
from .device import pick_dtype

PICKLE_SUFFIXES = single_file.PICKLES
SAFE_LIBRARIES = {"diffusers", "transformers", None}
# How models are found on a machine (the models folder, single-file configs, the HF cache).
# A cluster refuses a worker whose layout differs from the head's: the head names models as
# its own layout finds them. Raise it when that changes.
MODELS_LAYOUT = 1
MARKER = "cinedraft.json"  # optional file in a model folder: {"family": "builtin", ...}


@dataclass
class LoadedModel:
    """A pipeline in memory with what the engine and the records need to know about it."""

    ref: str
    path: Path
    pipe: diffusers.DiffusionPipeline
    family: Family | VideoFamily
    native_size: tuple[int, int]  # (width, height)
    own_scheduler: diffusers.SchedulerMixin  # as loaded: tiers build theirs from its config
    safety: str | None = None  # the safety checker's class, "off" when turned off, None: none
    variant: str | None = None  # the weights variant loaded (fp16, bf16); None: full files
    # The LoRAs, embeddings and VAE on the pipeline now (engine.adapters keeps them on from
    # one request to the next that asks for the same, and takes them off for any other).
    adapters_on: tuple = ()
    loras_loaded: tuple = ()  # LoRAs injected into the pipeline, fused or turned off
    # while LoRAs are fused: the weights of the layers they change, as they were before
    unfused: dict = field(default_factory=dict, repr=False)
    own_vae: object | None = None  # the model's own VAE while another is on
    parts: str | None = None  # a transformer alone: where its other components are from
    _hash: str | None = field(default=None, repr=False)
    _img2img: diffusers.DiffusionPipeline | None = field(default=None, repr=False)
    _inpaint: diffusers.DiffusionPipeline | None = field(default=None, repr=False)

    @property
    def weights_hash(self) -> str:
        """SHA-256 of a single file (its first ten hex digits are A1111's model hash), or over
        every safetensors file of a folder, names included (computed once)."""
        if self._hash is None:
            digest = hashlib.sha256()
            files = [self.path] if self.path.is_file() else sorted(self.path.rglob("*.safetensors"))
            for f in files:
                if f != self.path:
                    digest.update(str(f.relative_to(self.path)).encode())
                with open_regular(f) as fh:  # a link to /dev/zero would never end
                    for chunk in iter(lambda: fh.read(1 << 20), b""):
                        digest.update(chunk)
            self._hash = digest.hexdigest()
        return self._hash

    @property
    def img2img(self) -> diffusers.DiffusionPipeline:
        """The image-to-image pipeline sharing this one's components (no extra memory)."""
        if self._img2img is None:
            try:
                self._img2img = diffusers.AutoPipelineForImage2Image.from_pipe(self.pipe)
            except ValueError:  # AutoPipeline maps no image-to-image class for this pipeline
                raise InputError(
                    f"{self.ref} ({type(self.pipe).__name__}) has no image-to-image pipeline "
                    "in diffusers: use another model (--model)"
                ) from None
            prepared(self._img2img)
            if getattr(self._img2img, "safety_checker", None) is not None:
                # The refine pass works on an image the base pass's check saw already.
                self._img2img.safety_checker = None
        return self._img2img

    @property
    def inpaint(self) -> diffusers.DiffusionPipeline:
        """The inpainting pipeline sharing this one's components (no extra memory); for a
        UNet with 4 input channels diffusers blends the kept latents in at every step."""
        if self._inpaint is None:
            try:
                self._inpaint = diffusers.AutoPipelineForInpainting.from_pipe(self.pipe)
            except ValueError:  # AutoPipeline maps no inpainting class for this pipeline
                raise InputError(
                    f"{self.ref} ({type(self.pipe).__name__}) has no inpainting pipeline in "
                    "diffusers: inpaint and outpaint with another model (--model)"
                ) from None
            prepared(self._inpaint)
        return self._inpaint


def software_versions() -> dict[str, str]:
    """The versions a generation record names, so an output can be reproduced."""
    import platform

    import numpy

    from .._version import __version__

    return {
        "cinedraft": __version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "python": platform.python_version(),
    }


def _looks_like_path(ref: str) -> bool:
    return ref.startswith((".", "/", "~")) or ref.count("/") > 1 or os.sep in ref.replace("/", "")


def resolve_model(
    ref: str, *, offline: bool, kind: str = "image", models_root: Path | None = None
) -> Path:
    """The local folder or single file for a model reference; downloads only if ``offline``
    is False. ``builtin`` names the shipped image or video model, as ``kind`` says; a bare
    name is looked up in ``models_root`` (a folder, or ``NAME.safetensors``) before the hub."""
    if ref == "builtin":
        return VIDEO_MODEL if kind == "video" else IMAGE_MODEL
    if ref == BUILTIN_EDIT:
        return EDIT_MODEL
    path = Path(ref).expanduser()
    found = in_models_folder(ref, models_root) if models_root is not None else None
    if found is not None:
        path = found
    if path.is_file():
        if path.suffix.lower() in PICKLE_SUFFIXES:
            raise UnsafeModelError(
                f"{ref} is a pickle checkpoint; cinedraft loads only safetensors. "
                "Convert it to a diffusers folder with safetensors weights."
            )
        if path.suffix.lower() != ".safetensors":
            raise ModelError(
                f"{ref}: a model is a diffusers folder (with model_index.json) or a "
                ".safetensors checkpoint"
            )
        return path.resolve()
    if path.is_dir():
        return path.resolve()
    if _looks_like_path(ref):
        raise ModelNotFoundError(f"model folder not found: {ref}")
    offline = offline or hub_offline()
    try:
        return Path(
            diffusers.DiffusionPipeline.download(
                ref, use_safetensors=True, local_files_only=offline
            )
        )
    except Exception as exc:  # noqa: BLE001 - hub errors come in many types; all mean "not available"
        where = "in the local HF cache (offline)" if offline else "locally or on the hub"
        raise ModelNotFoundError(f"model {ref!r} not found {where}: {exc}") from None


def check_folder(path: Path) -> dict:
    """Refuse folders that are not diffusers pipelines, need remote code, or hold pickle."""
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise ModelNotFoundError(f"{path} is not a diffusers pipeline folder (no model_index.json)")
    try:
        index = json.loads(index_file.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{index_file} is unreadable: {exc}") from None
    if not hasattr(diffusers, str(index.get("_class_name"))):
        raise UnsafeModelError(
            f"{path}: pipeline class {index.get('_class_name')!r} is not part of diffusers; "
            "custom (remote) code is never run"
        )
    for name, spec in index.items():
        if name.startswith("_") or not isinstance(spec, list) or len(spec) != 2:
            continue
        if spec[0] not in SAFE_LIBRARIES and not _diffusers_pipeline_class(*spec):
            raise UnsafeModelError(
                f"{path}: component {name!r} comes from {spec[0]!r}; only diffusers and "
                "transformers classes (and diffusers' own pipeline modules, such as its "
                "safety checker) are loaded (no remote code)"
            )
        folder = path / name
        if folder.is_dir():
            files = [f.name for f in folder.iterdir()]
            pickles = [f for f in files if f.endswith(PICKLE_SUFFIXES)]
            if pickles and not any(f.endswith(".safetensors") for f in files):
                raise UnsafeModelError(
                    f"{path}: component {name!r} has only pickle weights ({pickles[0]}); "
                    "cinedraft loads only safetensors"
                )
    return index


def configs_of(
    path: Path, single_file_configs: Path | None, text_encoder: str | None, offline: bool
) -> tuple[Path, dict, single_file.Checkpoint | None]:
    """Where a model's configs are, its pipeline index, and for a single file what it holds:
    a folder's own configs; a whole checkpoint's shipped ones (or ``single_file_configs``);
    a transformer alone's parts pipeline (``text_encoder``, else the official repo), which is
    checked as any model folder is."""
    if not path.is_file():
        return path, check_folder(path), None
    checkpoint = single_file.inspect_file(path, single_file_configs)
    if not checkpoint.transformer_only:
        return checkpoint.configs, checkpoint.index, checkpoint
    checkpoint = single_file.with_parts(checkpoint, text_encoder, offline or hub_offline())
    index = check_folder(checkpoint.configs)
    regular_weights(checkpoint.configs)
    return checkpoint.configs, index, checkpoint


def regular_weights(folder: Path) -> None:
    """ModelError for a weights file in ``folder`` that is not a regular file (a device or a
    pipe would hang the loader)."""
    for weights in folder.rglob("*.safetensors"):
        if not weights.is_file():
            raise ModelError(f"{weights} is not a regular file; weights must be files")


def _diffusers_pipeline_class(library: object, class_name: object) -> bool:
    """Whether ``library`` names one of diffusers' own pipeline modules holding ``class_name``
    (``["stable_diffusion", "StableDiffusionSafetyChecker"]``, which diffusers itself writes
    into SD 1.x/2.x folders). Nothing outside diffusers is imported."""
    if not (isinstance(library, str) and isinstance(class_name, str)):
        return False
    if not re.fullmatch(r"[a-z][a-z0-9_]*", library):
        return False
    module = getattr(diffusers.pipelines, library, None)
    return module is not None and hasattr(module, class_name)


def weights_variant(path: Path, wanted: str | None = None) -> str | None:
    """The weights variant to load from a folder: ``wanted`` (ModelError if the folder does
    not hold it); else None when the plain full-precision files are there, else the one
    variant every component holds (``fp16``, ``bf16``: what a variant download leaves)."""
    weights = [w.name for w in path.glob("*/*.safetensors")]
    variants = {variant_of(name) for name in weights}
    if wanted is not None:
        if wanted not in variants:
            held = ", ".join(sorted(v or "full" for v in variants)) or "none"
            raise ModelError(f"{path} has no {wanted} weights (it holds: {held})")
        return wanted
    if None in variants or not variants:
        return None
    if len(variants) == 1:
        return variants.pop()
    raise ModelError(
        f"{path} holds several weight variants ({', '.join(sorted(variants))}) and no "
        "full-precision files: choose one with --variant"
    )


def variant_of(name: str) -> str | None:
    """``fp16`` for ``model.fp16.safetensors``, None for ``model.safetensors``; sharded files
    (``model-00001-of-00002.fp16.safetensors``) count the same."""
    parts = name.split(".")
    return parts[-2] if len(parts) > 2 else None


def model_facts(path: Path, index: dict) -> dict[str, object]:
    """What a folder's configs say about its model, read before any weights: the pipeline
    and scheduler classes, and the denoiser's
    ``guidance_embeds`` (FLUX.1-dev has a guidance embedding, schnell none), ``qk_norm``
    (SD 3.5 normalises queries and keys, SD 3 does not) and ``patch_size_t`` (CogVideoX 1.5
    patches time, 1.0 does not), and whether the VAE is timestep-conditioned (LTX-Video
    0.9.1 and later)."""
    facts: dict[str, object] = {"pipeline": index.get("_class_name")}
    if isinstance(index.get("scheduler"), list):
        facts["scheduler"] = index["scheduler"][1]
    denoiser = _config(path / "transformer" / "config.json") or _config(
        path / "unet" / "config.json"
    )
    for key in ("guidance_embeds", "qk_norm", "patch_size_t"):
        facts[key] = denoiser.get(key)
    vae = _config(path / "vae" / "config.json")
    facts["vae_timestep_conditioning"] = vae.get("timestep_conditioning")
    return facts


def _config(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        config = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"{path} is unreadable: {exc}") from None
    return config if isinstance(config, dict) else {}


def generic_family(pipeline_class: str, ref: str) -> Family:
    """The generic presets for a text-to-image pipeline no family knows, or ModelError when
    the pipeline does not make images from a prompt alone."""
    from diffusers.pipelines.auto_pipeline import AUTO_TEXT2IMAGE_PIPELINES_MAPPING

    text_to_image = {c.__name__ for c in AUTO_TEXT2IMAGE_PIPELINES_MAPPING.values()}
    needs = [
        name
        for name in ("image", "control_image", "mask_image")
        if name in inspect.signature(getattr(diffusers, pipeline_class).__call__).parameters
    ]
    if pipeline_class not in text_to_image or needs:
        why = f"it needs {needs[0]!r}" if needs else "it is not a text-to-image pipeline"
        raise ModelError(
            f"{ref} is a {pipeline_class}: cinedraft makes images from text with it only when "
            f"it is a text-to-image pipeline ({why})"
        )
    return FAMILIES["generic"]


def prepared(pipe: diffusers.DiffusionPipeline) -> diffusers.DiffusionPipeline:
    """A pipeline as the engine runs it: no progress bar of its own (the engine reports
    progress), and no watermark of its own. diffusers' SDXL pipelines stamp a fixed message
    on every image of 256 px or more when invisible-watermark is installed, which cinedraft
    installs for the library's mark: a second, hidden message under the asset's own, which
    no record mentioned (62.7 dB PSNR on a 1024 px scene)."""
    pipe.set_progress_bar_config(disable=True)
    if getattr(pipe, "watermark", None) is not None:
        pipe.watermark = None
    return pipe


def native_size(pipe: diffusers.DiffusionPipeline) -> tuple[int, int]:
    """The size the denoiser was trained at: its sample size times the VAE's downscale."""
    denoiser = getattr(pipe, "unet", None) or getattr(pipe, "transformer", None)
    side = getattr(pipe, "default_sample_size", None) or denoiser.config.sample_size
    if isinstance(side, (list, tuple)):
        side = side[0]
    side = int(side) * int(getattr(pipe, "vae_scale_factor", 8))
    return side, side


@dataclass(frozen=True)
class MemoryOptions:
    """What large models need on small GPUs: weights moved to the GPU one component at a time
    (``cpu_offload``), and the VAE run in tiles (``vae_tiling``) or one frame/image at a time
    (``vae_slicing``)."""

    cpu_offload: bool = False
    vae_tiling: bool = False
    vae_slicing: bool = False


class ModelCache:
    """Loaded pipelines, least recently used first out; owned by one engine."""

    def __init__(
        self,
        device: torch.device,
        dtype_setting: str,
        *,
        offline: bool,
        size: int = 2,
        memory: MemoryOptions | None = None,
        safety_checker: bool = True,
        variant: str | None = None,
        models_root: Path | None = None,
        single_file_configs: Path | None = None,
        text_encoder: str | None = None,
    ):
        self.device = device
        self.dtype_setting = dtype_setting
        self.offline = offline
        self.size = size
        self.memory = memory or MemoryOptions()
        self.safety_checker = safety_checker
        self.variant = variant
        self.models_root = models_root
        self.single_file_configs = single_file_configs
        self.text_encoder = text_encoder
        self._models: OrderedDict[tuple[str, str], LoadedModel] = OrderedDict()

    @classmethod
    def for_settings(cls, settings: Settings, device: torch.device) -> ModelCache:
        """The cache a machine's settings describe (an engine's, a cluster worker's)."""
        return cls(
            device,
            settings.dtype,
            offline=settings.offline,
            size=settings.cache_size,
            memory=MemoryOptions(settings.cpu_offload, settings.vae_tiling, settings.vae_slicing),
            safety_checker=settings.safety_checker,
            variant=settings.variant,
            models_root=settings.models_root,
            single_file_configs=settings.single_file_configs,
            text_encoder=settings.text_encoder,
        )

    def loaded(self) -> list[str]:
        """The names of the models in memory, as they were asked for."""
        return [ref for _kind, ref in self._models]

    def get(self, ref: str, kind: str = "image", progress: Progress = no_progress) -> LoadedModel:
        """The pipeline for ``ref``; ``kind`` ("image" or "video") picks what ``builtin`` means
        and which family table applies. A model not in memory yet is a ``load NAME`` stage
        of ``progress`` (a large checkpoint takes a minute: the job is not stuck)."""
        key = (kind, ref)
        if key in self._models:
            self._models.move_to_end(key)
            return self._models[key]
        progress(f"load {ref}", 0, 1)
        model = self._load(ref, kind)
        progress(f"load {ref}", 1, 1)
        self._models[key] = model
        while len(self._models) > self.size:
            self._models.popitem(last=False)
        return model

    def _load(self, ref: str, kind: str) -> LoadedModel:
        # 1. Find the folder or file and check it before any weights are read.
        path = resolve_model(ref, offline=self.offline, kind=kind, models_root=self.models_root)
        if path.is_file() and kind == "video":
            raise ModelError(
                f"{ref} is a single-file image checkpoint; video models are diffusers folders"
            )
        configs, index, checkpoint = configs_of(
            path, self.single_file_configs, self.text_encoder, self.offline
        )
        family = self._family(configs, index, ref, kind, single_file.facts(checkpoint))
        # 2. Load: safetensors only, never remote code, never the network from here.
        diffusers.utils.logging.disable_progress_bar()
        transformers.utils.logging.disable_progress_bar()
        dtype = pick_dtype(self.dtype_setting, self.device, family.gpu_dtype)
        variant, turned_off = None, False
        try:
            if checkpoint is not None:
                if checkpoint.transformer_only:
                    variant = weights_variant(configs, self.variant)
                pipe = single_file.load(checkpoint, dtype, variant)
            else:
                pipe, variant, turned_off = self._from_folder(path, index, dtype)
            if kind == "video" and hasattr(pipe, "unet"):  # the built-in model's motion reach
                reach.load(pipe.unet, path / "unet")
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise ModelError(f"could not load {ref}: {_first_line(exc)}") from None
        self._place(pipe)
        prepared(pipe)
        size = (
            family.size if kind == "video" else (0, 0) if kind == "refiner" else native_size(pipe)
        )
        checker = getattr(pipe, "safety_checker", None)
        safety = type(checker).__name__ if checker is not None else "off" if turned_off else None
        loaded = LoadedModel(ref, path, pipe, family, size, pipe.scheduler, safety, variant)
        if checkpoint and checkpoint.transformer_only:
            loaded.parts = str(configs)
            if checkpoint.files:
                files = ", ".join(str(f) for f in checkpoint.files)
                loaded.parts = f"{files} (configs and tokenizers: {configs})"
        return loaded

    def _from_folder(
        self, path: Path, index: dict, dtype: torch.dtype
    ) -> tuple[diffusers.DiffusionPipeline, str | None, bool]:
        """A diffusers folder's pipeline, the weights variant it was loaded in, and whether
        the safety checker it ships was turned off (the setting)."""
        regular_weights(path)
        variant = weights_variant(path, self.variant)
        ships_checker = isinstance(index.get("safety_checker"), list) and bool(
            index["safety_checker"][0]
        )
        turned_off = ships_checker and not self.safety_checker
        pipe = diffusers.DiffusionPipeline.from_pretrained(
            path,
            dtype=dtype,
            use_safetensors=True,
            local_files_only=True,
            trust_remote_code=False,
            variant=variant,
            **({"safety_checker": None, "requires_safety_checker": False} if turned_off else {}),
            **image_only_processors(path, index),
        )
        return pipe, variant, turned_off

    @staticmethod
    def _family(
        path: Path, index: dict, ref: str, kind: str, file_facts: dict | None = None
    ) -> Family | VideoFamily:
        """The family the folder's marker names, else the one its configs show (``path``: the
        model's folder, or a single file's configs folder, whose facts ``file_facts``
        correct; an image pipeline no family knows: the generic presets when it makes images
        from text; a refiner: the SDXL family it finishes)."""
        if kind == "refiner":
            if index["_class_name"] != REFINER_PIPELINE:
                raise ModelError(
                    f"{ref} is a {index['_class_name']}, not an SDXL refiner ({REFINER_PIPELINE})"
                )
            return FAMILIES["sdxl"]
        marker = path / MARKER
        meta = json.loads(marker.read_text()) if marker.is_file() else {}
        if kind == "video":
            return VIDEO_FAMILIES.get(meta.get("family", "")) or video_family_for(
                index["_class_name"], model_facts(path, index)
            )
        named = FAMILIES.get(meta.get("family", ""))
        if named is not None:
            return named
        family = family_for(model_facts(path, index) | (file_facts or {}), ref)
        if family is not None:
            return family
        return generic_family(index["_class_name"], ref)

    def _place(self, pipe: diffusers.DiffusionPipeline) -> None:
        """Move the pipeline to the device, with the memory options it supports."""
        vae = getattr(pipe, "vae", None)
        if self.memory.vae_tiling and hasattr(vae, "enable_tiling"):
            vae.enable_tiling()
        if self.memory.vae_slicing and hasattr(vae, "enable_slicing"):
            vae.enable_slicing()
        if self.memory.cpu_offload and self.device.type != "cpu":
            pipe.enable_model_cpu_offload(device=self.device)  # weights wait on the CPU
        else:
            pipe.to(self.device)


def _first_line(exc: BaseException) -> str:
    """diffusers' loading errors run to several lines of advice written for its own API; the
    first says what went wrong."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
