"""``generate --from``, ``refine``, ``inpaint``, ``outpaint`` and ``thread`` from the
command line: each turn a library asset, its route in ``--json``, bad input in one line."""

import json

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from cinedraft.cli.main import app

from ..editor.conftest import make_clip

runner = CliRunner()


def _json(args):
    res = runner.invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def test_a_thread_of_turns_from_the_command_line(tmp_path):
    home = ["--home", str(tmp_path / "home")]
    first = _json([*home, "generate", "a red jar on a marble table", "--seed", "3"])
    draft = first["outputs"][0]["asset_id"]
    img2img = _json(
        [*home, "generate", "a red jar on a marble table", "--from", draft, "--strength", "0.4"]
    )
    assert img2img["route"] == "img2img" and img2img["request"]["strength"] == 0.4
    warmer = _json([*home, "refine", draft, "make it warmer"])
    assert warmer["route"] == "exact" and warmer["turn"] == 1
    mask = tmp_path / "mask.png"
    drawn = Image.new("L", (64, 64), 0)
    drawn.paste(255, (20, 20, 44, 50))
    drawn.save(mask)
    inpaint = _json(
        [*home, "inpaint", warmer["output"]["asset_id"], "a blue jar", "--mask", str(mask)]
    )
    assert inpaint["route"] == "inpaint" and inpaint["turn"] == 2
    outpaint = _json(
        [*home, "outpaint", inpaint["output"]["asset_id"], "--expand", "left=32,right=32"]
    )
    assert (outpaint["output"]["width"], outpaint["output"]["height"]) == (128, 64)
    with (
        Image.open(outpaint["output"]["path"]) as grown,
        Image.open(inpaint["output"]["path"]) as before,
    ):
        assert np.array_equal(np.asarray(grown)[:, 32:96, :3], np.asarray(before)[..., :3])
    turns = _json([*home, "thread", outpaint["output"]["asset_id"]])
    assert [t["operation"] for t in turns] == [None, "img2img", "refine", "inpaint", "outpaint"]
    table = runner.invoke(app, [*home, "thread", draft])
    assert table.exit_code == 0 and "exact" in table.stdout and "outpaint" in table.stdout


def test_bad_edit_input_is_one_line(tmp_path):
    home = ["--home", str(tmp_path / "home")]
    draft = _json([*home, "generate", "a red jar", "--seed", "1"])["outputs"][0]["asset_id"]
    cases = [
        (["generate", "a jar", "--strength", "0.5"], "--strength needs --from"),
        (["generate", "a jar", "--from", draft, "--strength", "1.5"], "at most 1"),
        (["generate", "a jar", "--from", draft, "--tier", "production"], "cannot be used"),
        (["inpaint", draft, "a jar", "--region", "1,2,3"], "x,y,w,h"),
        (["inpaint", draft, "a jar"], "mask file or a region"),
        (["outpaint", draft, "--aspect", "tall"], "W:H"),
        (["outpaint", draft, "--aspect", "1:1"], "already 1:1"),
        (["refine", draft, "replace the jar with a ball"], "it knows colour changes"),
        (["refine", make_clip(tmp_path / "c.mp4", frames=12), "warmer"], "edit grade CLIP"),
    ]
    for args, words in cases:
        res = runner.invoke(app, [*home, *args])
        assert res.exit_code == 2, (args, res.output)
        assert words in res.output and "Traceback" not in res.output, (args, res.output)
        assert res.output.count("error:") == 1
