"""Edit operations on clips encoded here: exact frame counts, the right frames, copy vs
re-encode."""

from pathlib import Path

import av
import numpy as np
import pytest

from cinedraft.editor import ops
from cinedraft.media.codec import decode_audio, decode_frames, rgb_array
from cinedraft.editor.timeline import Transition
from cinedraft.errors import InputError
from cinedraft.render.adjust import Adjustment, apply_rgb, mean_luma

from .conftest import frame_pattern, make_clip


def _matches(out_frames, src_frames, expected, tolerance=3.0):
    """Each output frame is closest to the expected source frame, and close to it."""
    for frame, index in zip(out_frames, expected):
        errors = [np.abs(frame.astype(int) - s.astype(int)).mean() for s in src_frames]
        assert int(np.argmin(errors)) == index, (index, int(np.argmin(errors)))
        assert errors[index] < tolerance


@pytest.mark.parametrize(
    "start, end, method",
    [
        (1.25, 2.5, "smart"),  # frames 30..59: two partial GOPs
        (1.0, 2.0, "copy"),  # frames 24..47: exactly one GOP
        (0.0, 3.0, "copy"),  # the whole clip
        (0.5, 3.0, "smart"),  # to the end: the tail GOPs copy
        (2.1, 2.15, "smart"),  # a single frame
    ],
)
def test_cut_is_frame_accurate(tmp_path, prober, clip, start, end, method):
    info = prober.probe(clip)
    stats = ops.cut(info, start, end, tmp_path / "cut.mp4")
    out = prober.probe(tmp_path / "cut.mp4")
    a, b = int(np.ceil(start * 24 - 1e-6)), int(np.ceil(end * 24 - 1e-6))
    assert stats.method == method and out.frame_count == b - a == stats.frames
    assert out.duration == pytest.approx((b - a) / 24)
    _matches(decode_frames(tmp_path / "cut.mp4"), decode_frames(clip), range(a, b))
    if method == "copy":
        assert stats.reencoded_frames == 0
        assert np.array_equal(decode_frames(tmp_path / "cut.mp4")[0], decode_frames(clip)[a])


def test_smart_render_reencodes_only_partial_gops(tmp_path, prober):
    clip = make_clip(tmp_path / "long.mp4", frames=120)
    stats = ops.cut(prober.probe(clip), 0.5, 4.25, tmp_path / "cut.mp4")  # frames 12..101
    # head 12..23 (12 frames), GOPs 24..95 copied (72), tail 96..101 (6 frames)
    assert (stats.reencoded_frames, stats.copied_packets, stats.frames) == (18, 72, 90)


@pytest.mark.parametrize("size", [(160, 96), (161, 95)])
def test_a_cut_of_a_444_clip_stays_444_through_its_reencoded_ends(tmp_path, prober, size):
    """Smart render re-encodes the partial GOPs; it did so in 8-bit 4:2:0 whatever the source
    was, so a 4:4:4 clip's cut switched chroma format mid-track (4:2:0 ends, a 4:4:4
    middle), and one of odd size could not be cut at all (x264 refused the 4:2:0 encoder)."""
    clip = make_clip(tmp_path / "full.mp4", frames=48, size=size, gop=8, pix_fmt="yuv444p")
    stats = ops.cut(prober.probe(clip), 0.25, 1.5, tmp_path / "cut.mp4")  # frames 6..35
    assert stats.method == "smart" and stats.copied_packets and stats.reencoded_frames
    with av.open(str(tmp_path / "cut.mp4")) as cut:
        assert {frame.format.name for frame in cut.decode(video=0)} == {"yuv444p"}
    _matches(decode_frames(tmp_path / "cut.mp4"), decode_frames(clip), range(6, 36))


