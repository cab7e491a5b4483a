import sqlite3

from cinedraft.library.db import _statements, connect, migrations


def test_connection_uses_wal_full_sync_and_foreign_keys(tmp_path):
    conn = connect(tmp_path / "l.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migrations_are_numbered_and_applied_once(tmp_path):
    numbers = [n for n, _ in migrations()]
    assert numbers == sorted(set(numbers)) and numbers[0] == 1
    connect(tmp_path / "l.db").close()
    conn = connect(tmp_path / "l.db")  # second open: nothing re-applied, no error
    assert conn.execute("PRAGMA user_version").fetchone()[0] == numbers[-1]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"assets", "lineage", "tags", "pending", "assets_fts"} <= tables


def test_statement_splitter_keeps_trigger_bodies_whole():
    sql = (
        "-- c\nCREATE TABLE t (a);\nCREATE TRIGGER x AFTER INSERT ON t BEGIN\n"
        " SELECT 1;\n SELECT 2;\nEND;\n"
    )
    parts = _statements(sql)
    assert len(parts) == 2 and parts[1].startswith("CREATE TRIGGER") and parts[1].endswith("END;")
    assert all(sqlite3.complete_statement(p) for p in parts)
