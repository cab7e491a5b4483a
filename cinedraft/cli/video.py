"""``video`` and ``extend``: one function each, each builds one request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..render import adjust
from ..request import Overrides, VideoRequest, VideoResult, parse_size
from ..workspace import Workspace
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
    refuse_options,
    writable_destination,
)
from .edit import report_edit

Seconds = Annotated[float | None, typer.Option(help="Length in seconds (default: the preset's).")]
Preset = Annotated[
    str, typer.Option(help="preview, cinematic-1080p, vertical-15s or square-social.")
]
Model = Annotated[str | None, typer.Option(help="'builtin', a diffusers video folder or a hub id.")]
Out = Annotated[Path | None, typer.Option("--out", help="Also copy the clip to this file.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


@handles_errors
def video(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="What happens, e.g. 'a blue jar slides left'.")],
    seconds: Seconds = None,
    preset: Preset = "preview",
    image: Annotated[
        str | None, typer.Option("--from", help="First frame: image asset id or file.")
    ] = None,
    model: Model = None,
    seed: ClipSeed = None,
    steps: Annotated[int | None, typer.Option(help="Sampling steps per chunk.")] = None,
    guidance: Guidance = None,
    scheduler: Annotated[
        str | None, typer.Option(help="A sampler name (see generate); default the model's own.")
    ] = None,
    codec: Annotated[str | None, typer.Option(help="h264 (default), h265 or av1.")] = None,
    model_size: Annotated[
        str | None, typer.Option("--model-size", help="WIDTHxHEIGHT the model draws at.")
    ] = None,
    retries: Annotated[
        int, typer.Option(help="New seeds tried for a chunk with a bad seam or a lost subject.")
    ] = 2,
    hold_subject: Annotated[
        bool,
        typer.Option(
            help="Draw a chunk again when its last frame no longer shows the first frame's "
            "subject (its colour, kind, one piece)."
        ),
    ] = True,
    negative: Negative = "",
    remix: Annotated[
        str | None,
        typer.Option(
            "--remix",
            help="A generated clip (asset id or file) to make again with one change: the "
            "PROMPT is then the change, as refine takes it ('warmer').",
        ),
    ] = None,
    out_file: Out = None,
    as_json: Json = False,
) -> None:
    """Generate a clip from text, from a first frame (--from), or remix one (--remix).

    Through the video preset; --remix makes a generated clip again with one change to its
    first frame."""
    if remix is not None:
        given = {
            "--seconds": seconds is not None,
            "--preset": preset != "preview",
            "--from": image is not None,
            "--steps": steps is not None,
            "--guidance": guidance is not None,
            "--scheduler": scheduler is not None,
            "--codec": codec is not None,
            "--model-size": model_size is not None,
            "--negative": bool(negative),
            "--no-hold-subject": not hold_subject,
        }
        refuse_options("--remix", given, "a remix keeps the clip's")
        writable_destination(out_file)
        if adjust.parse(prompt) is not None:  # said before minutes of drawing, not after
            err.print(
                f"note: {prompt!r} is an exact change: `edit grade {remix} {prompt!r}` makes "
                "it on every frame with no model and nothing else moving; a remix draws the "
                "clip again from a changed first frame",
                soft_wrap=True,
            )
        state: Workspace = ctx.obj
        with progress_bars(enabled=not as_json) as on_progress:
            result = state.engine().remix(remix, prompt, on_progress, model, seed)
        if out_file is not None:
            copy_out(Path(result.path), out_file)
        print_video(result, as_json)
        return
    size = None
    if model_size is not None:
        try:
            size = parse_size(model_size)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--model-size") from None
    request = VideoRequest(
        prompt=prompt,
        seconds=seconds,
        preset=preset,
        image=image,
        model=model,
        seed=seed,
        steps=steps,
        guidance=guidance,
        scheduler=scheduler,
        codec=codec,
        model_size=size,
        retries=retries,
        hold_subject=hold_subject,
        negative_prompt=negative,
    )
    writable_destination(out_file)
    state: Workspace = ctx.obj
    engine = state.engine()
    with progress_bars(enabled=not as_json) as on_progress:
        result = engine.generate_video(request, on_progress)
    if out_file is not None:
        copy_out(Path(result.path), out_file)
    print_video(result, as_json)


@handles_errors
def extend(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="Video asset id or local clip.")],
    prompt: Annotated[str, typer.Argument(help="What happens next.")],
    seconds: ExtendSeconds = 4.0,
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
    """Generate a continuation of a clip from its last frames and join them (seam scored)."""
    writable_destination(out_file)
    state: Workspace = ctx.obj
    overrides = Overrides(model=model, steps=steps, guidance=guidance, scheduler=scheduler)
    with progress_bars(enabled=not as_json) as on_progress:
        asset = state.editor(on_progress).extend(
            source, seconds, prompt, None, before, overrides, seed, negative
        )
    report_edit(asset, out_file, as_json)


def print_video(result: VideoResult, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(result.model_dump(mode="json")))
        return
    out.print(
        f"{result.asset_id}  {result.frames} frames, {result.seconds:g} s at {result.fps} fps, "
        f"{result.width}x{result.height}, {result.chunks} chunk(s)"
    )
    for seam in result.seams:
        out.print(
            f"  seam at model frame {seam.at_frame}: warp x{seam.ratio}, colour jump "
            f"{seam.colour_jump}, {seam.attempts} attempt(s)"
        )
    for check in result.record.get("subject", []):
        if check["attempts"] > 1 or not check["kept"]:
            verdict = "kept" if check["kept"] else f"lost: {check['why']}"
            out.print(
                f"  subject in chunk {check['chunk'] + 1}: {verdict} "
                f"({check['attempts']} attempt(s))"
            )
    table = Table(title="seconds per stage")
    for stage in result.timings:
        table.add_column(stage, no_wrap=True)
    table.add_row(*(f"{v:.2f}" for v in result.timings.values()))
    out.print(table)
    temporal = result.record.get("temporal", {})
    if temporal:
        out.print(
            f"  flicker {temporal['flicker']['mean']} (mean), warp error "
            f"{temporal['warp_error']['mean']} (mean)"
        )
    out.print(f"  poster {result.poster}, contact sheet {result.contact_sheet}")
    out.print(f"  {result.path}")
