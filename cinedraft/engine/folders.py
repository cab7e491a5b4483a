"""The models folder's layout: what a plain name in it means, and its adapter subfolders.

Standard library only (and huggingface_hub, to read the HF cache): the server checks names
with it on its request threads, where importing torch (as :mod:`cinedraft.engine.models`
does) could wait forever on the import lock the background model load holds.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from ..tiers import REFINER_PIPELINE, VIDEO_FAMILIES

# the models folder's subfolders that hold adapters, named from there (not models)
ADAPTER_FOLDERS = {"lora": "loras", "embedding": "embeddings", "vae": "vae"}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")  # a file's name, not a path


def in_models_folder(name: str, models_root: Path) -> Path | None:
    """``models_root/name`` (a folder) or ``models_root/name.safetensors``, if ``name`` is a
    plain name (no path separators, no dots leading out) and one of them exists."""
    if not _NAME.fullmatch(name) or ".." in name:
        return None
    for candidate in (models_root / name, models_root / f"{name}.safetensors"):
        if candidate.exists():
            return candidate
    return None


BUILTIN_EDIT = "builtin-edit"  # the shipped instruction-edit model's name
BUILTIN_MODELS = ("builtin", BUILTIN_EDIT)
# A hub repository id as the hub spells one: "owner/name".
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]{0,95}/[A-Za-z0-9][\w.-]{0,95}")
PICKLES = (".bin", ".ckpt", ".pt", ".pth", ".pkl", ".pickle")  # never fetched, never read


def hub_offline() -> bool:
    """Whether HF_HUB_OFFLINE forbids downloads, as the hub libraries read it."""
    return os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false")


def models_in(models_root: Path) -> list[tuple[str, Path]]:
    """(the name ``--model`` takes, path) of each model in the models folder: its folders
    (not the adapter subfolders) and its checkpoint files, by name (a pickle is listed, to
    be refused by name)."""
    if not models_root.is_dir():
        return []
    found = []
    for path in sorted(models_root.iterdir()):
        if path.name.startswith(".") or path.name in ADAPTER_FOLDERS.values():
            continue
        if path.is_dir():
            found.append((path.name, path))
        elif path.is_file() and path.suffix.lower() in (".safetensors", *PICKLES):
            found.append((path.stem, path))
    return found


def cached_pipelines() -> list[tuple[str, Path]]:
    """(repo id, snapshot folder) of each diffusers pipeline in the HF cache (newest snapshot
    of each repo); an absent or unreadable cache holds none."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound, CorruptedCacheException

    try:
        info = scan_cache_dir(os.environ.get("HF_HUB_CACHE"))
    except (CacheNotFound, CorruptedCacheException, OSError):
        return []
    found = []
    for repo in sorted(info.repos, key=lambda r: r.repo_id):
        if repo.repo_type != "model" or not repo.revisions:
            continue
        newest = max(repo.revisions, key=lambda r: r.last_modified)
        if (newest.snapshot_path / "model_index.json").is_file():
            found.append((repo.repo_id, newest.snapshot_path))
    return found


def _hub_id(ref: str) -> bool:
    """Whether ``ref`` is spelt as a hub repository id ("owner/name"), by the hub's rules."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    if not _HUB_ID.fullmatch(ref):
        return False
    try:
        validate_repo_id(ref)
    except HFValidationError:
        return False
    return True


def remote_model_problem(
    ref: str, models_root: Path, offline: bool, here: bool = True
) -> str | None:
    """Why a model reference sent by a client (the API) is refused, else None: a client names
    a built-in model, a model of the models folder or a hub id, never a path on the server's
    disk (the loader takes paths, for the CLI's user, and would load any folder it can read).
    ``here`` False: the job runs on cluster workers, whose models and caches are their own,
    so only the reference's form is checked here."""
    if ref in BUILTIN_MODELS or in_models_folder(ref, models_root):
        return None
    if not (_NAME.fullmatch(ref) or _hub_id(ref)) or ".." in ref:
        return (
            f"model {ref!r}: the API takes a model's name (of the models folder, 'builtin' "
            "or a hub id, owner/name), not a path"
        )
    if Path(ref).exists():  # the loader would take the server's working folder's copy
        return f"model {ref!r} is a path in the server's working folder, not a model's name"
    if not here:
        return None
    if "/" not in ref:
        return f"no model named {ref!r} in {models_root}"
    if offline or hub_offline():
        from huggingface_hub import try_to_load_from_cache

        cache = os.environ.get("HF_HUB_CACHE")  # as the inventory reads it
        if not isinstance(try_to_load_from_cache(ref, "model_index.json", cache), str):
            return f"model {ref!r} is not in {models_root} nor in the HF cache (offline)"
    return None


def listing(models_root: Path, cache: bool = True) -> dict[str, list]:
    """What a client may name, by name: ``models`` (built-in, the models folder's, the HF
    cache's pipelines; each with its ``kind``, image, video or refiner, read from its
    ``model_index.json``; a single file is an image model) and the models folder's
    ``loras``, ``embeddings`` and ``vaes``. A pickle is left out: it would be refused."""
    models = [
        {"name": "builtin", "source": "built in", "kind": "image"},
        {"name": BUILTIN_EDIT, "source": "built in", "kind": "edit"},
    ]
    found = [(n, p, "models folder") for n, p in models_in(models_root)]
    found += [(n, p, "HF cache") for n, p in cached_pipelines()] if cache else []
    for name, path, source in found:
        if path.is_file() and path.suffix.lower() != ".safetensors":
            continue
        models.append({"name": name, "source": source, "kind": _kind(path)})
    adapters = {
        key: sorted(
            p.name
            for p in (models_root / ADAPTER_FOLDERS[kind]).glob("*")
            if not p.name.startswith(".") and (p.is_dir() or p.suffix == ".safetensors")
        )
        for key, kind in (("loras", "lora"), ("embeddings", "embedding"), ("vaes", "vae"))
    }
    return {"models": models, **adapters}


def _kind(path: Path) -> str | None:
    """image, video or refiner, from a pipeline folder's class name; None when it has none."""
    if path.is_file():
        return "image"
    try:
        pipeline = json.loads((path / "model_index.json").read_text())["_class_name"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if pipeline == REFINER_PIPELINE:
        return "refiner"
    return "video" if any(pipeline in f.pipelines for f in VIDEO_FAMILIES.values()) else "image"
