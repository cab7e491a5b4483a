"""A 3-SKU catalogue on the built-in model from the command line: every aspect, the product
kept, the manifest true to the library, a bad row skipped, resumed after a kill."""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from cinedraft.catalogue import lock
from cinedraft.render.cutout import cut_out
from cinedraft.cli.main import app
from cinedraft.library import Library
from cinedraft.render.masks import parse_aspect

runner = CliRunner()


def _catalogue(home, products, out, *extra):
    return runner.invoke(
        app,
        ["--home", str(home), "catalogue", str(products / "products.csv"),
         "--brand", str(products / "brand.toml"), "--out", str(out), *extra],
    )  # fmt: skip


def files_of(manifest: dict, sku: str) -> list[dict]:
    return next(s["files"] for s in manifest["skus"] if s["sku"] == sku)


def _keys(home) -> dict[str, list[str]]:
    library = Library(home / "library")
    try:
        return library.catalogue_outputs("")
    finally:
        library.close()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """One run of the three SKUs plus a bad row, shared by the tests below."""
    from .conftest import write_products

    root = tmp_path_factory.mktemp("catalogue")
    products = root / "in"
    products.mkdir()
    write_products(products, ",nameless,,,,,\n")
    (products / "brand.toml").write_text('name = "Acme"\npalette = ["#8b5a2b", "#f4f1ea"]\n')
    home, out = root / "home", root / "out"
    result = _catalogue(home, products, out)
    return home, products, out, result


def test_every_sku_gets_every_aspect_and_a_true_manifest(made):
    home, products, out, result = made
    assert result.exit_code == 1, result.output  # the nameless row failed, the rest ran
    assert "line 4: the sku is empty" in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["sku"] for s in manifest["skus"]] == ["B-1", "J-2", "C-3"]
    assert manifest["problems"] == ["line 4: the sku is empty"]
    library = Library(home / "library")
    try:
        for sku, aspects in (("B-1", ["1:1", "9:16", "16:9"]), ("J-2", ["4:5"]),
                             ("C-3", ["1:1", "1.91:1"])):  # fmt: skip
            files = next(s["files"] for s in manifest["skus"] if s["sku"] == sku)
            got = {f["aspect"]: f for f in files if f["role"] == "aspect"}
            assert sorted(got) == sorted(aspects)
            for aspect, row in got.items():
                w, h = parse_aspect(aspect)
                with Image.open(out / row["file"]) as im:
                    assert im.size == (row["width"], row["height"])
                    assert abs(im.width / im.height - w / h) < 0.01
            for row in files:  # every file is there, with the hash the manifest names
                data = (out / row["file"]).read_bytes()
                assert len(data) == row["bytes"]
                if row["record"]:  # a library file, copied byte for byte
                    asset = library.get(row["asset_id"])
                    assert asset.sha256 == row["sha256"] and asset.record == row["record"]
                    assert row["record"]["catalogue"]["row"]["sku"] == sku
                    assert row["record"]["catalogue"]["brand"]["palette"] == ["#8b5a2b", "#f4f1ea"]
            roles = [f["role"] for f in files]
            assert roles.count("thumbnail") == 1 + len(aspects) and "contact-sheet" in roles
            drafts = [f for f in files if f["role"] == "draft"]
            assert len(drafts) == {"B-1": 2, "J-2": 1, "C-3": 2}[sku]
        # the brand kit and the row are signed into each final image's C2PA manifest
        hero = next(f for f in files_of(manifest, "B-1") if f["role"] == "hero")
        signed = library.verify(out / hero["file"]).manifest
        assert signed["state"] != "Invalid" and not signed["tampered"]
        assert signed["catalogue"]["brand"]["palette"] == ["#8b5a2b", "#f4f1ea"]
        assert signed["catalogue"]["row"]["sku"] == "B-1"
        rows = list(csv.DictReader((out / "manifest.csv").open()))
        assert len(rows) == sum(len(s["files"]) for s in manifest["skus"])
    finally:
        library.close()


def test_the_product_is_kept_from_its_packshot(made):
    home, products, out, _ = made
    manifest = json.loads((out / "manifest.json").read_text())
    files = next(s["files"] for s in manifest["skus"] if s["sku"] == "B-1")
    finals = [f for f in files if f["role"] in ("hero", "aspect")]
    assert all(f["product_ssim"] >= lock.MIN_SSIM for f in finals), finals
    # measured here again, independently: the hero against the packshot at its scale
    with Image.open(products / "bottle.png") as im:
        cut = cut_out(im)
    with Image.open(out / "B-1" / "hero.png") as hero:
        placed = lock.place(cut, hero.size)
        assert lock.product_ssim(hero, placed) >= lock.MIN_SSIM
        solid = placed.alpha >= 0.999
        diff = np.abs(np.asarray(hero).astype(int)[solid] - np.rint(placed.rgb[solid]))
        assert diff.max() <= 1
    c3 = next(s["files"] for s in manifest["skus"] if s["sku"] == "C-3")
    assert all(f["product_ssim"] is None for f in c3)  # no packshot: nothing to keep


