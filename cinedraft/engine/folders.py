"""The models folder's layout: what a plain name in it means, and its adapter subfolders.

Standard library only: the server checks names with it on its request threads, where
importing torch (as :mod:`cinedraft.engine.models` does) could wait forever on the import
lock the background model load holds.
"""

from __future__ import annotations

import re
from pathlib import Path

# the models folder's subfolders that hold adapters, named from there (not models)
ADAPTER_FOLDERS = {"lora": "loras", "embedding": "embeddings", "vae": "vae"}


def in_models_folder(name: str, models_root: Path) -> Path | None:
    """``models_root/name`` (a folder) or ``models_root/name.safetensors``, if ``name`` is a
    plain name (no path separators, no dots leading out) and one of them exists."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}", name) or ".." in name:
        return None
    for candidate in (models_root / name, models_root / f"{name}.safetensors"):
        if candidate.exists():
            return candidate
    return None
