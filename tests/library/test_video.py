"""Videos in the library: the record rides in the MP4, the file is signed, crashes heal."""

import io

import av
import numpy as np
import pytest

from cinedraft.errors import InputError
from cinedraft.library import Library
from cinedraft.media.metadata import read_metadata

from .conftest import make_record


def mp4(frames: int = 12, fps: int = 12, size: int = 64) -> bytes:
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = size, size, "yuv420p"
        for i in range(frames):
            frame = np.full((size, size, 3), (i * 20) % 256, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))
    return buf.getvalue()


def _frames(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_video_keeps_its_record_and_is_signed(library, add):
    still = add("a blue jar", size=64)
    record = make_record(
        library,
        "a blue jar slides left",
        kind="video",
        parents=[{"id": still.id, "role": "first_frame"}],
    )
    video = library.add_video(mp4(), record)
    assert video.mime == "video/mp4" and _frames(video.path) == 12  # stream copy: all frames
    meta = read_metadata(video.path)
    assert meta["record"]["asset_id"] == video.id and "Steps: 8" in meta["parameters"]
    data = open(video.path, "rb").read()
    assert data.find(b"moov") < data.find(b"mdat")  # faststart: plays while loading
    found = library.verify(video.path)
    assert found.manifest["state"] == "Trusted" and found.library_copy
    parents = [i for i in found.manifest["ingredients"] if i["relationship"] == "parentOf"]
    assert parents == [{"title": still.id, "relationship": "parentOf", "instance_id": still.id}]
    assert library.find(kind="video")[0].id == video.id


def test_corrupt_video_is_refused(library):
    with pytest.raises(InputError, match="not a readable video"):
        library.add_video(mp4()[:200], make_record(library, "x", kind="video"))
    assert library.count() == 0


def test_imported_video_keeps_its_embedded_record_as_a_claim(tmp_path, library):
    other = Library(tmp_path / "other", provenance=False)
    made = other.add_video(mp4(), make_record(other, "a red ball bounces", kind="video"))
    copy = tmp_path / "clip.mp4"
    copy.write_bytes(open(made.path, "rb").read())
    imported = library.import_file(copy)
    assert imported.kind == "import" and imported.id != made.id
    assert (
        imported.record["claim"]["valid"]
        and imported.record["claim"]["record"]["asset_id"] == made.id
    )
    assert imported.prompt == "a red ball bounces"  # the claimed prompt is searchable
    assert (imported.width, imported.height) == (64, 64)
    other.close()


def test_interrupted_video_write_is_adopted(tmp_path, monkeypatch):
    from cinedraft.library import records

    library = Library(tmp_path / "lib")
    record = make_record(library, "interrupted clip", kind="video")
    monkeypatch.setattr(
        records, "insert_assets", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt)
    )
    with pytest.raises(KeyboardInterrupt):
        library.add_video(mp4(), record)
    monkeypatch.undo()
    library.close()
    reopened = Library(tmp_path / "lib")
    assert reopened.last_reconcile["adopted"] == [record["asset_id"]]
    assert reopened.get(record["asset_id"]).kind == "video" and reopened.check()["ok"]
    reopened.close()


def test_import_sends_every_video_through_the_prober(tmp_path, library):
    """A clip whose header demuxes (``moov`` first) but whose frames are cut off is refused
    by the prober (it decodes every frame in a worker process), not stored."""
    from ..editor.conftest import make_clip

    whole = open(make_clip(tmp_path / "whole.mp4", frames=48), "rb").read()
    damaged = tmp_path / "cut-off.mp4"
    damaged.write_bytes(whole[: int(len(whole) * 0.6)])
    with pytest.raises(InputError, match="not a usable video"):
        library.import_file(damaged)
    assert library.count() == 0 and library.check()["ok"]


def test_an_imported_phone_clip_is_recorded_at_the_size_it_is_shown(tmp_path, library):
    """A portrait phone clip is stored as landscape frames and a display matrix: its record
    said 160x96 for a clip every player shows 96x160."""
    from ..editor.conftest import make_clip

    clip = make_clip(tmp_path / "phone.mp4", frames=12, size=(96, 160), rotation=-90)
    asset = library.import_file(clip)
    assert (asset.width, asset.height) == (96, 160)
