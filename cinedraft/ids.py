"""Identifiers and timestamps: the one place their shapes are written down.

Asset ids are 12 hex digits, job ids 16; times are UTC, to the second, ``Z``-suffixed (they
sort as text, which the library's ``--since``/``--until`` filters rely on).
"""

from __future__ import annotations

import datetime as dt
import re
import secrets

from .errors import InputError

ASSET_ID_PATTERN = r"^[0-9a-f]{12}$"
JOB_ID_PATTERN = r"^[0-9a-f]{16}$"
ISO_TIME_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
ASSET_ID = re.compile(ASSET_ID_PATTERN)


def new_asset_id() -> str:
    return secrets.token_hex(6)


def new_job_id() -> str:
    return secrets.token_hex(8)


def utc_now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_asset_id(asset_id: str) -> str:
    """``asset_id`` if it is one, else :class:`InputError`."""
    if not isinstance(asset_id, str) or not ASSET_ID.match(asset_id):
        raise InputError(f"{asset_id!r} is not an asset id (12 hex digits)")
    return asset_id
