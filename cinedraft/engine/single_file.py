"""Single-file checkpoints (``dreamshaper_8.safetensors``, ``sd_xl_base_1.0.safetensors``,
``flux1-dev.safetensors``): what a file holds, read from its header alone, and loading it.

diffusers' ``from_single_file`` converts the weights but needs each component's config and
the CLIP tokenizers, which it would download. For SD 1.x/2.x/XL, whose files hold every
component, cinedraft ships the configs of the published base models in
``single_file_configs/`` (one folder per architecture, in the diffusers layout) and builds the
tokenizers from CLIP's published vocabulary (``clip_vocab``), so a file needs nothing else. A
fine-tune keeps its base model's architecture, so the base's configs fit it; a folder with
other configs can be given instead (``configs``).

FLUX and SD 3 files usually hold the transformer alone (ComfyUI keeps the text encoders and
VAE as separate files); their text encoders, tokenizers (T5's among them) and VAE come from a
diffusers pipeline of the same model: a folder or hub id the user names, or the official repo
in the HF cache (its ``parts``). Or from separate files, as ComfyUI keeps them
(``clip_l.safetensors``, ``t5xxl_fp16.safetensors``, ``ae.safetensors``): each file fills the
component its tensors fit, with the configs and tokenizers of the official repo in the HF
cache (those small files only; online, fetched without any weights).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import diffusers
import torch
from diffusers.loaders.single_file_utils import SingleFileComponentError
from safetensors import SafetensorError, safe_open

from ..errors import ModelError
from .clip_vocab import EOS, clip_tokenizer
from .folders import PICKLES

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


@dataclass(frozen=True)
class TransformerOnly:
    """A denoiser-only architecture and the diffusers pipeline that holds the rest of it."""

    name: str
    repo: str  # the official diffusers repo: its text encoders, tokenizers and VAE
    pipeline: str
    transformer: str  # the diffusers class of the file's weights
    # What the file says that another variant's configs would not (FLUX.1-schnell has no
    # guidance embedding; its text encoders and VAE are FLUX.1-dev's).
    config: tuple[tuple[str, object], ...] = ()


_FLUX, _SD3 = (
    ("FluxPipeline", "FluxTransformer2DModel"),
    (
        "StableDiffusion3Pipeline",
        "SD3Transformer2DModel",
    ),
)
TRANSFORMER_ONLY = {
    "flux-dev": TransformerOnly(
        "FLUX.1-dev", "black-forest-labs/FLUX.1-dev", *_FLUX, (("guidance_embeds", True),)
    ),
    "flux-schnell": TransformerOnly(
        "FLUX.1-schnell", "black-forest-labs/FLUX.1-schnell", *_FLUX, (("guidance_embeds", False),)
    ),
    "sd3": TransformerOnly(
        "Stable Diffusion 3 Medium", "stabilityai/stable-diffusion-3-medium-diffusers", *_SD3
    ),
    "sd3.5-large": TransformerOnly(
        "Stable Diffusion 3.5 Large", "stabilityai/stable-diffusion-3.5-large", *_SD3
    ),
    "sd3.5-medium": TransformerOnly(
        "Stable Diffusion 3.5 Medium", "stabilityai/stable-diffusion-3.5-medium", *_SD3
    ),
}
ARCHITECTURES |= {name: f"a {spec.name} transformer" for name, spec in TRANSFORMER_ONLY.items()}

# SD 2.x's two releases have the same weights' shapes; the 512 px epsilon one (and SD-Turbo,
# distilled from it) is told by its name, as A1111 users name them; otherwise the 768 px one,
# as diffusers assumes.
SD2_BASE_NAMES = re.compile(r"base|512|turbo", re.IGNORECASE)


@dataclass(frozen=True)
class Checkpoint:
    """What a single file holds: its architecture (a key of ARCHITECTURES), the folder of
    component configs it loads with (for a transformer alone: the pipeline folder that holds
    the rest, once found), and its weights' precision (``full``, ``fp16``...)."""

    path: Path
    architecture: str
    configs: Path | None
    precision: str
    files: tuple[Path, ...] = ()  # a transformer alone's parts given as files

    @property
    def transformer_only(self) -> TransformerOnly | None:
        return TRANSFORMER_ONLY.get(self.architecture)

    @property
    def index(self) -> dict:
        return json.loads((self.configs / "model_index.json").read_text())


