import io
import json

import numpy as np
import pytest
from PIL import Image, PngImagePlugin

from cinedraft.errors import AssetNotFoundError, InputError
from cinedraft.library import AssetQuery, Library, records
from cinedraft.media.metadata import read_metadata

from .conftest import make_record, noise_image


def test_added_asset_has_row_file_and_record(library, add):
    asset = add("a blue jar on a wooden table", tier="production", seed=3)
    again = library.get(asset.id)
    assert again.prompt == "a blue jar on a wooden table" and again.tier == "production"
    data = open(asset.path, "rb").read()
    assert len(data) == asset.bytes and asset.path.endswith(f"{asset.sha256}.png")
    assert read_metadata(asset.path)["record"]["asset_id"] == asset.id  # embedded in the file
    assert again.record["seed"] == 1 and again.created.endswith("Z")


def test_search_finds_words_and_phrases(library, add):
    red = add("a red bottle on a glass table")
    blue = add("a blue jar on a wooden table", seed=1)
    green = add("a green ball on a glass shelf", seed=2)
    ids = lambda **kw: [a.id for a in library.find(**kw)]  # noqa: E731
    assert ids(text="glass") == [green.id, red.id]  # newest first
    assert ids(text='"glass table"') == [red.id]
    assert ids(text="jar OR ball", sort="oldest") == [blue.id, green.id]
    assert ids(text="bott*") == [red.id]
    assert ids(text="purple") == []
    assert set(ids(text="table", sort="relevance")) == {red.id, blue.id}


def test_filters_combine(library, add):
    a = add("a red bottle", tier="draft", model="builtin")
    b = add("a red bottle", tier="production", model="builtin", seed=1)
    c = add("a red bottle", tier="production", model="other/model", seed=2)
    library.tag(b.id, add=["client-x", "hero"])
    library.tag(c.id, add=["client-x"])
    library.rate(c.id, 4)
    library.favourite(a.id)
    ids = lambda **kw: {x.id for x in library.find(**kw)}  # noqa: E731
    assert ids(tier="production") == {b.id, c.id}
    assert ids(tier="production", model="builtin") == {b.id}
    assert ids(text="red", tags=("client-x",)) == {b.id, c.id}
    assert ids(tags=("client-x", "hero")) == {b.id}
    assert ids(min_rating=3) == {c.id}
    assert ids(favourite=True) == {a.id}
    assert ids(text="red", tier="draft", favourite=True) == {a.id}
    assert ids(kind="video") == set()
    today = a.created[:10]
    assert ids(since=today) == {a.id, b.id, c.id}
    assert ids(until=today) == set()
    assert [x.id for x in library.find(sort="rating", limit=1)] == [c.id]


def test_lineage_is_walked_both_ways(library, add):
    draft = add("a red bottle")
    final = add(
        "a red bottle", tier="production", seed=1, parents=[{"id": draft.id, "role": "draft"}]
    )
    edit = add("a red bottle", kind="edit", seed=2, parents=[{"id": final.id, "role": "source"}])
    assert library.get(final.id).parents == [{"id": draft.id, "role": "draft"}]
    assert library.get(draft.id).children == [{"id": final.id, "role": "draft"}]
    assert library.lineage(edit.id, "parents") == [(1, final.id, "source"), (2, draft.id, "draft")]
    assert library.lineage(draft.id, "children") == [(1, final.id, "draft"), (2, edit.id, "source")]


def test_tags_rating_and_favourite_are_checked(library, add):
    asset = add()
    assert library.tag(asset.id, add=["a", "b"], remove=["a"]).tags == ["b"]
    with pytest.raises(InputError, match="rating"):
        library.rate(asset.id, 6)
    with pytest.raises(InputError, match="tags"):
        library.tag(asset.id, add=[" "])
    with pytest.raises(AssetNotFoundError):
        library.favourite("0123456789ab")
    with pytest.raises(InputError, match="not an asset id"):
        library.get("../../etc/passwd")


def test_bad_search_query_is_a_clear_error(library, add):
    add()
    with pytest.raises(InputError, match="bad search query"):
        library.find(text='"unclosed')


def test_query_validates_its_fields():
    with pytest.raises(ValueError):
        AssetQuery(sort="random")


