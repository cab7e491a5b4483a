"""A catalogue's output folder and its manifest.

```
OUT/
  manifest.json          every SKU, every file: asset id, aspect, size, hash, record
  manifest.csv           the same files, one row each (the record as a JSON cell)
  <sku>/
    hero.png             the production image the aspects grow from
    1x1.png 4x5.png 9x16.png 16x9.png 1.91x1.png   one per asked aspect
    drafts/scene-1.webp ...                        the drafts, best first
    thumbs/hero.jpg thumbs/9x16.jpg ...            320 px on the long side
    contact-sheet.png    hero, aspects and drafts on one page
```

Library files are copied byte for byte (their hash is the library's); every file is written
atomically and only when its bytes changed, so a resumed run rewrites nothing it need not.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from math import gcd
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from ..errors import OutputError
from ..library import Asset
from ..media.files import sha256_bytes, write_atomic
from ..render.contact import contact_sheet
from .sheet import Product

if TYPE_CHECKING:
    from .run import CatalogueReport

THUMB = 320
DERIVED = ("thumbnail", "contact-sheet")  # files made from the library's, not in it
COLUMNS = (
    "sku", "file", "role", "aspect", "width", "height", "bytes", "sha256", "asset_id",
    "product_ssim", "record",
)  # fmt: skip


def check_writable(out: Path) -> None:
    """Make ``out`` and prove a file can be written there, before any work."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".cinedraft-")
    except OSError as exc:
        raise OutputError(f"cannot write to {out}: {exc.strerror or exc}") from None
    os.close(fd)
    os.unlink(probe)


def aspect_name(aspect: str) -> str:
    """'9:16' -> '9x16' (a file name on every system)."""
    return aspect.replace(":", "x").replace("/", "x").replace(" ", "")


def write_sku(
    out: Path,
    product: Product,
    drafts: list[Asset],
    hero: Asset,
    aspects: dict[str, tuple[Asset, float | None]],
    kept: float | None,
    previous: list[dict] = (),
) -> list[dict]:
    """Write one SKU's files; returns their manifest rows. ``previous``: the SKU's rows in
    the manifest already there (thumbnails and contact sheet are kept when nothing they show
    changed)."""
    root = out / product.sku
    rows = [_copy(root, "hero", hero, "hero", None, kept)]
    for aspect, (asset, ssim) in aspects.items():
        rows.append(_copy(root, aspect_name(aspect), asset, "aspect", aspect, ssim))
    for i, draft in enumerate(drafts, 1):
        rows.append(_copy(root, f"drafts/scene-{i}", draft, "draft", None, None))
    if _unchanged(out, rows, previous):  # a resumed run: thumbnails and sheet are there
        return rows + [r for r in previous if r["role"] in DERIVED]
    finals = [r for r in rows if r["role"] in ("hero", "aspect")]
    for row in finals:
        with Image.open(out / row["file"]) as im:
            thumb = im.convert("RGB")
        thumb.thumbnail((THUMB, THUMB), Image.Resampling.LANCZOS)
        name = f"thumbs/{Path(row['file']).stem}.jpg"
        rows.append(_write(root, name, _encoded(thumb, "JPEG"), row, "thumbnail"))
    pages = [Image.open(out / r["file"]) for r in rows if r["role"] in ("hero", "aspect", "draft")]
    try:
        sheet = contact_sheet(pages, columns=4, tile=320)
    finally:
        for page in pages:
            page.close()
    rows.append(_write(root, "contact-sheet.png", _encoded(sheet, "PNG"), None, "contact-sheet"))
    return rows


def _unchanged(out: Path, rows: list[dict], previous: list[dict]) -> bool:
    """Whether ``previous`` rows show the same library files and every derived file is
    still there, the size it was."""
    shown = [(r["file"], r["sha256"]) for r in previous if r["role"] not in DERIVED]
    derived = [r for r in previous if r["role"] in DERIVED]
    return (
        bool(derived)
        and shown == [(r["file"], r["sha256"]) for r in rows]
        and all(_size(out / r["file"]) == r["bytes"] for r in derived)
    )


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def read_manifest(out: Path) -> dict[str, list[dict]]:
    """The rows of ``out``'s manifest by SKU (none when there is none or it is unreadable)."""
    try:
        manifest = json.loads((out / "manifest.json").read_text())
        return {s["sku"]: list(s["files"]) for s in manifest["skus"]}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def _copy(
    root: Path, stem: str, asset: Asset, role: str, aspect: str | None, ssim: float | None
) -> dict:
    data = Path(asset.path).read_bytes()
    path = root / f"{stem}{Path(asset.path).suffix}"
    _put(path, data)
    return {
        "sku": root.name,
        "file": f"{root.name}/{path.relative_to(root).as_posix()}",
        "role": role,
        "aspect": aspect or _ratio(asset.width, asset.height),
        "width": asset.width,
        "height": asset.height,
        "bytes": len(data),
        "sha256": asset.sha256,
        "asset_id": asset.id,
        "product_ssim": ssim,
        "record": asset.record,
    }


def _write(root: Path, name: str, data: bytes, of: dict | None, role: str) -> dict:
    path = root / name
    _put(path, data)
    with Image.open(io.BytesIO(data)) as im:
        width, height = im.size
    return {
        "sku": root.name,
        "file": f"{root.name}/{name}",
        "role": role,
        "aspect": of["aspect"] if of else None,
        "width": width,
        "height": height,
        "bytes": len(data),
        "sha256": sha256_bytes(data),
        "asset_id": of["asset_id"] if of else None,  # a thumbnail shows that asset
        "product_ssim": None,
        "record": None,
    }


def _put(path: Path, data: bytes) -> None:
    """Write ``path`` atomically unless it already holds exactly ``data``."""
    try:
        if path.stat().st_size == len(data) and path.read_bytes() == data:
            return
    except FileNotFoundError:
        pass
    try:
        write_atomic(path, data, shared=True)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **({"quality": 85} if fmt == "JPEG" else {}))
    return buf.getvalue()


def _ratio(width: int | None, height: int | None) -> str | None:
    if not width or not height:
        return None
    g = gcd(width, height)
    return f"{width // g}:{height // g}"


def write_manifest(out: Path, report: CatalogueReport) -> None:
    """``manifest.json`` and ``manifest.csv`` for the SKUs run so far."""
    manifest = {
        "skus": [
            {
                "sku": s.sku,
                "line": s.line,
                "problem": s.problem,
                "made": s.made,
                "reused": s.reused,
                "files": s.files,
            }
            for s in report.skus
        ],
        "problems": report.problems,
    }
    _put(out / "manifest.json", json.dumps(manifest, indent=2).encode())
    buf = io.StringIO()
    writer = csv.DictWriter(buf, COLUMNS, lineterminator="\n")
    writer.writeheader()
    for s in report.skus:
        for row in s.files:
            cells = row | {"record": json.dumps(row["record"]) if row["record"] else ""}
            writer.writerow({k: "" if cells[k] is None else cells[k] for k in COLUMNS})
    _put(out / "manifest.csv", buf.getvalue().encode())