def test_clips_too_small_to_encode_or_crop_are_refused_in_a_sentence(tmp_path, prober):
    """A 1-pixel-wide clip (4:4:4 allows it) cannot be encoded as 4:2:0, and a 2x2 one has
    no 9:16 window: each was a traceback from PyAV or OpenCV."""
    thin = prober.probe(make_clip(tmp_path / "thin.mp4", 8, size=(1, 8), gop=8, pix_fmt="yuv444p"))
    dot = prober.probe(make_clip(tmp_path / "dot.mp4", 8, size=(2, 2), gop=8, pix_fmt="yuv444p"))
    with pytest.raises(InputError, match="1x8 frames are too small to encode"):
        ops.speed(thin, 2.0, tmp_path / "x.mp4")
    with pytest.raises(InputError, match="1x8 frames are too small to encode"):
        ops.merge([thin, dot], tmp_path / "x.mp4")
    with pytest.raises(InputError, match="a 2x2 clip is too small to crop to 9:16"):
        ops.reframe(dot, "9:16", tmp_path / "x.mp4")


def test_cut_checks_its_range(tmp_path, prober, clip):
    info = prober.probe(clip)
    for start, end in [(-1, 1), (2, 1), (5, 6)]:
        with pytest.raises(InputError):
            ops.cut(info, start, end, tmp_path / "x.mp4")


def test_compatible_merge_is_stream_copy_with_exact_timestamps(tmp_path, prober):
    a = make_clip(tmp_path / "a.mp4", frames=48)
    b = make_clip(tmp_path / "b.mp4", frames=30, shift=40)
    infos = [prober.probe(a), prober.probe(b), prober.probe(a)]
    stats = ops.merge(infos, tmp_path / "m.mp4")
    assert stats.method == "copy" and stats.reencoded_frames == 0 and stats.copied_packets == 126
    out = prober.probe(tmp_path / "m.mp4")
    assert out.frame_count == 126 and out.duration == pytest.approx(126 / 24)
    steps = np.diff(out.video.pts)
    assert (steps == steps[0]).all()  # no gap, no duplicate, no drift at the joins
    merged = decode_frames(tmp_path / "m.mp4")
    sources = decode_frames(a) + decode_frames(b) + decode_frames(a)
    assert all(np.array_equal(x, y) for x, y in zip(merged, sources))  # bit-identical: copied


def test_incompatible_clips_are_normalised(tmp_path, prober):
    a = make_clip(tmp_path / "a.mp4", frames=48, fps=24, size=(160, 96))
    b = make_clip(tmp_path / "b.mp4", frames=30, fps=30, size=(128, 128), audio=True)
    stats = ops.merge([prober.probe(a), prober.probe(b)], tmp_path / "m.mp4")
    out = prober.probe(tmp_path / "m.mp4")
    assert stats.method == "reencode"
    assert (out.video.width, out.video.height, out.fps) == (160, 96, 24)
    assert out.frame_count == 48 + 24  # 1 s at 30 fps becomes 1 s at 24 fps
    assert out.audio is not None and out.audio.sample_rate == 48000
    assert out.audio.frames / 48000 == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize("kind, frames", [("crossfade", 96 + 96 - 12), ("fade", 96 + 96)])
def test_transitions(tmp_path, prober, kind, frames):
    a = make_clip(tmp_path / "a.mp4", frames=96)
    info = prober.probe(a)
    stats = ops.merge([info, info], tmp_path / "t.mp4", [Transition(kind, 0.5)])
    out = decode_frames(tmp_path / "t.mp4")
    assert len(out) == frames == prober.probe(tmp_path / "t.mp4").frame_count
    join = stats.seams[0]["at_frame"]
    if kind == "fade":
        assert out[join - 1].mean() < 25 and out[join].mean() < 25  # through black
    else:
        src = decode_frames(a)
        middle = out[96 - 12 + 6]  # halfway: a mix of the end of A and the start of B
        mix = (src[96 - 12 + 6].astype(int) + src[6].astype(int)) / 2
        assert np.abs(middle.astype(int) - mix).mean() < 12