def test_library_survives_reopening(tmp_path, add, library):
    asset = add()
    library.close()
    reopened = Library(library.root)
    assert reopened.get(asset.id).sha256 == asset.sha256
    assert reopened.check()["ok"]
    reopened.close()


def test_row_pointing_outside_the_root_is_refused(library, add):
    asset = add()
    library.conn.execute("UPDATE assets SET path = '../../../etc/passwd' WHERE id = ?", (asset.id,))
    with pytest.raises(InputError, match="outside the library root"):
        library.get(asset.id)


def test_duplicate_import_is_refused_and_nothing_lost(library, add, tmp_path):
    asset = add()
    copy = tmp_path / "copy.png"
    copy.write_bytes(open(asset.path, "rb").read())
    with pytest.raises(InputError, match=f"already in the library as {asset.id}"):
        library.import_file(copy)
    assert library.count() == 1 and library.check()["ok"]


def test_import_keeps_bytes_and_embedded_record(library, tmp_path):
    path = tmp_path / "outside.jpg"
    Image.new("RGB", (40, 30), "orange").save(path, "JPEG")
    asset = library.import_file(path)
    assert asset.kind == "import" and (asset.width, asset.height) == (40, 30)
    assert open(asset.path, "rb").read() == path.read_bytes()
    found = library.verify(path)  # the outside file is the library's copy, byte for byte
    assert found.in_library and found.library_copy


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"])
def test_corrupt_import_is_refused_and_nothing_lost(library, add, tmp_path, content):
    asset = add()
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    with pytest.raises(InputError):
        library.import_file(bad)
    assert [a.id for a in library.find()] == [asset.id] and library.check()["ok"]


def test_export_writes_files_and_records(library, add, tmp_path):
    draft = add()
    final = add(tier="production", seed=1, parents=[{"id": draft.id, "role": "draft"}])
    written = library.export([final.id], tmp_path / "out")
    assert written[0].read_bytes() == open(final.path, "rb").read()
    exported = json.loads(written[0].with_suffix(".json").read_text())
    assert exported["record"]["asset_id"] == final.id and exported["parents"][0]["id"] == draft.id
    with pytest.raises(AssetNotFoundError):  # all ids are checked before anything is written
        library.export([final.id, "ffffffffffff"], tmp_path / "out2")
    assert not (tmp_path / "out2").exists()
    # not into the library's own folders, where a check would call the copies orphans
    with pytest.raises(InputError, match="is inside the library"):
        library.export([final.id], library.root / "objects" / final.id[:2])
    assert library.check()["ok"]


@pytest.mark.parametrize("fmt", ["jpeg", "webp"])
def test_conversion_keeps_record_watermark_and_signed_link(library, add, tmp_path, fmt):
    source = add(size=256, tier="production")
    written = library.export([source.id], tmp_path / "out", fmt=fmt)[0]
    assert written.stem == source.id  # named for the asset asked for, not the conversion
    web = library.export([source.id], tmp_path / "web", profile="web")[0]
    assert web.stem == f"{source.id}-web"
    assert library.verify(web).watermark == source.id  # WebP q85: the mark survives it
    mode = written.stat().st_mode & 0o777
    assert mode & 0o044 == 0o044 and mode == 0o666 & ~_umask()  # handed out: readable
    meta = read_metadata(written)
    assert (
        meta["record"]["prompt"] == source.prompt
        and meta["record"]["parents"][0]["id"] == source.id
    )
    assert "Steps: 8" in meta["parameters"]
    found = library.verify(written)
    assert found.manifest["state"] == "Trusted"
    parents = [i for i in found.manifest["ingredients"] if i["relationship"] == "parentOf"]
    assert parents == [{"title": source.id, "relationship": "parentOf", "instance_id": source.id}]
    assert found.watermark == source.id  # the pixels still carry the source's mark
    converted = library.get(meta["record"]["asset_id"])
    assert converted.parents == [{"id": source.id, "role": "converted"}]
    with Image.open(io.BytesIO(open(converted.path, "rb").read())) as im:
        assert im.format == {"jpeg": "JPEG", "webp": "WEBP"}[fmt]


