"""The encoder every re-encoding edit uses, and H.264 bitstream helpers for stream copy.

Output: MP4, H.264 yuv420p (plays in every browser), ``moov`` first (``faststart``), AAC
stereo 48 kHz audio when there is audio. Frames cross between RGB and YUV only through
:func:`yuv_frame` and :func:`rgb_array`.

Smart render and copy-concat put packets from different encoder runs into one MP4 track,
whose sample entry holds only one set of parameter sets (SPS/PPS). So each segment carries
its own SPS/PPS in band, at its first keyframe: :func:`annexb_to_avcc` turns a standalone
encoder's Annex B output into the MP4 (length-prefixed) form, and
:func:`parameter_sets` pulls a source's SPS/PPS out of its ``avcC`` extradata.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager

from fractions import Fraction
from pathlib import Path

import av
import av.filter
import numpy as np
from av.video.reformatter import ColorRange, Colorspace, Interpolation

from ..errors import InputError
from . import hdr
from .files import open_regular

CRF = 18
PRESET = "veryfast"
CODECS = {"h264": "libx264", "h265": "libx265", "av1": "libsvtav1"}
AUDIO_RATE = 48_000
# x264's macroblock-tree lookahead reads memory it never wrote on small frames: the same
# frames of a 64x64 clip (the built-in model's native size) encoded to one of several
# bitstreams, up to 12 levels apart, by what the heap held before (MALLOC_PERTURB_ chose
# which; 48 and 96 px too, none seen at 128 px and up). Below that size the tree is off
# (x264's --no-mbtree).
SMALL_FRAME = 128
# x265 on frames 64 px wide or narrower writes outside its lookahead's buffers (valgrind:
# invalid writes in cuTree at 32-48 px, glibc aborting the process) and its motion search
# reads memory it never wrote (at 40-64 px); none of that from 72 px up, nor on short
# frames (1080x48). No option turned both off, so such frames are refused.
X265_MIN_WIDTH = 72

# swscale's default conversions truncate from YUV to RGB: every decode and re-encode made a
# clip about 1.3 levels (of 255) darker, so a continuation generated from a delivered clip
# joined it with a visible step. Rounded conversions (chroma averaged on the way in, each
# pixel's own chroma on the way out) round-trip within 0.1 level.
TO_YUV = Interpolation.AREA | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INP
TO_RGB = Interpolation.POINT | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT
# Frames shown wider or narrower than stored (non-square pixels) are resampled as well.
TO_RGB_SCALED = Interpolation.BICUBIC | Interpolation.ACCURATE_RND | Interpolation.FULL_CHR_H_INT

# Colour. Frames are converted with BT.601's matrix (swscale's default, which every clip so
# far was written with) and the stream says so: matrix SMPTE 170M, primaries and transfer
# BT.709 (sRGB's primaries: the frames are sRGB images), limited range. Untagged, browsers
# read every clip 720 px tall or more with BT.709's matrix (Chromium: height >= 720; a
# matrix tag alone is ignored), so an ad's (200, 30, 30) red played as (215, 46, 30). BT.601
# rather than BT.709 because Chromium's software path decodes BT.709's blue about 5 % weak
# (up to 8 levels), BT.601 within 1. An untagged clip is read the way Chromium reads it.
BT709 = 1  # AVCOL_PRI_BT709, AVCOL_TRC_BT709
SMPTE170M = 6  # AVCOL_SPC_SMPTE170M: BT.601's matrix
UNSPECIFIED = 2  # AVCOL_SPC_UNSPECIFIED
LIMITED_RANGE = 1  # AVCOL_RANGE_MPEG
HD_HEIGHT = 720
# AVFieldOrder: top field first (2, or 4 coded bottom first), bottom field first (3, 5)
INTERLACED = (2, 3, 4, 5)


def yuv_frame(rgb: np.ndarray) -> av.VideoFrame:
    """(H, W, 3) uint8 RGB -> a yuv420p frame for the encoder."""
    frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
    return frame.reformat(
        format="yuv420p",
        dst_colorspace=Colorspace.ITU601,
        dst_color_range=ColorRange.MPEG,
        interpolation=TO_YUV,
    )


def rgb_array(frame: av.VideoFrame, width: int | None = None) -> np.ndarray:
    """A decoded frame (any pixel format) -> (H, W, 3) uint8 sRGB as players show it: an HDR
    frame mapped to SDR (:mod:`.hdr`); ``width`` wide (its stream's pixel aspect applied:
    :func:`shown_width`); upright, turned as its stream's display matrix says (a phone
    stores a portrait clip as landscape frames and a matrix that players apply; read
    unturned, every re-encoding edit made it sideways)."""
    size = {} if width in (None, frame.width) else {"width": width, "height": frame.height}
    interpolation = TO_RGB if not size else TO_RGB_SCALED
    if hdr.is_hdr(frame):
        rgb = hdr.sdr_rgb(frame, interpolation, **size)
    else:
        matrix = None  # the frame's own, when tagged
        if frame.colorspace == UNSPECIFIED:
            matrix = Colorspace.ITU709 if frame.height >= HD_HEIGHT else Colorspace.ITU601
        rgb = frame.to_ndarray(
            format="rgb24", interpolation=interpolation, src_colorspace=matrix, **size
        )
    turns = quarter_turns(frame.rotation)
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def shown_width(stream: av.video.stream.VideoStream) -> int:
    """The width players show a stream's frames at: stored width times the pixel aspect
    ratio (the container's, else the bitstream's). A camcorder's 1440x1080 HDV frame has
    pixels 4:3 wide and shows 1920 wide; read as stored, edits squeezed it."""
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    width = stream.codec_context.width
    return width if not sar or sar <= 0 or sar == 1 else max(1, round(width * sar))


def quarter_turns(rotation: float) -> int:
    """A display matrix's rotation (degrees anticlockwise) as quarter turns, 0 to 3."""
    return round(rotation / 90) % 4


