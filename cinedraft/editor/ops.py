"""Edit operations on probed files. Each writes one MP4 and returns what it did.

- :func:`cut`: frame-accurate. Stream copy of whole GOPs; only the partial GOPs at the
  boundaries are decoded and re-encoded (smart render). Keyframe-aligned cuts copy everything.
- :func:`merge`: stream copy when every clip has the same codec, size, pixel format and frame
  rate (timestamps laid end to end, no frame dropped or repeated); otherwise every clip is
  normalised (size, rate, pixel format, audio rate) and re-encoded. Transitions (crossfade,
  fade through black) re-encode.
- :func:`speed`, :func:`audio`, :func:`reframe`: retime, add/replace/mute audio (with a
  fade-out), crop to an aspect ratio following the salient region.
- :func:`overlay`: a still RGBA image (captions, a logo) drawn over every frame.
- :func:`camera`: a clip from a still, a virtual camera zooming or panning over it (the
  still's pixels, resampled: nothing redrawn).
"""

from __future__ import annotations

import bisect
import collections
import io
import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ..errors import InputError
from ..media.codec import (
    AUDIO_RATE,
    Writer,
    annexb_to_avcc,
    check_size,
    decode_audio,
    h264_encoder,
    iter_frames,
    main_video,
    mux_moved,
    parameter_sets,
    x264_formats,
)
from ..media.probe import MediaInfo
from ..render.adjust import Adjustment, apply_rgb, mean_luma
from ..render.salience import salient_centres

ASPECTS = {"9:16": (9, 16), "1:1": (1, 1), "4:5": (4, 5), "16:9": (16, 9)}


@dataclass
class EditStats:
    """What an edit did: the method, frames, and how many were copied vs re-encoded."""

    method: str  # copy | smart | reencode
    frames: int
    fps: float
    copied_packets: int = 0
    reencoded_frames: int = 0
    seams: list[dict] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.frames / self.fps


def _frame_index(seconds: float, fps: float) -> int:
    return int(np.ceil(seconds * fps - 1e-6))


def _at_time(info: MediaInfo, seconds: float) -> int:
    """The index of the first frame shown at or after ``seconds`` (by its timestamp; the
    frame count past the last)."""
    v = info.video
    tick = Fraction(*v.time_base)
    times = [(p - v.pts[0]) * tick for p in v.pts]
    return bisect.bisect_left(times, Fraction(seconds) - Fraction(1, 1_000_000))


# ---------------------------------------------------------------------- cut


def cut(info: MediaInfo, start: float, end: float, out: Path) -> EditStats:
    """Frames whose time is in [start, end) of ``info``; see the module docstring."""
    n, fps = info.frame_count, info.fps
    if start < 0 or end <= start:
        raise InputError(f"cut needs 0 <= from < to, got {start} .. {end}")
    if start >= info.duration:
        raise InputError(f"cut starts at {start} s, after the clip's end ({info.duration:.3f} s)")
    # Smart render re-encodes the partial GOPs in the source's own pixel format: in 8-bit
    # 4:2:0, a 4:4:4 clip's cut switched chroma format mid-track (its track said 4:2:0 High,
    # its copied middle was 4:4:4).
    smart = info.video.codec == "h264" and info.video.pix_fmt in x264_formats()
    if smart:  # packets, found by their own times (a phone's rate varies)
        a, b = _at_time(info, start), _at_time(info, end)
    else:  # frames as read, at the constant rate
        a, b = _frame_index(start, fps), min(_frame_index(end, fps), n)
    if b <= a:
        raise InputError(f"{start} .. {end} s holds no frame at {fps:g} fps")
    if not smart:
        return _reencode_range(info, a, b, out)
    keys = info.video.keyframes
    k1 = next((k for k in keys if k >= a), b)
    k1 = min(k1, b)
    k2 = b if b == n else max([k for k in keys if k1 <= k <= b] or [k1])
    return _smart_render(info, a, k1, k2, b, out)


