"""Single-file checkpoints (``dreamshaper_8.safetensors``, ``sd_xl_base_1.0.safetensors``):
what a file holds, read from its header alone, and loading it offline.

diffusers' ``from_single_file`` converts the weights but needs each component's config and
the CLIP tokenizers, which it would download. cinedraft ships the configs of the published
base models in ``single_file_configs/`` (one folder per architecture, in the diffusers
layout) and builds the tokenizers from CLIP's published vocabulary (``clip_vocab``), so a
file needs nothing else. A fine-tune keeps its base model's architecture, so the base's
configs fit it; a folder with other configs can be given instead (``configs``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import diffusers
import torch
from diffusers.loaders.single_file_utils import SingleFileComponentError
from safetensors import SafetensorError, safe_open

from ..errors import ModelError
from .clip_vocab import EOS, clip_tokenizer

SHIPPED = Path(__file__).parent / "single_file_configs"
UNET = "model.diffusion_model."
UNET_IN = UNET + "input_blocks.0.0.weight"

# The architectures a file can be, and how each is told from its keys. Sources of the shipped
# configs: the model_index.json and component configs of stable-diffusion-v1-5/
# stable-diffusion-v1-5 (sd15), stabilityai/stable-diffusion-2-1 (sd2: 768 px, v-prediction),
# stabilityai/stable-diffusion-2-1-base (sd2-base: 512 px, epsilon), stabilityai/
# stable-diffusion-xl-base-1.0 (sdxl) and stabilityai/stable-diffusion-xl-refiner-1.0
# (sdxl-refiner); tests check each against the published parameter counts.
ARCHITECTURES = {
    "sd15": "Stable Diffusion 1.x",
    "sd2": "Stable Diffusion 2.x (768 px, v-prediction)",
    "sd2-base": "Stable Diffusion 2.x base (512 px)",
    "sdxl": "Stable Diffusion XL",
    "sdxl-refiner": "Stable Diffusion XL refiner",
}
# SD 2.x's two releases have the same weights' shapes; the 512 px epsilon one (and SD-Turbo,
# distilled from it) is told by its name, as A1111 users name them; otherwise the 768 px one,
# as diffusers assumes.
SD2_BASE_NAMES = re.compile(r"base|512|turbo", re.IGNORECASE)


@dataclass(frozen=True)
class Checkpoint:
    """What a single file holds: its architecture (a key of ARCHITECTURES), the folder of
    component configs it loads with, and its weights' precision (``full``, ``fp16``...)."""

    path: Path
    architecture: str
    configs: Path
    precision: str

    @property
    def index(self) -> dict:
        return json.loads((self.configs / "model_index.json").read_text())


PRECISIONS = {"F32": "full", "F16": "fp16", "BF16": "bf16"}


