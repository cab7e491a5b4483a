"""The editor: every operation takes library assets or local files and returns a new asset.

Each operation reads top to bottom:

1. resolve the sources (asset ids from the library; outside files are probed in the worker
   process and imported, so the lineage can name them);
2. run the operation from :mod:`.ops` into a temporary MP4;
3. store the result as a library asset of kind ``edit``: the record holds the operation, its
   parameters, what was copied or re-encoded, the timeline (for OTIO export), and the sources
   as parents (C2PA ingredients, ``componentOf``).
"""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
from PIL import Image


from ..errors import CinedraftError, InputError
from ..library import Asset, Library
from ..ids import ASSET_ID
from ..record import EditRecord, read_record
from ..request import Overrides
from ..quality.seams import score_seam
from . import ops
from ..render import adjust
from ..media.codec import check_size, iter_frames
from ..media.files import sha256_bytes
from ..media.pixels import shown_rgb
from ..media.probe import MediaInfo, Prober, check_local_file
from .timeline import Clip, Timeline, Transition

# (clip path, seconds, prompt, before, overrides) -> the stored continuation's path
# (clip, seconds, prompt, before, overrides, seed, negative prompt) -> the generated clip
Continue = Callable[[Path, float, str, bool, Overrides, int | None, str], Path]


MAX_HEIGHT = 4320


def _seconds(name: str, value: float) -> float:
    if not (math.isfinite(value) and 0 <= value <= 86_400):
        raise InputError(f"{name} must be a number of seconds from 0 to 86400, got {value}")
    return value


