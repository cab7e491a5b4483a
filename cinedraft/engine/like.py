"""Settings taken from an image to make more like it (``generate --like``).

From cinedraft's own record: prompt, negative prompt, seed, steps, guidance, scheduler,
Clip skip, size, tier, model and the LoRAs, embeddings and VAE it was made with. From what
an image made in A1111, Forge or ComfyUI claims (an import's ``made_with``): prompt
(A1111's ``<lora:name:w>`` tags and ComfyUI's ``embedding:name`` included, which resolve
in the models folder), the embeddings A1111 names by hash (``TI hashes``), negative prompt,
seed, steps, CFG, Clip skip, the sampler and schedule as cinedraft's scheduler, the
first-pass size, and the checkpoint, VAE and ComfyUI's LoRAs when the models folder holds
files of their names. What cannot be carried (a sampler cinedraft has no match for, a
model or LoRA this machine lacks, A1111's hires fix, variation seed, face restoration,
ADetailer, ControlNet, refiner, or a start image, and the like in a ComfyUI graph) is
said, not guessed; the request's own options win over all.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import InputError
from ..library import Asset
from ..media.comfy import SAMPLERS as COMFY_SAMPLERS
from ..media.metadata import checkpoint_name
from ..request import MAX_SIDE, Lora
from ..prompt_tags import dropped
from .folders import ADAPTER_FOLDERS, in_models_folder
from .schedulers import SCHEDULERS


def settings_like(asset: Asset, models_root: Path) -> tuple[dict, list[str]]:
    """``ImageRequest`` fields that make images like ``asset``, and what was not carried."""
    record = asset.record
    if record.get("kind") == "image":
        return _own(record), []
    made = record.get("made_with")
    if not isinstance(made, dict) or not made.get("prompt"):
        raise InputError(
            f"{asset.id} says nothing of how it was made: more like an image takes one "
            "cinedraft made, or one from A1111, Forge or ComfyUI that keeps its settings"
        )
    return _claimed(made, models_root)


def _own(record: dict) -> dict:
    fields = {
        key: record[key]
        for key in (
            "prompt",
            "negative_prompt",
            "seed",
            "steps",
            "guidance",
            "scheduler",
            "clip_skip",
        )
        if record.get(key) is not None
    }
    fields |= {"model": record["model"], "tier": record.get("tier") or "draft"}
    fields |= {"width": record["width"], "height": record["height"]}
    adapters = record.get("adapters") or []
    fields["loras"] = [
        Lora(ref=a["path"], weight=a.get("weight")) for a in adapters if a["kind"] == "lora"
    ]
    fields["embeddings"] = [a["path"] for a in adapters if a["kind"] == "embedding"]
    fields["vae"] = next((a["path"] for a in adapters if a["kind"] == "vae"), None)
    return fields


def _claimed(made: dict, models_root: Path) -> tuple[dict, list[str]]:
    tool, notes = made.get("tool", "the other tool"), []
    fields: dict = {"prompt": made["prompt"], "negative_prompt": made.get("negative_prompt", "")}

    def absent(kind: str, name: str) -> bool:
        return in_models_folder(name, models_root / ADAPTER_FOLDERS[kind]) is None

    for key in fields:  # a tag naming a file this machine lacks would stop the request
        fields[key], gone = dropped(fields[key], absent)
        notes += [
            f"{kind} {name!r} in the prompt is not in {models_root / ADAPTER_FOLDERS[kind]}: "
            "left out"
            for kind, name in gone
        ]
    checks = {
        "seed": lambda v: isinstance(v, int) and 0 <= v < 2**63,
        "steps": lambda v: isinstance(v, int) and 1 <= v <= 500,
        "guidance": lambda v: isinstance(v, (int, float)) and 0 <= v <= 50,
        "clip_skip": lambda v: isinstance(v, int) and 1 <= v <= 12,
    }
    for key, fits in checks.items():
        if key in made:
            if fits(made[key]):
                fields[key] = made[key]
            else:
                notes.append(f"{key} {made[key]!r} is out of range: not carried")
    size = made.get("width"), made.get("height")
    if all(isinstance(v, int) and 8 <= v <= MAX_SIDE and v % 8 == 0 for v in size):
        fields["width"], fields["height"] = size
    elif made.get("width") is not None:
        notes.append(f"size {size[0]}x{size[1]} is not a multiple of 8 within {MAX_SIDE}")
    if made.get("sampler"):
        sampler = (made["sampler"], made.get("scheduler"))
        if found := _scheduler(tool, *sampler):
            fields["scheduler"] = found
        else:
            named = " ".join(str(part) for part in sampler if part)
            notes.append(f"{tool}'s sampler {named!r} has no match here: the default is used")
    if made.get("model"):
        name = checkpoint_name(str(made["model"]))
        if in_models_folder(name, models_root):
            fields["model"] = name
        else:
            notes.append(f"model {made['model']!r} is not in {models_root}: the default is used")

    def here(kind: str, name: str, what: str, shown: object) -> bool:
        folder = models_root / ADAPTER_FOLDERS[kind]
        if in_models_folder(name, folder):
            return True
        notes.append(f"{what} {shown!r} is not in {folder}")
        return False

    for lora in made.get("loras") or []:
        name = checkpoint_name(str(lora.get("name", "")))
        if here("lora", name, "LoRA", lora.get("name")):
            fields.setdefault("loras", []).append(Lora(ref=name, weight=lora.get("weight")))
    if made.get("vae") and here("vae", str(made["vae"]), "VAE", str(made["vae"])):
        fields["vae"] = str(made["vae"])
    for name in made.get("embeddings") or []:  # A1111's: a word of the prompt names it
        if here("embedding", str(name), "embedding", name):
            fields.setdefault("embeddings", []).append(str(name))
    return fields, notes + _not_done(tool, made.get("fields") or {}) + _graph_not_done(made)


# What shaped an A1111 or Forge image and a request here does not do, by the fields its text
# names (the field names of A1111's ``processing.py`` and of the extensions most images carry).
_NOT_DONE = (
    ("Hires", "hires fix is not carried: promote a draft for production"),
    ("Variation seed", "variation seed (its noise blended with a second seed's) is not carried"),
    ("Seed resize from", "seed resize is not carried"),
    ("Face restoration", "face restoration is not carried"),
    ("ADetailer", "ADetailer's detail passes are not carried"),
    ("ControlNet", "ControlNet guidance is not carried"),
    ("Refiner", "refiner switch is not carried"),
    ("Hypernet", "hypernetwork is not carried"),
)


def _not_done(tool: str, fields: dict) -> list[str]:
    """A note for each thing of ``_NOT_DONE`` the image's fields name, once each."""
    notes = [
        f"{tool}'s {what}"
        for prefix, what in _NOT_DONE
        if any(str(key).startswith(prefix) for key in fields)
    ]
    if "Denoising strength" in fields and not any(str(k).startswith("Hires") for k in fields):
        notes.append(  # without a hires fix, a denoising strength means a start image
            f"it was made from another image in {tool}: drawn from the prompt alone here "
            "(`generate --from IMAGE --strength S` starts from one)"
        )
    return notes