@pytest.mark.parametrize("rotation", [-90, 90, 180])
def test_a_clip_turned_by_its_display_matrix_is_edited_upright(tmp_path, prober, rotation):
    """A phone stores a portrait clip as landscape frames and a display matrix that players
    apply. Read unturned, every re-encoding edit (speed, reframe, a merge that normalises)
    made it sideways, and a copy-merge with an unturned clip gave both one matrix."""
    clip = make_clip(tmp_path / "phone.mp4", frames=48, size=(96, 160), gop=12, rotation=rotation)
    info = prober.probe(clip)
    assert (info.video.width, info.video.height, info.video.rotation) == (96, 160, rotation % 360)
    shown = [frame_pattern(i, (96, 160)) for i in range(48)]
    assert decode_frames(clip)[0].shape == (160, 96, 3)
    _matches(decode_frames(clip), shown, range(48))

    ops.cut(info, 0.25, 1.5, tmp_path / "cut.mp4")  # smart: copied GOPs keep the matrix
    _matches(decode_frames(tmp_path / "cut.mp4"), shown, range(6, 36))
    ops.speed(info, 2.0, tmp_path / "fast.mp4")
    assert prober.probe(tmp_path / "fast.mp4").video.rotation == 0  # written upright
    _matches(decode_frames(tmp_path / "fast.mp4"), shown, range(0, 48, 2))
    ops.reframe(info, "9:16", tmp_path / "tall.mp4")
    tall = prober.probe(tmp_path / "tall.mp4").video
    assert tall.height > tall.width  # a crop of the portrait, not of a landscape

    plain = make_clip(tmp_path / "plain.mp4", frames=24, size=(96, 160), first=48)
    assert not ops.compatible([info, prober.probe(plain)])
    ops.merge([info, prober.probe(plain)], tmp_path / "m.mp4")
    shown += [frame_pattern(i, (96, 160)) for i in range(48, 72)]
    _matches(decode_frames(tmp_path / "m.mp4"), shown, range(72))
    ops.merge([info, info], tmp_path / "twice.mp4")  # copy: the one matrix fits both
    _matches(decode_frames(tmp_path / "twice.mp4"), shown, [*range(48), *range(48)])


def test_a_clip_of_wide_pixels_is_edited_at_the_width_it_is_shown(tmp_path, prober):
    """A camcorder's 1440x1080 HDV frame has pixels 4:3 wide and plays 1920 wide: edits
    that re-encode wrote it squeezed, and a copy-merge gave a square-pixel clip its aspect."""
    from fractions import Fraction

    from cinedraft.media.codec import h264_encoder

    clip = make_clip(tmp_path / "hdv.mp4", frames=24, size=(160, 96), sar=Fraction(4, 3))
    info = prober.probe(clip)
    assert (info.video.width, info.video.height, info.video.sar) == (160, 96, (4, 3))
    shown = [frame_pattern(i) for i in range(24)]
    _matches(decode_frames(clip), shown, range(24), tolerance=8)  # resampled twice
    ops.speed(info, 2.0, tmp_path / "fast.mp4")
    fast = prober.probe(tmp_path / "fast.mp4").video
    assert (fast.width, fast.height, fast.sar) == (160, 96, (1, 1))
    _matches(decode_frames(tmp_path / "fast.mp4"), shown, range(0, 24, 2), tolerance=8)
    square = make_clip(tmp_path / "square.mp4", frames=24, size=(120, 96))  # same stored size
    assert not ops.compatible([info, prober.probe(square)])
    with av.open(clip) as source:  # a cut's re-encoded ends say the same pixel aspect
        encoder = h264_encoder(
            120, 96, 24, Fraction(1, 24), like=source.streams.video[0].codec_context
        )
    assert encoder.sample_aspect_ratio == Fraction(4, 3)


def test_speed_changes_duration_and_keeps_pitch_length(tmp_path, prober):
    clip = make_clip(tmp_path / "a.mp4", frames=48, audio=True)
    info = prober.probe(clip)
    ops.speed(info, 0.5, tmp_path / "slow.mp4")
    slow = prober.probe(tmp_path / "slow.mp4")
    assert slow.frame_count == 96 and slow.audio.frames / 48000 == pytest.approx(4.0, abs=0.05)
    ops.speed(info, 2.0, tmp_path / "fast.mp4")
    assert prober.probe(tmp_path / "fast.mp4").frame_count == 24
    with pytest.raises(InputError):
        ops.speed(info, 10, tmp_path / "x.mp4")


