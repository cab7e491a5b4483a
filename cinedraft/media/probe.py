"""Probing untrusted media without risking the calling process.

FFmpeg (through PyAV) can crash the whole process on some malformed or truncated files, so
every input is opened first in a separate worker process that demuxes every packet and
decodes every frame. If the worker dies, the caller gets a clear :class:`InputError` and a
fresh worker for the next file. Only regular local files are accepted: URLs, protocol
prefixes (``concat:``, ``pipe:``, ...) and playlists (HLS, DASH, ffconcat) are refused
before FFmpeg sees them, and the demuxer is pinned to the formats cinedraft edits.

The worker is :mod:`cinedraft.media.probe_worker`, run by its path.
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
WORKER_MEMORY = 4 << 30
WORKER = Path(__file__).with_name("probe_worker.py")


@dataclass
class StreamInfo:
    index: int
    type: str  # video | audio
    codec: str
    time_base: tuple[int, int]
    frames: int  # decoded frames (video) or samples (audio)
    width: int = 0  # video: as shown (a quarter ``rotation`` swaps the stored size)
    height: int = 0
    pix_fmt: str = ""
    rotation: int = 0  # video: 0, 90, 180, 270 degrees anticlockwise, the display matrix's
    # video: matrix, primaries, transfer, range as FFmpeg numbers them (2: unspecified)
    colours: tuple[int, int, int, int] = (2, 2, 2, 0)
    sar: tuple[int, int] = (1, 1)  # video: the stored pixels' aspect (width applies it)
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


class Prober:
    """A long-lived worker process; restarted whenever a file kills it. Thread-safe."""

    def __init__(self, timeout: float = 120.0):
        self.timeout = timeout
        self._proc: subprocess.Popen | None = None
        self._lock = threading.Lock()

    def _worker(self) -> subprocess.Popen:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                # -P: the worker's folder is not put on sys.path (its neighbours would
                # shadow modules of the same name)
                [sys.executable, "-P", str(WORKER)],
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
                **{
                    **s,
                    "time_base": tuple(s["time_base"]),
                    "fps": tuple(s.get("fps", (0, 1))),
                    "colours": tuple(s.get("colours", (2, 2, 2, 0))),
                    "sar": tuple(s.get("sar", (1, 1))),
                }
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
