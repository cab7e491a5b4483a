"""The audit trail's SQL: append a hash-chained entry, list, verify the chain, prune by age.

An entry's hash is SHA-256 over the previous entry's hash and the entry's own fields (its
sequence number included) in canonical JSON; the first entry follows 64 zeros, or the
anchor retention leaves. A deleted row breaks the sequence and the next row's ``prev``; an
edited row no longer matches its hash; two rows swapped no longer match theirs.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import asdict, dataclass, field

GENESIS = "0" * 64
FIELDS = (
    "seq",
    "at",
    "actor",
    "action",
    "request_hash",
    "assets",
    "model",
    "model_hash",
    "policy",
    "flagged",
    "marked",
)


@dataclass
class AuditEntry:
    """What one audit row says (``seq``, ``prev`` and ``hash`` are the chain's)."""

    at: str
    actor: str
    action: str  # generate, promote, video, extend, refused...
    assets: list[str] = field(default_factory=list)
    request_hash: str | None = None
    model: str | None = None
    model_hash: str | None = None
    policy: dict | None = None
    flagged: bool = False
    marked: bool = False


def entry_hash(prev: str, row: dict) -> str:
    body = json.dumps({k: row[k] for k in FIELDS}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def append(conn: sqlite3.Connection, entry: AuditEntry) -> int:
    """Add ``entry`` at the end of the chain (inside the caller's lock); its seq."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        last = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
        if last is None:
            last = conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        row = _stored(asdict(entry)) | {"seq": seq}
        row["hash"], row["prev"] = entry_hash(prev, row), prev
        names = (*FIELDS, "prev", "hash")
        conn.execute(
            f"INSERT INTO audit ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
            [row[k] for k in names],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return seq


def _stored(entry: dict) -> dict:
    """The entry as its row holds it (JSON text for lists and dicts, 0/1 for flags)."""
    return entry | {
        "assets": json.dumps(entry["assets"]),
        "policy": json.dumps(entry["policy"], sort_keys=True) if entry["policy"] else None,
        "flagged": int(entry["flagged"]),
        "marked": int(entry["marked"]),
    }


def rows(
    conn: sqlite3.Connection,
    since: str | None = None,
    actor: str | None = None,
    flagged: bool = False,
) -> list[dict]:
    """Entries in order, filtered; JSON columns decoded."""
    where, params = [], []
    if since:
        where.append("at >= ?")
        params.append(since)
    if actor:
        where.append("actor = ?")
        params.append(actor)
    if flagged:
        where.append("flagged = 1")
    sql = "SELECT * FROM audit" + (f" WHERE {' AND '.join(where)}" if where else "")
    found = []
    for row in conn.execute(sql + " ORDER BY seq", params):
        item = dict(row)
        item["assets"] = json.loads(item["assets"])
        item["policy"] = json.loads(item["policy"]) if item["policy"] else None
        item["flagged"], item["marked"] = bool(item["flagged"]), bool(item["marked"])
        found.append(item)
    return found


def verify(conn: sqlite3.Connection) -> tuple[int, list[str]]:
    """(entries checked, problems): every break in the chain, one line each."""
    anchor = conn.execute("SELECT seq, hash FROM audit_anchor WHERE id = 1").fetchone()
    seq, prev = (anchor["seq"], anchor["hash"]) if anchor else (0, GENESIS)
    problems, count = [], 0
    for row in conn.execute("SELECT * FROM audit ORDER BY seq"):
        count += 1
        row = dict(row)
        if row["seq"] != seq + 1:
            problems.append(f"entries {seq + 1}..{row['seq'] - 1} are missing (deleted)")
        elif row["prev"] != prev:
            problems.append(f"entry {row['seq']} does not follow entry {seq} (moved or replaced)")
        if entry_hash(row["prev"], row) != row["hash"]:
            problems.append(f"entry {row['seq']} was changed after it was written")
        seq, prev = row["seq"], row["hash"]
    return count, problems


def prune(conn: sqlite3.Connection, before: str) -> int:
    """Delete entries older than ``before`` (ISO time), anchoring the chain at the last one
    deleted so the rest still verifies; how many were deleted."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        last = conn.execute(
            "SELECT seq, hash FROM audit WHERE at < ? ORDER BY seq DESC LIMIT 1", (before,)
        ).fetchone()
        if last is None:
            conn.execute("COMMIT")
            return 0
        conn.execute(
            "INSERT INTO audit_anchor (id, seq, hash) VALUES (1, ?, ?) "
            "ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
            (last["seq"], last["hash"]),
        )
        deleted = conn.execute("DELETE FROM audit WHERE seq <= ?", (last["seq"],)).rowcount
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return deleted
