"""Which models are here: the models folder and the HF cache, each entry with what cinedraft
would make of it, read from its configs only (no weights are loaded).

An entry that cannot load says why in one line, with the same checks the loader runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import CinedraftError
from ..tiers import (
    REFINER_PIPELINE,
    VIDEO_FAMILIES,
    Family,
    VideoFamily,
    family_for,
    video_family_for,
)
from . import single_file
from .folders import cached_pipelines, models_in
from .models import (
    PICKLE_SUFFIXES,
    configs_of,
    generic_family,
    model_facts,
    variant_of,
)


@dataclass
class ModelEntry:
    """One model as ``cinedraft models`` shows it."""

    name: str  # what ``--model`` takes
    path: Path
    source: str  # "models folder" or "HF cache"
    kind: str | None = None  # image, video or refiner; None when it cannot load
    family: str | None = None
    pipeline: str | None = None
    precision: list[str] = field(default_factory=list)  # "full", "fp16", "bf16"...
    bytes: int = 0
    presets: dict[str, str] = field(default_factory=dict)  # tier -> one line
    problem: str | None = None  # why it cannot load

    def to_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def inventory(
    models_root: Path,
    cache: bool = True,
    configs: Path | None = None,
    text_encoder: str | None = None,
) -> list[ModelEntry]:
    """Every entry of the models folder, then every diffusers pipeline in the HF cache
    (``configs``, ``text_encoder``: for single files, as the engine's settings)."""
    entries = [
        describe(path, name, "models folder", configs, text_encoder)
        for name, path in models_in(models_root)
    ]
    if cache:
        entries += [describe(path, repo, "HF cache") for repo, path in cached_pipelines()]
    return entries


def describe(
    path: Path,
    name: str,
    source: str,
    configs: Path | None = None,
    text_encoder: str | None = None,
) -> ModelEntry:
    """What cinedraft would make of ``path`` (a folder or a single file), from its configs."""
    entry = ModelEntry(name, path, source, bytes=_size(path))
    if path.suffix.lower() in PICKLE_SUFFIXES and path.is_file():
        entry.problem = "a pickle checkpoint: cinedraft loads only safetensors"
        return entry
    try:
        folder, index, checkpoint = configs_of(path, configs, text_encoder, offline=True)
        entry.precision = [checkpoint.precision] if checkpoint else _precision(path)
        pipeline = index["_class_name"]
        if pipeline == REFINER_PIPELINE:  # not a model of its own: production's last steps
            entry.kind, entry.family, entry.pipeline = "refiner", "sdxl", pipeline
            entry.presets = {"production": "the last fifth of SDXL's steps (CINEDRAFT_REFINER)"}
            return entry
        video = any(pipeline in f.pipelines for f in VIDEO_FAMILIES.values())
        family: Family | VideoFamily = (
            video_family_for(pipeline, model_facts(folder, index))
            if video
            else family_for(model_facts(folder, index) | single_file.facts(checkpoint), name)
            or generic_family(pipeline, name)
        )
    except CinedraftError as exc:
        entry.problem = str(exc)
        return entry
    entry.kind, entry.family, entry.pipeline = (
        ("video" if video else "image"),
        family.name,
        pipeline,
    )
    entry.presets = _presets(family)
    return entry


def _precision(path: Path) -> list[str]:
    return sorted({variant_of(w.name) or "full" for w in path.glob("*/*.safetensors")})


def _presets(family: Family | VideoFamily) -> dict[str, str]:
    if isinstance(family, VideoFamily):
        return {"video": f"{family.steps} steps, guidance {family.guidance:g}, {family.fps} fps"}
    return {
        name: f"{t.steps} steps, guidance {t.guidance:g}, {t.scheduler}"
        + (f", x{t.upscale}" if t.upscale > 1 else "")
        for name, t in family.tiers.items()
    }


def _size(path: Path) -> int:
    """Bytes on disk, following the HF cache's links to its blobs."""
    files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file()]
    return sum(f.stat().st_size for f in files)


def show(entry: ModelEntry) -> str:
    """Everything about one entry, for ``cinedraft models show``."""
    lines = [f"{entry.name}  ({entry.source}: {entry.path})"]
    if entry.problem:
        return "\n".join(lines + [f"  cannot load: {entry.problem}"])
    lines += [
        f"  {entry.kind} model, family {entry.family}, pipeline {entry.pipeline}",
        f"  precision: {', '.join(entry.precision)}; {entry.bytes / 1e6:.1f} MB on disk",
        *(f"  {tier}: {preset}" for tier, preset in entry.presets.items()),
    ]
    if (entry.path / "model_index.json").is_file():
        index = json.loads((entry.path / "model_index.json").read_text())
        parts = [k for k, v in index.items() if isinstance(v, list) and v[0]]
        lines.append(f"  components: {', '.join(parts)}")
    return "\n".join(lines)
