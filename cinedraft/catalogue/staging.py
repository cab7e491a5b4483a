"""A product list sent to the server, laid out in a folder the way the CLI reads one.

The server reads no paths it is sent: a list's ``packshot`` column names files, and the
request maps each name to an image asset uploaded first (``POST /api/uploads``). The list,
those images (copied out of the library under their names) and the brand kit's TOML are
written to the job's folder; then :func:`~cinedraft.catalogue.sheet.read_sheet` and
:func:`~cinedraft.catalogue.brand.read_brand` check them exactly as for a file on disk.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from ..errors import InputError
from ..library import Library
from ..media.files import write_atomic
from .brand import BrandKit, read_brand
from .sheet import Sheet, read_sheet

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
RESERVED = ("products.csv", "products.jsonl", "brand.toml")


def stage(
    library: Library,
    folder: Path,
    sheet: str,
    fmt: str,
    packshots: dict[str, str],
    brand: str | None,
    scenes: int,
    aspects: tuple[str, ...],
) -> tuple[Sheet, BrandKit]:
    """Write the list, its packshots and brand kit into ``folder``; read them back checked."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, asset_id in packshots.items():
        if not NAME.fullmatch(name) or name in RESERVED:
            raise InputError(f"packshot name {name!r}: letters, digits, '.', '_', '-'")
        asset = library.resolve(asset_id, "image")
        shutil.copyfile(asset.path, folder / name)
    if brand is not None and re.search(r"^\s*(logo|caption_font)\s*=", brand, re.M):
        raise InputError("a brand kit sent to the server takes no logo or font files")
    path = folder / f"products.{fmt}"
    write_atomic(path, sheet.encode())
    kit = None
    if brand is not None:
        write_atomic(folder / "brand.toml", brand.encode())
        kit = folder / "brand.toml"
    return read_sheet(path, scenes, aspects), read_brand(kit)