def annexb_to_avcc(data: bytes) -> bytes:
    """Annex B (start codes) -> 4-byte length-prefixed NAL units."""
    starts, i, n = [], 0, len(data)
    while i < n - 2:
        if data[i] == 0 and data[i + 1] == 0 and data[i + 2] == 1:
            starts.append((i, 3))
            i += 3
        elif i < n - 3 and data[i : i + 4] == b"\0\0\0\1":
            starts.append((i, 4))
            i += 4
        else:
            i += 1
    out = bytearray()
    for k, (pos, length) in enumerate(starts):
        end = starts[k + 1][0] if k + 1 < len(starts) else n
        nal = data[pos + length : end]
        out += len(nal).to_bytes(4, "big") + nal
    return bytes(out)


def parameter_sets(extradata: bytes | None) -> bytes:
    """SPS and PPS from an ``avcC`` record, length-prefixed, ready to prepend to a sample."""
    if not extradata or extradata[0] != 1:
        return b""
    out, p = bytearray(), 5
    for count_mask in (0x1F, 0xFF):  # numOfSequenceParameterSets, then numOfPictureParameterSets
        count = extradata[p] & count_mask
        p += 1
        for _ in range(count):
            length = int.from_bytes(extradata[p : p + 2], "big")
            out += length.to_bytes(4, "big") + extradata[p + 2 : p + 2 + length]
            p += 2 + length
    return bytes(out)


def h264_encoder(
    width: int,
    height: int,
    fps: Fraction,
    time_base: Fraction,
    pix_fmt: str = "yuv420p",
    like: av.CodecContext | None = None,
) -> av.CodecContext:
    """A standalone libx264 encoder (Annex B output, in-band SPS/PPS), no B-frames so its
    decode order is its display order. ``pix_fmt`` one of :func:`x264_formats`; its colour
    description and pixel aspect those of ``like`` (the source whose frames it encodes),
    else the house's colour description and square pixels."""
    enc = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, pix_fmt
    enc.time_base, enc.framerate = time_base, fps
    options = x264_options(width, height, CRF, PRESET) | {"bf": "0"}
    if like is not None and like.field_order in INTERLACED:  # the ends stay interlaced
        order = "tff=1" if like.field_order in (2, 4) else "bff=1"
        params = [p for p in (options.get("x264-params"), order) if p]
        options |= {"flags": "+ilme+ildct", "x264-params": ":".join(params)}
    enc.options = options
    tag_colours(enc, like)
    if like is not None and like.sample_aspect_ratio:
        enc.sample_aspect_ratio = like.sample_aspect_ratio
    return enc


def tag_colours(context: av.CodecContext, like: av.CodecContext | None = None) -> None:
    """Tag an encoder's stream with ``like``'s colour description, or with what
    :func:`yuv_frame` makes (see ``SMPTE170M``)."""
    if like is None:
        context.color_primaries = context.color_trc = BT709
        context.colorspace, context.color_range = SMPTE170M, LIMITED_RANGE
        return
    context.color_primaries, context.color_trc = like.color_primaries, like.color_trc
    context.colorspace, context.color_range = like.colorspace, like.color_range


