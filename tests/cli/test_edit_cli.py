"""``cinedraft edit ...``: results are library assets; an edit's timeline exports to OTIO."""

import json

import opentimelineio as otio
from typer.testing import CliRunner

from cinedraft.cli.main import app

from ..editor.conftest import make_clip

runner = CliRunner()


def test_cut_then_export_its_timeline(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=48)
    home = ["--home", str(tmp_path / "home")]
    res = runner.invoke(app, [*home, "edit", "cut", clip, "--from", "0.5", "--to", "1.5", "--json"])
    assert res.exit_code == 0, res.output
    cut = json.loads(res.stdout)
    assert cut["kind"] == "edit" and cut["parents"][0]["role"] == "source"
    res = runner.invoke(
        app, [*home, "edit", "timeline", "export", cut["id"], "--otio", str(tmp_path / "e.otio")]
    )
    assert res.exit_code == 0, res.output
    clips = list(otio.adapters.read_from_file(str(tmp_path / "e.otio")).tracks[0])
    assert len(clips) == 1 and clips[0].source_range.duration.to_seconds() == 1.0
    res = runner.invoke(app, [*home, "edit", "cut", "http://example.com/a.mp4"])
    assert res.exit_code == 2 and "URLs and protocols are not accepted" in res.output


def test_a_cut_past_the_end_says_so(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=48)  # 2 s at 24 fps
    home = ["--home", str(tmp_path / "home")]
    res = runner.invoke(app, [*home, "edit", "cut", clip, "--from", "1", "--to", "60"])
    assert res.exit_code == 0, res.output
    assert "note: asked to cut to 60 s; the clip ends at 2.000 s" in res.stderr
    past = runner.invoke(app, [*home, "edit", "cut", clip, "--from", "5", "--to", "60"])
    assert past.exit_code == 2 and "is not before the end of the cut" in past.output


def test_grade_a_clip_as_an_image_is_refined_in_words(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=24, audio=True)
    home = ["--home", str(tmp_path / "home")]
    res = runner.invoke(
        app, [*home, "edit", "grade", clip, "can you make it a touch warmer, with more contrast?",
              "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    graded = json.loads(res.stdout)
    assert graded["kind"] == "edit" and graded["parents"][0]["role"] == "source"
    shown = runner.invoke(app, [*home, "library", "show", graded["id"], "--json"])
    record = json.loads(shown.stdout)["record"]
    assert record["operation"] == "grade"
    said = record["parameters"]["adjustments"]
    assert [(a["kind"], a["amount"]) for a in said] == [("warmth", 0.5), ("contrast", 1.0)]
    assert 0 < said[1]["pivot"] < 1  # the clip's one pivot, recorded
    assert record["frames"] == 24
    res = runner.invoke(app, [*home, "edit", "grade", clip, "make the jar blue"])
    assert res.exit_code == 2 and "is not an exact change" in res.output
    assert "video --remix" in res.output
    # "more" after a grade grades again as it did, with the new clip's own pivot
    res = runner.invoke(app, [*home, "edit", "grade", graded["id"], "a bit more", "--json"])
    assert res.exit_code == 0, res.output
    again = json.loads(res.stdout)["id"]
    shown = runner.invoke(app, [*home, "library", "show", again, "--json"])
    said = json.loads(shown.stdout)["record"]["parameters"]["adjustments"]
    assert [(a["kind"], a["amount"]) for a in said] == [("warmth", 0.25), ("contrast", 0.5)]
    res = runner.invoke(app, [*home, "edit", "grade", clip, "more"])  # a clip not graded
    assert res.exit_code == 2 and "repeats the grade that made the clip" in res.output
    # a remix asked for an exact change says where it is made exactly, before any work
    res = runner.invoke(app, [*home, "video", "warmer, please", "--remix", graded["id"]])
    assert f"`edit grade {graded['id']} 'warmer, please'` makes it on every frame" in res.output
    assert res.exit_code == 2 and "a generated clip" in res.output  # an imported clip's grade
