"""Laying a model folder out in a Hugging Face cache, as a download leaves it."""

import hashlib
import os
from pathlib import Path


def hf_cache_layout(cache: Path, repo: str, folder: Path) -> None:
    """``folder`` laid out in an HF cache as a download leaves it: blobs named by their hash,
    a snapshot of links to them, and ``refs/main``."""
    root = cache / ("models--" + repo.replace("/", "--"))
    commit = hashlib.sha1(repo.encode()).hexdigest()
    snapshot = root / "snapshots" / commit
    for f in folder.rglob("*"):
        if not f.is_file():
            continue
        data = f.read_bytes()
        blob = root / "blobs" / hashlib.sha256(data).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = snapshot / f.relative_to(folder)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (root / "refs").mkdir()
    (root / "refs" / "main").write_text(commit)
