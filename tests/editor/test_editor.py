"""The editor through the library: lineage, provenance, OTIO, extend, hostile inputs."""

import random

import opentimelineio as otio
import pytest

from cinedraft.media.probe import Prober
from cinedraft.editor import Editor, Timeline, Transition
from cinedraft.editor.timeline import Clip
from cinedraft.errors import CinedraftError, InputError
from cinedraft.library import Library

from .conftest import make_clip


def test_edits_are_library_assets_with_lineage_and_ingredients(editor, tmp_path):
    a = make_clip(tmp_path / "a.mp4", frames=48)
    b = make_clip(tmp_path / "b.mp4", frames=48, shift=30)
    cut = editor.cut(a, 0.5, 1.5)
    merged = editor.merge([cut.id, b], "crossfade:0.25")
    assert cut.kind == merged.kind == "edit" and cut.record["frames"] == 24
    source_a = cut.parents[0]["id"]
    assert editor.library.get(source_a).kind == "import"
    assert {p["id"] for p in merged.parents} == {cut.id, editor.library.find(kind="import")[0].id}
    assert editor.library.lineage(merged.id, "parents")[-1][1] == source_a  # walked to the file
    found = editor.library.verify(merged.path)
    assert found.manifest["state"] == "Trusted"
    assert {i["relationship"] for i in found.manifest["ingredients"]} == {"componentOf"}
    assert merged.record["edit"]["method"] == "reencode" and merged.record["frames"] == 24 + 48 - 6
    again = editor.cut(a, 0, 1)  # the same file is not imported twice
    assert again.parents == cut.parents


def test_timeline_round_trips_through_otio(tmp_path):
    timeline = Timeline(
        [
            Clip(str(tmp_path / "a.mp4"), 0.5, 2.0, "0123456789ab"),
            Clip(str(tmp_path / "b.mp4"), 0.0, 1.5),
        ],
        [Transition("crossfade", 0.5)],
        fps=24.0,
        audio=str(tmp_path / "music.m4a"),
    )
    path = timeline.save_otio(tmp_path / "edit.otio")
    loaded = otio.adapters.read_from_file(str(path))  # a real OTIO document
    assert len(loaded.tracks[0]) == 3 and loaded.tracks[1].kind == otio.schema.TrackKind.Audio
    assert Timeline.load_otio(path) == timeline


def test_rendering_an_otio_timeline(editor, tmp_path):
    a = make_clip(tmp_path / "a.mp4", frames=48)
    b = make_clip(tmp_path / "b.mp4", frames=48, shift=50)
    Timeline([Clip(a, 0.5, 1.5), Clip(b, 0.0, 1.0)]).save_otio(tmp_path / "e.otio")
    rendered = editor.render(Timeline.load_otio(tmp_path / "e.otio"))
    assert rendered.record["frames"] == 48 and rendered.record["edit"]["method"] == "copy"


def test_extend_joins_a_continuation_and_scores_the_seam(editor, tmp_path):
    head = make_clip(tmp_path / "head.mp4", frames=48)
    # The continuation carries on the same motion: frame 48, 49, ... of the pattern.
    tail = make_clip(tmp_path / "tail.mp4", frames=48, first=48)
    extended = editor.extend(head, 2.0, "the square keeps moving", continuation=tail)
    seam = extended.record["edit"]["seams"][0]
    assert extended.record["frames"] == 96 and seam["at_frame"] == 48
    assert seam["ratio"] is not None and seam["ratio"] < 1.5  # like any other pair of frames
    jump = editor.extend(
        head, 2.0, "a cut", continuation=make_clip(tmp_path / "other.mp4", frames=48, shift=77)
    )
    assert jump.record["edit"]["seams"][0]["ratio"] > seam["ratio"]
    led = editor.extend(tail, 2.0, "what came before", continuation=head, before=True)  # a lead-in
    lead_seam = led.record["edit"]["seams"][0]
    assert led.record["frames"] == 96 and lead_seam["at_frame"] == 48 and lead_seam["ratio"] < 1.5
    with pytest.raises(CinedraftError, match="video engine"):
        editor.extend(head, 2.0, "no engine here")


