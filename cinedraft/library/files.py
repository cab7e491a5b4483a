"""The content-addressed file store: ``objects/<sha[:2]>/<sha256><ext>``.

Files are written with :func:`cinedraft.media.files.write_atomic` (a reader sees either
nothing or the whole file). Every path handed in from outside (a database row, an API call)
is resolved and must stay inside the root.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError
from ..media.files import TEMP_SUFFIX, sha256_bytes, write_atomic


class FileStore:
    """Files under ``root/objects`` named by their SHA-256."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.objects = self.root / "objects"

    def relpath(self, sha256: str, ext: str) -> str:
        return f"objects/{sha256[:2]}/{sha256}{ext}"

    def put(self, data: bytes, ext: str) -> tuple[str, str]:
        """Store ``data``; returns ``(relative path, sha256)``."""
        sha = sha256_bytes(data)
        rel = self.relpath(sha, ext)
        path = self.root / rel
        if not path.exists():  # content-addressed: same name, same bytes
            write_atomic(path, data)
        return rel, sha

    def resolve(self, rel: str) -> Path:
        """The absolute path of a stored file; refuses anything that leaves the root."""
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise InputError(f"path {rel!r} is outside the library root {self.root}")
        return path

    def stored(self) -> Iterator[Path]:
        """Every complete stored file (temp files excluded)."""
        if self.objects.is_dir():
            for path in sorted(self.objects.glob("*/*")):
                if path.is_file() and not path.name.startswith("."):
                    yield path

    def temp_files(self) -> Iterator[Path]:
        if self.objects.is_dir():
            yield from self.objects.glob(f"*/.*{TEMP_SUFFIX}")
