"""A small timeline: clips with in/out points, transitions between them, an audio bed.

It is what an edit records (so ``edit timeline export`` can hand any edit to an NLE) and what
:meth:`Editor.render` plays back. OpenTimelineIO conversion: clips become ``Clip`` items with
an ``ExternalReference`` to the file and a ``source_range``; transitions become OTIO
``SMPTE_Dissolve`` (crossfade) or custom ``fade_to_black`` transitions centred on the cut;
the audio bed is a clip on an audio track.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import InputError, OutputError
from ..media.files import write_atomic

TRANSITIONS = ("crossfade", "fade")


@dataclass
class Clip:
    """A source file (or library asset) from ``start`` to ``end`` seconds (None: its end)."""

    source: str
    start: float = 0.0
    end: float | None = None
    asset_id: str | None = None


@dataclass
class Transition:
    kind: str  # crossfade | fade
    seconds: float

    def __post_init__(self):
        if self.kind not in TRANSITIONS:
            raise InputError(
                f"transition must be one of {', '.join(TRANSITIONS)}, got {self.kind!r}"
            )
        if not 0 < self.seconds <= 10:
            raise InputError(f"transition length must be in (0, 10] seconds, got {self.seconds}")

    @classmethod
    def parse(cls, text: str) -> Transition:
        """``crossfade:0.5`` -> Transition("crossfade", 0.5)."""
        kind, _, seconds = text.partition(":")
        try:
            return cls(kind, float(seconds or 0.5))
        except ValueError:
            raise InputError(
                f"transition must look like crossfade:0.5 or fade:1, got {text!r}"
            ) from None


@dataclass
class Timeline:
    """Clips in order; ``transitions[i]`` joins clip i and i+1 (None: a straight cut)."""

    clips: list[Clip]
    transitions: list[Transition | None] = field(default_factory=list)
    fps: float = 24.0
    audio: str | None = None  # a music file laid under the whole edit

    def __post_init__(self):
        if not self.clips:
            raise InputError("a timeline needs at least one clip")
        if not self.transitions:
            self.transitions = [None] * (len(self.clips) - 1)
        if len(self.transitions) != len(self.clips) - 1:
            raise InputError("a timeline needs one transition (or None) per join")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Timeline:
        return cls(
            clips=[Clip(**c) for c in data["clips"]],
            transitions=[Transition(**t) if t else None for t in data.get("transitions", [])],
            fps=data.get("fps", 24.0),
            audio=data.get("audio"),
        )

    # ------------------------------------------------------------------ OpenTimelineIO

    def to_otio(self, durations: dict[str, float] | None = None):
        """An ``opentimelineio.schema.Timeline``; ``durations`` (source -> seconds) fills
        open ``end`` points."""
        import opentimelineio as otio

        rate = self.fps
        rt = lambda seconds: otio.opentime.RationalTime(round(seconds * rate), rate)  # noqa: E731
        timeline = otio.schema.Timeline(name="cinedraft edit")
        track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
        for i, clip in enumerate(self.clips):
            if i and self.transitions[i - 1] is not None:
                t = self.transitions[i - 1]
                half = rt(t.seconds / 2)
                track.append(
                    otio.schema.Transition(
                        name=t.kind,
                        in_offset=half,
                        out_offset=half,
                        transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve
                        if t.kind == "crossfade"
                        else "fade_to_black",
                    )
                )
            end = clip.end if clip.end is not None else (durations or {}).get(clip.source)
            if end is None:
                raise InputError(f"clip {clip.source} has no end point and no known duration")
            item = otio.schema.Clip(
                name=Path(clip.source).name,
                media_reference=otio.schema.ExternalReference(
                    target_url=Path(clip.source).resolve().as_uri()
                ),
                source_range=otio.opentime.TimeRange(rt(clip.start), rt(end - clip.start)),
            )
            if clip.asset_id:
                item.metadata["cinedraft"] = {"asset_id": clip.asset_id}
            track.append(item)
        timeline.tracks.append(track)
        if self.audio:
            audio_track = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
            audio_track.append(
                otio.schema.Clip(
                    name=Path(self.audio).name,
                    media_reference=otio.schema.ExternalReference(
                        target_url=Path(self.audio).resolve().as_uri()
                    ),
                )
            )
            timeline.tracks.append(audio_track)
        timeline.metadata["cinedraft"] = {"fps": self.fps}
        return timeline

    @classmethod
    def from_otio(cls, timeline) -> Timeline:
        """The first video track's clips and transitions (and the first audio clip)."""
        import opentimelineio as otio

        video = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Video]
        if not video:
            raise InputError("the OTIO timeline has no video track")
        clips, transitions, pending = [], [], None
        fps = 24.0
        for item in video[0]:
            if isinstance(item, otio.schema.Transition):
                kind = (
                    "crossfade"
                    if item.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve
                    else "fade"
                )
                pending = Transition(kind, (item.in_offset + item.out_offset).to_seconds())
            elif isinstance(item, otio.schema.Clip):
                ref = item.media_reference
                if not isinstance(ref, otio.schema.ExternalReference):
                    raise InputError(f"clip {item.name!r} has no file reference")
                rng = item.source_range
                fps = rng.start_time.rate if rng else fps
                start = rng.start_time.to_seconds() if rng else 0.0
                end = rng.end_time_exclusive().to_seconds() if rng else None
                if clips:
                    transitions.append(pending)
                pending = None
                clips.append(
                    Clip(
                        _path_from_url(ref.target_url),
                        start,
                        end,
                        (item.metadata.get("cinedraft") or {}).get("asset_id"),
                    )
                )
        audio_tracks = [t for t in timeline.tracks if t.kind == otio.schema.TrackKind.Audio]
        audio = None
        if (
            audio_tracks
            and len(audio_tracks[0])
            and isinstance(audio_tracks[0][0].media_reference, otio.schema.ExternalReference)
        ):
            audio = _path_from_url(audio_tracks[0][0].media_reference.target_url)
        fps = (timeline.metadata.get("cinedraft") or {}).get("fps", fps)
        return cls(clips, transitions, float(fps), audio)

    def save_otio(self, path: Path, durations: dict[str, float] | None = None) -> Path:
        import opentimelineio as otio

        path = Path(path)
        if path.suffix.lower() != ".otio":  # OTIO reads its JSON back only from a .otio file
            raise InputError(f"{path}: a timeline is written as OTIO; name it {path.stem}.otio")
        data = otio.adapters.write_to_string(self.to_otio(durations), "otio_json").encode()
        try:
            write_atomic(path, data, shared=True)
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
        return path

    @classmethod
    def load_otio(cls, path: Path) -> Timeline:
        import opentimelineio as otio

        try:
            found = otio.adapters.read_from_file(str(path))
        except (otio.exceptions.OTIOError, ValueError, OSError) as exc:
            raise InputError(f"cannot read {path} as OpenTimelineIO: {exc}") from None
        if not isinstance(found, otio.schema.Timeline):
            raise InputError(
                f"{path} holds a {type(found).__name__}, not an OpenTimelineIO timeline"
            )
        try:
            return cls.from_otio(found)
        except (AttributeError, TypeError, KeyError, IndexError, ValueError) as exc:
            raise InputError(f"{path} is not a timeline cinedraft can play: {exc}") from None


def _path_from_url(url: str) -> str:
    """A ``file://`` URL or a plain path; other schemes are refused (local files only)."""
    from urllib.parse import unquote, urlparse

    parsed = urlparse(url)
    if parsed.scheme in ("", "file"):
        return unquote(parsed.path) if parsed.scheme else url
    raise InputError(f"{url}: only local files can be edited")
