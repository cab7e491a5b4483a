"""Opening the library database: WAL, synchronous=FULL, foreign keys, numbered migrations.

Migrations are ``migrations/NNN_name.sql``, applied in order inside one transaction each;
``PRAGMA user_version`` holds the number of the last one applied.
"""

from __future__ import annotations

import re
import sqlite3
from importlib import resources
from pathlib import Path

from ..errors import OutputError

_MIGRATION = re.compile(r"^(\d{3})_\w+\.sql$")


def migrations() -> list[tuple[int, str]]:
    """``(number, sql)`` for every shipped migration, in order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        if m := _MIGRATION.match(entry.name):
            found.append((int(m.group(1)), entry.read_text()))
    return sorted(found)


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the library's pragmas, migrated to the newest schema."""
    try:
        conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except sqlite3.DatabaseError as exc:
        raise OutputError(f"cannot open the library database {path}: {exc}") from None
    return conn


def migrate(conn: sqlite3.Connection) -> int:
    """Apply the migrations newer than the database; returns the schema version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, sql in migrations():
        if number <= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        # another process may have applied it while this one waited for the write lock (two
        # commands opening a new library at once): read the version again under the lock
        if conn.execute("PRAGMA user_version").fetchone()[0] >= number:
            conn.execute("COMMIT")
            version = number
            continue
        try:
            # executescript would COMMIT first; run statement by statement instead.
            for statement in _statements(sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        version = number
    return version


def _statements(sql: str) -> list[str]:
    """Split a script into complete statements (triggers hold ';' inside BEGIN...END)."""
    statements, current = [], ""
    for line in sql.splitlines(keepends=True):
        if line.lstrip().startswith("--") and not current:
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    return [s for s in statements if s]
