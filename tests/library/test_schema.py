"""Record versions: what the library writes is stamped; what an older cinedraft wrote is
upgraded when read (fixtures in ``tests/fixtures/v0`` were made by the release before)."""

import json
from pathlib import Path

from cinedraft.record import RECORD_VERSION, upgrade_record

V0 = Path(__file__).parents[1] / "fixtures" / "v0"


def test_a_v0_edit_record_is_upgraded_to_the_current_flicker_unit():
    old = json.loads((V0 / "extend-record.json").read_text())
    assert "schema_version" not in old and old["edit"]["seams"][0]["flicker"] > 1  # 0..255
    new = upgrade_record(old)
    assert new["schema_version"] == RECORD_VERSION == 1
    assert new["edit"]["seams"][0]["flicker"] == round(old["edit"]["seams"][0]["flicker"] / 255, 4)
    assert {k: v for k, v in new.items() if k not in ("edit", "schema_version")} == {
        k: v for k, v in old.items() if k != "edit"
    }
    assert old["edit"]["seams"][0]["flicker"] > 1  # the input is not changed in place
    assert upgrade_record(new) == new  # current records pass through


def test_a_record_from_a_newer_version_is_left_as_it_is():
    future = {"schema_version": RECORD_VERSION + 1, "edit": {"seams": [{"flicker": 9.0}]}}
    assert upgrade_record(future) == future


def test_rows_written_by_an_older_version_are_read_upgraded(library, add):
    asset = add()
    old = json.loads((V0 / "extend-record.json").read_text())
    library.conn.execute("UPDATE assets SET record = ? WHERE id = ?", (json.dumps(old), asset.id))
    assert library.get(asset.id).record["edit"]["seams"][0]["flicker"] < 1


def test_what_the_library_writes_is_stamped(library, add, tmp_path):
    from cinedraft.media.metadata import read_metadata

    asset = add()
    assert asset.record["schema_version"] == RECORD_VERSION
    assert read_metadata(asset.path)["record"]["schema_version"] == RECORD_VERSION
    converted = library.convert(asset.id, "jpeg")
    assert converted.record["schema_version"] == RECORD_VERSION