def _smart_render(info: MediaInfo, a: int, k1: int, k2: int, b: int, out: Path) -> EditStats:
    """Re-encode frames [a, k1) and [k2, b); copy the packets of frames [k1, k2)."""
    pts = info.video.pts
    per_frame = pts[1] - pts[0] if len(pts) > 1 else 1
    end_pts = pts[b] if b < len(pts) else pts[-1] + per_frame
    stats = EditStats("copy" if (a, b) == (k1, k2) else "smart", b - a, info.fps)
    with (
        av.open(info.path) as inp,
        av.open(str(out), "w", format="mp4", options={"movflags": "faststart"}) as dst,
    ):
        src = main_video(inp)
        track = dst.add_stream_from_template(src)
        # Every output stream exists before the first packet is written (FFmpeg writes the
        # header then; a stream added later crashes the muxer).
        audio_track = (
            dst.add_stream_from_template(inp.streams.audio[0]) if inp.streams.audio else None
        )
        headers = parameter_sets(src.codec_context.extradata)
        delay = max(0, -_first_dts(info.path))  # decode lead of the source's B-frames
        origin = pts[a]
        last_dts = [-(1 << 62)]

        def put(packet: av.Packet, data: bytes, reencoded: bool) -> None:
            # dts: the source's for copied packets; for re-encoded ones (no B-frames) as close
            # to the source's decode lead as keeps dts strictly increasing and <= pts.
            dts = max(last_dts[0] + 1, packet.pts - delay) if reencoded else packet.dts
            last_dts[0] = dts
            mux_moved(
                dst,
                data,
                track,
                src.time_base,
                packet.pts - origin,
                dts - origin,
                packet.is_keyframe,
            )

        def reencode(first: int, stop: int) -> None:
            if stop <= first:
                return
            context = src.codec_context
            encoder = h264_encoder(
                context.width,
                context.height,
                src.average_rate,
                src.time_base,
                context.pix_fmt,
                like=context,  # the ends must be read as the copied middle is
            )
            inp.seek(pts[first], stream=src, backward=True, any_frame=False)
            for frame in inp.decode(src):
                if frame.pts >= pts[stop - 1] + 1:
                    break
                if frame.pts < pts[first]:
                    continue
                frame.pict_type = av.video.frame.PictureType.NONE  # let the encoder choose
                for packet in encoder.encode(frame):
                    put(packet, annexb_to_avcc(bytes(packet)), reencoded=True)
                    stats.reencoded_frames += 1
            for packet in encoder.encode(None):
                put(packet, annexb_to_avcc(bytes(packet)), reencoded=True)
                stats.reencoded_frames += 1

        reencode(a, k1)
        if k2 > k1:
            inp.seek(pts[k1], stream=src, backward=True, any_frame=False)
            first = True
            stop_pts = pts[k2] if k2 < len(pts) else end_pts
            for packet in inp.demux(src):
                if packet.dts is None or packet.pts is None:
                    continue
                if packet.is_keyframe and packet.pts >= stop_pts:
                    break
                if packet.pts < pts[k1]:
                    continue
                data = bytes(packet)
                if first and stats.reencoded_frames:  # back to the source's parameter sets
                    data = headers + data
                first = False
                put(packet, data, reencoded=False)
                stats.copied_packets += 1
        reencode(k2, b)
        if audio_track is not None:  # audio frames are all keyframes: copy those inside the cut
            t0 = Fraction(pts[a]) * src.time_base
            _copy_audio(inp, dst, audio_track, t0, Fraction(end_pts) * src.time_base, -t0)
    return stats


def _copy_audio(inp, dst, track, start: Fraction, end: Fraction, shift: Fraction) -> None:
    """Copy the first audio stream's packets starting in [start, end) seconds into
    ``track``, moved by ``shift`` seconds."""
    src = inp.streams.audio[0]
    inp.seek(max(0, int(start / src.time_base) - 1), stream=src, backward=True)
    for packet in inp.demux(src):
        if packet.pts is None:
            continue
        t = Fraction(packet.pts) * src.time_base
        if t < start:
            continue
        if t >= end:
            break
        moved = int((t + shift) / src.time_base)
        mux_moved(dst, bytes(packet), track, src.time_base, moved, moved)


