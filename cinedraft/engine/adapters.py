"""LoRAs, textual-inversion embeddings and VAE swaps: what a request adds to a model for one
request, and taking it off again.

A request names them as options (``--lora FILE[:WEIGHT]``, ``--embedding FILE``, ``--vae
FOLDER|FILE``) or, as A1111 does, inside the prompt (``<lora:name:0.8>``, ``<embedding:name>``;
names resolve in the models folder's ``loras/`` and ``embeddings/``). Each is hashed and
recorded, so ``rerender`` applies the same files again and refuses a file that changed.

LoRAs are fused into the weights (no per-step cost). They stay on the cached pipeline only
while consecutive requests ask for exactly the same files and weights (drafting a batch after
a batch with one style pays the loading once); the first request that asks for anything
else gets them unfused and turned off first, so nothing leaks into it. Turned off, they stay
loaded (peft's layers then pass their input to the model's own): a later request for the
same files fuses them again without loading them (loading is most of a LoRA's cost); one
for other files unloads them first.

Unfusing puts back the very weights that were there before: the layers a LoRA changes are
copied (to CPU memory, the size of those layers) before it is fused and restored after
peft's unfuse. peft subtracts the LoRA again, and (W + d) - d is not W in floating point:
after one LoRA request on a tiny SD model, the next image without it differed in 3.8 % of
its pixels (up to 7 levels), and the error adds up over requests.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import safetensors
from safetensors.torch import load as tensors_from_bytes

from ..errors import InputError, ModelError, ModelNotFoundError, UnsafeModelError
from .. import prompt_tags
from ..media.files import read_regular, sha256_bytes, sha256_file
from ..request import ImageRequest, Lora
from ..tiers import Tier, speed_lora
from . import single_file
from .folders import ADAPTER_FOLDERS, in_models_folder
from .models import PICKLE_SUFFIXES, LoadedModel, check_folder


@dataclass(frozen=True)
class Adapter:
    """One file a request adds to the model."""

    kind: str  # "lora", "embedding" or "vae"
    name: str  # the LoRA's adapter name, the embedding's token, the VAE folder's name
    path: Path
    sha256: str
    weight: float | None = 1.0  # a LoRA's None: not given (see speed_recipe)
    source: str = "option"  # "option", or "prompt" for a tag in the prompt

    def to_record(self) -> dict:
        return asdict(self) | {"path": str(self.path)}


def request_fields(recorded: list[dict] | None) -> dict:
    """The request fields that apply a record's adapters again (``promote``, ``rerender``):
    every one as an option, by the path it was loaded from."""
    recorded = recorded or []
    return {
        "loras": [Lora(ref=a["path"], weight=a["weight"]) for a in recorded if a["kind"] == "lora"],
        "embeddings": [a["path"] for a in recorded if a["kind"] == "embedding"],
        "vae": next((a["path"] for a in recorded if a["kind"] == "vae"), None),
    }


def changed(recorded: list[dict] | None, now: list[dict] | None) -> list[str]:
    """The files whose contents differ from when a record was made."""
    return [
        f"{old['path']} (sha256 {old['sha256'][:12]} then, {new['sha256'][:12]} now)"
        for old, new in zip(recorded or [], now or [])
        if old["sha256"] != new["sha256"]
    ]


def adapters_of(request: ImageRequest, models_root: Path) -> list[Adapter]:
    """Every LoRA, embedding and VAE the request names, resolved and hashed."""
    if re.search(r"\{[^{}]*(<\w+:|embedding:)", request.prompt):
        raise InputError("a <lora:...> or <embedding:...> tag inside a {wildcard} is not allowed")
    loras = [(lora, "option") for lora in request.loras]
    for text in (request.prompt, request.negative_prompt):
        loras += [(Lora(ref=name, weight=w), "prompt") for name, w in prompt_tags.loras(text)]
    embeddings = [(ref, "option") for ref in request.embeddings]
    for text in (request.prompt, request.negative_prompt):
        embeddings += [(name, "prompt") for name in prompt_tags.embeddings(text)]
    out = []
    for i, (lora, source) in enumerate(loras):
        path = _file(lora.ref, models_root / ADAPTER_FOLDERS["lora"], "LoRA", source == "option")
        out.append(Adapter("lora", f"lora{i}", path, sha256_file(path), lora.weight, source))
    for ref, source in embeddings:
        path = _file(
            ref, models_root / ADAPTER_FOLDERS["embedding"], "embedding", source == "option"
        )
        out.append(Adapter("embedding", path.stem, path, sha256_file(path), source=source))
    if request.vae:
        out.append(_vae(request.vae, models_root))
    return out


def speed_recipe(
    tier: Tier, adapters: list[Adapter], request: ImageRequest, family: str, flow: bool
) -> tuple[Tier, list[Adapter]]:
    """The tier and the LoRAs' weights for a model of ``family`` (``flow``: flow-matching). A
    speed LoRA (LCM, Lightning, Hyper-SD: a word in its file name) brings its authors' steps,
    guidance and sampler, unless the request sets them, and their scale where the request
    gave the LoRA no weight (Hyper-SD's FLUX LoRA is fused at 0.125: at 1 it adds 8 times
    the change it was made for); any other LoRA without a weight gets 1."""
    resolved, recipe = [], None
    for adapter in adapters:
        found = speed_lora(adapter.path.name, family, flow) if adapter.kind == "lora" else None
        if found and recipe is None:
            recipe, steps = found
            tier = replace(
                tier,
                steps=steps,
                guidance=recipe.guidance_for(steps),
                scheduler=recipe.scheduler,
                refine_steps=steps,
            ).with_overrides(
                steps=request.steps, guidance=request.guidance, scheduler=request.scheduler
            )
        if adapter.weight is None:
            adapter = replace(adapter, weight=found[0].weight if found else 1.0)
        resolved.append(adapter)
    return tier, resolved


@contextmanager
def applied(model: LoadedModel, adapters: list[Adapter]) -> Iterator[None]:
    """The model with exactly ``adapters`` on it for the block (and after it, until a request
    asks for something else: see the module docstring)."""
    wanted = tuple((a.kind, str(a.path), a.sha256, a.weight) for a in adapters)
    if model.adapters_on != wanted:
        _take_off(model)
        try:
            _put_on(model, adapters)
        except BaseException:
            _take_off(model)
            raise
        model.adapters_on = wanted
    yield


def _put_on(model: LoadedModel, adapters: list[Adapter]) -> None:
    pipe = model.pipe
    loras = [a for a in adapters if a.kind == "lora"]
    embeddings = [a for a in adapters if a.kind == "embedding"]
    vae = next((a for a in adapters if a.kind == "vae"), None)
    model.adapters_on = ("partial",)  # whatever happens next, _take_off cleans it all
    try:
        if loras:
            _load_loras(model, loras)
            names = [a.name for a in loras]
            pipe.set_adapters(names, adapter_weights=[a.weight for a in loras])
            model.unfused = _lora_layer_weights(pipe)
            pipe.fuse_lora(adapter_names=names, lora_scale=1.0)
        for a in embeddings:
            pipe.load_textual_inversion(_weights(a), token=a.name)
    except (ValueError, KeyError, RuntimeError, OSError) as exc:
        which = ", ".join(a.path.name for a in loras + embeddings)
        raise ModelError(f"{which} does not fit {model.ref}: {_shortened(exc)}") from None
    if vae is not None:
        model.own_vae = pipe.vae
        _set_vae(model, _load_vae(vae.path, pipe.vae))


def _shortened(exc: Exception, limit: int = 400) -> str:
    """diffusers' reason in one line: its messages can list every tensor of the file."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def _load_loras(model: LoadedModel, loras: list[Adapter]) -> None:
    """``loras`` injected into the pipeline and turned on: the ones already loaded (turned
    off after an earlier request) when they are the same files, else loaded afresh."""
    pipe, key = model.pipe, tuple((str(a.path), a.sha256, a.name) for a in loras)
    if model.loras_loaded == key:
        pipe.enable_lora()
        return
    if model.loras_loaded:
        pipe.unload_lora_weights()
        model.loras_loaded = ()
    for a in loras:
        pipe.load_lora_weights(_lora_weights(a), adapter_name=a.name)
    model.loras_loaded = key


