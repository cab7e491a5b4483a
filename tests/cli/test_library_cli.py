"""``cinedraft library ...`` and ``cinedraft verify`` on a real library made by the CLI."""

import json

import pytest
from typer.testing import CliRunner

from cinedraft.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """A home with two drafts and one production image promoted from the first."""
    home = tmp_path_factory.mktemp("home")
    res = _run(
        home,
        "vary",
        "a {red|blue} jar on a glass table",
        "-n",
        "2",
        "--seed",
        "3",
        "--steps",
        "3",
        "--json",
    )
    drafts = json.loads(res.stdout)["outputs"]
    res = _run(home, "promote", drafts[0]["asset_id"], "--steps", "4", "--json")
    final = json.loads(res.stdout)["outputs"][0]
    return home, drafts, final


def _run(home, *args, code=0):
    res = runner.invoke(app, ["--home", str(home), "--offline", *args])
    assert res.exit_code == code, res.output
    return res


def _ids(res):
    return [a["id"] for a in json.loads(res.stdout)]


def test_list_search_and_filters(home):
    home, drafts, final = home
    assert _ids(_run(home, "library", "list", "--tier", "production", "--json")) == [
        final["asset_id"]
    ]
    assert set(_ids(_run(home, "library", "list", "--tier", "draft", "--json"))) == {
        d["asset_id"] for d in drafts
    }
    assert _ids(_run(home, "library", "search", "blue", "--json")) == [drafts[1]["asset_id"]]
    found = _ids(
        _run(home, "library", "search", '"glass table"', "--since", "2000-01-01", "--json")
    )
    assert len(found) == 3
    assert _ids(_run(home, "library", "list", "--since", "2999-01-01", "--json")) == []
    assert "bad search query" in _run(home, "library", "search", '"open', code=2).output


def test_show_walks_lineage_both_ways(home):
    home, drafts, final = home
    shown = json.loads(_run(home, "library", "show", final["asset_id"], "--json").stdout)
    assert shown["ancestors"] == [{"depth": 1, "id": drafts[0]["asset_id"], "role": "draft"}]
    assert shown["record"]["seed"] == 3 and shown["record"]["model_hash"]
    shown = json.loads(_run(home, "library", "show", drafts[0]["asset_id"], "--json").stdout)
    assert shown["descendants"][0]["id"] == final["asset_id"]
    assert "no asset" in _run(home, "library", "show", "abcdefabcdef", code=2).output


def test_tags_rating_favourites(home):
    home, drafts, final = home
    _run(home, "library", "tag", final["asset_id"], "--add", "client-x")
    _run(home, "library", "rate", final["asset_id"], "5")
    _run(home, "library", "favourite", drafts[1]["asset_id"])
    assert _ids(_run(home, "library", "list", "--tag", "client-x", "--json")) == [final["asset_id"]]
    assert _ids(_run(home, "library", "list", "--min-rating", "4", "--json")) == [final["asset_id"]]
    assert _ids(_run(home, "library", "list", "--favourites", "--json")) == [drafts[1]["asset_id"]]
    assert (
        "rating must be 0-5" in _run(home, "library", "rate", final["asset_id"], "9", code=2).output
    )


def test_check_export_and_verify(home, tmp_path):
    home, drafts, final = home
    assert "ok" in _run(home, "library", "check").output
    _run(home, "library", "export", final["asset_id"], "--to", str(tmp_path / "out"))
    exported = tmp_path / "out" / f"{final['asset_id']}.png"
    assert json.loads(exported.with_suffix(".json").read_text())["id"] == final["asset_id"]
    report = json.loads(_run(home, "verify", str(exported), "--json").stdout)
    assert report["manifest"]["state"] == "Trusted" and report["watermark"] == final["asset_id"]
    assert report["library_copy"] and report["in_library"]
    data = bytearray(exported.read_bytes())
    data[data.index(b"IDAT") + 40] ^= 0xFF
    tampered = tmp_path / "tampered.png"
    tampered.write_bytes(bytes(data))
    res = _run(home, "verify", str(tampered), code=1)
    assert "TAMPERED" in res.output and "verification failed" in res.output
    assert "cannot read" in _run(home, "verify", str(tmp_path / "missing.png"), code=2).output
    # an asset id names its stored file, as in every command on outputs
    by_id = _run(home, "verify", final["asset_id"])
    assert "Trusted" in by_id.output and final["asset_id"] in by_id.output
    assert json.loads(_run(home, "verify", final["asset_id"], "--json").stdout)["library_copy"]
    assert "no asset abcdefabcdef" in _run(home, "verify", "abcdefabcdef", code=2).output