def _first_dts(path: str) -> int:
    with av.open(path) as container:
        for packet in container.demux(main_video(container)):
            if packet.dts is not None:
                return packet.dts
    return 0


def _reencode_range(info: MediaInfo, a: int, b: int, out: Path) -> EditStats:
    v = info.video
    writer = Writer(out, v.width, v.height, Fraction(*v.fps))
    for frame in itertools.islice(iter_frames(info.path), a, b):
        writer.add_frame(frame)
    writer.close()
    return EditStats("reencode", writer.frames, info.fps, reencoded_frames=writer.frames)


# ---------------------------------------------------------------------- merge


def compatible(infos: list[MediaInfo]) -> bool:
    """Whether the clips can be joined by stream copy."""
    first = infos[0]

    def key(i: MediaInfo):
        a = i.audio
        return (
            i.video.codec,
            i.video.width,
            i.video.height,
            i.video.pix_fmt,
            i.video.fps,
            i.video.rotation,  # one display matrix for the whole track
            i.video.colours,  # and one colour description
            i.video.sar,  # and one pixel aspect
            None if a is None else (a.codec, a.sample_rate, a.channels),
        )

    return first.video.codec == "h264" and all(key(i) == key(first) for i in infos)


def merge(infos: list[MediaInfo], out: Path, transitions: list | None = None) -> EditStats:
    """Join clips in order; ``transitions[i]`` (a :class:`Transition` or None) joins clip i
    and i+1; one transition alone applies to every join."""
    if len(infos) < 2:
        raise InputError("merge needs at least two clips")
    joins = list(transitions or [])
    joins = joins * (len(infos) - 1) if len(joins) == 1 else joins or [None] * (len(infos) - 1)
    if len(joins) != len(infos) - 1:
        raise InputError(f"{len(infos)} clips need {len(infos) - 1} transitions, got {len(joins)}")
    if all(j is None for j in joins) and compatible(infos):
        return _concat_copy(infos, out)
    return _concat_reencode(infos, out, joins)


def _concat_copy(infos: list[MediaInfo], out: Path) -> EditStats:
    """Packets of every clip, each clip's timestamps shifted to start where the last ended."""
    stats = EditStats("copy", sum(i.frame_count for i in infos), infos[0].fps)
    with av.open(str(out), "w", format="mp4", options={"movflags": "faststart"}) as dst:
        track, audio_track, offset, last_dts, base_tb = None, None, 0, -(1 << 62), None
        for info in infos:
            with av.open(info.path) as inp:
                src = main_video(inp)
                if track is None:  # every output stream before the first packet
                    track, base_tb = dst.add_stream_from_template(src), src.time_base
                    if inp.streams.audio:
                        audio_track = dst.add_stream_from_template(inp.streams.audio[0])
                headers = parameter_sets(src.codec_context.extradata)
                scale = Fraction(src.time_base) / Fraction(base_tb)
                first = True
                for packet in inp.demux(src):
                    if packet.dts is None or packet.pts is None:
                        continue
                    data = bytes(packet)
                    if first and offset:
                        data = headers + data  # each clip decodes with its own SPS/PPS
                    first = False
                    dts = max(last_dts + 1, offset + int(round(packet.dts * scale)))
                    last_dts = dts
                    pts = offset + int(round(packet.pts * scale))
                    mux_moved(dst, data, track, base_tb, pts, dts, packet.is_keyframe)
                    stats.copied_packets += 1
                seconds = Fraction(info.frame_count * info.video.fps[1], info.video.fps[0])
                if audio_track is not None:
                    _copy_audio(
                        inp, dst, audio_track, Fraction(0), seconds, Fraction(offset) * base_tb
                    )
                per_frame = Fraction(info.video.fps[1], info.video.fps[0]) / Fraction(base_tb)
                offset += int(round(info.frame_count * per_frame))
    return stats


