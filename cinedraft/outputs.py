"""The output folder: every generated file plus a JSON record beside it, found by asset id.

Layout: ``<root>/<YYYY-MM-DD>/<asset-id>.<ext>`` and ``<asset-id>.json``. The image is
written (atomically) before its record, so a record always points at a complete file.
The library (SQLite + provenance) takes this role over when it lands.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
from pathlib import Path

from PIL import Image

from .errors import AssetNotFoundError, InputError, OutputError
from .render.encode import FORMATS, encode_image, write_atomic

_ASSET_ID = re.compile(r"^[0-9a-f]{12}$")


class OutputFolder:
    """Writes outputs under ``root`` and finds them again by asset id."""

    def __init__(self, root: Path):
        self.root = Path(root)

    @staticmethod
    def new_id() -> str:
        return secrets.token_hex(6)

    def save(self, image: Image.Image, record: dict, fmt: str, quality: int) -> Path:
        """Encode ``image`` with ``record`` embedded, write it, then the JSON record.

        Adds ``record["file"]`` (path, format, bytes, sha256) before the JSON is written.
        """
        folder = self.root / dt.date.today().isoformat()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            data = encode_image(image, record, fmt, quality)
            path = folder / f"{record['asset_id']}{FORMATS[fmt]}"
            write_atomic(path, data)
            record["file"] = {
                "path": str(path),
                "format": fmt,
                "bytes": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
            }
            write_atomic(path.with_suffix(".json"), json.dumps(record, indent=2).encode())
        except OSError as exc:
            raise OutputError(f"cannot write to {self.root}: {exc.strerror or exc}") from None
        return path

    def find(self, asset_id: str) -> dict:
        """The record of ``asset_id``; its ``file.path`` is the image."""
        if not _ASSET_ID.match(asset_id):
            raise InputError(f"{asset_id!r} is not an asset id (12 hex digits)")
        for record_file in sorted(self.root.glob(f"*/{asset_id}.json")):
            return json.loads(record_file.read_text())
        raise AssetNotFoundError(f"no output with asset id {asset_id} under {self.root}")