def test_audio_replace_add_and_mute(tmp_path, prober):
    silent = prober.probe(make_clip(tmp_path / "v.mp4", frames=48))
    music = prober.probe(make_clip(tmp_path / "m.mp4", frames=96, audio=True))
    ops.audio(silent, tmp_path / "r.mp4", music, "replace")
    replaced = prober.probe(tmp_path / "r.mp4")
    assert replaced.audio is not None and replaced.frame_count == 48
    assert replaced.audio.frames / 48000 == pytest.approx(2.0, abs=0.05)  # cut to the video
    assert np.array_equal(
        decode_frames(tmp_path / "r.mp4")[10], decode_frames(tmp_path / "v.mp4")[10]
    )
    ops.audio(replaced, tmp_path / "add.mp4", music, "add", volume=0.5)
    louder = np.abs(decode_audio(tmp_path / "add.mp4")).mean()
    assert louder > np.abs(decode_audio(tmp_path / "r.mp4")).mean() * 1.2
    ops.audio(replaced, tmp_path / "mute.mp4", None, "mute")
    assert prober.probe(tmp_path / "mute.mp4").audio is None


def _tone_file(path, container: str, codec: str, rate: int, layout: str, seconds: float):
    """A 440 Hz tone in ``container`` (wav, mp3, flac), as music is kept."""
    with av.open(str(path), "w", format=container) as out:
        stream = out.add_stream(codec, rate=rate)
        stream.layout = layout
        channels = av.AudioLayout(layout).nb_channels
        step, n = stream.codec_context.frame_size or 1024, int(rate * seconds)
        for start in range(0, n, step):
            t = np.arange(start, min(n, start + step)) / rate
            tone = np.tile(0.2 * np.sin(2 * np.pi * 440 * t), (channels, 1)) * 32767
            planar = stream.codec_context.format.is_planar
            samples = tone.astype(np.int16) if planar else tone.T.reshape(1, -1).astype(np.int16)
            frame = av.AudioFrame.from_ndarray(
                np.ascontiguousarray(samples), format="s16p" if planar else "s16", layout=layout
            )
            frame.sample_rate, frame.pts = rate, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    "name, codec, rate, layout",
    [
        ("music.wav", "pcm_s16le", 8000, "mono"),
        ("music.mp3", "libmp3lame", 44100, "stereo"),
        ("music.flac", "flac", 96000, "stereo"),
    ],
)
def test_music_comes_as_wav_mp3_or_flac(tmp_path, prober, name, codec, rate, layout):
    """Music beds were taken only in MP4/M4A/MKV ("format 'wav' is not a media container
    cinedraft edits"), while music is mostly kept as WAV, MP3 or FLAC. They are music only:
    as a video they are still refused."""
    container = name.rsplit(".", 1)[1]
    music_file = _tone_file(tmp_path / name, container, codec, rate, layout, 3.0)
    silent = prober.probe(make_clip(tmp_path / "v.mp4", frames=48))
    ops.audio(silent, tmp_path / "r.mp4", prober.probe(music_file, need_video=False), "replace")
    sound = decode_audio(tmp_path / "r.mp4")[0]
    assert len(sound) == pytest.approx(2 * 48000, abs=2048)  # cut to the video's 2 s
    peak = np.argmax(np.abs(np.fft.rfft(sound[:48000])))  # 1 Hz bins over the first second
    assert peak == pytest.approx(440, abs=2)
    with pytest.raises(InputError, match="not a media container"):
        prober.probe(music_file)


def test_music_under_a_prores_mov_reencodes_the_picture(tmp_path, prober):
    """The audio edit copies the video into an MP4, which cannot hold ProRes (what MOVs from
    editing suites carry): it was a PyAV ValueError. Such a picture is re-encoded (H.264)."""
    with av.open(str(tmp_path / "edit.mov"), "w", format="mov") as mov:
        video = mov.add_stream("prores_ks", rate=24)
        video.width, video.height, video.pix_fmt = 160, 96, "yuv422p10le"
        for i in range(48):
            mov.mux(video.encode(av.VideoFrame.from_ndarray(frame_pattern(i), format="rgb24")))
        mov.mux(video.encode(None))
    clip = prober.probe(tmp_path / "edit.mov")
    music = prober.probe(make_clip(tmp_path / "m.mp4", frames=96, audio=True))
    stats = ops.audio(clip, tmp_path / "r.mp4", music, "replace")
    out = prober.probe(tmp_path / "r.mp4")
    assert stats.method == "reencode" and out.video.codec == "h264"
    assert out.frame_count == 48 and out.audio is not None
    _matches(decode_frames(tmp_path / "r.mp4"), decode_frames(tmp_path / "edit.mov"), range(48))