PRECISIONS = {"F32": "full", "F16": "fp16", "BF16": "bf16"}


def header(path: Path) -> tuple[set[str], dict[str, list[int]], str]:
    """The tensor names of a safetensors file, the shapes of the few this module reads, and
    the weights' precision, from its header (no weights are read)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            keys = set(f.keys())
            shapes = {k: list(f.get_slice(k).get_shape()) for k in (UNET_IN,) if k in keys}
            sample = UNET_IN if UNET_IN in keys else min(keys, default=None)
            dtype = f.get_slice(sample).get_dtype() if sample else "F32"
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{path.name} is not a readable safetensors file: {exc}") from None
    return keys, shapes, PRECISIONS.get(dtype, dtype.lower())


def inspect_file(path: Path, configs: Path | None = None) -> Checkpoint:
    """The architecture of a single file, or ModelError saying what the file is instead
    (``configs``: the folder of component configs; None: the shipped ones). A transformer
    alone has no configs yet: see :func:`with_parts`."""
    configs = configs or SHIPPED
    keys, shapes, precision = header(path)
    architecture = _architecture(path.name, keys, shapes)
    if architecture in TRANSFORMER_ONLY:
        return Checkpoint(path, architecture, None, precision)
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
    adapter = _adapter(keys)
    if adapter:
        raise ModelError(f"{name}: {adapter}")
    transformer = _transformer_only(keys)
    if transformer:
        return transformer
    raise ModelError(f"{name}: {_what_else(keys)}")


def _transformer_only(keys: set[str]) -> str | None:
    """A FLUX or SD 3 transformer, in the original (BFL / Stability) names or diffusers'."""
    names = {k.removeprefix(UNET) for k in keys}

    def has(*prefixes: str) -> bool:
        return any(n.startswith(prefixes) for n in names)

    if has("double_blocks.", "single_transformer_blocks."):
        dev = has("guidance_in.", "time_text_embed.guidance_embedder.")
        return "flux-dev" if dev else "flux-schnell"
    if has("joint_blocks.") or has("transformer_blocks.") and has("context_embedder."):
        if has("joint_blocks.0.x_block.attn2.", "transformer_blocks.0.attn2."):
            return "sd3.5-medium"  # MMDiT-X: a second attention in the image stream
        normed = any(".ln_q." in n or ".norm_q." in n for n in names)
        return "sd3.5-large" if normed else "sd3"
    return None


def _adapter(keys: set[str]) -> str | None:
    """One line for a LoRA or an embedding given where a model belongs, else None."""
    sample = " ".join(sorted(keys)[:200])
    if re.search(r"lora_(down|up|A|B)\b|\.lora_|lora_unet_|lora_te", sample):
        return "a LoRA, not a model: give it with --lora"
    if re.search(r"(^| )(emb_params|string_to_param|clip_[lg])\b", sample):
        return "a textual-inversion embedding, not a model: give it with --embedding"
    return None


def _what_else(keys: set[str]) -> str:
    """One line saying what a file that is no model cinedraft knows holds."""
    if any(k.startswith(("encoder.down.", "decoder.up.", "encoder.down_blocks.")) for k in keys):
        return "a VAE alone, not a model: give it with --vae"
    return "not a Stable Diffusion 1.x/2.x/XL checkpoint, nor a FLUX or SD 3 transformer"