class Editor:
    """Cut, merge, extend, reframe, retime and re-score clips into the library."""

    def __init__(
        self,
        library: Library,
        prober: Prober | None = None,
        generate_continuation: Continue | None = None,
        record_extra: dict | None = None,
    ):
        self.library = library
        self.prober = prober or library.prober()
        self.record_extra = record_extra or {}  # added to every record (the server's job id)
        # Generates a continuation (or lead-in) and returns its stored path; the workspace
        # sets it to the engine's (the editor does not import the engine).
        self.generate_continuation = generate_continuation

    # ------------------------------------------------------------------ operations

    def cut(self, source: str, start: float, end: float | None = None) -> Asset:
        """Frames in [start, end) seconds, frame-accurate (smart render)."""
        _seconds("from", start)
        if end is not None:
            _seconds("to", end)
        asset, info = self._resolve(source)
        parameters: dict = {"from": start}
        if end is not None and end > info.duration:  # said, not silently clamped
            parameters["note"] = (
                f"asked to cut to {end:g} s; the clip ends at {info.duration:.3f} s, so the cut "
                "runs to its end"
            )
        end = info.duration if end is None else min(end, info.duration)
        if start >= end:
            raise InputError(
                f"--from {start:g} s is not before the end of the cut ({end:.3f} s; the clip "
                f"is {info.duration:.3f} s long)"
            )
        parameters["to"] = end
        timeline = Timeline([Clip(info.path, start, end, asset.id)], fps=info.fps)
        return self._run(
            "cut",
            [asset],
            parameters,
            timeline,
            lambda out: ops.cut(info, start, end, out),
        )

    def merge(self, sources: list[str], transition: str | None = None) -> Asset:
        """Clips end to end; ``transition`` like ``crossfade:0.5`` or ``fade:1`` at each join."""
        resolved = [self._resolve(s) for s in sources]
        join = Transition.parse(transition) if transition else None
        infos = [info for _, info in resolved]
        timeline = Timeline(
            [Clip(i.path, 0.0, i.duration, a.id) for a, i in resolved],
            [join] * (len(resolved) - 1),
            fps=infos[0].fps,
        )
        return self._run(
            "merge",
            [a for a, _ in resolved],
            {"transition": transition},
            timeline,
            lambda out: ops.merge(infos, out, [join]),
        )

    def render(self, timeline: Timeline) -> Asset:
        """Play a timeline (for example one read from OTIO) into a new asset."""
        parts, assets = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for k, clip in enumerate(timeline.clips):
                known = clip.asset_id and self._get(clip.asset_id) is not None
                asset, info = self._resolve(clip.asset_id if known else clip.source)
                assets.append(asset)
                end = info.duration if clip.end is None else min(clip.end, info.duration)
                if clip.start > 0 or end < info.duration - 1e-6:
                    piece = Path(tmp) / f"part{k}.mp4"
                    ops.cut(info, clip.start, end, piece)
                    info = self.prober.probe(piece)
                parts.append(info)
            music = self.prober.probe(timeline.audio, need_video=False) if timeline.audio else None

            def run(out: Path) -> ops.EditStats:
                if len(parts) == 1:
                    stats = ops.cut(parts[0], 0, parts[0].duration, out)
                else:
                    stats = ops.merge(parts, out, timeline.transitions)
                if music is not None:
                    mixed = out.with_name("mixed.mp4")
                    ops.audio(self.prober.probe(out), mixed, music, "replace")
                    mixed.replace(out)
                return stats

            return self._run("render", assets, {"clips": len(parts)}, timeline, run)

    def speed(self, source: str, factor: float) -> Asset:
        if not (math.isfinite(factor) and 0.25 <= factor <= 4):
            raise InputError(f"speed factor must be between 0.25 and 4, got {factor}")
        asset, info = self._resolve(source)
        timeline = Timeline([Clip(info.path, 0.0, info.duration, asset.id)], fps=info.fps)
        return self._run(
            "speed", [asset], {"factor": factor}, timeline, lambda out: ops.speed(info, factor, out)
        )

    def audio(
        self,
        source: str,
        music: str | None,
        mode: str = "replace",
        volume: float = 1.0,
        fade_out: float = 0.0,
    ) -> Asset:
        """Add (mix), replace or mute (``music`` None) the audio; the video is copied. The
        last ``fade_out`` seconds fade to silence."""
        _seconds("fade out", fade_out)
        asset, info = self._resolve(source)
        track = self.prober.probe(music, need_video=False) if music else None
        if track is not None and track.audio is None:
            raise InputError(f"{Path(music).name} has no audio stream")
        timeline = Timeline(
            [Clip(info.path, 0.0, info.duration, asset.id)],
            fps=info.fps,
            audio=track.path if track else None,
        )
        return self._run(
            "audio",
            [asset],
            {"mode": mode, "music": Path(music).name if music else None, "fade_out": fade_out},
            timeline,
            lambda out: ops.audio(info, out, track, mode, volume, fade_out),
        )

    def camera(
        self,
        source: str,
        seconds: float,
        move: str,
        size: tuple[int, int] = (1080, 1920),
        fps: int = 30,
    ) -> Asset:
        """A clip of ``seconds`` from a still image asset: a camera ``move`` over it (zoom-in,
        pull-back, pan-left, pan-right); the still's own pixels, nothing generated."""
        _seconds("length", seconds)
        image = self.library.resolve(source, "image")
        with Image.open(image.path) as im:
            pixels = np.asarray(shown_rgb(im))
        frames = round(seconds * fps)
        timeline = Timeline([Clip(image.path, 0.0, frames / fps, image.id)], fps=fps)
        return self._run(
            "camera",
            [image],
            {"move": move, "seconds": frames / fps, "size": list(size)},
            timeline,
            lambda out: ops.camera(pixels, out, frames, fps, size, move),
        )

    def overlay(self, source: str, image: Image.Image, what: str = "overlay") -> Asset:
        """Draw a still RGBA image of the clip's size (captions, a logo) over every frame;
        ``what`` is recorded (with the overlay's SHA-256)."""
        asset, info = self._resolve(source)
        rgba = np.asarray(image.convert("RGBA"))
        timeline = Timeline([Clip(info.path, 0.0, info.duration, asset.id)], fps=info.fps)
        parameters = {"what": what, "sha256": sha256_bytes(rgba.tobytes())}
        return self._run(
            "overlay", [asset], parameters, timeline, lambda out: ops.overlay(info, out, rgba)
        )

    def grade(self, source: str, instruction: str) -> Asset:
        """The exact adjustments ``instruction`` names ("a touch warmer", "more contrast",
        "black and white", "crop to 1:1"), on every frame; recorded as read."""
        asset, info = self._resolve(source)
        adjustments = ops.pivoted(info, grade_adjustments(instruction, asset))
        timeline = Timeline([Clip(info.path, 0.0, info.duration, asset.id)], fps=info.fps)
        return self._run(
            "grade",
            [asset],
            {"instruction": instruction, "adjustments": [a.to_record() for a in adjustments]},
            timeline,
            lambda out: ops.grade(info, out, adjustments),
        )

    def reframe(self, source: str, aspect: str, height: int | None = None) -> Asset:
        if height is not None and not 16 <= height <= MAX_HEIGHT:
            raise InputError(f"height must be 16..{MAX_HEIGHT} pixels, got {height}")
        if aspect not in ops.ASPECTS:
            raise InputError(f"aspect must be one of {', '.join(ops.ASPECTS)}, got {aspect!r}")
        asset, info = self._resolve(source)
        timeline = Timeline([Clip(info.path, 0.0, info.duration, asset.id)], fps=info.fps)
        return self._run(
            "reframe",
            [asset],
            {"aspect": aspect, "height": height},
            timeline,
            lambda out: ops.reframe(info, aspect, out, height),
        )

    def extend(
        self,
        source: str,
        seconds: float,
        prompt: str,
        continuation: str | None = None,
        before: bool = False,
        overrides: Overrides | None = None,
        seed: int | None = None,
        negative_prompt: str = "",
    ) -> Asset:
        """The clip followed by a continuation (or, ``before``, preceded by a lead-in),
        generated from its last (first) frames or given; joined by stream copy when the clips
        match; the seam score is recorded. A generated continuation uses the clip's own model
        unless ``overrides`` name another (a clip from outside: the configured video model),
        and ``seed`` and ``negative_prompt`` when given."""
        _seconds("seconds", seconds)
        asset, info = self._resolve(source)
        if continuation is None:
            if self.generate_continuation is None:
                raise CinedraftError(
                    "extend needs the video engine to generate a continuation; it is not "
                    "available in this build (pass --continuation FILE to join an existing clip)"
                )
            # the continuation is made at the clip's size: refuse one too small to encode
            # before the model's minutes, not after
            check_size(info.video.width, info.video.height)
            overrides = overrides or Overrides()
            if overrides.model is None and asset.model:
                overrides = overrides.model_copy(update={"model": asset.model})
            made = self.generate_continuation(
                info.path, seconds, prompt, before, overrides, seed, negative_prompt
            )
            continuation = str(made)
        other_asset, other = self._resolve(continuation)
        (first_asset, first), (second_asset, second) = (
            ((other_asset, other), (asset, info))
            if before
            else ((asset, info), (other_asset, other))
        )
        timeline = Timeline(
            [
                Clip(first.path, 0.0, first.duration, first_asset.id),
                Clip(second.path, 0.0, second.duration, second_asset.id),
            ],
            fps=info.fps,
        )

        def run(out: Path) -> ops.EditStats:
            stats = ops.merge([first, second], out)
            stats.seams = [seam_score(out, first.frame_count)]
            return stats

        parameters = {"seconds": seconds, "prompt": prompt, "before": before}
        return self._run("extend", [asset, other_asset], parameters, timeline, run)

    # ------------------------------------------------------------------ plumbing

    def _get(self, asset_id: str) -> Asset | None:
        try:
            return self.library.get(asset_id)
        except CinedraftError:
            return None

    def _resolve(self, source: str) -> tuple[Asset, MediaInfo]:
        """A library asset for ``source`` (an asset id or a local file) and its probe."""
        ref = str(source)
        if not (ASSET_ID.match(ref) and not Path(ref).exists()):
            ref = str(check_local_file(ref))  # URLs, protocols, playlists: refused unopened
        asset = self.library.resolve(ref, "video")  # an outside file is probed and imported
        return asset, self.prober.probe(asset.path)

    def timeline_of(self, source: str) -> Timeline:
        """The timeline an edit recorded, or a one-clip timeline for any other clip."""
        asset, info = self._resolve(source)
        if asset.kind == "edit":
            return Timeline.from_dict(read_record(asset.record, EditRecord, "an edit").timeline)
        return Timeline([Clip(info.path, 0.0, info.duration, asset.id)], fps=info.fps)

    def _run(
        self,
        operation: str,
        sources: list[Asset],
        parameters: dict,
        timeline: Timeline,
        run: Callable[[Path], ops.EditStats],
    ) -> Asset:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "edit.mp4"
            stats = run(out)
            result = self.prober.probe(out)
            record = EditRecord(
                asset_id=self.library.new_id(),
                operation=operation,
                parameters=parameters,
                prompt=next((s.prompt for s in sources if s.prompt), ""),
                model=next((s.model for s in sources if s.model), None),
                width=result.video.width,
                height=result.video.height,
                frames=result.frame_count,
                fps=result.fps,
                seconds=round(result.duration, 6),
                edit=asdict(stats) | {"duration": stats.duration},
                timeline=timeline.to_dict(),
                parents=[{"id": i, "role": "source"} for i in dict.fromkeys(s.id for s in sources)],
            )
            return self.library.add_video(out.read_bytes(), record.to_dict() | self.record_extra)


