"""The policy where it applies (before any generation), and the hash-chained audit trail."""

from __future__ import annotations

import csv
import getpass
import json
import sqlite3

import pytest
from typer.testing import CliRunner

from cinedraft import Engine, ImageRequest, Settings, VideoRequest
from cinedraft.cli.main import app
from cinedraft.policy import PolicyBlocked, PolicyFileError

POLICY = """
[[rule]]
names = ["Nike"]
action = "block"
kind = "brand"

[[rule]]
names = ["Globex"]
action = "flag"
"""


@pytest.fixture(scope="module")
def policed(tmp_path_factory):
    home = tmp_path_factory.mktemp("policed")
    (home / "policy.toml").write_text(POLICY)
    settings = Settings(home=home, offline=True, device="cpu", provenance=False)
    return Engine(settings, actor="tester")


def _run(home, *args):
    return CliRunner().invoke(app, ["--home", str(home), "--offline", *args])


def test_a_block_refuses_before_any_work_and_is_audited(policed):
    before = len(policed.library.find())
    with pytest.raises(PolicyBlocked, match="'Nike'"):
        policed.generate_image(ImageRequest(prompt="a Nike shoe", steps=1))
    with pytest.raises(PolicyBlocked):
        policed.generate_image(ImageRequest(prompt="a {red|Nike} shoe", template=True, count=2))
    with pytest.raises(PolicyBlocked):
        policed.generate_video(VideoRequest(prompt="a Nike shoe spinning", seconds=1))
    assert len(policed.library.find()) == before
    refused = [e for e in policed.library.audit_entries() if e["action"].startswith("refused")]
    assert [e["action"] for e in refused[-3:]] == ["refused generate"] * 2 + ["refused video"]
    assert refused[-1]["actor"] == "tester" and refused[-1]["policy"]["hits"][0]["name"] == "Nike"


def test_a_flag_runs_and_marks_the_output_and_its_audit_entry(policed):
    out = policed.generate_image(ImageRequest(prompt="a Globex tower", steps=1)).outputs[0]
    assert out.record["policy"]["flagged"] and out.record["policy"]["hits"][0]["name"] == "Globex"
    plain = policed.generate_image(ImageRequest(prompt="a red jar", steps=1)).outputs[0]
    assert "policy" not in plain.record
    assert [a.id for a in policed.library.find(flagged=True)] == [out.asset_id]
    entry = policed.library.audit_entries(flagged=True)[-1]
    assert entry["assets"] == [out.asset_id] and entry["action"] == "generate"
    assert entry["model"] == "builtin" and entry["model_hash"] == out.record["model_hash"]
    assert entry["request_hash"] and not entry["marked"]  # provenance is off here
    shown = _run(policed.settings.home, "library", "show", out.asset_id)
    assert "FLAGGED: flag Globex" in shown.output, shown.output
    listed = _run(policed.settings.home, "library", "list", "--flagged", "--json")
    assert [a["id"] for a in json.loads(listed.stdout)] == [out.asset_id]


def test_a_policy_file_that_cannot_be_read_stops_everything(tmp_path):
    (tmp_path / "policy.toml").write_text("[[rule]]\nnames = ['x']\naction = 'ban'\n")
    engine = Engine(Settings(home=tmp_path, offline=True, device="cpu"))
    for _ in range(2):  # still refused on the second try: never silently unpoliced
        with pytest.raises(PolicyFileError, match="policy.toml line 1"):
            engine.generate_image(ImageRequest(prompt="a red jar", steps=1))
    assert engine.library.find() == []
    res = _run(tmp_path, "generate", "a red jar")
    assert res.exit_code == 2 and res.output.count("error:") == 1, res.output


def test_the_cli_refuses_in_one_line_and_checks_prompts(tmp_path):
    (tmp_path / "policy.toml").write_text(POLICY)
    res = _run(tmp_path, "generate", "a Nike shoe", "--steps", "1")
    assert res.exit_code == 2 and "blocked by the policy: brand 'Nike'" in res.output
    checked = _run(tmp_path, "policy", "check", "a {Globex|Nike} sign", "--template", "--json")
    hits = json.loads(checked.stdout)["hits"]
    assert [(h["action"], h["prompt"]) for h in hits] == [
        ("flag", "a Globex sign"),
        ("block", "a Nike sign"),
    ]


