"""What a record must hold before any of it becomes a library row, and claims.

Every row goes through :func:`row_fields`: a record the library wrote itself (a new output, a
crash's leftover being adopted) is validated against :class:`RowFields` in strict mode, so a
list where a string belongs, an id that is not 12 hex digits or a date that is not a date is
refused as :class:`InputError` before SQL sees it.

A file from outside is never trusted to name the library's own fields (id, kind, tier, job,
dates): :func:`claim_of` keeps what its embedded record says as a *claim*, checked against
the same schema and stored beside the problems found, shown as such.

The typed records themselves, their versions and upgrades are in :mod:`cinedraft.record`.
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InputError
from ..ids import ASSET_ID_PATTERN, ISO_TIME_PATTERN, JOB_ID_PATTERN
from ..record import Parent

MAX_CLAIM_BYTES = 256 * 1024  # an embedded record larger than this is not kept
_TEXT = 100_000  # a prompt longer than this is not a prompt
_INT64 = 2**63 - 1


class RowFields(BaseModel):
    """The fields of a record that become columns of its row (the rest stays in the JSON)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    asset_id: str = Field(pattern=ASSET_ID_PATTERN)
    kind: str = Field("image", min_length=1, max_length=32)
    tier: str | None = Field(None, max_length=32)
    model: str | None = Field(None, max_length=4096)
    prompt: str | None = Field("", max_length=_TEXT)
    negative_prompt: str | None = Field("", max_length=_TEXT)
    seed: int | None = Field(None, ge=-_INT64, le=_INT64)
    created: str | None = Field(None, pattern=ISO_TIME_PATTERN)
    width: int | None = Field(None, ge=1, le=1 << 16)
    height: int | None = Field(None, ge=1, le=1 << 16)
    job_id: str | None = Field(None, pattern=JOB_ID_PATTERN)
    parents: list[Parent] = []


def problems_of(record: object) -> list[str]:
    """Why ``record`` is not a valid record, one line per problem (empty when it is)."""
    if not isinstance(record, dict):
        return [f"the record is a JSON {type(record).__name__}, not an object"]
    try:
        RowFields.model_validate(record)
    except ValidationError as exc:
        return [
            f"{'.'.join(str(p) for p in e['loc']) or 'record'}: {e['msg']}" for e in exc.errors()
        ]
    return []


def row_fields(record: dict) -> RowFields:
    """The validated row fields of a record, or :class:`InputError` naming the first problem."""
    problems = problems_of(record)
    if problems:
        raise InputError(f"invalid record: {problems[0]}")
    return RowFields.model_validate(record)


def claim_of(embedded: object) -> dict | None:
    """What an outside file's embedded record claims, checked against the schema.

    ``{"record": ..., "valid": bool, "problems": [...]}``; None when the file has no record.
    """
    if embedded is None:
        return None
    size = len(json.dumps(embedded))
    if size > MAX_CLAIM_BYTES:
        return {
            "record": None,
            "valid": False,
            "problems": [
                f"the embedded record is {size:,} bytes (at most {MAX_CLAIM_BYTES:,} kept)"
            ],
        }
    problems = problems_of(embedded)
    return {"record": embedded, "valid": not problems, "problems": problems}


def made_with_claim(made: dict | None) -> dict | None:
    """Another tool's claim as kept: None when there is none or when it is larger than an
    embedded record may be (its prompt still indexed then would be a search for noise)."""
    if made is None or len(json.dumps(made)) > MAX_CLAIM_BYTES:
        return None
    return made


def claimed_prompt(claim: dict | None) -> str:
    """The prompt a valid claim names (indexed for search: search is over what files say)."""
    if claim and claim["valid"]:
        return claim["record"].get("prompt") or ""
    return ""