def test_metrics_are_stored_and_sortable(library, add):
    from PIL import ImageFilter

    sharp = add("a sharp bottle", size=128, seed=4)
    record = make_record(library, "a blurred bottle", size=128)
    blurred = library.add_image(
        noise_image(128, 4).filter(ImageFilter.GaussianBlur(2)), record, "png"
    )
    assert set(sharp.metrics) == {
        "sharpness",
        "tenengrad",
        "hf_ratio",
        "edge_width",
        "blockiness",
        "ringing",
        "noise",
        "chroma_outliers",
        "speckle",
        "overshoot",
    }
    assert sharp.metrics["sharpness"] > blurred.metrics["sharpness"]
    assert [a.id for a in library.find(sort="sharpness")] == [sharp.id, blurred.id]
    assert [a.id for a in library.find(text="bottle", sort="edge_width")] == [sharp.id, blurred.id]
    with pytest.raises(ValueError):
        library.find(sort="sharpness; DROP TABLE assets")


def test_a_batch_of_images_is_stored_with_two_commits(library):
    """One request's images: one commit for their pending notes, one for their rows."""
    statements = []
    library.conn.set_trace_callback(statements.append)
    items = [(noise_image(64, i), make_record(library, seed=i), "webp", 80) for i in range(6)]
    assets = library.add_images(items)
    library.conn.set_trace_callback(None)
    assert [a.seed for a in assets] == list(range(6)) and library.count() == 6
    assert sum(s.strip().upper() == "COMMIT" for s in statements) == 2
    assert all(library.verify(a.path).ok for a in assets)  # each file signed on its own
    assert library.check()["ok"] and not records.pending_paths(library.conn)


def test_a_batch_with_a_taken_asset_id_keeps_nothing(library, add):
    taken = add(seed=99)
    items = [(noise_image(64, i), make_record(library, seed=i), "png", 90) for i in range(3)]
    items[2][1]["asset_id"] = taken.id
    stored_before = sorted(library.files.stored())
    with pytest.raises(InputError, match="already in the library"):
        library.add_images(items)
    assert library.count() == 1 and sorted(library.files.stored()) == stored_before
    assert not records.pending_paths(library.conn) and library.check()["ok"]


def _png_with_chunk(path, text: str, size=(40, 30)):
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_itxt("cinedraft", text)
    Image.new("RGB", size, "teal").save(path, "PNG", pnginfo=info)
    return path


@pytest.mark.parametrize(
    "embedded",
    [
        {"asset_id": "aaaaaaaaaaa1", "prompt": ["x"]},  # a list where a string belongs
        {"asset_id": "../../etc/x", "prompt": "p"},  # a path as an id
        {"asset_id": 12345, "kind": "image"},  # a number as an id
        {
            "asset_id": "aaaaaaaaaaa2",
            "job_id": "0123456789abcdef",
            "tier": "production",
            "created": "2099-01-01T00:00:00Z",
            "kind": "image",
            "prompt": "claimed",
        },
    ],
)
def test_an_imported_files_record_is_a_claim_never_the_librarys_own_fields(
    library, tmp_path, embedded
):
    path = _png_with_chunk(tmp_path / "crafted.png", json.dumps(embedded))
    asset = library.import_file(path)
    assert asset.id != embedded["asset_id"] and asset.kind == "import" and asset.tier is None
    assert asset.created < "2099" and library.assets_of_job("0123456789abcdef") == []
    claim = asset.record["claim"]
    assert claim["record"] == embedded
    assert claim["valid"] == (embedded.get("prompt") == "claimed"), claim
    assert library.check()["ok"] and library.check()["quarantined"] == []
    library.close()
    reopened = Library(library.root)  # and the library keeps opening
    assert reopened.count() == 1 and reopened.check()["ok"]
    reopened.close()


@pytest.mark.parametrize("text", ['["not", "an", "object"]', "{not json", "null", '"a string"'])
def test_an_embedded_record_that_is_not_an_object_is_reported_in_the_claim(library, tmp_path, text):
    asset = library.import_file(_png_with_chunk(tmp_path / "odd.png", text))
    claim = asset.record["claim"]
    assert claim["valid"] is False and claim["problems"], claim


def test_import_refuses_what_is_not_a_regular_file(library, tmp_path):
    import os

    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    for path in (fifo, "/dev/zero", tmp_path):
        with pytest.raises(InputError, match="not a regular file"):
            library.import_file(path)
    assert library.count() == 0