def test_reframe_follows_the_moving_subject(tmp_path, prober):
    clip = make_clip(tmp_path / "wide.mp4", frames=48, size=(320, 96))
    ops.reframe(prober.probe(clip), "9:16", tmp_path / "tall.mp4")
    out = prober.probe(tmp_path / "tall.mp4")
    assert (out.video.width, out.video.height) == (54, 96) and out.frame_count == 48
    frames = decode_frames(tmp_path / "tall.mp4")
    inside = [int((f.min(axis=2) > 200).sum() > 100) for f in frames]  # the white square
    assert sum(inside) >= 40  # the crop keeps the subject in view almost always
    with pytest.raises(InputError):
        ops.reframe(prober.probe(clip), "2:3", tmp_path / "x.mp4")


def test_reframe_keeps_the_sound(tmp_path, prober):
    clip = make_clip(tmp_path / "wide.mp4", frames=48, size=(320, 96), audio=True)
    ops.reframe(prober.probe(clip), "9:16", tmp_path / "tall.mp4")
    out = prober.probe(tmp_path / "tall.mp4")
    assert out.audio is not None and abs(out.duration - 2.0) < 0.05
    before, after = decode_audio(clip), decode_audio(tmp_path / "tall.mp4")
    assert after.shape[1] == pytest.approx(before.shape[1], abs=2048)
    assert np.abs(after).mean() == pytest.approx(np.abs(before).mean(), rel=0.2)


def _peak_growth(work) -> int:
    """Bytes the process's peak resident size rose by while ``work`` ran (Linux: the peak is
    reset first through /proc/self/clear_refs)."""
    import gc

    def status(key):
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1]) * 1024

    gc.collect()
    with open("/proc/self/clear_refs", "w") as refs:
        refs.write("5")
    before = status("VmRSS:")
    work()
    return status("VmHWM:") - before


def test_edits_hold_a_few_frames_not_the_whole_clip(tmp_path, prober):
    """Re-encoding edits decoded the whole clip into memory first: a minute of 4K from a
    phone (1,800 frames of 25 MB) needed 45 GB. They stream now: a clip four times as long
    takes no more memory (what a short clip takes pays for the decoder, the encoder's
    lookahead, a transition's overlap). Measured as the process's peak resident size."""
    from cinedraft.editor.editor import seam_score
    from cinedraft.quality.compare import analyze_video

    frame_bytes = 1280 * 720 * 3
    infos = [
        prober.probe(make_clip(tmp_path / f"{n}.mp4", frames=n, size=(1280, 720), gop=24))
        for n in (24, 96)
    ]

    def edits(info):
        clip = Path(info.path)
        return {
            "speed": lambda: ops.speed(info, 0.8, tmp_path / "slow.mp4"),
            "reframe": lambda: ops.reframe(info, "9:16", tmp_path / "tall.mp4"),
            "merge": lambda: ops.merge([info, info], tmp_path / "m.mp4", [Transition("fade", 0.5)]),
            "analyze": lambda: analyze_video(clip),
            "seam": lambda: seam_score(clip, 12),
        }

    short, long = edits(infos[0]), edits(infos[1])
    for name in short:
        extra = _peak_growth(long[name]) - _peak_growth(short[name])
        assert extra < 24 * frame_bytes, (name, extra / frame_bytes)  # holding them: 72 more


def _variable_rate_clip(path):
    """1 s at 24 fps, then 1 s at 12 fps (a phone slowing down in low light): frame i is
    ``frame_pattern(i)``; returns the time each frame is shown from."""
    ticks = list(range(24)) + list(range(24, 48, 2))  # in 1/24 s
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        stream.options = {"g": "6", "keyint_min": "6", "sc_threshold": "0"}
        for i, tick in enumerate(ticks):
            frame = av.VideoFrame.from_ndarray(frame_pattern(i), format="rgb24")
            frame.pts = tick
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return [t / 24 for t in ticks]