def test_rerender_compare_reports_identical_pixels(home):
    home, drafts, final = home
    res = _run(home, "library", "rerender", final["asset_id"], "--compare")
    assert "identical pixels" in res.output and "max |diff| 0" in res.output


def test_analyze_compares_draft_and_production(home, tmp_path):
    home, drafts, final = home
    res = _run(home, "analyze", drafts[0]["path"], final["path"], "--out", str(tmp_path), "--json")
    report = json.loads(res.stdout)["images"]
    assert report["verdict"][0]["clearer"] == final["path"]
    assert any("sampling steps" in r for r in report["verdict"][0]["reasons"])
    assert (tmp_path / "crops.png").exists()
    # asset ids name their stored files, and the table calls them by their ids
    res = _run(home, "analyze", drafts[0]["asset_id"], final["asset_id"])
    assert f"{final['asset_id']} is clearer than {drafts[0]['asset_id']}" in " ".join(
        res.output.split()
    )
    res = _run(home, "library", "list", "--sort", "sharpness", "--json")
    listed = json.loads(res.stdout)
    sharpness = [a["metrics"]["sharpness"] for a in listed]
    assert sharpness == sorted(sharpness, reverse=True) and sharpness[-1] > 0
    # piped (as here): one tab-separated line each, the sort's metric before the prompt
    lines = _run(home, "library", "list", "--sort", "sharpness").stdout.splitlines()
    assert len(lines) == len(listed) and all(line.count("\t") == 7 for line in lines)
    first = lines[0].split("\t")
    assert first[0] == listed[0]["id"] and float(first[6]) == pytest.approx(
        listed[0]["metrics"]["sharpness"], rel=1e-3
    )
    assert first[7] == listed[0]["prompt"]


ESCAPES = "a jar \x1b[2J\x1b]0;owned\x07 \x9b31m \u202eevil"  # clear, retitle, CSI, reorder


def test_an_imported_prompt_cannot_drive_the_terminal(home, tmp_path):
    """An imported file's prompt is its untrusted metadata: printed raw (and Rich passes
    ESC through), it cleared the screen and retitled the window of whoever listed the
    library. What a terminal would act on is printed as escapes instead."""
    import io

    from PIL import Image, PngImagePlugin
    from rich.table import Table

    from cinedraft.cli import common
    from cinedraft.media.metadata import read_metadata

    home, drafts, _ = home
    record = read_metadata(drafts[0]["path"])["record"] | {"prompt": ESCAPES}
    info = PngImagePlugin.PngInfo()
    info.add_itxt("cinedraft", json.dumps(record))
    Image.new("RGB", (40, 30), "teal").save(tmp_path / "odd.png", "PNG", pnginfo=info)
    asset = _run(home, "library", "import", str(tmp_path / "odd.png")).stdout.split()[0]
    listed = _run(home, "library", "list").stdout  # piped: plain lines
    line = next(row for row in listed.splitlines() if row.startswith(asset))
    assert "\\x1b[2J" in line and "\\x07" in line and "\\x9b" in line and "\\u202e" in line
    assert not [c for c in listed if ord(c) < 32 and c not in "\n\t"]
    assert not [c for c in listed if 0x7F <= ord(c) <= 0x9F or c == "\u202e"]
    shown = _run(home, "library", "show", asset, "--json").stdout
    assert json.loads(shown)["prompt"] == ESCAPES  # the JSON still says what the file said
    assert not [c for c in shown if ord(c) < 32 and c not in "\n\t" or ord(c) >= 0x7F]
    screen = io.StringIO()  # a terminal's view of a table (Rich, colours on)
    table = Table()
    table.add_column("prompt")
    table.add_row(ESCAPES)
    type(common.out)(file=screen, force_terminal=True, width=200).print(table)
    assert "\x1b[2J" not in screen.getvalue() and "\\x1b[2J" in screen.getvalue()
    assert "\x07" not in screen.getvalue() and "\u202e" not in screen.getvalue()
