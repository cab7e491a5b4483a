"""All of the library's SQL. Functions take a connection and plain values, return dicts.

Search keeps common words fast at millions of rows: the default order is newest first,
which FTS5 answers by walking the term's doclist backwards and stopping at ``LIMIT``;
relevance (bm25) ranks only the newest :data:`RANK_WINDOW` matches, so its cost is bounded
however common the term is.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator

RANK_WINDOW = 5000
_COLUMNS = (
    "id",
    "kind",
    "tier",
    "model",
    "prompt",
    "negative_prompt",
    "seed",
    "created",
    "width",
    "height",
    "mime",
    "path",
    "sha256",
    "bytes",
    "job_id",
    "record",
)
_INSERT = f"INSERT INTO assets ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"
_SORTS = {
    "newest": "a.seq DESC",
    "oldest": "a.seq ASC",
    "rating": "a.rating DESC, a.seq DESC",
}


def _metric_order(name: str, higher_first: bool) -> str:
    """ORDER BY a stored metric, best first; assets without it last. ``name`` is checked by
    the caller against the known metric names (it is not user text by then)."""
    value = f"(SELECT m.value FROM metrics m WHERE m.asset_id = a.id AND m.name = '{name}')"
    return f"{value} IS NULL, {value} {'DESC' if higher_first else 'ASC'}, a.seq DESC"


def _row(row: sqlite3.Row | None) -> dict | None:
    if row is None:
        return None
    out = dict(row)
    out["record"] = json.loads(out["record"])
    out["favourite"] = bool(out["favourite"])
    return out


def add_pending(conn: sqlite3.Connection, paths: list[str], started: str, owner: str) -> None:
    """Note files as pending for ``owner``, all in one transaction (one commit, however many)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(
            "INSERT OR REPLACE INTO pending (path, started, owner) VALUES (?, ?, ?)",
            [(path, started, owner) for path in paths],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def remove_pending(conn: sqlite3.Connection, paths: list[str]) -> None:
    conn.executemany("DELETE FROM pending WHERE path = ?", [(path,) for path in paths])


def pending_paths(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute("SELECT path FROM pending ORDER BY started")]


def pending_notes(conn: sqlite3.Connection) -> list[tuple[str, str | None]]:
    """``(path, owner)`` of every pending note, oldest first (owner None: written before 005)."""
    return [(r[0], r[1]) for r in conn.execute("SELECT path, owner FROM pending ORDER BY started")]


def add_quarantined(conn: sqlite3.Connection, name: str, reason: str, at: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO quarantine (name, reason, at) VALUES (?, ?, ?)", (name, reason, at)
    )


def quarantined(conn: sqlite3.Connection) -> dict[str, str]:
    """File name in lost+found -> why it was set aside."""
    return {r[0]: r[1] for r in conn.execute("SELECT name, reason FROM quarantine ORDER BY at")}


def insert_asset(
    conn: sqlite3.Connection,
    asset: dict,
    parents: Iterable[tuple[str, str]],
    metrics: dict[str, float] | None = None,
) -> None:
    """One asset through :func:`insert_assets`."""
    insert_assets(conn, [(asset, parents, metrics)])


def insert_assets(
    conn: sqlite3.Connection,
    items: list[tuple[dict, Iterable[tuple[str, str]], dict[str, float] | None]],
) -> None:
    """Insert ``(asset row, parents, metrics)`` items with their lineage and metrics, and
    clear their pending notes, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for asset, parents, metrics in items:
            conn.execute(_INSERT, _values(asset))
            conn.executemany(
                "INSERT OR IGNORE INTO lineage (child, parent, role) VALUES (?, ?, ?)",
                [(asset["id"], parent, role) for parent, role in parents],
            )
            conn.executemany(
                "INSERT INTO metrics (asset_id, name, value) VALUES (?, ?, ?)",
                [(asset["id"], name, value) for name, value in (metrics or {}).items()],
            )
            conn.execute("DELETE FROM pending WHERE path = ?", (asset["path"],))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _values(asset: dict) -> list:
    return [
        asset.get(c) if c != "record" else json.dumps(asset[c], sort_keys=True) for c in _COLUMNS
    ]


def insert_many(conn: sqlite3.Connection, assets: list[dict]) -> None:
    """Bulk insert without lineage (benchmarks and imports of many records)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(_INSERT, [_values(a) for a in assets])
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def get_asset(conn: sqlite3.Connection, asset_id: str) -> dict | None:
    return _row(conn.execute("SELECT * FROM assets WHERE id = ?", (asset_id,)).fetchone())


def asset_by_sha(conn: sqlite3.Connection, sha256: str) -> dict | None:
    return _row(conn.execute("SELECT * FROM assets WHERE sha256 = ?", (sha256,)).fetchone())


def find_assets(
    conn: sqlite3.Connection,
    *,
    text: str | None = None,
    since: str | None = None,
    until: str | None = None,
    kind: str | None = None,
    tier: str | None = None,
    model: str | None = None,
    tags: tuple[str, ...] = (),
    favourite: bool = False,
    flagged: bool = False,
    min_rating: int = 0,
    sort: str = "newest",
    limit: int = 50,
    offset: int = 0,
    metric_orders: dict[str, bool] | None = None,
) -> list[dict]:
    """Assets matching every given filter; ``text`` is an FTS5 query over the prompts.

    ``sort`` is newest, oldest, rating, relevance, or a key of ``metric_orders`` (metric name
    -> higher is better), which sorts by that stored metric, best first.
    """
    orders = dict(_SORTS)
    orders |= {m: _metric_order(m, hi) for m, hi in (metric_orders or {}).items()}
    where, params = [], []
    if since:
        where.append("a.created >= ?")
        params.append(since)
    if until:
        where.append("a.created < ?")
        params.append(until)
    for column, value in (("kind", kind), ("tier", tier), ("model", model)):
        if value:
            where.append(f"a.{column} = ?")
            params.append(value)
    for tag in tags:
        where.append("EXISTS (SELECT 1 FROM tags t WHERE t.asset_id = a.id AND t.tag = ?)")
        params.append(tag)
    if favourite:
        where.append("a.favourite = 1")
    if flagged:  # the usage policy flagged the prompt (see cinedraft.policy)
        where.append("json_extract(a.record, '$.policy.flagged') = 1")
    if min_rating:
        where.append("a.rating >= ?")
        params.append(min_rating)
    filters = "".join(f" AND {w}" for w in where)
    if not text:
        order = orders.get(sort, orders["newest"])
        sql = f"SELECT a.* FROM assets a WHERE 1{filters} ORDER BY {order}"
        rows = conn.execute(f"{sql} LIMIT ? OFFSET ?", (*params, limit, offset)).fetchall()
        return [_row(r) for r in rows]
    if sort == "relevance":
        return _ranked(conn, text, filters, params, limit, offset)
    order = {"oldest": "f.rowid ASC", "newest": "f.rowid DESC"}.get(sort) or orders.get(
        sort, "f.rowid DESC"
    )
    sql = (
        "SELECT a.* FROM assets_fts f JOIN assets a ON a.seq = f.rowid "
        f"WHERE assets_fts MATCH ?{filters} ORDER BY {order} LIMIT ? OFFSET ?"
    )
    rows = conn.execute(sql, (text, *params, limit, offset)).fetchall()
    return [_row(r) for r in rows]


def _ranked(conn, text: str, filters: str, params: list, limit: int, offset: int) -> list[dict]:
    """bm25 order among the newest RANK_WINDOW matches (bounded cost for common terms)."""
    floor = conn.execute(
        "SELECT rowid FROM assets_fts WHERE assets_fts MATCH ?"
        " ORDER BY rowid DESC LIMIT 1 OFFSET ?",
        (text, RANK_WINDOW - 1),
    ).fetchone()
    sql = (
        "SELECT a.* FROM assets_fts f JOIN assets a ON a.seq = f.rowid "
        f"WHERE assets_fts MATCH ? AND f.rowid >= ?{filters} ORDER BY f.rank LIMIT ? OFFSET ?"
    )
    rows = conn.execute(sql, (text, floor[0] if floor else 0, *params, limit, offset)).fetchall()
    return [_row(r) for r in rows]


def metrics_of(conn: sqlite3.Connection, asset_id: str) -> dict[str, float]:
    rows = conn.execute(
        "SELECT name, value FROM metrics WHERE asset_id = ? ORDER BY name", (asset_id,)
    )
    return {name: value for name, value in rows}


def count_assets(conn: sqlite3.Connection) -> int:
    return conn.execute("SELECT count(*) FROM assets").fetchone()[0]


def parents_of(conn: sqlite3.Connection, asset_id: str) -> list[dict]:
    rows = conn.execute("SELECT parent AS id, role FROM lineage WHERE child = ?", (asset_id,))
    return [dict(r) for r in rows]


def children_of(conn: sqlite3.Connection, asset_id: str) -> list[dict]:
    rows = conn.execute(
        "SELECT l.child AS id, l.role FROM lineage l JOIN assets a ON a.id = l.child "
        "WHERE l.parent = ? ORDER BY a.seq",  # oldest first: the order they were made
        (asset_id,),
    )
    return [dict(r) for r in rows]


def metrics_and_tags(
    conn: sqlite3.Connection, ids: list[str]
) -> tuple[dict[str, dict[str, float]], dict[str, list[str]]]:
    """The metrics and tags of many assets in two queries (a listing's, not one per row)."""
    metrics: dict[str, dict[str, float]] = {i: {} for i in ids}
    tags: dict[str, list[str]] = {i: [] for i in ids}
    for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        for asset_id, name, value in conn.execute(
            f"SELECT asset_id, name, value FROM metrics WHERE asset_id IN ({marks}) ORDER BY name",
            chunk,
        ):
            metrics[asset_id][name] = value
        for asset_id, tag in conn.execute(
            f"SELECT asset_id, tag FROM tags WHERE asset_id IN ({marks}) ORDER BY tag", chunk
        ):
            tags[asset_id].append(tag)
    return metrics, tags


def tags_of(conn: sqlite3.Connection, asset_id: str) -> list[str]:
    rows = conn.execute("SELECT tag FROM tags WHERE asset_id = ? ORDER BY tag", (asset_id,))
    return [r[0] for r in rows]


def add_tags(conn: sqlite3.Connection, asset_id: str, tags: Iterable[str]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO tags (asset_id, tag) VALUES (?, ?)", [(asset_id, t) for t in tags]
    )


def remove_tags(conn: sqlite3.Connection, asset_id: str, tags: Iterable[str]) -> None:
    conn.executemany(
        "DELETE FROM tags WHERE asset_id = ? AND tag = ?", [(asset_id, t) for t in tags]
    )


def set_rating(conn: sqlite3.Connection, asset_id: str, rating: int) -> None:
    conn.execute("UPDATE assets SET rating = ? WHERE id = ?", (rating, asset_id))


def set_favourite(conn: sqlite3.Connection, asset_id: str, favourite: bool) -> None:
    conn.execute("UPDATE assets SET favourite = ? WHERE id = ?", (int(favourite), asset_id))


def files(conn: sqlite3.Connection) -> Iterator[tuple[str, str, str, int]]:
    """``(id, path, sha256, bytes)`` of every asset, for integrity checks."""
    yield from conn.execute("SELECT id, path, sha256, bytes FROM assets ORDER BY seq")


def assets_of_job(conn: sqlite3.Connection, job_id: str) -> list[str]:
    """Ids of the assets a server job stored (their record names the job): the queue's
    recovery reads the library through this."""
    rows = conn.execute("SELECT id FROM assets WHERE job_id = ? ORDER BY seq", (job_id,))
    return [r[0] for r in rows]


def catalogue_outputs(conn: sqlite3.Connection, prefix: str) -> dict[str, list[str]]:
    """Ids of the assets whose record's ``catalogue.key`` starts with ``prefix``, by key,
    oldest first (a range on the key's index, not a scan)."""
    key = "json_extract(record, '$.catalogue.key')"
    rows = conn.execute(
        f"SELECT id, {key} FROM assets WHERE {key} IS NOT NULL AND {key} >= ? AND {key} < ? "
        "ORDER BY seq",
        (prefix, prefix + "\uffff"),
    )
    found: dict[str, list[str]] = {}
    for asset_id, k in rows:
        found.setdefault(k, []).append(asset_id)
    return found