def x264_formats() -> set[str]:
    """The pixel formats libx264 encodes (4:2:0, 4:2:2, 4:4:4 and grey, 8 and 10 bits)."""
    return {f.name for f in av.codec.Codec("libx264", "w").video_formats}


def x264_options(width: int, height: int, crf: int, preset: str) -> dict[str, str]:
    """libx264's options for a frame of ``width`` x ``height``: the same frames always give
    the same bitstream (see ``SMALL_FRAME``)."""
    options = {"crf": str(crf), "preset": preset}
    if min(width, height) < SMALL_FRAME:
        options["x264-params"] = "mbtree=0"
    return options


def check_size(width: int, height: int) -> None:
    """Refuse frames the encoders cannot take: 4:2:0 halves both sides."""
    if width < 2 or height < 2:
        raise InputError(f"{width}x{height} frames are too small to encode (2x2 at least)")


class Writer:
    """An MP4 being written (yuv420p video, optional AAC audio, ``moov`` first); frames in,
    file out. The one writer: the editor's re-encodes and the video pipeline's deliveries."""

    def __init__(
        self,
        path: Path,
        width: int,
        height: int,
        fps: Fraction | int,
        audio: bool = False,
        *,
        crf: int = CRF,
        codec: str = "h264",
        preset: str = PRESET,
    ):
        if codec not in CODECS:
            raise InputError(f"unknown codec {codec!r}; known: {', '.join(CODECS)}")
        check_size(width, height)
        if codec == "h265" and width < X265_MIN_WIDTH:
            raise InputError(
                f"h265 needs frames at least {X265_MIN_WIDTH} px wide (these are {width}); use h264"
            )
        self.container = av.open(str(path), "w", format="mp4", options={"movflags": "faststart"})
        self.fps = Fraction(fps)
        self.video = self.container.add_stream(CODECS[codec], rate=self.fps)
        self.video.width, self.video.height, self.video.pix_fmt = (
            width - width % 2,
            height - height % 2,
            "yuv420p",
        )
        if codec == "h264":
            options = x264_options(self.video.width, self.video.height, crf, preset)
        elif codec == "h265":
            options = {"crf": str(crf), "preset": preset, "x265-params": "log-level=error"}
            self.video.codec_tag = "hvc1"  # the tag Safari and Chromium play
        else:
            options = {"crf": str(crf)}
        self.video.options = options
        tag_colours(self.video.codec_context)
        self.audio = None
        if audio:
            self.audio = self.container.add_stream("aac", rate=AUDIO_RATE)
            self.audio.layout = "stereo"
        self.frames = 0
        self.samples = 0

    def add_frame(self, rgb: np.ndarray) -> None:
        """One (H, W, 3) uint8 frame, shown for one frame period."""
        frame = yuv_frame(rgb[: self.video.height, : self.video.width])
        frame.pts = self.frames
        frame.time_base = 1 / self.fps
        self.container.mux(self.video.encode(frame))
        self.frames += 1

    def add_audio(self, samples: np.ndarray) -> None:
        """(2, N) float32 samples at 48 kHz."""
        frame = av.AudioFrame.from_ndarray(
            np.ascontiguousarray(samples, dtype=np.float32), format="fltp", layout="stereo"
        )
        frame.sample_rate = AUDIO_RATE
        frame.pts = self.samples
        frame.time_base = Fraction(1, AUDIO_RATE)
        self.container.mux(self.audio.encode(frame))
        self.samples += samples.shape[1]

    def close(self) -> None:
        self.container.mux(self.video.encode(None))
        if self.audio is not None:
            self.container.mux(self.audio.encode(None))
        self.container.close()

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:  # a half-written file is not flushed as if it were whole
            self.container.close()


def mux_moved(
    dst, data: bytes, track, time_base, pts: int, dts: int, keyframe: bool = False
) -> None:
    """Mux ``data`` as a packet of ``track`` at ``pts``/``dts`` (in ``time_base``): a packet
    copied from another file, moved to its place in this one (stream copy, no re-encode)."""
    packet = av.Packet(data)
    packet.pts, packet.dts = pts, dts
    packet.time_base, packet.stream, packet.is_keyframe = time_base, track, keyframe
    dst.mux(packet)


@contextmanager
def _video(
    path: str | Path,
) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """The container and first video stream of a regular file; :class:`InputError` for
    anything else (a pipe or device is refused before FFmpeg opens it)."""
    open_regular(path).close()
    name = Path(path).name
    try:
        with av.open(str(path), mode="r") as container:
            yield container, main_video(container, name)
    except av.error.FFmpegError as exc:
        raise InputError(f"{name} is not a readable video: {exc}") from None