def _showing(times, t):
    """The frame on screen at ``t`` seconds."""
    return max(i for i, start in enumerate(times) if start <= t + 1e-6)


def test_a_variable_rate_clip_keeps_its_timing_through_edits(tmp_path, prober):
    """Frames were counted at one rate, so a clip whose rate changed ran ahead of its sound
    when re-encoded, and a cut by time took the wrong frames."""
    times = _variable_rate_clip(tmp_path / "vfr.mp4")
    info = prober.probe(tmp_path / "vfr.mp4")
    rate = info.fps  # the average: 36 frames over 1.875 s
    source = [frame_pattern(i) for i in range(36)]
    read = decode_frames(tmp_path / "vfr.mp4")
    assert len(read) == info.frame_count == 36
    _matches(read, source, [_showing(times, j / rate) for j in range(36)])
    ops.speed(info, 2.0, tmp_path / "fast.mp4")
    fast = decode_frames(tmp_path / "fast.mp4")
    _matches(fast, source, [_showing(times, 2 * j / rate) for j in range(len(fast))])
    stats = ops.cut(info, 1.0, 1.5, tmp_path / "cut.mp4")  # 1.0, 1.083, ... 1.417 s
    assert stats.frames == 6
    with av.open(str(tmp_path / "cut.mp4")) as cut:  # its frames as stored, each once
        _matches([rgb_array(f) for f in cut.decode(video=0)], source, range(24, 30))


def test_a_clip_with_embedded_cover_art_is_edited_by_its_picture(tmp_path, prober):
    """Editing and download tools embed cover art as a one-frame video stream without
    timestamps: such a clip was refused ("a video frame without a timestamp")."""
    with av.open(str(tmp_path / "cover.mp4"), "w", format="mp4") as container:
        cover = container.add_stream("mjpeg", rate=1)
        cover.width, cover.height, cover.pix_fmt = 160, 96, "yuvj420p"
        cover.disposition = av.stream.Disposition.attached_pic
        video = container.add_stream("libx264", rate=24)
        video.width, video.height, video.pix_fmt = 160, 96, "yuv420p"
        still = av.VideoFrame.from_ndarray(np.full((96, 160, 3), 200, np.uint8), format="rgb24")
        still = still.reformat(format="yuvj420p")
        still.pts = 0
        container.mux(cover.encode(still))
        container.mux(cover.encode(None))
        for i in range(24):
            frame = av.VideoFrame.from_ndarray(frame_pattern(i), format="rgb24")
            frame.pts = i
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    info = prober.probe(tmp_path / "cover.mp4")
    assert info.frame_count == 24 and info.video.codec == "h264"
    source = [frame_pattern(i) for i in range(24)]
    _matches(decode_frames(tmp_path / "cover.mp4"), source, range(24))
    ops.cut(info, 0.25, 0.75, tmp_path / "cut.mp4")
    _matches(decode_frames(tmp_path / "cut.mp4"), source, range(6, 18))


def _interlaced_clip(path, frames=30):
    """1080i-style footage: each frame's even lines are one instant, its odd lines the next
    (a bar moving right), encoded interlaced, top field first, a GOP every 10 frames."""

    def fields(i):
        frame = np.full((192, 320, 3), 40, np.uint8)
        for parity, t in ((0, 2 * i), (1, 2 * i + 1)):
            frame[parity::2, 20 + 6 * t : 50 + 6 * t] = 230
        return frame

    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 192, "yuv420p"
        stream.options = {"flags": "+ilme+ildct", "x264-params": "tff=1", "crf": "12", "g": "10"}
        for i in range(frames):
            frame = av.VideoFrame.from_ndarray(fields(i), format="rgb24")
            frame.pts = i
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _combing(frame):
    """How far each line is from the mean of its neighbours: the teeth of two fields' times."""
    luma = frame.astype(float).mean(-1)
    return float(np.abs(luma[1:-1] - (luma[:-2] + luma[2:]) / 2).mean())


