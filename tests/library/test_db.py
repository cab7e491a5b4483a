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


def test_processes_opening_a_new_library_at_once_migrate_it_once(tmp_path, monkeypatch):
    """Two commands opening a new library together (a server and a CLI command, a catalogue
    run and its watcher): the second waits for the write lock, and must then see that the
    first applied the migrations, not apply them again ("duplicate column name")."""
    import cinedraft.library.db as db

    shipped = db.migrations()
    path = tmp_path / "l.db"
    first = sqlite3.connect(path, isolation_level=None)  # reads version 0, then waits...

    def meanwhile():  # ...while another process migrates the whole schema
        monkeypatch.setattr(db, "migrations", lambda: shipped)
        connect(path).close()
        return shipped

    monkeypatch.setattr(db, "migrations", meanwhile)
    assert db.migrate(first) == shipped[-1][0]
    assert first.execute("PRAGMA user_version").fetchone()[0] == shipped[-1][0]
    first.close()
