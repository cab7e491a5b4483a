import io

import c2pa
import pytest
from cryptography import x509
from PIL import Image

from cinedraft.errors import InputError
from cinedraft.library import watermark
from cinedraft.library.credentials import load_or_create
from cinedraft.library.provenance import AI_SOURCE

from .conftest import noise_image


def _reader(data: bytes, mime: str, anchors: bytes | None = None) -> c2pa.Reader:
    settings = {"verify": {"verify_trust": bool(anchors)}}
    if anchors:
        settings["trust"] = {"user_anchors": anchors.decode()}
    return c2pa.Reader(mime, io.BytesIO(data), context=c2pa.Context.from_dict(settings))


def test_local_ca_issues_a_leaf_the_sdk_accepts(tmp_path):
    creds = load_or_create(tmp_path / "keys")
    ca = x509.load_pem_x509_certificate(creds.ca_pem)
    leaf = x509.load_pem_x509_certificates(creds.chain_pem)[0]
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert leaf.issuer == ca.subject != leaf.subject  # not self-signed
    assert (tmp_path / "keys" / "signer.key").stat().st_mode & 0o777 == 0o600
    assert load_or_create(tmp_path / "keys") == creds  # created once, then reused


@pytest.mark.parametrize(
    "fmt,mime", [("png", "image/png"), ("webp", "image/webp"), ("jpeg", "image/jpeg")]
)
def test_signed_files_validate_with_the_sdk_reader(library, add, fmt, mime):
    asset = add(fmt=fmt)
    data = open(asset.path, "rb").read()
    anchors = (library.root / "keys" / "ca.pem").read_bytes()
    with _reader(data, mime, anchors) as reader:
        assert reader.get_validation_state() == "Trusted"
        active = reader.get_active_manifest()
    actions = [
        a
        for x in active["assertions"]
        if x["label"].startswith("c2pa.actions")
        for a in x["data"]["actions"]
    ]
    assert actions[0]["action"] == "c2pa.created" and actions[0]["digitalSourceType"] == AI_SOURCE
    assert active["claim_generator_info"][0]["name"] == "cinedraft"
    with _reader(data, mime) as reader:  # without our CA: valid, signer not trusted
        assert reader.get_validation_state() == "Valid"


def test_one_byte_change_is_reported_as_tampered(library, add, tmp_path):
    asset = add(size=256)
    data = bytearray(open(asset.path, "rb").read())
    assert library.verify(asset.path).manifest["tampered"] is False
    idat = data.index(b"IDAT") + 64  # inside the compressed pixels
    data[idat] ^= 0x01
    bad = tmp_path / "bad.png"
    bad.write_bytes(bytes(data))
    found = library.verify(bad)
    assert found.manifest["state"] == "Invalid" and found.manifest["tampered"]
    assert any("hash" in f for f in found.manifest["failures"])
    assert not found.ok and not found.library_copy


def _chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """``(type, whole chunk bytes)`` of a PNG."""
    out, pos = [], 8
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        out.append((png[pos + 4 : pos + 8], png[pos : pos + 12 + length]))
        pos += 12 + length
    return out


def test_changed_pixel_fails_the_hash(library, add, tmp_path):
    asset = add(size=256)
    signed = open(asset.path, "rb").read()
    with Image.open(asset.path) as im:
        pixels = im.convert("RGB")
    r, g, b = pixels.getpixel((10, 10))
    pixels.putpixel((10, 10), (r ^ 1, g, b))  # one pixel, one bit
    buf = io.BytesIO()
    pixels.save(buf, "PNG")
    # Put the original manifest chunk (caBX) and text chunks back around the new pixels.
    kept = [c for t, c in _chunks(signed) if t not in (b"IHDR", b"IDAT", b"IEND")]
    fresh = _chunks(buf.getvalue())
    edited = signed[:8] + fresh[0][1] + b"".join(kept) + b"".join(c for t, c in fresh[1:])
    (tmp_path / "edited.png").write_bytes(edited)
    found = library.verify(tmp_path / "edited.png")
    assert found.manifest["present"] and found.manifest["tampered"]
    assert any("hash" in f for f in found.manifest["failures"])


