"""Files on disk, read and written safely: hashes, atomic writes, regular files only.

A file is written to a hidden temp file beside its final name, fsynced, then renamed, and the
folder fsynced: a reader sees either nothing or the whole file. A user-given path is read only
when it is a regular file (``/dev/zero`` would be read forever, a named pipe blocks ``open``).
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path

from ..errors import InputError, InputTooLargeError

TEMP_SUFFIX = ".tmp"
MIME = {
    ".png": "image/png",
    ".webp": "image/webp",
    ".jpg": "image/jpeg",
    ".avif": "image/avif",  # imported only (browsers' and Pillow's own); outputs are the rest
    ".mp4": "video/mp4",
}
_MAGIC = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"RIFF", ".webp"))
# ISO BMFF major brands of HEIF images: the same box format as MP4, so they were taken for
# videos ("photo.heic is not a usable video"; an AVIF was imported as a clip). AVIF (what
# browsers save web images as) is read as an image; HEIC (an iPhone's photos) is refused.
AVIF_BRANDS = {b"avif", b"avis"}
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"mif2", b"msf1"}


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
        raise InputTooLargeError(
            f"{path} is {info.st_size:,} bytes; at most {max_bytes:,} are read"
        )
    return os.fdopen(fd, "rb")


def read_regular(path: Path, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file (see :func:`open_regular`)."""
    with open_regular(path, max_bytes) as fh:
        return fh.read()


def write_atomic(path: Path, data: bytes, shared: bool = False) -> None:
    """Write ``data`` so that ``path`` is either absent or complete, never torn. The file is
    private (0600, as the temporary file is made) unless ``shared``: then it is readable as
    any new file is (0666 less the umask), for files handed out (exports, copies)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMP_SUFFIX)
    if shared:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
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


def sniff_extension(data: bytes, name: str = "") -> str:
    """The file type from its first bytes (the name's suffix only as a fallback)."""
    for magic, ext in _MAGIC:
        if data.startswith(magic) and (ext != ".webp" or data[8:12] == b"WEBP"):
            return ext
    if data[4:8] == b"ftyp":
        if data[8:12] in AVIF_BRANDS:
            return ".avif"
        if data[8:12] in HEIF_BRANDS:
            raise InputError(
                f"{name or 'file'} is a HEIC/HEIF image: cinedraft reads PNG, JPEG, WebP and "
                "AVIF images; export it as one of those first"
            )
        return ".mp4"
    if data.startswith(b"\x1aE\xdf\xa3"):  # EBML: Matroska / WebM
        raise InputError(
            f"{name or 'file'} is Matroska/WebM: cinedraft keeps MP4 and MOV; "
            "remux it first (ffmpeg -i IN -c copy OUT.mp4)"
        )
    suffix = Path(name).suffix.lower().replace(".jpeg", ".jpg")
    if suffix in MIME:
        return suffix
    raise InputError(f"{name or 'file'}: not a PNG, JPEG, WebP, AVIF or MP4 file")