def grade_adjustments(instruction: str, source: Asset) -> list[adjust.Adjustment]:
    """The exact adjustments a grade's ``instruction`` names ("more" or "too much": the grade
    that made ``source``, scaled, as after an image's exact turn), or a refusal saying which
    a clip takes and what changes what a clip shows (the API asks before it queues a job)."""
    if len(instruction) > 1_000:  # as an image's turn takes it
        raise InputError(f"the change is {len(instruction)} characters; at most 1000")
    adjustments = adjust.parse(instruction)
    scale = adjust.again(instruction)
    if adjustments is None and scale is not None:
        made = source.record.get("parameters") if source.record.get("operation") == "grade" else {}
        adjustments = adjust.scaled((made or {}).get("adjustments") or [], scale)
        if not adjustments:
            raise InputError(
                f"{instruction!r} repeats the grade that made the clip, and {source.id} was "
                f"not made by one: say the change ({', '.join(adjust.WORDS)})"
            )
    if adjustments is None:
        raise InputError(
            f"{instruction!r} is not an exact change; a clip is graded with: "
            f"{', '.join(adjust.WORDS)}. To change what a clip shows, `video --remix "
            'CLIP "make the jar blue"` draws it again from its first frame changed'
        )
    return adjustments


def seam_score(path: Path, at_frame: int, window: int = 12) -> dict:
    """The seam at ``at_frame`` of a delivered file (:func:`~cinedraft.quality.seams.score_seam`,
    ``window`` frame pairs a side): a seam that looks like any other frame pair scores ~1."""
    first = max(0, at_frame - window - 1)  # only the frames the score reads are held
    frames = list(itertools.islice(iter_frames(path), first, at_frame + window + 1))
    if at_frame <= 0 or at_frame - first >= len(frames):
        count = first + len(frames)
        raise InputError(f"no join at frame {at_frame} of a {count}-frame clip")
    before, after = frames[: at_frame - first], frames[at_frame - first :]
    return {"at_frame": at_frame} | score_seam(before, after, window)