def _tamper(library, sql, *params):
    """What someone with the database file could do: drop the guards, change rows."""
    conn = sqlite3.connect(library.root / "library.db")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def test_the_chain_finds_a_deleted_an_edited_and_a_moved_entry(tmp_path):
    from cinedraft.library import Library
    from cinedraft.library.audit import AuditEntry

    def fresh(name):
        library = Library(tmp_path / name, provenance=False)
        for i in range(4):
            library.audit(AuditEntry(at=f"2026-01-0{i + 1}T00:00:00Z", actor="a", action="x"))
        assert library.audit_verify() == (4, [])
        return library

    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        fresh("guarded").conn.execute("UPDATE audit SET actor = 'b' WHERE seq = 2")
    deleted = fresh("deleted")
    _tamper(deleted, "DELETE FROM audit WHERE seq = 2")
    assert deleted.audit_verify()[1] == ["entries 2..2 are missing (deleted)"]
    edited = fresh("edited")
    _tamper(edited, "UPDATE audit SET actor = 'someone else' WHERE seq = 3")
    assert edited.audit_verify()[1] == ["entry 3 was changed after it was written"]
    moved = fresh("moved")
    _tamper(moved, "UPDATE audit SET seq = 10 WHERE seq = 2")
    _tamper(moved, "UPDATE audit SET seq = 2 WHERE seq = 3")
    _tamper(moved, "UPDATE audit SET seq = 3 WHERE seq = 10")
    assert "entry 2 does not follow entry 1 (moved or replaced)" in moved.audit_verify()[1]
    kept = fresh("pruned")
    assert kept.audit_prune("2026-01-03T00:00:00Z") == 2
    assert kept.audit_verify() == (2, [])
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        kept.conn.execute("DELETE FROM audit WHERE seq = 4")


def test_export_round_trips_and_fails_before_reading_when_it_cannot_write(policed, tmp_path):
    home = policed.settings.home
    rows = policed.library.audit_entries()
    res = _run(home, "audit", "export", "--out", str(tmp_path / "a.jsonl"))
    assert res.exit_code == 0, res.output
    lines = (tmp_path / "a.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == rows
    res = _run(home, "audit", "export", "--out", str(tmp_path / "a.csv"), "--format", "csv")
    with open(tmp_path / "a.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["hash"] for r in table] == [r["hash"] for r in rows]
    assert json.loads(table[-1]["assets"]) == rows[-1]["assets"]
    bad = _run(home, "audit", "export", "--out", str(tmp_path / "no" / "such" / "dir.jsonl"))
    assert bad.exit_code == 2 and "cannot write" in bad.output
    verified = _run(home, "audit", "verify")
    assert verified.exit_code == 0 and f"{len(rows)} entries" in verified.output


def test_a_policy_that_flags_faces_checks_every_output_and_signs_what_it_found(tmp_path):
    """The check runs on every output (recorded, signed, even when it finds nothing), and a
    face flags the output."""
    from PIL import Image
    from skimage import data

    (tmp_path / "policy.toml").write_text("flag_faces = true\n")
    engine = Engine(Settings(home=tmp_path, offline=True, device="cpu"))
    out = engine.generate_image(ImageRequest(prompt="a red jar", steps=1)).outputs[0]
    assert out.record["policy"] == {"flagged": False, "hits": [], "faces": 0}
    assert engine.library.verify(out.path).manifest["policy"]["faces"] == 0
    face = engine.guard.faces(None, [Image.fromarray(data.astronaut())])
    assert face["flagged"] and face["faces"] == 1 and face["hits"][0]["kind"] == "person"


def test_the_face_detector_finds_a_face_and_nothing_in_photos_without_one():
    from PIL import Image
    from skimage import data

    from cinedraft.quality.faces import find_faces

    assert len(find_faces(Image.fromarray(data.astronaut()))) == 1
    for name in ("chelsea", "coffee", "rocket", "immunohistochemistry", "retina"):
        assert find_faces(Image.fromarray(getattr(data, name)()[..., :3])) == [], name
    x, y, w, h = find_faces(Image.fromarray(data.astronaut()).resize((1024, 1024)))[0]
    assert 300 < x < 420 and 100 < y < 200 and w > 150  # found at full size, in its pixels


def test_retention_prunes_old_entries_as_new_ones_are_written(tmp_path):
    from cinedraft.library.audit import AuditEntry

    settings = Settings(home=tmp_path, offline=True, device="cpu", audit_retention_days=30)
    engine = Engine(settings)
    engine.library.audit(AuditEntry(at="2020-01-01T00:00:00Z", actor="old", action="generate"))
    engine.generate_image(ImageRequest(prompt="a red jar", steps=1))
    entries = engine.library.audit_entries()
    assert [(e["actor"], e["action"]) for e in entries] == [(getpass.getuser(), "generate")]
    assert engine.library.audit_verify() == (1, [])  # anchored at the pruned entry