def header(path: Path) -> tuple[set[str], dict[str, list[int]], str]:
    """The tensor names of a safetensors file, the shapes of the few this module reads, and
    the UNet's precision, from its header (no weights are read)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
            shapes = {k: list(f.get_slice(k).get_shape()) for k in (UNET_IN,) if k in keys}
            dtype = f.get_slice(UNET_IN).get_dtype() if UNET_IN in keys else "F32"
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path.name} is not a readable safetensors file: {exc}") from None
    return keys, shapes, PRECISIONS.get(dtype, dtype.lower())


def inspect_file(path: Path, configs: Path | None = None) -> Checkpoint:
    """The architecture of a single file, or ModelError saying what the file is instead
    (``configs``: the folder of component configs; None: the shipped ones)."""
    configs = configs or SHIPPED
    keys, shapes, precision = header(path)
    architecture = _architecture(path.name, keys, shapes)
    folder = configs / architecture
    if not (folder / "model_index.json").is_file():
        raise ModelError(f"{path.name}: no component configs for {architecture} in {configs}")
    return Checkpoint(path, architecture, folder, precision)


def _architecture(name: str, keys: set[str], shapes: dict[str, list[int]]) -> str:
    def has(prefix: str) -> bool:
        return any(k.startswith(prefix) for k in keys)

    if UNET_IN in keys:
        if shapes[UNET_IN][1] != 4:
            raise ModelError(
                f"{name} is an inpainting or other {shapes[UNET_IN][1]}-channel checkpoint; "
                "cinedraft loads text-to-image checkpoints (4 latent channels)"
            )
        if has("conditioner.embedders.1.model."):
            return "sdxl"
        if has("conditioner.embedders.0.model."):
            return "sdxl-refiner"
        if has("cond_stage_model.model."):
            return "sd2-base" if SD2_BASE_NAMES.search(name) else "sd2"
        if has("cond_stage_model.transformer."):
            return "sd15"
        raise ModelError(f"{name} holds a UNet without its text encoder; not loadable alone")
    raise ModelError(f"{name}: {_what_else(keys)}")


def _what_else(keys: set[str]) -> str:
    """One line saying what a file that is not a whole SD checkpoint holds."""
    sample = " ".join(sorted(keys)[:200])
    if re.search(r"lora_(down|up|A|B)\b|\.lora_|lora_unet_|lora_te", sample):
        return "a LoRA, not a model: give it with --lora"
    if re.search(r"(^| )(emb_params|string_to_param|clip_[lg])\b", sample):
        return "a textual-inversion embedding, not a model: give it with --embedding"
    if any(k.startswith(("double_blocks.", UNET + "double_blocks.")) for k in keys):
        return (
            "a FLUX transformer alone (its text encoders and VAE are separate files); "
            "cinedraft loads FLUX as a diffusers folder or hub id"
        )
    if any(k.startswith(("joint_blocks.", UNET + "joint_blocks.")) for k in keys):
        return (
            "a Stable Diffusion 3 transformer alone (its text encoders and VAE are separate "
            "files); cinedraft loads SD 3 as a diffusers folder or hub id"
        )
    if any(k.startswith(("encoder.down.", "decoder.up.", "encoder.down_blocks.")) for k in keys):
        return "a VAE, not a model: give it with --vae"
    return "not a Stable Diffusion 1.x/2.x/XL checkpoint (no model.diffusion_model weights)"


def load(checkpoint: Checkpoint, dtype: torch.dtype) -> diffusers.DiffusionPipeline:
    """The pipeline of a single file, offline: the weights converted by diffusers, with the
    configs of ``checkpoint.configs`` and CLIP's tokenizers (a configs folder with its own
    tokenizer folders keeps those)."""
    index = checkpoint.index
    pipeline = getattr(diffusers, index["_class_name"])
    tokenizers = {
        name: clip_tokenizer(_pad_token(checkpoint.architecture, name))
        for name in ("tokenizer", "tokenizer_2")
        if isinstance(index.get(name), list)
        and index[name][0]
        and not (checkpoint.configs / name).is_dir()
    }
    try:
        return pipeline.from_single_file(
            str(checkpoint.path),
            config=str(checkpoint.configs),
            local_files_only=True,
            dtype=dtype,
            **tokenizers,
        )
    except SingleFileComponentError as exc:  # a component's weights are not in the file
        raise ModelError(f"{checkpoint.path.name}: {str(exc).splitlines()[0]}") from None
    except NotImplementedError as exc:  # weights the file lacks stay on the meta device
        if "meta tensor" not in str(exc):
            raise
        raise ModelError(
            f"{checkpoint.path.name} lacks weights that {ARCHITECTURES[checkpoint.architecture]} "
            "needs (a partial or damaged file)"
        ) from None


def _pad_token(architecture: str, name: str) -> str:
    """OpenCLIP's tokenizers (SD 2.x's, SDXL's second) pad with ``!``, OpenAI's with the end
    token, as the published tokenizer folders do."""
    return "!" if name == "tokenizer_2" or architecture.startswith("sd2") else EOS