def _concat_reencode(infos: list[MediaInfo], out: Path, joins: list) -> EditStats:
    """Normalise to the first clip's size and rate, apply transitions, encode once. Frames
    stream from the decoders to the encoder; only the frames a transition works on are held
    (a minute of 4K had needed 45 GB)."""
    target = infos[0].video
    width, height, fps = (
        target.width - target.width % 2,
        target.height - target.height % 2,
        Fraction(*target.fps),
    )
    check_size(target.width, target.height)
    counts = [_count_at(i, fps) for i in infos]
    overlaps = [int(round(j.seconds * fps)) if j is not None else 0 for j in joins]
    for k, overlap in enumerate(overlaps):
        if overlap and min(counts[k], counts[k + 1]) <= overlap:
            raise InputError(f"a {joins[k].seconds} s transition is longer than the clips it joins")
    has_audio = any(i.audio is not None for i in infos)
    writer = Writer(out, width, height, fps, audio=has_audio)
    stats = EditStats("reencode", 0, float(fps))
    held: list[np.ndarray] = []  # the last frames of the clip before, for the join
    for k, info in enumerate(infos):
        clip = _normalised_frames(info, width, height, fps)
        if k:
            join, overlap = joins[k - 1], overlaps[k - 1]
            if join is not None and join.kind == "crossfade":  # the clips overlap
                for j, old in enumerate(held):
                    w = (j + 1) / (overlap + 1)
                    writer.add_frame((old * (1 - w) + next(clip) * w).astype(np.uint8))
            elif join is not None:  # through black: out over the last frames, in over the first
                for j, old in enumerate(held):
                    writer.add_frame((old * (1 - (j + 1) / overlap)).astype(np.uint8))
                clip = _faded_in(clip, overlap)
            kind = join.kind if join else "cut"
            stats.seams.append({"at_frame": writer.frames, "transition": kind})
        keep = overlaps[k] if k < len(overlaps) else 0
        tail: collections.deque[np.ndarray] = collections.deque()
        for frame in clip:
            tail.append(frame)
            if len(tail) > keep:
                writer.add_frame(tail.popleft())
        held = list(tail)
    if has_audio:
        crossfades = [
            o if j is not None and j.kind == "crossfade" else 0 for j, o in zip(joins, overlaps)
        ]
        writer.add_audio(_joined_audio(infos, fps, crossfades))
    writer.close()
    stats.frames = stats.reencoded_frames = writer.frames
    return stats


def _faded_in(frames: Iterator[np.ndarray], overlap: int) -> Iterator[np.ndarray]:
    for j, frame in enumerate(frames):
        yield (frame * (j / overlap)).astype(np.uint8) if j < overlap else frame


def _count_at(info: MediaInfo, fps: Fraction) -> int:
    """How many frames ``info`` has once retimed to ``fps``."""
    own = Fraction(*info.video.fps)
    return info.frame_count if own == fps else int(round(info.frame_count * fps / own))


def _normalised_frames(
    info: MediaInfo, width: int, height: int, fps: Fraction
) -> Iterator[np.ndarray]:
    """Frames resized (letterboxed to keep the aspect) and retimed to ``fps`` (nearest), as
    they are decoded."""
    frames = iter_frames(info.path)
    own = Fraction(*info.video.fps)
    if own != fps:
        frames = _retimed(frames, _count_at(info, fps), own / fps)
    for frame in frames:
        if (frame.shape[1], frame.shape[0]) != (width, height):
            frame = _letterbox(frame, width, height)
        yield frame