def facts(checkpoint: Checkpoint | None) -> dict[str, object]:
    """What a transformer alone says about its family that its parts' configs may not (the
    parts of FLUX.1-dev serve schnell; SD 3.5 normalises queries and keys, SD 3 does not)."""
    if checkpoint is None or not checkpoint.transformer_only:
        return {}
    said = dict(checkpoint.transformer_only.config)
    if checkpoint.architecture.startswith("sd3"):
        said["qk_norm"] = "rms_norm" if checkpoint.architecture.startswith("sd3.5") else None
    return said


def part_files(given: str | None) -> tuple[Path, ...]:
    """The files in a parts setting (``--text-encoder a.safetensors,b.safetensors``); none
    when it names a folder or hub id."""
    names = [n.strip() for n in (given or "").split(",") if n.strip()]
    if not names or not all(n.endswith(".safetensors") for n in names):
        return ()
    files = tuple(Path(n).expanduser() for n in names)
    for file in files:
        if not file.is_file():
            raise ModelError(f"part file not found: {file}")
    return files


def with_parts(checkpoint: Checkpoint, given: str | None, offline: bool) -> Checkpoint:
    """A transformer alone with the diffusers pipeline folder that holds the rest of it:
    ``given`` (a folder or hub id), else the official repo from the HF cache (or, online,
    downloaded without its transformer weights); or ``given`` files (text encoders, VAE)
    with the official repo's configs and tokenizers. One ModelError naming what is missing."""
    spec = checkpoint.transformer_only
    files = part_files(given)
    if files:
        folder = _snapshot(spec.repo, offline, weights=False)
        if folder is None or not (folder / "model_index.json").is_file():
            where = "the HF cache" if offline else "the HF cache or the hub"
            raise ModelError(
                f"{checkpoint.path.name} is {ARCHITECTURES[checkpoint.architecture]} alone, "
                f"its text encoders and VAE given as files: their configs and tokenizers come "
                f"from {spec.repo}, which is not in {where} (its small files are enough: "
                f"`huggingface-cli download {spec.repo} --exclude '*.safetensors'`)"
            )
        return replace(checkpoint, configs=folder, files=files)
    ref = given or spec.repo
    folder = Path(ref).expanduser()
    if not folder.is_dir():
        folder = None if given and Path(given).expanduser().exists() else _snapshot(ref, offline)
    if folder is None or not (folder / "model_index.json").is_file():
        where = "the HF cache" if offline else "the HF cache or the hub"
        source = (
            f"{given}, which is not a diffusers folder, nor a hub id in {where}"
            if given
            else (f"{spec.repo}, which is not in {where}")
        )
        raise ModelError(
            f"{checkpoint.path.name} is {ARCHITECTURES[checkpoint.architecture]} alone: its "
            f"text encoders, tokenizers and VAE come from a diffusers pipeline of {spec.name} "
            f"(--text-encoder FOLDER|HUB_ID|FILES, or CINEDRAFT_TEXT_ENCODER): here {source}"
        )
    try:
        pipeline = json.loads((folder / "model_index.json").read_text()).get("_class_name")
    except (OSError, ValueError, AttributeError) as exc:  # not JSON, or not an object
        raise ModelError(f"{folder / 'model_index.json'} is unreadable: {exc}") from None
    if pipeline != spec.pipeline:
        raise ModelError(
            f"{ref} is a {pipeline}, not a {spec.pipeline}: it does not hold the text encoders "
            f"and VAE of {spec.name}"
        )
    return replace(checkpoint, configs=folder)


def _snapshot(repo: str, offline: bool, weights: bool = True) -> Path | None:
    """The HF cache's snapshot of ``repo`` (downloaded first when online), less any
    transformer weights (the file replaces them), or less every weight (``weights`` False:
    files replace them all)."""
    from huggingface_hub import snapshot_download

    skipped = "*.safetensors" if not weights else "transformer/*.safetensors"
    try:
        return Path(
            snapshot_download(
                repo,
                cache_dir=os.environ.get("HF_HUB_CACHE"),  # read now, as `models` lists it
                local_files_only=offline,
                ignore_patterns=[skipped, *(f"*{s}" for s in PICKLES)],
            )
        )
    except Exception:  # noqa: BLE001 - invalid ids, absent repos, network errors: none found
        return None


