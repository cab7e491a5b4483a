"""The typed generation record: every kind's record is a valid library row, extra fields
survive, and a record of one kind is refused where another is needed, with one clear line."""

import pytest

from cinedraft.errors import InputError
from cinedraft.library.schema import row_fields
from cinedraft.record import (
    STILL_FIELDS,
    EditRecord,
    ImageRecord,
    ImportRecord,
    StillRecord,
    VideoRecord,
    read_record,
)

MADE = dict(
    prompt="a red ball",
    seed=7,
    model="builtin",
    model_path="/m",
    model_hash="ab" * 32,
    family="sd15",
    pipeline="StableDiffusionPipeline",
    sampler="DPM++ 2M",
    steps=12,
    guidance=5.0,
    width=64,
    height=64,
    device="cpu",
    dtype="float32",
    versions={"diffusers": "0"},
)


def records() -> list:
    image = ImageRecord(
        asset_id="a" * 12,
        tier="draft",
        scheduler="dpmpp",
        render={"format": "webp", "quality": 90},
        base_width=64,
        base_height=64,
        **MADE,
    )
    video = VideoRecord(
        asset_id="b" * 12,
        chunk_seeds=[7],
        conditioning=None,
        mode="text",
        continue_guidance=5.0,
        preset={"name": "draft"},
        seconds=1.0,
        fps=24,
        frames=24,
        model_size=[64, 64],
        native_fps=8,
        chunks=[9],
        overlap=0,
        seams=[],
        temporal={"warp_error": {"mean": 1.0, "p95": 1.0, "max": 1.0}},
        **MADE,
    )
    still = StillRecord(
        asset_id="c" * 12,
        kind="poster",
        width=64,
        height=64,
        parents=[{"id": "b" * 12, "role": "video"}],
        **{k: getattr(video, k) for k in STILL_FIELDS},
    )
    edit = EditRecord(
        asset_id="d" * 12,
        operation="cut",
        parameters={},
        width=64,
        height=64,
        frames=24,
        fps=24,
        seconds=1.0,
        edit={},
        timeline={},
    )
    imported = ImportRecord(
        asset_id="e" * 12, imported="2026-12-05T00:00:00Z", imported_from="x.png", width=1, height=1
    )
    return [image, video, still, edit, imported]


@pytest.mark.parametrize("record", records(), ids=lambda r: r.kind)
def test_every_kind_of_record_is_a_valid_row_and_reads_back(record):
    stored = record.to_dict()
    assert row_fields(stored).asset_id == record.asset_id
    assert stored["schema_version"] >= 1 and stored["created"].endswith("Z")
    assert read_record(stored, type(record), "it") == record


def test_fields_the_library_adds_survive_a_read():
    stored = records()[0].to_dict() | {"watermark": {"method": "dwtDct"}, "job_id": "f" * 16}
    image = read_record(stored, ImageRecord, "an image")
    assert image.to_dict()["watermark"] == {"method": "dwtDct"}
    assert image.to_dict()["job_id"] == "f" * 16


def test_a_record_of_another_kind_is_refused_in_one_line():
    clip = records()[1].to_dict()
    with pytest.raises(InputError, match=r"^b{12} is not a generated image \(kind: .*\)$"):
        read_record(clip, ImageRecord, "a generated image")
    with pytest.raises(InputError, match=r"is not an edit \(kind: Input should be .edit.\)"):
        read_record(records()[0].to_dict(), EditRecord, "an edit")
