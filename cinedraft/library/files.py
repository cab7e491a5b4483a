"""The content-addressed file store: ``objects/<sha[:2]>/<sha256><ext>``.

A file is written to a hidden temp file beside its final name, fsynced, then renamed, and the
folder fsynced: a reader sees either nothing or the whole file. Every path handed in from
outside (a database row, an API call) is resolved and must stay inside the root.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError, InputTooLargeError

TEMP_SUFFIX = ".tmp"


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a regular file (a device, pipe or socket is refused, never read)."""
    digest = hashlib.sha256()
    with open_regular(path) as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def open_regular(path: Path, max_bytes: int | None = None):
    """Open a user-given path for reading only if it is a regular file (at most ``max_bytes``).

    ``/dev/zero`` would be read forever and a named pipe blocks ``open`` itself, so the type
    is checked before opening (``O_NONBLOCK`` covers a swap in between) and again on the
    open descriptor.
    """
    path = Path(path)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise InputError(f"{path} is not a regular file")
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise InputError(f"{path} is not a regular file")
    if max_bytes is not None and info.st_size > max_bytes:
        os.close(fd)
        raise InputTooLargeError(f"{path} is {info.st_size:,} bytes; at most {max_bytes:,} are read")
    return os.fdopen(fd, "rb")


def read_regular(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`)."""
    with open_regular(path, max_bytes) as fh:
        return fh.read()


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` so that ``path`` is either absent or complete, never torn."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename is durable only once the folder entry is on disk.
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


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
