"""Probing untrusted media without risking the calling process.

FFmpeg (through PyAV) can crash the whole process on some malformed or truncated files, so
every input is opened first in a separate worker process that demuxes every packet and
decodes every frame. If the worker dies, the caller gets a clear :class:`InputError` and a
fresh worker for the next file. Only regular local files are accepted: URLs, protocol
prefixes (``concat:``, ``pipe:``, ...) and playlists (HLS, DASH, ffconcat) are refused
before FFmpeg sees them, and the demuxer is pinned to the formats cinedraft edits.

Run as ``python -m cinedraft.media.probe``: the worker loop (one path per line in, one
JSON object per line out).
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError

_PROTOCOL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
_PLAYLIST_MAGIC = (b"#EXTM3U", b"ffconcat", b"<?xml", b"<MPD", b"#EXT-X")
MEDIA_FORMATS = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm"
WORKER_MEMORY = 4 << 30


@dataclass
class StreamInfo:
    index: int
    type: str  # video | audio
    codec: str
    time_base: tuple[int, int]
    frames: int  # decoded frames (video) or samples (audio)
    width: int = 0
    height: int = 0
    pix_fmt: str = ""
    fps: tuple[int, int] = (0, 1)
    sample_rate: int = 0
    channels: int = 0
    keyframes: list[int] = field(default_factory=list)  # video: frame indexes
    pts: list[int] = field(default_factory=list)  # video: presentation order


@dataclass
class MediaInfo:
    path: str
    format: str
    duration: float
    streams: list[StreamInfo]

    @property
    def video(self) -> StreamInfo:
        found = [s for s in self.streams if s.type == "video"]
        if not found:
            raise InputError(f"{Path(self.path).name} has no video stream")
        return found[0]

    @property
    def audio(self) -> StreamInfo | None:
        return next((s for s in self.streams if s.type == "audio"), None)

    @property
    def fps(self) -> float:
        num, den = self.video.fps
        return num / den

    @property
    def frame_count(self) -> int:
        return self.video.frames


def check_local_file(path: str | Path) -> Path:
    """``path`` as a regular local media file, or :class:`InputError` saying why not."""
    text = str(path)
    if _PROTOCOL.match(text) and not Path(text).exists():
        raise InputError(f"{text!r}: URLs and protocols are not accepted, only local files")
    resolved = Path(text).resolve()
    if not resolved.is_file():
        raise InputError(f"no such file: {text}")
    with open(resolved, "rb") as fh:
        head = fh.read(64).lstrip()
    if head.startswith(_PLAYLIST_MAGIC) or resolved.suffix.lower() in {
        ".m3u8",
        ".m3u",
        ".mpd",
        ".txt",
    }:
        raise InputError(f"{resolved.name}: playlists are not accepted, only media files")
    return resolved


def _probe_in_worker(path: str, need_video: bool = True) -> dict:
    """The worker's job: demux and decode everything; a Python error becomes ``error``."""
    import av

    try:
        options = {"protocol_whitelist": "file"}
        with av.open(path, mode="r", format=None, options=options) as container:
            if container.format.name.split(",")[0] not in MEDIA_FORMATS.split(","):
                return {
                    "error": f"format {container.format.name!r} is not a media container"
                    " cinedraft edits"
                }
            streams = []
            for s in container.streams:
                if s.type not in ("video", "audio"):
                    continue
                info = {
                    "index": s.index,
                    "type": s.type,
                    "codec": s.codec_context.name,
                    "time_base": [s.time_base.numerator, s.time_base.denominator],
                    "frames": 0,
                }
                if s.type == "video":
                    rate = s.average_rate or s.guessed_rate
                    if not rate:
                        return {"error": "video stream without a frame rate"}
                    info |= {
                        "width": s.codec_context.width,
                        "height": s.codec_context.height,
                        "pix_fmt": s.codec_context.pix_fmt or "",
                        "fps": [rate.numerator, rate.denominator],
                        "keyframes": [],
                        "pts": [],
                    }
                else:
                    info |= {
                        "sample_rate": s.codec_context.sample_rate,
                        "channels": s.codec_context.channels,
                    }
                streams.append(info)
            if need_video and not any(s["type"] == "video" for s in streams):
                return {"error": "no video stream"}
            if not streams:
                return {"error": "no audio or video stream"}
            by_index = {s["index"]: s for s in streams}
            for packet in container.demux([container.streams[i] for i in by_index]):
                info = by_index[packet.stream.index]
                for frame in packet.decode():
                    if info["type"] == "video":
                        if frame.pts is None:
                            return {"error": "a video frame without a timestamp"}
                        info["pts"].append(frame.pts)
                        if frame.key_frame:
                            info["keyframes"].append(info["frames"])
                        info["frames"] += 1
                    else:
                        info["frames"] += frame.samples
            video = next((s for s in streams if s["type"] == "video"), None)
            if video is None:  # an audio file
                audio = streams[0]
                if audio["frames"] == 0:
                    return {"error": "no decodable audio"}
                return {
                    "path": path,
                    "format": container.format.name,
                    "duration": audio["frames"] / max(1, audio["sample_rate"]),
                    "streams": streams,
                }
            if video["frames"] == 0:
                return {"error": "no decodable video frames"}
            if video["pts"] != sorted(video["pts"]):
                return {"error": "video frames out of order"}
            expected = container.streams[video["index"]].frames
            if expected and video["frames"] < expected:
                return {"error": f"truncated: {video['frames']} of {expected} frames decode"}
            duration = video["frames"] * video["fps"][1] / video["fps"][0]
            return {
                "path": path,
                "format": container.format.name,
                "duration": duration,
                "streams": streams,
            }
    except av.error.FFmpegError as exc:
        return {"error": exc.strerror or str(exc)}
    except Exception as exc:  # noqa: BLE001 - a damaged file may break PyAV in any way
        return {"error": f"{type(exc).__name__}: {exc}"}