def _retimed(
    frames: Iterator[np.ndarray], count: int, ratio: Fraction | float
) -> Iterator[np.ndarray]:
    """``count`` frames, the j-th being source frame ``int(j * ratio)`` (or the last one),
    taken from ``frames`` as they are decoded: a frame repeats or is dropped, one is held."""
    current, index = next(frames), 0
    for j in range(count):
        while index < int(j * ratio):
            following = next(frames, None)
            if following is None:
                break
            current, index = following, index + 1
        yield current


def _letterbox(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = max(2, int(round(w * scale))), max(2, int(round(h * scale)))
    resized = cv2.resize(
        frame, (new_w, new_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LANCZOS4
    )
    canvas = np.zeros((height, width, 3), np.uint8)
    y, x = (height - new_h) // 2, (width - new_w) // 2
    canvas[y : y + new_h, x : x + new_w] = resized
    return canvas


def _joined_audio(infos: list[MediaInfo], fps: Fraction, overlap_frames: list[int]) -> np.ndarray:
    """Every clip's audio (silence where a clip has none), each padded or cut to its video
    length; crossfades mix the overlap linearly."""
    parts = []
    for info in infos:
        length = int(round(info.frame_count / Fraction(*info.video.fps) * AUDIO_RATE))
        samples = decode_audio(info.path) if info.audio is not None else None
        samples = np.zeros((2, length), np.float32) if samples is None else samples[:, :length]
        if samples.shape[1] < length:
            samples = np.pad(samples, ((0, 0), (0, length - samples.shape[1])))
        parts.append(samples)
    joined = parts[0]
    for part, frames in zip(parts[1:], overlap_frames):
        cross = int(round(frames / fps * AUDIO_RATE))
        if cross:
            ramp = np.linspace(0, 1, cross, dtype=np.float32)
            mixed = joined[:, -cross:] * (1 - ramp) + part[:, :cross] * ramp
            joined = np.concatenate([joined[:, :-cross], mixed, part[:, cross:]], axis=1)
        else:
            joined = np.concatenate([joined, part], axis=1)
    return joined


# ---------------------------------------------------------------------- speed, audio, reframe


def speed(info: MediaInfo, factor: float, out: Path) -> EditStats:
    """Play ``factor`` times as fast (0.25-4); the frame rate stays, frames repeat or drop."""
    if not 0.25 <= factor <= 4:
        raise InputError(f"speed factor must be between 0.25 and 4, got {factor}")
    count = max(1, int(round(info.frame_count / factor)))
    v = info.video
    writer = Writer(out, v.width, v.height, Fraction(*v.fps), audio=info.audio is not None)
    for frame in _retimed(iter_frames(info.path), count, factor):
        writer.add_frame(frame)
    if info.audio is not None:
        writer.add_audio(_retimed_audio(decode_audio(info.path), factor, count / info.fps))
    writer.close()
    return EditStats("reencode", count, info.fps, reencoded_frames=count)


def _retimed_audio(samples: np.ndarray, factor: float, seconds: float) -> np.ndarray:
    """Tempo change without pitch change (FFmpeg's atempo, chained within its 0.5-2 range)."""
    graph = av.filter.Graph()
    source = graph.add_abuffer(format="fltp", sample_rate=AUDIO_RATE, layout="stereo")
    node, left = source, factor
    while left > 2 or left < 0.5:
        step = 2.0 if left > 2 else 0.5
        nxt = graph.add("atempo", str(step))
        node.link_to(nxt)
        node, left = nxt, left / step
    last = graph.add("atempo", f"{left:.6f}")
    node.link_to(last)
    planar = graph.add("aformat", "sample_fmts=fltp:channel_layouts=stereo")
    last.link_to(planar)
    sink = graph.add("abuffersink")
    planar.link_to(sink)
    graph.configure()
    frame = av.AudioFrame.from_ndarray(
        np.ascontiguousarray(samples), format="fltp", layout="stereo"
    )
    frame.sample_rate, frame.pts, frame.time_base = AUDIO_RATE, 0, Fraction(1, AUDIO_RATE)
    graph.push(frame)
    graph.push(None)
    chunks = []
    while True:
        try:
            chunks.append(graph.pull().to_ndarray())
        except (av.error.EOFError, av.error.BlockingIOError):
            break
    out = np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0), np.float32)
    length = int(round(seconds * AUDIO_RATE))
    return np.pad(out, ((0, 0), (0, max(0, length - out.shape[1]))))[:, :length]