# LyCORIS's other kinds of adapter (Civitai labels them LyCORIS), by their tensors' names.
_LYCORIS = {".hada_w1_a": "LoHa", ".lokr_w1": "LoKr", ".lokr_w1_a": "LoKr", ".on_input": "(IA)3"}


def _lora_weights(adapter: Adapter) -> dict:
    """A LoRA's tensors; a LyCORIS LoHa, LoKr or (IA)3 file is refused by name, not with
    diffusers' list of every tensor it could not rename (it reads LoRA and LoCon only)."""
    tensors = _weights(adapter)
    kinds = {kind for key in tensors for end, kind in _LYCORIS.items() if key.endswith(end)}
    if kinds:
        raise ModelError(
            f"{adapter.path.name} is a LyCORIS {'/'.join(sorted(kinds))} file: cinedraft loads "
            "LoRAs through diffusers, which reads LoRA and LoCon files, not LoHa, LoKr or "
            "(IA)3 ones"
        )
    return tensors


def _weights(adapter: Adapter) -> dict:
    """The adapter's tensors, read into memory once and checked against the hash recorded.
    Not memory-mapped: the LoRA stays on the pipeline between requests, and unfusing it
    later must subtract what was added even if the file has been rewritten meanwhile."""
    data = read_regular(adapter.path)
    if sha256_bytes(data) != adapter.sha256:
        raise InputError(f"{adapter.path} changed while it was being loaded; try again")
    try:
        return tensors_from_bytes(data)  # safetensors: no pickle, no code
    except (ValueError, OSError, safetensors.SafetensorError) as exc:
        raise ModelError(f"{adapter.path} is not a safetensors file: {exc}") from None