# The same for a ComfyUI graph, by the codes :func:`read_comfy_graph` lists under ``not_done``.
_GRAPH_NOT_DONE = {
    "controlnet": "ControlNet guidance is not carried",
    "ipadapter": "IP-Adapter image prompt is not carried",
    "detailer": "detailer pass (faces, hands) is not carried",
    "upscale_model": "upscale model is not carried: promote a draft for production",
    "second_pass": "second sampler pass (a hires fix or refiner) is not carried: promote a "
    "draft for production",
    "start_image": "start image is not carried: drawn from the prompt alone here "
    "(`generate --from IMAGE --strength S` starts from one)",
}


def _graph_not_done(made: dict) -> list[str]:
    """A note for each code of ``_GRAPH_NOT_DONE`` a ComfyUI image's claim lists."""
    codes = made.get("not_done") if made.get("tool") == "ComfyUI" else None
    if not isinstance(codes, list):
        return []
    return [f"ComfyUI's {_GRAPH_NOT_DONE[c]}" for c in codes if c in _GRAPH_NOT_DONE]


def _scheduler(tool: str, sampler: str, schedule: str | None) -> str | None:
    """cinedraft's scheduler for a sampler and schedule as A1111 (or ComfyUI) names them."""
    if tool == "ComfyUI":
        return next((n for n, pair in COMFY_SAMPLERS.items() if pair == (sampler, schedule)), None)
    if schedule is None and sampler.endswith(" Karras"):  # A1111 before 1.9: one name
        sampler, schedule = sampler.removesuffix(" Karras"), "Karras"
    if schedule in (None, "Automatic"):
        schedule = None
    return next(
        (n for n, spec in SCHEDULERS.items() if (spec[2], spec[3]) == (sampler, schedule)), None
    )