def audio(
    info: MediaInfo,
    out: Path,
    music: MediaInfo | Path | None,
    mode: str = "replace",
    volume: float = 1.0,
    fade_out: float = 0.0,
) -> EditStats:
    """Video copied; audio added (mixed), replaced by ``music``, or muted (``music`` None);
    the last ``fade_out`` seconds fade linearly to silence. A video the MP4 muxer does not
    take (ProRes, DNxHD: a MOV's) is re-encoded instead."""
    if mode not in ("add", "replace", "mute"):
        raise InputError(f"audio mode must be add, replace or mute, got {mode!r}")
    seconds = info.frame_count / info.fps
    length = int(round(seconds * AUDIO_RATE))
    track = None
    if mode != "mute":
        if music is None:
            raise InputError(f"audio {mode} needs a music file")
        track = decode_audio(music.path if isinstance(music, MediaInfo) else music)
        if track is None or track.shape[1] == 0:
            raise InputError("the music file has no audio")
        track = np.pad(track, ((0, 0), (0, max(0, length - track.shape[1]))))[:, :length] * volume
        if mode == "add" and info.audio is not None:
            own = decode_audio(info.path)[:, :length]
            track[:, : own.shape[1]] += own
        fade = min(length, int(round(fade_out * AUDIO_RATE)))
        if fade > 0:
            track[:, length - fade :] *= np.linspace(1, 0, fade, dtype=track.dtype)
        track = np.clip(track, -1, 1)
    if info.video.codec not in _mp4_codecs():
        return _reencode_with_audio(info, out, track)
    stats = EditStats("copy", info.frame_count, info.fps)
    with (
        av.open(info.path) as inp,
        av.open(str(out), "w", format="mp4", options={"movflags": "faststart"}) as dst,
    ):
        src = main_video(inp)
        video = dst.add_stream_from_template(src)
        encoder = None
        if track is not None:
            encoder = dst.add_stream("aac", rate=AUDIO_RATE)
            encoder.layout = "stereo"
        for packet in inp.demux(src):
            if packet.dts is None:
                continue
            packet.stream = video
            dst.mux(packet)
            stats.copied_packets += 1
        if encoder is not None:
            step = 1024 * 8
            for start in range(0, track.shape[1], step):
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(track[:, start : start + step]),
                    format="fltp",
                    layout="stereo",
                )
                frame.sample_rate, frame.pts, frame.time_base = (
                    AUDIO_RATE,
                    start,
                    Fraction(1, AUDIO_RATE),
                )
                dst.mux(encoder.encode(frame))
            dst.mux(encoder.encode(None))
    return stats


def _mp4_codecs() -> set[str]:
    with av.open(io.BytesIO(), "w", format="mp4") as probe:
        return set(probe.supported_codecs)


def _reencode_with_audio(info: MediaInfo, out: Path, track: np.ndarray | None) -> EditStats:
    """``info``'s frames re-encoded (the house H.264), with ``track`` (2, N) as its audio."""
    v = info.video
    writer = Writer(out, v.width, v.height, Fraction(*v.fps), audio=track is not None)
    count = 0
    for frame in iter_frames(info.path):
        writer.add_frame(frame)
        count += 1
    if track is not None:
        writer.add_audio(track)
    writer.close()
    return EditStats("reencode", count, info.fps, reencoded_frames=count)


def smooth(values: np.ndarray, fps: float, seconds: float = 0.5) -> np.ndarray:
    """Gaussian smoothing over time (sigma ``seconds``), so the crop glides instead of jitters."""
    sigma = max(1e-3, seconds * fps)
    radius = int(3 * sigma)
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    kernel /= kernel.sum()
    padded = np.pad(values, ((radius, radius), (0, 0)), mode="edge")
    return np.stack(
        [np.convolve(padded[:, i], kernel, mode="valid") for i in range(values.shape[1])], axis=1
    )