def load(
    checkpoint: Checkpoint, dtype: torch.dtype, variant: str | None = None
) -> diffusers.DiffusionPipeline:
    """The pipeline of a single file, offline: the weights converted by diffusers, with the
    configs of ``checkpoint.configs`` and CLIP's tokenizers (a configs folder with its own
    tokenizer folders keeps those); a transformer alone joins the rest of its pipeline
    (``variant``: of that pipeline's weights)."""
    if checkpoint.transformer_only:
        return _load_transformer(checkpoint, dtype, variant)
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


def _load_transformer(
    checkpoint: Checkpoint, dtype: torch.dtype, variant: str | None
) -> diffusers.DiffusionPipeline:
    """The file's transformer (converted by diffusers from the original names when need be),
    configured as the parts' own but for what the file says, in the parts' pipeline."""
    spec = checkpoint.transformer_only
    own = checkpoint.configs / "transformer" / "config.json"
    if not own.is_file():
        raise ModelError(f"{checkpoint.configs} has no transformer/config.json to build from")
    config = json.loads(own.read_text()) | dict(spec.config)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "transformer").mkdir()
        (Path(folder) / "transformer" / "config.json").write_text(json.dumps(config))
        try:
            transformer = getattr(diffusers, spec.transformer).from_single_file(
                str(checkpoint.path),
                config=folder,
                subfolder="transformer",
                local_files_only=True,
                torch_dtype=dtype,
            )
        except SingleFileComponentError as exc:
            raise ModelError(f"{checkpoint.path.name}: {str(exc).splitlines()[0]}") from None
    parts = _from_files(checkpoint, dtype) if checkpoint.files else {}
    return getattr(diffusers, spec.pipeline).from_pretrained(
        checkpoint.configs,
        transformer=transformer,
        **parts,
        dtype=dtype,
        use_safetensors=True,
        local_files_only=True,
        trust_remote_code=False,
        variant=variant,
    )


# What a part file holds, told from its tensor names: (kind, the tensor whose shape gives its
# width). ComfyUI keeps CLIP and T5 in transformers' names, the VAE in the original (LDM) ones.
PART_KINDS = (
    ("clip", "text_model.embeddings.token_embedding.weight"),
    ("clip", "embeddings.token_embedding.weight"),  # as transformers >= 5.6 saves it
    ("t5", "shared.weight"),
    ("t5", "encoder.embed_tokens.weight"),
    ("vae", "encoder.conv_in.weight"),
    ("vae", "first_stage_model.encoder.conv_in.weight"),
)
COMPONENT_KINDS = {"CLIPTextModel": "clip", "CLIPTextModelWithProjection": "clip"}
COMPONENT_KINDS |= {"T5EncoderModel": "t5", "AutoencoderKL": "vae"}


def _part(file: Path) -> tuple[str, int]:
    """A part file's kind (clip, t5, vae) and width (hidden size; the VAE's first channels)."""
    try:
        with safe_open(str(file), framework="pt") as f:
            keys = set(f.keys())
            for kind, key in PART_KINDS:
                if key in keys:
                    shape = f.get_slice(key).get_shape()
                    return kind, int(shape[0] if kind == "vae" else shape[1])
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelError(f"{file.name} is not a readable safetensors file: {exc}") from None
    raise ModelError(f"{file.name}: not a CLIP or T5 text encoder, nor a VAE, in a known layout")


def _width(config: dict, kind: str) -> int:
    if kind == "vae":
        return int(config["block_out_channels"][0])
    return int(config.get("hidden_size") or config["d_model"])