def test_an_avif_is_an_image_and_a_heic_photo_is_refused_as_one(library, tmp_path):
    """HEIF images share MP4's box format: an AVIF (what browsers save web images as) was
    imported as a clip, and an iPhone's HEIC photo was "not a usable video"."""
    import struct

    pixels = np.zeros((96, 64, 3), np.uint8)
    pixels[:48], pixels[48:] = (200, 30, 30), (30, 30, 200)
    Image.fromarray(pixels).save(tmp_path / "web.avif", quality=90)  # a real one, by Pillow
    asset = library.import_file(tmp_path / "web.avif")
    assert (asset.kind, asset.mime, asset.width, asset.height) == ("import", "image/avif", 64, 96)
    assert asset.metrics["sharpness"] > 0  # decoded and measured as an image
    brands = b"ftypheic\0\0\0\0mif1MiHBMiHEMiPrmiafheictmap"  # an iPhone's ftyp box
    meta = struct.pack(">I", 12) + b"meta\0\0\0\0"
    (tmp_path / "IMG_0001.HEIC").write_bytes(struct.pack(">I", 4 + len(brands)) + brands + meta)
    with pytest.raises(InputError, match="IMG_0001.HEIC is a HEIC/HEIF image: cinedraft reads"):
        library.import_file(tmp_path / "IMG_0001.HEIC")
    assert library.count() == 1


def test_check_reports_invalid_ids_and_leftover_temp_files(library, add):
    asset = add()
    library.conn.execute("PRAGMA foreign_keys = OFF")  # tamper as a broken tool would
    library.conn.execute("UPDATE assets SET id = '../../x' WHERE id = ?", (asset.id,))
    stray = library.files.objects / "ab" / ".abcdef.png.x1y2.tmp"
    stray.parent.mkdir(parents=True, exist_ok=True)
    stray.write_bytes(b"half a file")
    report = library.check()
    assert not report["ok"] and report["invalid_ids"] == ["../../x"]
    assert report["temp_files"] == ["objects/ab/.abcdef.png.x1y2.tmp"]


def _umask() -> int:
    import os

    umask = os.umask(0)
    os.umask(umask)
    return umask


def test_an_a1111_or_comfyui_image_is_imported_with_its_prompt_found_by_search(library, tmp_path):
    """Users bring the images they made in A1111 or ComfyUI: what those say made them is kept
    (a claim, under ``made_with``) and their prompt is indexed, so search finds them."""
    from tests.media.test_metadata import COMFY, _a1111_file

    a1111 = tmp_path / "00012-1234567890.jpg"
    a1111.write_bytes(_a1111_file("jpeg").getvalue())
    comfy = tmp_path / "ComfyUI_00001_.png"
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", COMFY)
    Image.new("RGB", (8, 8), (1, 2, 3)).save(comfy, "PNG", pnginfo=info)
    first, second = library.import_file(a1111), library.import_file(comfy)
    assert first.record["made_with"]["tool"] == "A1111" and first.record.get("claim") is None
    assert first.prompt == "a photo of a cat, (masterpiece:1.2)\non a sofa"
    assert second.record["made_with"]["seed"] == 8566257
    assert second.prompt == "masterpiece best quality girl"
    assert [a.id for a in library.find(text="sofa")] == [first.id]
    assert [a.id for a in library.find(text="masterpiece")] == [second.id, first.id]
    plain = tmp_path / "photo.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert library.import_file(plain).record.get("made_with") is None


def test_a_converted_copy_of_an_a1111_image_still_says_how_it_was_made(library, tmp_path):
    """Export conversion writes the record's A1111 text; an import has no cinedraft recipe,
    so a WebP copy of an A1111 PNG lost the text A1111's PNG Info reads."""
    from cinedraft.media.metadata import read_parameters
    from tests.media.test_metadata import A1111, _a1111_file

    path = tmp_path / "00012-1234567890.png"
    path.write_bytes(_a1111_file("png").getvalue())
    copy = library.convert(library.import_file(path).id, "webp")
    written = read_metadata(copy.path)["parameters"]
    assert read_parameters(written) == read_parameters(A1111)