def reframe(info: MediaInfo, aspect: str, out: Path, height: int | None = None) -> EditStats:
    """Crop every frame to ``aspect`` (9:16, 1:1, 4:5, 16:9) around the smoothed salient centre."""
    if aspect not in ASPECTS:
        raise InputError(f"aspect must be one of {', '.join(ASPECTS)}, got {aspect!r}")
    aw, ah = ASPECTS[aspect]
    w, h = info.video.width, info.video.height  # as the frames are read
    crop_w, crop_h = (w, int(w * ah / aw)) if w * ah / aw <= h else (int(h * aw / ah), h)
    crop_w, crop_h = crop_w - crop_w % 2, crop_h - crop_h % 2
    if min(crop_w, crop_h) < 2:
        raise InputError(f"a {w}x{h} clip is too small to crop to {aspect}")
    # Two passes over the decoder, not the frames held: the crop follows the centre
    # smoothed over the whole clip.
    centres = smooth(salient_centres(iter_frames(info.path)), info.fps)
    out_h = height or crop_h
    out_w = int(round(out_h * aw / ah))
    out_w, out_h = out_w - out_w % 2, out_h - out_h % 2
    writer = Writer(out, out_w, out_h, Fraction(*info.video.fps), audio=info.audio is not None)
    stats = EditStats("reencode", len(centres), info.fps, reencoded_frames=len(centres))
    for frame, (cx, cy) in zip(iter_frames(info.path), centres):
        x = int(np.clip(round(cx * w - crop_w / 2), 0, w - crop_w))
        y = int(np.clip(round(cy * h - crop_h / 2), 0, h - crop_h))
        window = frame[y : y + crop_h, x : x + crop_w]
        if (crop_w, crop_h) != (out_w, out_h):
            window = cv2.resize(window, (out_w, out_h), interpolation=cv2.INTER_AREA)
        writer.add_frame(window)
    if info.audio is not None:  # the picture is cropped; the sound is the clip's, as it was
        samples = decode_audio(info.path)
        length = int(round(len(centres) / info.fps * AUDIO_RATE))
        fitted = np.zeros((2, length), np.float32)
        fitted[:, : min(length, samples.shape[1])] = samples[:, :length]
        writer.add_audio(fitted)
    writer.close()
    return stats


# ---------------------------------------------------------------------- overlay


def overlay(info: MediaInfo, out: Path, image: np.ndarray) -> EditStats:
    """Every frame re-encoded with ``image`` (an (H, W, 4) uint8 RGBA still of the clip's
    size) drawn over it; the audio is copied as it was."""
    v = info.video
    if image.shape != (v.height, v.width, 4):
        raise InputError(
            f"the overlay is {image.shape[1]}x{image.shape[0]}; the clip is {v.width}x{v.height}"
        )
    alpha = image[..., 3:].astype(np.float32) / 255
    ink = image[..., :3].astype(np.float32) * alpha
    rows = np.flatnonzero(alpha[..., 0].any(1))  # only the rows the overlay touches
    top, bottom = (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)
    writer = Writer(out, v.width, v.height, Fraction(*v.fps), audio=info.audio is not None)
    count = 0
    for rgb in iter_frames(info.path):
        band = rgb[top:bottom].astype(np.float32)
        rgb[top:bottom] = np.rint(band * (1 - alpha[top:bottom]) + ink[top:bottom])
        writer.add_frame(rgb)
        count += 1
    if info.audio is not None:
        writer.add_audio(decode_audio(info.path))
    writer.close()
    return EditStats("reencode", count, info.fps, reencoded_frames=count)


# ---------------------------------------------------------------------- grade


