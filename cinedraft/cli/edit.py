"""``edit ...``: the editor from the command line. Sources are asset ids or local files;
every result is a new library asset (``--out FILE`` also copies it there)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..library import Asset
from ..request import Overrides
from ..workspace import Workspace

if TYPE_CHECKING:
    from ..editor import Editor

from .common import (
    Before,
    ClipModel,
    ClipSeed,
    ExtendSeconds,
    Guidance,
    Negative,
    Scheduler,
    Steps,
    copy_out,
    err,
    handles_errors,
    out,
    progress_bars,
    writable_destination,
)

app = typer.Typer(
    help="Cut, merge, extend, reframe, retime clips; OTIO interchange.", no_args_is_help=True
)
timeline_app = typer.Typer(help="OpenTimelineIO export and render.", no_args_is_help=True)
app.add_typer(timeline_app, name="timeline")

Source = Annotated[str, typer.Argument(help="Asset id or local video file.")]
Out = Annotated[Path | None, typer.Option("--out", help="Also copy the result to this file.")]
Json = Annotated[bool, typer.Option("--json", help="Print the new asset as JSON.")]


def _editor(ctx: typer.Context) -> Editor:
    state: Workspace = ctx.obj
    return state.editor()


def report_edit(asset: Asset, out_file: Path | None, as_json: bool) -> None:
    if out_file is not None:
        copy_out(Path(asset.path), out_file)
    if as_json:
        out.print_json(asset.model_dump_json(exclude={"record"}))
        return
    edit = asset.record["edit"]
    if note := (asset.record.get("parameters") or {}).get("note"):
        err.print(f"note: {note}", soft_wrap=True)
    out.print(
        f"{asset.id}  {asset.record['operation']}: {asset.record['frames']} frames, "
        f"{asset.record['seconds']:.3f} s at {asset.record['fps']:g} fps, {edit['method']} "
        f"({edit['copied_packets']} packets copied, {edit['reencoded_frames']} frames re-encoded)"
    )
    for seam in edit.get("seams", []):
        if "ratio" in seam:
            out.print(
                f"  seam at frame {seam['at_frame']}: warp error {seam['warp_error']} "
                f"vs {seam['within_average']} inside (x{seam['ratio']}), flicker {seam['flicker']}"
            )
    out.print(f"  {out_file or asset.path}")


@app.command()
@handles_errors
def cut(
    ctx: typer.Context,
    source: Source,
    start: Annotated[float, typer.Option("--from", help="Start, seconds.")] = 0.0,
    end: Annotated[
        float | None, typer.Option("--to", help="End, seconds (default: the end).")
    ] = None,
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Frame-accurate cut: copies whole GOPs, re-encodes only the partial ones at the ends."""
    writable_destination(out_file)
    report_edit(_editor(ctx).cut(source, start, end), out_file, as_json)


@app.command()
@handles_errors
def merge(
    ctx: typer.Context,
    sources: Annotated[list[str], typer.Argument(help="Clips in order.")],
    transition: Annotated[
        str | None, typer.Option(help="crossfade:SECONDS or fade:SECONDS.")
    ] = None,
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Join clips: stream copy when they match, otherwise normalised and re-encoded."""
    writable_destination(out_file)
    report_edit(_editor(ctx).merge(sources, transition), out_file, as_json)


@app.command()
@handles_errors
def extend(
    ctx: typer.Context,
    source: Source,
    seconds: ExtendSeconds = 4.0,
    prompt: Annotated[str, typer.Option(help="What happens next.")] = "",
    continuation: Annotated[
        str | None, typer.Option(help="Join this clip instead of generating one.")
    ] = None,
    before: Before = False,
    model: ClipModel = None,
    steps: Steps = None,
    guidance: Guidance = None,
    scheduler: Scheduler = None,
    seed: ClipSeed = None,
    negative: Negative = "",
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Continue a clip (or lead into it) and join them; the seam score is reported."""
    writable_destination(out_file)
    overrides = Overrides(model=model, steps=steps, guidance=guidance, scheduler=scheduler)
    state: Workspace = ctx.obj
    with progress_bars(enabled=not as_json) as on_progress:  # generating takes minutes
        editor = state.editor(on_progress)
        joined = editor.extend(
            source, seconds, prompt, continuation, before, overrides, seed, negative
        )
    report_edit(joined, out_file, as_json)


@app.command()
@handles_errors
def reframe(
    ctx: typer.Context,
    source: Source,
    aspect: Annotated[str, typer.Option(help="9:16, 1:1, 4:5 or 16:9.")] = "9:16",
    height: Annotated[int | None, typer.Option(help="Output height (default: the crop's).")] = None,
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Crop to an aspect ratio, following the salient region smoothly."""
    writable_destination(out_file)
    report_edit(_editor(ctx).reframe(source, aspect, height), out_file, as_json)


@app.command()
@handles_errors
def grade(
    ctx: typer.Context,
    source: Source,
    instruction: Annotated[
        str,
        typer.Argument(
            help="Exact changes, as refine takes them for an image: 'a touch warmer', "
            "'more contrast', 'black and white', 'crop to 1:1'."
        ),
    ],
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Change every frame's colour exactly: no model, nothing else moves; audio kept.

    Warmer, cooler, brighter, darker, contrast, saturation, black and white, mirror, crop.
    """
    writable_destination(out_file)
    report_edit(_editor(ctx).grade(source, instruction), out_file, as_json)


@app.command()
@handles_errors
def speed(
    ctx: typer.Context,
    source: Source,
    factor: Annotated[float, typer.Argument(help="0.25-4; 0.5 is half speed.")],
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Change playback speed (frame rate kept; audio keeps its pitch)."""
    writable_destination(out_file)
    report_edit(_editor(ctx).speed(source, factor), out_file, as_json)


@app.command()
@handles_errors
def audio(
    ctx: typer.Context,
    source: Source,
    music: Annotated[
        Path | None, typer.Argument(help="WAV, MP3, FLAC, M4A... (none with --mute).")
    ] = None,
    mode: Annotated[str, typer.Option(help="replace or add (mix).")] = "replace",
    mute: Annotated[bool, typer.Option("--mute", help="Remove the audio.")] = False,
    volume: Annotated[float, typer.Option(help="Music gain.")] = 1.0,
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Add, replace or mute the audio; the video is stream-copied."""
    writable_destination(out_file)
    editor = _editor(ctx)
    asset = editor.audio(
        source, None if mute else str(music) if music else None, "mute" if mute else mode, volume
    )
    report_edit(asset, out_file, as_json)


@timeline_app.command("export")
@handles_errors
def timeline_export(
    ctx: typer.Context,
    source: Source,
    otio_file: Annotated[Path, typer.Option("--otio", help="The .otio file to write.")],
) -> None:
    """Write the timeline of an edit (or a single clip) as OpenTimelineIO."""
    writable_destination(otio_file, "timeline")
    timeline = _editor(ctx).timeline_of(source)
    timeline.save_otio(otio_file)
    out.print(f"{otio_file}: {len(timeline.clips)} clip(s)")


@timeline_app.command("render")
@handles_errors
def timeline_render(
    ctx: typer.Context,
    otio_file: Annotated[Path, typer.Argument(help="An .otio file.")],
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Render an OpenTimelineIO timeline (clips, dissolves, audio) into a new asset."""
    writable_destination(out_file)
    from ..editor import Timeline

    report_edit(_editor(ctx).render(Timeline.load_otio(otio_file)), out_file, as_json)