def _from_files(checkpoint: Checkpoint, dtype: torch.dtype) -> dict[str, object]:
    """The pipeline components the part files fill, each with its config from the parts
    folder: a file fills the component of its kind and width (SD 3's CLIP-L and CLIP-G are
    told apart by width; files alike in both fill components in the order given). A
    component left without weights is one ModelError naming it."""
    files = {file: _part(file) for file in checkpoint.files}
    loaded, used = {}, set()
    for name, spec in checkpoint.index.items():
        kind = COMPONENT_KINDS.get(spec[1]) if isinstance(spec, list) and len(spec) == 2 else None
        if kind is None:
            continue
        config = json.loads((checkpoint.configs / name / "config.json").read_text())
        width = _width(config, kind)
        match = [f for f, (k, w) in files.items() if (k, w) == (kind, width) and f not in used]
        if not match:
            if not any((checkpoint.configs / name).glob("*.safetensors")):
                raise ModelError(
                    f"{checkpoint.path.name} needs its {name} ({spec[1]}, width {width}): "
                    f"give its file with --text-encoder (none of "
                    f"{', '.join(f.name for f in files)} fits)"
                )
            continue
        configs = checkpoint.configs / name
        if kind == "vae":
            loaded[name] = vae_file(match[0], configs, dtype)
        else:
            loaded[name] = _text_encoder(match[0], configs, spec[1], dtype)
        used.add(match[0])
    unused = [f.name for f in files if f not in used]
    if unused:
        raise ModelError(f"{unused[0]} fits no component of {checkpoint.index['_class_name']}")
    return loaded


def _text_encoder(file: Path, configs: Path, cls_name: str, dtype: torch.dtype) -> object:
    """A CLIP or T5 text encoder from its file, in transformers' names (as ComfyUI keeps
    them), with the config in ``configs``: loaded as a folder of the two would be."""
    import transformers

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_bytes((configs / "config.json").read_bytes())
        (Path(folder) / "model.safetensors").symlink_to(file.resolve())
        cls = getattr(transformers, cls_name)
        return cls.from_pretrained(folder, local_files_only=True, dtype=dtype)


def vae_file(file: Path, configs: Path, dtype: torch.dtype) -> diffusers.AutoencoderKL:
    """A VAE kept as one file (``ae.safetensors``, ``vae-ft-mse-840000-ema-pruned``,
    ``sdxl_vae``), built with the config in the folder ``configs``: in diffusers' names it
    loads as a folder would; in the original (LDM) names, with or without
    ``first_stage_model.``, through diffusers' converter."""
    with safe_open(str(file), framework="pt") as f:
        diffusers_names = any(k.startswith("encoder.down_blocks.") for k in f.keys())
    if not diffusers_names:
        return diffusers.AutoencoderKL.from_single_file(
            str(file), config=str(configs), local_files_only=True, torch_dtype=dtype
        )
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.json").write_bytes((configs / "config.json").read_bytes())
        (Path(folder) / "diffusion_pytorch_model.safetensors").symlink_to(file.resolve())
        return diffusers.AutoencoderKL.from_pretrained(
            folder, local_files_only=True, torch_dtype=dtype
        )


def is_vae_file(file: Path) -> bool:
    """Whether a safetensors file holds a VAE alone (either naming)."""
    keys, _, _ = header(file)
    return any(
        k.removeprefix("first_stage_model.") == "encoder.conv_in.weight" for k in keys
    ) and not any(
        k.startswith(("model.diffusion_model.", "cond_stage_model.", "conditioner.")) for k in keys
    )


def _pad_token(architecture: str, name: str) -> str:
    """OpenCLIP's tokenizers (SD 2.x's, SDXL's second) pad with ``!``, OpenAI's with the end
    token, as the published tokenizer folders do."""
    return "!" if name == "tokenizer_2" or architecture.startswith("sd2") else EOS
