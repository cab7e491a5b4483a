"""All of cluster mode's SQL: a job's parts and their leases, and the workers the head saw
(migration 008). Functions take a connection and plain values, return dicts.

A part is some images of one job. It is ``queued`` until the head leases it to a worker
(``leased``, with a deadline the worker's heartbeat pushes back), then ``done`` (its assets
stored) or, after too many attempts, ``failed``. A lease that expires, or whose worker died,
puts the part back in the queue.
"""

from __future__ import annotations

import json
import sqlite3

_PART_JSON = ("prompts", "seeds", "outputs")


def _part(row: sqlite3.Row) -> dict:
    out = dict(row)
    for key in _PART_JSON:
        out[key] = json.loads(out[key]) if out[key] else None
    return out


def split(conn: sqlite3.Connection, job_id: str, groups: list[tuple[list[str], list[int]]]):
    """Store a job's parts, ``(prompts, seeds)`` each, unless it has parts already."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if conn.execute("SELECT 1 FROM job_parts WHERE job_id = ?", (job_id,)).fetchone() is None:
            conn.executemany(
                "INSERT INTO job_parts (job_id, part, prompts, seeds) VALUES (?, ?, ?, ?)",
                [
                    (job_id, i, json.dumps(prompts), json.dumps(seeds))
                    for i, (prompts, seeds) in enumerate(groups)
                ],
            )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def parts_of(conn: sqlite3.Connection, job_id: str) -> list[dict]:
    rows = conn.execute("SELECT * FROM job_parts WHERE job_id = ? ORDER BY part", (job_id,))
    return [_part(r) for r in rows]


def part_of(conn: sqlite3.Connection, job_id: str, part: int) -> dict | None:
    row = conn.execute(
        "SELECT * FROM job_parts WHERE job_id = ? AND part = ?", (job_id, part)
    ).fetchone()
    return _part(row) if row else None


def queued_parts(conn: sqlite3.Connection) -> list[dict]:
    """Queued parts of running jobs, most urgent first: the job's priority, then its age,
    then the part's place (the queue's own order, so drafts still go first)."""
    rows = conn.execute(
        "SELECT p.*, j.priority FROM job_parts p JOIN jobs j ON j.id = p.job_id "
        "WHERE p.state = 'queued' AND j.state = 'running' "
        "ORDER BY j.priority, j.rowid, p.part"
    )
    return [_part(r) for r in rows]


def lease(conn: sqlite3.Connection, job_id: str, part: int, worker: str, until: float) -> bool:
    """Lease a queued part to ``worker`` until ``until``; False if it was not queued."""
    cur = conn.execute(
        "UPDATE job_parts SET state = 'leased', worker = ?, lease_until = ?, "
        "attempts = attempts + 1 WHERE job_id = ? AND part = ? AND state = 'queued'",
        (worker, until, job_id, part),
    )
    return cur.rowcount == 1


def renew(conn: sqlite3.Connection, worker: str, until: float) -> None:
    """A heartbeat: push back the deadline of every lease ``worker`` holds."""
    conn.execute(
        "UPDATE job_parts SET lease_until = ? WHERE worker = ? AND state = 'leased'",
        (until, worker),
    )


def release(
    conn: sqlite3.Connection,
    job_id: str,
    part: int,
    error: str | None = None,
    refund: bool = False,
) -> None:
    """Put a leased part back in the queue (its worker died, hung or sent garbage);
    ``refund``: the lease does not count as an attempt (the worker lacked the model)."""
    conn.execute(
        "UPDATE job_parts SET state = 'queued', lease_until = NULL, error = ?, "
        "attempts = attempts - ? WHERE job_id = ? AND part = ? AND state = 'leased'",
        (error, int(refund), job_id, part),
    )


def expired(conn: sqlite3.Connection, now: float) -> list[dict]:
    """Leased parts whose deadline passed."""
    rows = conn.execute(
        "SELECT * FROM job_parts WHERE state = 'leased' AND lease_until < ?", (now,)
    )
    return [_part(r) for r in rows]


def release_all(conn: sqlite3.Connection) -> int:
    """At a head's start: every lease belonged to the head that died, so all go back."""
    cur = conn.execute(
        "UPDATE job_parts SET state = 'queued', lease_until = NULL WHERE state = 'leased'"
    )
    return cur.rowcount


def complete(conn: sqlite3.Connection, job_id: str, part: int, outputs: list[str]) -> None:
    conn.execute(
        "UPDATE job_parts SET state = 'done', outputs = ?, lease_until = NULL, error = NULL "
        "WHERE job_id = ? AND part = ?",
        (json.dumps(outputs), job_id, part),
    )


def fail(conn: sqlite3.Connection, job_id: str, part: int | None, error: str) -> None:
    """Fail one part, or (``part`` None) every part of the job not yet done."""
    sql = "UPDATE job_parts SET state = 'failed', error = ?, lease_until = NULL WHERE job_id = ?"
    if part is None:
        conn.execute(f"{sql} AND state != 'done'", (error, job_id))
    else:
        conn.execute(f"{sql} AND part = ?", (error, job_id, part))


def stored_parts(conn: sqlite3.Connection, job_id: str) -> dict[int, list[str]]:
    """The assets already stored for each part of a job, from the library itself (a head that
    died between storing a part and marking it done must not make it twice)."""
    rows = conn.execute(
        "SELECT json_extract(record, '$.job_part'), id FROM assets "
        "WHERE job_id = ? AND json_extract(record, '$.job_part') IS NOT NULL ORDER BY seq",
        (job_id,),
    )
    found: dict[int, list[str]] = {}
    for part, asset_id in rows:
        found.setdefault(int(part), []).append(asset_id)
    return found


# ---------------------------------------------------------------------- workers


def save_worker(conn: sqlite3.Connection, row: dict) -> None:
    """Insert or update one worker's row (``row`` holds the table's columns)."""
    row = row | {"models": json.dumps(row.get("models", []))}
    keys = list(row)
    conn.execute(
        f"INSERT INTO cluster_workers ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))}) "
        f"ON CONFLICT (name) DO UPDATE SET "
        + ", ".join(f"{k} = excluded.{k}" for k in keys if k != "name"),
        [row[k] for k in keys],
    )


def workers(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute("SELECT * FROM cluster_workers ORDER BY state = 'gone', name")
    return [dict(r) | {"models": json.loads(r["models"])} for r in rows]


def workers_gone(conn: sqlite3.Connection, note: str) -> None:
    """A head starts: the workers an earlier head saw are gone until seen again."""
    conn.execute(
        "UPDATE cluster_workers SET state = 'gone', lease = NULL, note = ? "
        "WHERE state NOT IN ('gone', 'refused')",
        (note,),
    )


def set_job_worker(conn: sqlite3.Connection, job_id: str, worker: str) -> None:
    conn.execute("UPDATE jobs SET worker = ? WHERE id = ?", (worker, job_id))


def next_priority(conn: sqlite3.Connection, kinds: tuple[str, ...]) -> int | None:
    """The priority of the most urgent queued job of ``kinds`` (None: none queued)."""
    marks = ", ".join("?" * len(kinds))
    row = conn.execute(
        f"SELECT min(priority) FROM jobs WHERE state = 'queued' AND kind IN ({marks})", kinds
    ).fetchone()
    return row[0]