def test_an_interlaced_clip_is_read_deinterlaced_and_cut_as_interlaced(tmp_path, prober):
    """Read as stored, interlaced frames combed every moving edge, and every edit that
    re-encodes wrote the combs into its progressive clip."""
    clip = _interlaced_clip(tmp_path / "1080i.mp4")
    with av.open(str(clip)) as stored:
        assert max(_combing(rgb_array(f)) for f in stored.decode(video=0)) > 5
    info = prober.probe(clip)
    assert max(_combing(f) for f in decode_frames(clip)) < 1
    ops.speed(info, 2.0, tmp_path / "fast.mp4")  # re-encoded: progressive, no combs
    assert max(_combing(f) for f in decode_frames(tmp_path / "fast.mp4")) < 1
    stats = ops.cut(info, 0.2, 1.0, tmp_path / "cut.mp4")  # smart: its ends stay interlaced
    assert stats.copied_packets and stats.reencoded_frames
    with av.open(str(tmp_path / "cut.mp4")) as cut:
        assert all(f.interlaced_frame for f in cut.decode(video=0))
    assert max(_combing(f) for f in decode_frames(tmp_path / "cut.mp4")) < 1


def test_a_grade_is_the_images_exact_adjustment_on_every_frame_and_keeps_the_sound(
    tmp_path, prober
):
    clip = make_clip(tmp_path / "a.mp4", frames=48, audio=True)
    warmer = [Adjustment("warmth", 1.0)]
    stats = ops.grade(prober.probe(clip), tmp_path / "warm.mp4", warmer)
    assert stats.frames == 48
    source, graded = decode_frames(clip), decode_frames(tmp_path / "warm.mp4")
    assert len(graded) == 48
    for before, after in zip(source, graded):
        want = apply_rgb(before, warmer).astype(int)
        assert np.abs(after.astype(int) - want).mean() < 2  # the re-encoding's error only
    channel = lambda frames, c: np.mean([f[..., c].mean() for f in frames])  # noqa: E731
    assert channel(graded, 0) > channel(source, 0) + 3  # redder
    assert channel(graded, 2) < channel(source, 2) - 3  # less blue
    out = prober.probe(tmp_path / "warm.mp4")
    assert out.audio is not None and abs(out.duration - 2.0) < 0.05
    before, after = decode_audio(clip), decode_audio(tmp_path / "warm.mp4")
    assert np.abs(after).mean() == pytest.approx(np.abs(before).mean(), rel=0.2)


def test_a_clips_contrast_turns_about_one_pivot_so_it_does_not_flicker(tmp_path, prober):
    # the frames' red channel steps every frame, so each frame's own mean luma moves; the
    # blue backdrop is the same in every frame and must stay so after the grade
    clip = prober.probe(make_clip(tmp_path / "a.mp4", frames=24))
    more = ops.pivoted(clip, [Adjustment("contrast", 2.0)])
    assert more[0].pivot == pytest.approx(
        np.mean([mean_luma(f) for f in decode_frames(clip.path)]), abs=1e-3
    )
    ops.grade(clip, tmp_path / "c.mp4", more)
    backdrop = lambda path: [np.median(f[-8:, :, 2]) for f in decode_frames(path)]  # noqa: E731
    assert np.std(backdrop(tmp_path / "c.mp4")) <= np.std(backdrop(clip.path)) + 1
    ops.grade(clip, tmp_path / "flicker.mp4", [Adjustment("contrast", 2.0)])  # a pivot a frame
    assert np.std(backdrop(tmp_path / "flicker.mp4")) > np.std(backdrop(clip.path)) + 3


def test_a_graded_crop_keeps_even_sides(tmp_path, prober):
    clip = prober.probe(make_clip(tmp_path / "a.mp4", frames=12))  # 160x96
    ops.grade(clip, tmp_path / "p.mp4", [Adjustment("crop", aspect=(4.0, 5.0))])
    out = prober.probe(tmp_path / "p.mp4")
    assert (out.video.width, out.video.height) == (76, 96)  # 77 px at 4:5, one trimmed
