"""All of the job queue's SQL (the ``jobs`` table of the library database, migration 003).
Functions take a connection and plain values, return dicts."""

from __future__ import annotations

import json
import sqlite3


_JOB_JSON = ("request", "result", "progress")


def _job(row: sqlite3.Row | None) -> dict | None:
    if row is None:
        return None
    out = dict(row)
    for key in _JOB_JSON:
        out[key] = json.loads(out[key]) if out[key] else None
    out["cancel"] = bool(out["cancel"])
    return out


def insert_job(conn: sqlite3.Connection, job: dict, max_queued: int) -> tuple[dict, bool]:
    """Insert a queued job unless its idempotency key exists (then return that one).
    Returns ``(job, created)``; ``created`` is None when the queue is full."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        if job.get("idem_key"):
            row = conn.execute(
                "SELECT * FROM jobs WHERE idem_key = ?", (job["idem_key"],)
            ).fetchone()
            if row is not None:
                conn.execute("COMMIT")
                return _job(row), False
        queued = conn.execute("SELECT count(*) FROM jobs WHERE state = 'queued'").fetchone()[0]
        if queued >= max_queued:
            conn.execute("COMMIT")
            return None, None
        conn.execute(
            "INSERT INTO jobs (id, kind, priority, state, request, idem_key, created, actor) "
            "VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
            (
                job["id"],
                job["kind"],
                job["priority"],
                json.dumps(job["request"]),
                job.get("idem_key"),
                job["created"],
                job.get("actor"),
            ),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return get_job(conn, job["id"]), True


def get_job(conn: sqlite3.Connection, job_id: str) -> dict | None:
    return _job(conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone())


def list_jobs(conn: sqlite3.Connection, state: str | None = None, limit: int = 100) -> list[dict]:
    sql, params = "SELECT * FROM jobs", []
    if state:
        sql, params = sql + " WHERE state = ?", [state]
    rows = conn.execute(f"{sql} ORDER BY rowid DESC LIMIT ?", (*params, limit))
    return [_job(r) for r in rows]


def claim_job(conn: sqlite3.Connection, kinds: tuple[str, ...], now: str) -> dict | None:
    """Atomically move the most urgent queued job of ``kinds`` to running."""
    marks = ", ".join("?" * len(kinds))
    row = conn.execute(
        f"UPDATE jobs SET state = 'running', started = ?, attempts = attempts + 1 "
        f"WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND kind IN ({marks}) "
        f"ORDER BY priority, rowid LIMIT 1) RETURNING *",  # rowid: submission order
        (now, *kinds),
    ).fetchone()
    return _job(row)


def finish_job(
    conn: sqlite3.Connection,
    job_id: str,
    state: str,
    now: str,
    result: dict | None = None,
    error: str | None = None,
    progress: dict | None = None,
    worker: str | None = None,
) -> None:
    """End a running job (a job ends once: later calls change nothing)."""
    conn.execute(
        "UPDATE jobs SET state = ?, result = ?, error = ?, finished = ?,"
        " progress = coalesce(?, progress), worker = coalesce(?, worker) "
        "WHERE id = ? AND state = 'running'",
        (
            state,
            json.dumps(result) if result is not None else None,
            error,
            now,
            json.dumps(progress) if progress is not None else None,
            worker,
            job_id,
        ),
    )


def cancel_job(conn: sqlite3.Connection, job_id: str, now: str) -> str | None:
    """Cancel a queued job at once, or flag a running one; returns the state after."""
    conn.execute(
        "UPDATE jobs SET state = 'cancelled', finished = ? WHERE id = ? AND state = 'queued'",
        (now, job_id),
    )
    conn.execute("UPDATE jobs SET cancel = 1 WHERE id = ? AND state = 'running'", (job_id,))
    row = conn.execute("SELECT state FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0] if row else None


def running_jobs(conn: sqlite3.Connection) -> list[dict]:
    return [_job(r) for r in conn.execute("SELECT * FROM jobs WHERE state = 'running'")]


def requeue_job(conn: sqlite3.Connection, job_id: str) -> None:
    conn.execute(
        "UPDATE jobs SET state = 'queued', started = NULL, progress = NULL WHERE id = ?", (job_id,)
    )