def main_video(container: av.container.Container, name: str = "the file"):
    """The clip's picture: its first video stream that is not an attached picture (the cover
    art editing and download tools embed as a one-frame video stream without timestamps)."""
    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    raise InputError(f"{name} has no video stream")


def iter_frames(path: str | Path) -> Iterator[np.ndarray]:
    """The video frames of ``path`` one at a time, (H, W, 3) uint8 RGB, at the stream's
    average rate (see :func:`_at_constant_rate`)."""
    with _video(path) as (container, stream):
        width = shown_width(stream)
        rate = stream.average_rate or stream.guessed_rate or 24
        decoded = _progressive(container.decode(stream), stream)
        for frame in _at_constant_rate(decoded, stream.time_base, rate, stream.frames):
            yield rgb_array(frame, width)


def _progressive(
    frames: Iterator[av.VideoFrame], stream: av.video.stream.VideoStream
) -> Iterator[av.VideoFrame]:
    """``frames``, those flagged interlaced (a camcorder's or broadcast 1080i) deinterlaced
    by FFmpeg's bwdif, one frame out per frame in: read as stored, their two fields' times
    combed every moving edge, and every edit that re-encodes wrote the combs into a
    progressive clip."""
    first = next(frames, None)
    if first is None:
        return
    if not first.interlaced_frame:
        yield first
        yield from frames
        return
    graph = av.filter.Graph()
    source = graph.add_buffer(template=stream)
    deinterlace = graph.add("bwdif", "mode=send_frame:parity=auto:deint=interlaced")
    sink = graph.add("buffersink")
    source.link_to(deinterlace)
    deinterlace.link_to(sink)
    graph.configure()
    for frame in itertools.chain([first], frames, [None]):
        graph.push(frame)
        while True:
            try:
                yield graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                break


def _at_constant_rate(
    frames: Iterator[av.VideoFrame], time_base: Fraction, rate: Fraction, count: int = 0
) -> Iterator[av.VideoFrame]:
    """Frame j is the one showing at j / ``rate`` seconds (the first frame at 0); ``count``
    of them at most (the stream's frame count, so the clip keeps its length: the average rate
    is that count over its duration), and none after the last frame's time is over.

    Phones film at a variable rate (slower in low light); every edit counts frames at one
    rate, so a clip whose rate changed drifted from its sound within it when re-encoded (1 s
    at 24 fps then 1 s at 12 played as 1.25 s and 0.63 s). A frame is repeated or left out
    to keep its time; a constant-rate clip comes through frame for frame (timestamps within
    a hundredth of a frame of their place count as on it)."""
    period = 1 / Fraction(rate)
    slack = period / 100
    current = next(frames, None)
    if current is None:
        return
    start = current.pts * time_base if current.pts is not None else 0
    upcoming = next(frames, None)
    j = 0
    while not count or j < count:
        at = start + j * period
        while upcoming is not None and (
            upcoming.pts is None or upcoming.pts * time_base <= at + slack
        ):
            current, upcoming = upcoming, next(frames, None)
        if upcoming is None and j:  # (a container's count is not trusted to go past)
            shown_until = (current.pts * time_base if current.pts is not None else at) + period
            if at >= shown_until - slack:
                return
        yield current
        j += 1


def read_frames(path: str | Path, max_frames: int | None = None) -> tuple[list[np.ndarray], float]:
    """The first ``max_frames`` (all by default) video frames, (H, W, 3) uint8 RGB, and the
    stream's frame rate; :class:`InputError` when there are none."""
    with _video(path) as (container, stream):
        rate = stream.average_rate or stream.guessed_rate or 24
        fps, width = float(rate), shown_width(stream)
        decoded = _progressive(container.decode(stream), stream)
        timed = _at_constant_rate(decoded, stream.time_base, rate, stream.frames)
        frames = list(itertools.islice((rgb_array(f, width) for f in timed), max_frames))
    if not frames:
        raise InputError(f"{Path(path).name} has no decodable frames")
    return frames, fps


def decode_frames(path: str | Path) -> list[np.ndarray]:
    """Every video frame of ``path`` as (H, W, 3) uint8 RGB."""
    return read_frames(path)[0]


def decode_audio(path: str | Path) -> np.ndarray | None:
    """The first audio stream resampled to (2, N) float32 at 48 kHz, or None."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AUDIO_RATE)
        chunks = []
        for frame in container.decode(audio=0):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray())
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray())
    return np.concatenate(chunks, axis=1) if chunks else np.zeros((2, 0), np.float32)