def _take_off(model: LoadedModel) -> None:
    """Unfuse every LoRA and turn it off (an error meanwhile: unload them), unload
    embeddings, put the model's own VAE back."""
    if not model.adapters_on:
        return
    pipe = model.pipe
    loaded = getattr(pipe, "get_list_adapters", None) and any(pipe.get_list_adapters().values())
    if model.adapters_on == ("partial",) and hasattr(pipe, "unload_lora_weights"):
        # A request failed half-way: start clean. Unloading also takes out the layers a
        # load that failed (a LoRA of another architecture) injected without naming an
        # adapter: peft lists none, and they stayed in every forward pass.
        if loaded:
            _unfuse(model)
        pipe.unload_lora_weights()
        model.loras_loaded = ()
    elif loaded and any(on[0] == "lora" for on in model.adapters_on):
        _unfuse(model)
        pipe.disable_lora()
    embedded = any(on[0] in ("embedding", "partial") for on in model.adapters_on)
    if embedded and hasattr(pipe, "unload_textual_inversion"):
        pipe.unload_textual_inversion()
        _mend_decoding(pipe)
    if model.own_vae is not None:
        _set_vae(model, model.own_vae)
        model.own_vae = None
    model.adapters_on = ()


def _mend_decoding(pipe: object) -> None:
    """diffusers unloads embeddings from a fast tokenizer by rebuilding its backend from JSON,
    which drops the decode wrapper transformers' CLIP tokenizer installs (it strips the
    ``</w>`` word ends): "a glossy jar" decoded as "a</w>glossy</w>jar</w>" afterwards, and
    compel's textual-inversion manager, which decodes and re-encodes every prompt, then
    encoded other tokens for every weighted or long prompt on that model."""
    for name in ("tokenizer", "tokenizer_2"):
        wrap = getattr(getattr(pipe, name, None), "_wrap_decode_method_backend_tokenizer", None)
        if wrap is not None:
            wrap()


