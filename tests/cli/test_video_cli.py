"""``cinedraft video`` and ``cinedraft extend``: one request each, clean errors."""

import json

import pytest
from typer.testing import CliRunner

from cinedraft.cli.main import app
from cinedraft.media.probe import Prober

runner = CliRunner()


def _invoke(tmp_path, *args):
    return runner.invoke(app, ["--home", str(tmp_path), "--offline", *args])


def test_video_from_an_image_then_extend(tmp_path):
    res = _invoke(tmp_path, "generate", "a red ball on a glass table", "--seed", "4", "--json")
    image_id = json.loads(res.stdout)["outputs"][0]["asset_id"]
    res = _invoke(
        tmp_path,
        "video",
        "--from",
        image_id,
        "the ball bounces",
        "--seconds",
        "1",
        "--steps",
        "4",
        "--seed",
        "1",
        "--json",
    )
    assert res.exit_code == 0, res.output
    clip = json.loads(res.stdout)
    assert (clip["frames"], clip["fps"], clip["width"]) == (24, 24, 640)
    assert clip["record"]["parents"] == [{"id": image_id, "role": "first_frame"}]
    out_file = tmp_path / "longer.mp4"
    res = _invoke(
        tmp_path,
        "extend",
        clip["asset_id"],
        "the ball bounces",
        "--seconds",
        "1",
        "--seed",
        "9",
        "--negative",
        "blurry",
        "--steps",
        "4",
        "--out",
        str(out_file),
    )
    assert res.exit_code == 0, res.output
    assert "seam at frame 24" in res.output
    info = Prober().probe(out_file)
    assert info.frame_count == 48 and info.fps == 24
    # the continuation (the joined clip's second source) was made with that seed, negative
    # and steps
    listed = json.loads(_invoke(tmp_path, "library", "list", "--kind", "video", "--json").stdout)
    made = [a for a in listed if a["id"] != clip["asset_id"]]
    shown = json.loads(_invoke(tmp_path, "library", "show", made[0]["id"], "--json").stdout)
    assert (shown["record"]["seed"], shown["negative_prompt"]) == (9, "blurry")
    assert shown["record"]["steps"] == 4
    # `edit extend` generates too, with the same options, and says how far it got (it ran
    # minutes in silence)
    args = ("edit", "extend", clip["asset_id"], "--seconds", "0.5", "--prompt", "it rolls on")
    args += ("--steps", "4", "--seed", "12", "--negative", "grainy")
    res = _invoke(tmp_path, *args)
    assert res.exit_code == 0, res.output
    assert any(line.startswith("chunk ") for line in res.stderr.splitlines()), res.stderr
    listed = json.loads(_invoke(tmp_path, "library", "list", "--kind", "video", "--json").stdout)
    shown = [
        json.loads(_invoke(tmp_path, "library", "show", a["id"], "--json").stdout) for a in listed
    ]
    made = [a for a in shown if a["prompt"] == "it rolls on" and a["record"].get("seed") == 12]
    assert [a["negative_prompt"] for a in made] == ["grainy"]


def test_video_prints_stages(tmp_path):
    res = _invoke(tmp_path, "video", "a blue jar slides left", "--seconds", "0.5", "--steps", "2")
    assert res.exit_code == 0, res.output
    # a fresh process: the video model loads first, and says so
    for stage in ("load builtin", "generate", "interpolate", "upscale", "deflicker", "encode"):
        assert stage in res.output


def test_video_says_when_a_chunk_was_drawn_again_for_its_subject(tmp_path):
    """The held-out prompt whose first two draws lose the jar (tests/engine/test_video.py):
    the CLI says the third kept it; with --no-hold-subject nothing is checked."""
    prompt = (
        "a large pink jar on a wooden table in the center with dramatic lighting, the jar "
        "slides left"
    )
    res = _invoke(tmp_path, "video", prompt, "--seconds", "0.875", "--seed", "804")
    assert res.exit_code == 0, res.output
    assert "subject in chunk 1: kept (3 attempt(s))" in res.output
    args = ("video", prompt, "--seconds", "0.875", "--seed", "804", "--no-hold-subject")
    res = _invoke(tmp_path, *args, "--json")
    assert res.exit_code == 0, res.output
    clip = json.loads(res.stdout)
    assert clip["subject_kept"] is None and clip["record"]["chunk_seeds"] == [804]


@pytest.mark.parametrize(
    "args, message",
    [
        (["video", "a jar", "--seconds", "0"], "seconds must be above 0"),
        (["video", "a jar", "--seconds", "1000"], "at most 60"),
        (["video", "a jar", "--preset", "imax"], "unknown preset"),
        (["video", "  "], "prompt is empty"),
        (["video", "a jar", "--from", "/no/such.png"], "no such file"),
        (["video", "a jar", "--model-size", "wide"], "WIDTHxHEIGHT"),
        (["extend", "0123456789ab", "more"], "no asset 0123456789ab"),
    ],
)
def test_bad_video_input(tmp_path, args, message):
    res = _invoke(tmp_path, *args)
    assert res.exit_code != 0
    assert message in res.output
    assert "Traceback" not in res.output