def test_tiny_clips_extend_or_are_refused_before_anything_is_generated(tmp_path, prober):
    """A 2x2 clip's seam could not be scored (optical flow refuses frames under 12 px: a
    traceback); a 1-pixel-wide clip's continuation was generated for minutes and then could
    not be encoded."""
    library = Library(tmp_path / "lib")

    def must_not_generate(*args):
        raise AssertionError("generated a continuation that cannot be encoded")

    editor = Editor(library, prober, generate_continuation=must_not_generate)
    dot = make_clip(tmp_path / "dot.mp4", frames=8, size=(2, 2), pix_fmt="yuv444p")
    more = make_clip(tmp_path / "more.mp4", frames=8, size=(2, 2), first=8, pix_fmt="yuv444p")
    joined = editor.extend(dot, 1.0, "more", continuation=more)
    assert joined.record["frames"] == 16 and joined.record["edit"]["seams"][0]["ratio"] is not None
    thin = make_clip(tmp_path / "thin.mp4", frames=8, size=(1, 8), pix_fmt="yuv444p")
    with pytest.raises(InputError, match="1x8 frames are too small to encode"):
        editor.extend(thin, 1.0, "more")
    library.close()


def test_untrusted_inputs_fail_cleanly(editor, tmp_path):
    for bad in ("http://example.com/a.mp4", "concat:a.mp4|b.mp4", str(tmp_path / "missing.mp4")):
        with pytest.raises(InputError):
            editor.cut(bad, 0, 1)
    (tmp_path / "list.m3u8").write_text("#EXTM3U\n#EXTINF:1,\nclip.mp4\n")
    with pytest.raises(InputError, match="playlists"):
        editor.cut(str(tmp_path / "list.m3u8"), 0, 1)
    assert editor.library.count() == 0


def test_every_truncation_and_many_mutations_give_a_clear_error(prober, tmp_path):
    """No prefix or mutated copy of a valid MP4 crashes the caller or slips through broken."""
    data = open(make_clip(tmp_path / "small.mp4", frames=6, size=(32, 32), gop=3), "rb").read()
    target = tmp_path / "damaged.mp4"
    valid = 0
    for n in range(len(data)):
        target.write_bytes(data[:n])
        try:
            info = prober.probe(target)
        except InputError:
            continue
        valid += 1
        assert info.frame_count == 6  # accepted only when every frame decodes
    assert valid < 40  # nearly every prefix is refused (a few cut only trailing metadata)
    rng = random.Random(0)
    for _ in range(200):
        damaged = bytearray(data)
        for _ in range(rng.randint(1, 12)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        target.write_bytes(bytes(damaged))
        try:
            prober.probe(target)
        except InputError as exc:
            assert "damaged.mp4" in str(exc)


def test_the_probe_worker_starts_without_cinedraft(tmp_path, monkeypatch):
    """A worker starts with every command that reads a video: it runs by its path on the
    standard library and PyAV alone (0.10 s to start and probe a clip, against 0.44 s when
    it imported cinedraft). A ``cinedraft`` that cannot be imported stands first on its
    path; the probe still works."""
    shadow = tmp_path / "shadow" / "cinedraft"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('the worker imported cinedraft')\n")
    monkeypatch.setenv("PYTHONPATH", str(shadow.parent))
    monkeypatch.chdir(tmp_path)  # not the checkout, which `python -m` would put first
    prober = Prober()
    try:
        info = prober.probe(make_clip(tmp_path / "clip.mp4", frames=12))
    finally:
        prober.close()
    assert info.frame_count == 12 and info.fps == 24


def test_matroska_and_non_timelines_are_refused_up_front(editor, tmp_path):
    import av

    mkv = tmp_path / "clip.mkv"
    src = make_clip(tmp_path / "src.mp4", frames=12)
    with av.open(src) as inp, av.open(str(mkv), "w", format="matroska") as out:
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    before = editor.library.count()
    with pytest.raises(InputError, match="Matroska"):
        editor.cut(str(mkv), 0, 0.2)
    assert editor.library.count() == before
    empty = tmp_path / "empty.otio"
    empty.write_text("{}")
    with pytest.raises(InputError, match="not an OpenTimelineIO timeline"):
        Timeline.load_otio(empty)