def test_a_second_run_makes_nothing(made):
    home, products, out, _ = made
    before = _keys(home)
    result = _catalogue(home, products, out, "--json")
    assert result.exit_code == 1, result.output
    assert _keys(home) == before
    printed = json.loads(result.stdout)
    assert [s["made"] for s in printed["skus"]] == [0, 0, 0]
    assert printed["failed"] == ["line 4: the sku is empty"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert all(s["made"] == 0 and s["reused"] > 0 for s in manifest["skus"])


def test_killed_and_run_again_it_finishes_with_nothing_twice(tmp_path, products):
    home, out = tmp_path / "home", tmp_path / "out"
    command = [
        sys.executable, "-m", "cinedraft", "--home", str(home), "catalogue",
        str(products / "products.csv"), "--out", str(out),
    ]  # fmt: skip
    env = os.environ | {"HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if (home / "library" / "library.db").exists() and len(_keys(home)) >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = _keys(home)
    assert 3 <= len(partial) < 14
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    keys = _keys(home)
    assert {k: v for k, v in keys.items() if k in partial} == partial  # kept, not remade
    # nothing twice: one output per step (a no-packshot SKU's drafts are one step)
    assert all(len(ids) == 1 or k.endswith(":drafts") for k, ids in keys.items())
    manifest = json.loads((out / "manifest.json").read_text())
    assert [s["problem"] for s in manifest["skus"]] == [None, None, None]
    for s in manifest["skus"]:
        for row in s["files"]:
            assert (out / row["file"]).is_file()


@pytest.mark.parametrize(
    "sheet, brand, message",
    [
        ("", None, "has no product rows"),
        ("name\njar\n", None, "no 'sku' column"),
        ("sku,name\nA,jar\nA,cup\n", None, "'A' is on line 2 and line 3"),
        ("sku,name,aspects\nA,jar,0:1\n", None, "aspect must look like W:H"),
        ("sku,name\nA,jar\n", 'palette = ["#12"]', "is not a colour"),
    ],
)
def test_bad_input_is_one_line_and_nothing_is_written(tmp_path, sheet, brand, message):
    (tmp_path / "products.csv").write_text(sheet)
    args = ["--home", str(tmp_path / "home"), "catalogue", str(tmp_path / "products.csv"),
            "--out", str(tmp_path / "out")]  # fmt: skip
    if brand is not None:
        (tmp_path / "brand.toml").write_text(brand)
        args += ["--brand", str(tmp_path / "brand.toml")]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("error:") == 1
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "home" / "library").exists()


def test_a_product_not_kept_is_tried_on_the_next_draft_then_failed(engine, products, monkeypatch):
    """With the bar out of reach, each draft (seed) is promoted and locked in turn, and the
    SKU fails naming every try; the other SKUs still run."""
    from cinedraft.catalogue import Catalogue, read_sheet

    monkeypatch.setattr(lock, "MIN_SSIM", 1.01)
    sheet = read_sheet(products / "products.csv")
    sheet.products[:] = [p for p in sheet.products if p.sku in ("B-1", "C-3")]
    report = Catalogue(engine.library, lambda: engine, products / "out").run(sheet)
    bottle, cup = report.skus
    assert bottle.problem.startswith("the product was not kept")
    assert bottle.problem.count("seed ") == 2  # both drafts tried
    assert cup.problem is None
    keys = engine.library.catalogue_outputs("B-1/")
    assert sum(k.split(":")[1].startswith("lock-") for k in keys) == 2


def test_an_aspect_that_loses_the_product_is_outpainted_again(engine, products, monkeypatch):
    """The outpaint keeps the hero's pixels, so here a first measure is made to fail: the
    aspect is drawn again with the next seed, and the manifest has the second."""
    from cinedraft.catalogue import Catalogue, read_sheet
    from cinedraft.catalogue import run as catalogue_run

    measured = []
    real = catalogue_run._kept_in

    def first_fails(out, hero):
        measured.append(out.id)
        return 0.5 if len(measured) == 1 else real(out, hero)

    monkeypatch.setattr(catalogue_run, "_kept_in", first_fails)
    sheet = read_sheet(products / "products.csv")
    sheet.products[:] = [p for p in sheet.products if p.sku == "J-2"]  # one aspect: 4:5
    report = Catalogue(engine.library, lambda: engine, products / "out2").run(sheet)
    (jar,) = report.skus
    assert jar.problem is None and len(measured) == 2 and measured[0] != measured[1]
    (aspect,) = [f for f in jar.files if f["role"] == "aspect"]
    assert aspect["asset_id"] == measured[1] and aspect["product_ssim"] >= lock.MIN_SSIM
    assert aspect["record"]["catalogue"]["step"] == "aspect-4:5-1"