def _lora_layer_weights(pipe: object) -> dict:
    """A CPU copy of the weights (and biases) of every layer a LoRA is injected into, keyed
    by the parameter itself, taken before fusing."""
    import torch
    from peft.tuners.tuners_utils import BaseTunerLayer

    saved = {}
    for component in pipe.components.values():
        if not isinstance(component, torch.nn.Module):
            continue
        for module in component.modules():
            if isinstance(module, BaseTunerLayer):
                base = module.get_base_layer()
                for param in (base.weight, getattr(base, "bias", None)):
                    if param is not None:
                        saved[param] = param.detach().to("cpu", copy=True)
    return saved


def _unfuse(model: LoadedModel) -> None:
    """peft's unfuse (it resets its layers' state), then the weights from before fusing."""
    import torch

    model.pipe.unfuse_lora()
    with torch.no_grad():
        for param, before in model.unfused.items():
            param.copy_(before)
    model.unfused = {}


def _file(ref: str, folder: Path, what: str, paths: bool) -> Path:
    """A LoRA or embedding file: a name in its models subfolder, or else (``paths``: an
    option, not a tag inside a prompt, which may come from anywhere) a path."""
    path = Path(ref).expanduser()
    found = in_models_folder(ref, folder) if folder.is_dir() else None
    if found is not None and found.is_file():
        path = found
    elif not (paths and path.is_file()):
        raise ModelNotFoundError(f"no {what} file {ref!r} (nor {folder}/{ref}.safetensors)")
    if path.suffix.lower() in PICKLE_SUFFIXES:
        raise UnsafeModelError(f"{path} is a pickle file; cinedraft loads only safetensors")
    if path.suffix.lower() != ".safetensors":
        raise ModelError(f"{path}: a {what} must be a .safetensors file")
    return path.resolve()


def _vae(ref: str, models_root: Path) -> Adapter:
    """A diffusers VAE folder (``config.json`` and safetensors weights), or a VAE kept as one
    ``.safetensors`` file (built with the model's own VAE config when it is put on)."""
    path = (
        in_models_folder(ref, models_root / ADAPTER_FOLDERS["vae"]) or Path(ref).expanduser()
    )  # name first
    if path.is_file() or path.suffix.lower() in (".safetensors", *PICKLE_SUFFIXES):
        path = _file(ref, models_root / ADAPTER_FOLDERS["vae"], "VAE", paths=True)
        if not single_file.is_vae_file(path):
            raise ModelError(f"{path.name} is not a VAE (no encoder.conv_in in it)")
        return Adapter("vae", path.stem, path, sha256_file(path))
    weights = sorted(path.glob("*.safetensors")) if path.is_dir() else []
    if not (path / "config.json").is_file() or not weights:
        raise ModelNotFoundError(f"{ref} is not a diffusers VAE folder (config.json, safetensors)")
    if (path / "model_index.json").is_file():
        check_folder(path)  # a whole pipeline was given: refuse what the loader would
    return Adapter("vae", path.name, path.resolve(), sha256_file(weights[0]))


def _load_vae(path: Path, like: object) -> object:
    """The VAE of a folder, or of a file built with the config of ``like`` (the model's own
    VAE: a VAE file has no config, and a replacement has the architecture it replaces)."""
    import diffusers

    try:
        if path.is_file():
            with tempfile.TemporaryDirectory() as configs:
                like.save_config(configs)
                vae = single_file.vae_file(path, Path(configs), like.dtype)
        else:
            vae = diffusers.AutoencoderKL.from_pretrained(
                path, use_safetensors=True, local_files_only=True
            )
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelError(f"could not load the VAE {path.name}: {_first(exc)}") from None
    return vae.to(like.device, like.dtype)


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _set_vae(model: LoadedModel, vae: object) -> None:
    """The VAE of the model's pipeline and of the img2img pipeline sharing its parts."""
    model.pipe.vae = vae
    if model._img2img is not None:
        model._img2img.vae = vae