def pivoted(info: MediaInfo, adjustments: list[Adjustment]) -> list[Adjustment]:
    """``adjustments`` with each contrast turning about the clip's mean luma (a read of the
    clip), the same for every frame: a pivot per frame would flicker as their means move."""
    if not any(a.kind == "contrast" for a in adjustments):
        return adjustments
    lumas = [mean_luma(frame) for frame in iter_frames(info.path)]
    pivot = round(float(np.mean(lumas)), 4) if lumas else 0.5
    return [replace(a, pivot=pivot) if a.kind == "contrast" else a for a in adjustments]


def grade(info: MediaInfo, out: Path, adjustments: list[Adjustment]) -> EditStats:
    """Every frame with ``adjustments`` applied exactly (:mod:`cinedraft.render.adjust`: the
    arithmetic an image's ``refine "warmer"`` does; a contrast's pivot from
    :func:`pivoted`); the audio copied as it was. A crop leaves even sides, as the encoder
    needs."""
    frames = (apply_rgb(frame, adjustments) for frame in iter_frames(info.path))
    first = next(frames, None)
    if first is None:
        raise InputError(f"{info.path} has no frames to grade")
    h, w = first.shape[0] - first.shape[0] % 2, first.shape[1] - first.shape[1] % 2
    if min(w, h) < 2:
        raise InputError(f"the grade leaves {first.shape[1]}x{first.shape[0]} pixels")
    writer = Writer(out, w, h, Fraction(*info.video.fps), audio=info.audio is not None)
    count = 0
    for frame in itertools.chain([first], frames):
        writer.add_frame(np.ascontiguousarray(frame[:h, :w]))
        count += 1
    if info.audio is not None:
        writer.add_audio(decode_audio(info.path))
    writer.close()
    return EditStats("reencode", count, info.fps, reencoded_frames=count)


# ---------------------------------------------------------------------- camera moves

MOVES = ("zoom-in", "pull-back", "pan-left", "pan-right")
ZOOM = 1.15  # the closest a move comes: the frame shows 1/1.15 of the still's width


def camera(
    image: np.ndarray, out: Path, frames: int, fps: int, size: tuple[int, int], move: str
) -> EditStats:
    """``frames`` frames of ``size`` at ``fps``: the still ``image`` (H, W, 3) filling the
    frame (cropped to its aspect, centred), seen by a camera that zooms in, pulls back or
    pans across it, eased in and out (smoothstep) so the shot starts and ends at rest."""
    if move not in MOVES:
        raise InputError(f"camera move must be one of {', '.join(MOVES)}, got {move!r}")
    if frames < 1:
        raise InputError("a camera move needs at least one frame")
    width, height = size
    # the still, scaled once (Lanczos) to cover the frame at the closest zoom
    cover = max(width / image.shape[1], height / image.shape[0]) * ZOOM
    base = cv2.resize(
        image,
        (round(image.shape[1] * cover), round(image.shape[0] * cover)),
        interpolation=cv2.INTER_LANCZOS4 if cover > 1 else cv2.INTER_AREA,
    )
    bh, bw = base.shape[:2]
    writer = Writer(out, width, height, fps)
    for i in range(frames):
        t = i / max(1, frames - 1)
        t = t * t * (3 - 2 * t)
        zoom = {"zoom-in": 1 + (ZOOM - 1) * t, "pull-back": ZOOM - (ZOOM - 1) * t}.get(move, ZOOM)
        # the part of the base the frame shows: (width, height) * ZOOM / zoom base pixels
        span_w, span_h = width * ZOOM / zoom, height * ZOOM / zoom
        spare = bw - span_w
        x0 = {"pan-left": spare * (1 - t), "pan-right": spare * t}.get(move, spare / 2)
        y0 = (bh - span_h) / 2
        scale = zoom / ZOOM
        matrix = np.float32([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
        frame = cv2.warpAffine(base, matrix, (width, height), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
        writer.add_frame(frame)
    writer.close()
    return EditStats("reencode", frames, float(fps), reencoded_frames=frames)