class Prober:
    """A long-lived worker process; restarted whenever a file kills it. Thread-safe."""

    def __init__(self, timeout: float = 120.0):
        self.timeout = timeout
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _worker(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "cinedraft.media.probe"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                bufsize=1,
                preexec_fn=_limit_memory,
            )
        return self._proc

    def probe(self, path: str | Path, need_video: bool = True) -> MediaInfo:
        """Everything the editor needs to know about ``path``, or :class:`InputError`.
        ``need_video=False`` accepts audio-only files (music beds)."""
        resolved = check_local_file(path)
        with self._lock:
            proc = self._worker()
            try:
                proc.stdin.write(json.dumps([str(resolved), need_video]) + "\n")
                proc.stdin.flush()
                line = _readline(proc, self.timeout)
            except (BrokenPipeError, TimeoutError):
                line = ""
            if not line:
                proc.kill()
                proc.wait()
                self._proc = None
                raise InputError(
                    f"{resolved.name}: the file crashed or hung the decoder; it is damaged"
                )
        result = json.loads(line)
        if "error" in result:
            kind = "video" if need_video else "media file"
            raise InputError(f"{resolved.name} is not a usable {kind}: {result['error']}")
        streams = [
            StreamInfo(
                **{**s, "time_base": tuple(s["time_base"]), "fps": tuple(s.get("fps", (0, 1)))}
            )
            for s in result["streams"]
        ]
        return MediaInfo(result["path"], result["format"], result["duration"], streams)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=5)
        self._proc = None


def _limit_memory() -> None:
    """A hostile file must not eat the machine: 4 GiB of address space for the worker."""
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))


def _readline(proc: subprocess.Popen, timeout: float) -> str:
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive():
        raise TimeoutError
    return result[0] if result else ""


def _serve() -> None:
    for line in sys.stdin:
        print(json.dumps(_probe_in_worker(*json.loads(line))), flush=True)


if __name__ == "__main__":
    _serve()