def test_promoted_asset_lists_its_draft_as_ingredient(library, add):
    draft = add()
    final = add(tier="production", seed=1, parents=[{"id": draft.id, "role": "draft"}])
    found = library.verify(final.path)
    model = {"title": "builtin", "relationship": "inputTo", "instance_id": "sha256:" + "0" * 64}
    parent = {"title": draft.id, "relationship": "parentOf", "instance_id": draft.id}
    assert found.manifest["ingredients"] == [model, parent]  # the weights it ran with, too
    assert found.manifest["actions"][:2] == ["c2pa.opened", "c2pa.edited"]
    assert found.manifest["ai_generated"] and found.manifest["model"] == "builtin"
    edit = add(
        kind="edit",
        seed=2,
        parents=[{"id": draft.id, "role": "source"}, {"id": final.id, "role": "source"}],
    )
    titles = {
        i["title"]: i["relationship"] for i in library.verify(edit.path).manifest["ingredients"]
    }
    assert titles == {draft.id: "componentOf", final.id: "componentOf"}


def test_unsigned_file_reports_no_manifest(library, tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(path)
    found = library.verify(path)
    assert found.manifest["present"] is False and not found.ok and found.watermark is None


def _jpeg(image: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")


def test_watermark_survives_jpeg_and_half_size(library, add):
    asset = add(size=256, tier="production")
    assert asset.record["watermark"] == {"method": watermark.METHOD, "asset_id": asset.id}
    with Image.open(asset.path) as im:
        marked = im.convert("RGB")
    assert watermark.detect(marked) == asset.id
    assert watermark.detect(_jpeg(marked, 75)) == asset.id
    half = marked.resize((128, 128), Image.Resampling.LANCZOS)
    assert watermark.detect(half, sizes=[(256, 256)]) == asset.id
    assert watermark.detect(half) == asset.id  # found by the 2x retry, no size given
    assert watermark.detect(noise_image(256, 7)) is None  # CRC: no false positive


def test_a_record_cannot_claim_a_mark_only_keep_mark_keeps_one(library):
    """The library writes the ``watermark`` field: a record that brings its own is marked all
    the same; a caller whose pixels keep another asset's mark says so with ``keep_mark``."""
    from .conftest import make_record

    forged = make_record(library, "forged", size=256) | {"watermark": {"method": "x"}}
    asset = library.add_images([(noise_image(256, 3), forged, "png", 90)])[0]
    assert asset.record["watermark"] == {"method": watermark.METHOD, "asset_id": asset.id}
    with Image.open(asset.path) as im:
        assert watermark.detect(im.convert("RGB")) == asset.id
    with Image.open(asset.path) as im:
        kept_pixels = im.convert("RGB")
    mark = dict(asset.record["watermark"], inherited=True)
    record = make_record(library, "a turn", size=256)
    turn = library.add_images([(kept_pixels, record, "png", 90)], keep_mark=mark)[0]
    assert turn.record["watermark"] == mark
    with Image.open(turn.path) as im:
        assert watermark.detect(im.convert("RGB")) == asset.id  # the source's, not re-marked


def test_small_images_are_not_marked_and_say_why(add):
    asset = add(size=64)
    assert asset.record["watermark"]["method"] is None
    assert "256x256" in asset.record["watermark"]["reason"]


def _signed_in(root, fmt="png", seed=0):
    from cinedraft.library import Library

    from .conftest import make_record

    library = Library(root)
    asset = library.add_image(
        noise_image(256, seed), make_record(library, "signed", size=256), fmt, 90
    )
    return library, asset


def test_a_foreign_intact_file_is_valid_from_an_unknown_signer_not_tampered(tmp_path):
    from pathlib import Path

    from cinedraft.library import Library

    other, asset = _signed_in(tmp_path / "other")
    here = Library(tmp_path / "here")  # no CA of its own yet
    found = here.verify(Path(asset.path))
    assert found.manifest["state"] == "Valid" and not found.manifest["tampered"] and found.ok
    assert not found.trusted and any("untrusted" in n for n in found.manifest["trust_notes"])
    here.signer()  # with a CA of its own, still only unknown, not tampered
    assert here.verify(Path(asset.path)).manifest["state"] == "Valid"
    fingerprint, _ = here.trust(other.root / "keys" / "ca.pem")
    assert here.verify(Path(asset.path)).trusted
    assert [fp for fp, _ in here.trusted()] == [fingerprint]
    here.untrust(fingerprint)
    assert here.verify(Path(asset.path)).manifest["state"] == "Valid"
    with pytest.raises(InputError, match="not a CA"):  # the signer's leaf is not a trust anchor
        here.trust(other.root / "keys" / "signer.pem")
    # a changed pixel is still tampering, trusted signer or not
    broken = tmp_path / "broken.png"
    with Image.open(asset.path) as im:
        pixels = im.convert("RGB")
    data = bytearray(Path(asset.path).read_bytes())
    start = data.index(b"IDAT") + 40
    data[start] ^= 0x01
    broken.write_bytes(bytes(data))
    assert here.verify(broken).manifest["state"] == "Invalid"
    assert pixels.size == (256, 256)
    other.close()
    here.close()


@pytest.mark.parametrize("fmt", ["webp", "png", "jpeg"])
def test_every_damaged_manifest_is_reported_never_raised(tmp_path, fmt):
    import random
    from pathlib import Path

    library, asset = _signed_in(tmp_path / "lib", fmt)
    data = Path(asset.path).read_bytes()
    start = data.find(b"jumb") - 8  # the JUMBF box that holds the manifest store
    assert start > 0
    rng = random.Random(fmt)
    target = tmp_path / f"flipped.{fmt}"
    states = set()
    for at in sorted(rng.sample(range(start, min(len(data), start + 6000)), 40)):
        target.write_bytes(data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :])
        found = library.verify(target)  # must not raise
        states.add(found.manifest["state"])
        assert found.manifest["state"] in ("Invalid", "absent", "Trusted", "Valid")
    assert "Invalid" in states
    library.close()


def test_a_source_with_a_damaged_manifest_is_named_unverified_and_the_new_file_still_signs(
    tmp_path,
):
    import json
    from pathlib import Path

    from cinedraft.library.provenance import UNVERIFIED_LABEL, Ingredient

    library, source = _signed_in(tmp_path / "lib", "png")
    data = Path(source.path).read_bytes()
    start = data.find(b"jumb")
    output = _signed_in(tmp_path / "out", "png", seed=1)[1]
    plain = Path(output.path).read_bytes()
    named = 0
    for at in range(start, start + 1500, 9):
        damaged = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
        record = {"asset_id": "0123456789ab", "kind": "edit", "model": "builtin"}
        signed = library.signer().sign(
            plain,
            "image/png",
            record,
            [Ingredient("aaaaaaaaaaaa", damaged, "image/png", "componentOf")],
        )
        with _reader(signed, "image/png") as reader:
            active = json.loads(reader.json())["manifests"][
                json.loads(reader.json())["active_manifest"]
            ]
        labels = {a["label"] for a in active.get("assertions", [])}
        if UNVERIFIED_LABEL in labels:
            named += 1
            entry = next(a for a in active["assertions"] if a["label"] == UNVERIFIED_LABEL)["data"]
            assert (
                entry["ingredients"][0]["asset_id"] == "aaaaaaaaaaaa"
                and entry["ingredients"][0]["reason"]
            )
        else:
            assert [i["title"] for i in active.get("ingredients", [])] == ["aaaaaaaaaaaa"]
    assert named >= 1  # some flips did damage the manifest past what the SDK accepts
    library.close()
