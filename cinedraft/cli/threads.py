"""Edit turns: ``inpaint``, ``outpaint``, ``refine`` (and ``generate --from``), and
``thread``, which prints a thread of turns. Each command builds one :class:`EditRequest`."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..render import masks
from ..request import EditRequest, EditResult
from ..workspace import Workspace
from .common import (
    Guidance,
    Negative,
    Scheduler,
    Steps,
    err,
    handles_errors,
    out,
    parsed_option,
    progress_bars,
)

Source = Annotated[str, typer.Argument(help="An image asset id or an image file.")]
Seed = Annotated[int | None, typer.Option(help="Seed; random if not set or -1 (recorded).")]
Model = Annotated[
    str | None, typer.Option(help="Model (default: the one that made the image, else the default).")
]
Strength = Annotated[
    float | None, typer.Option(help="How far from the source, above 0 and at most 1.")
]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def run_edit(ctx: typer.Context, request: EditRequest, as_json: bool) -> None:
    """Run one edit turn and print it: a table, or ``--json`` (the route included)."""
    state: Workspace = ctx.obj
    engine = state.engine()
    with progress_bars(enabled=not as_json) as on_progress:
        result = engine.edit(request, on_progress)
    print_edit(result, as_json)


def print_edit(result: EditResult, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(result.model_dump(mode="json")))
        return
    for note in result.notes:
        err.print(f"note: {note}", soft_wrap=True)
    o = result.output
    if (o.record.get("policy") or {}).get("flagged"):
        hits = ", ".join(h["name"] for h in o.record["policy"]["hits"])
        err.print(f"warning: {o.asset_id} is flagged by the usage policy ({hits})")
    table = Table(title=f"{result.request.operation}: turn {result.turn} of {result.thread}")
    for col in ("asset id", "route", "size", "preserved", "seconds", "file"):
        table.add_column(col, overflow="fold")
    preserved = "" if result.preserved is None else f"{result.preserved:.3f}"
    table.add_row(
        o.asset_id,
        result.route,
        f"{o.width}x{o.height}",
        preserved,
        f"{result.seconds:.2f}",
        o.path,
    )
    out.print(table)


def turn_sampling(
    seed: int | None,
    model: str | None,
    steps: int | None,
    guidance: float | None,
    scheduler: str | None,
    negative: str,
) -> dict:
    """The :class:`EditRequest` fields every diffusion turn takes from its options."""
    return dict(
        seed=seed,
        model=model,
        steps=steps,
        guidance=guidance,
        scheduler=scheduler,
        negative_prompt=negative,
    )


@handles_errors
def inpaint(
    ctx: typer.Context,
    source: Source,
    prompt: Annotated[str, typer.Argument(help="What the masked part should show.")],
    mask: Annotated[
        str | None, typer.Option(help="Mask image: white = change (resized if another size).")
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="x,y,w,h: the rectangle to change, in pixels.")
    ] = None,
    feather: Annotated[
        int | None, typer.Option(help="Pixels over which the new area fades in (default 6).")
    ] = None,
    strength: Strength = None,
    seed: Seed = None,
    model: Model = None,
    steps: Steps = None,
    guidance: Guidance = None,
    scheduler: Scheduler = None,
    negative: Negative = "",
    as_json: Json = False,
) -> None:
    """Redraw the masked part of an image; every pixel outside the mask is kept exactly."""
    request = EditRequest(
        source=source,
        operation="inpaint",
        prompt=prompt,
        mask=mask,
        region=parsed_option(region, masks.parse_region, "--region"),
        feather=feather,
        strength=strength,
        **turn_sampling(seed, model, steps, guidance, scheduler, negative),
    )
    run_edit(ctx, request, as_json)


@handles_errors
def outpaint(
    ctx: typer.Context,
    source: Source,
    prompt: Annotated[
        str | None, typer.Argument(help="What the new area shows (default: the image's prompt).")
    ] = None,
    aspect: Annotated[
        str | None, typer.Option(help="Grow the canvas to W:H, e.g. 9:16 (nothing cropped).")
    ] = None,
    expand: Annotated[
        str | None, typer.Option(help="Pixels to add per side: left=128,right=0,top=64,bottom=0.")
    ] = None,
    strength: Strength = None,
    seed: Seed = None,
    model: Model = None,
    steps: Steps = None,
    guidance: Guidance = None,
    scheduler: Scheduler = None,
    negative: Negative = "",
    as_json: Json = False,
) -> None:
    """Grow the canvas and draw the new area to match; the old pixels are kept exactly."""
    parsed_option(aspect, masks.parse_aspect, "--aspect")  # refused now, not in the job
    request = EditRequest(
        source=source,
        operation="outpaint",
        prompt=prompt,
        aspect=aspect,
        expand=parsed_option(expand, masks.parse_expand, "--expand"),
        strength=strength,
        **turn_sampling(seed, model, steps, guidance, scheduler, negative),
    )
    run_edit(ctx, request, as_json)


@handles_errors
def refine(
    ctx: typer.Context,
    source: Source,
    instruction: Annotated[
        str,
        typer.Argument(
            help="The change in words: 'make it warmer', 'crop to 9:16', 'move it to the left'"
        ),
    ],
    seed: Seed = None,
    model: Model = None,
    steps: Steps = None,
    guidance: Guidance = None,
    as_json: Json = False,
) -> None:
    """Change an image as an instruction says: exactly where it can, else with a model.

    Plain adjustments (warmer, cooler, brighter, darker, more/less contrast, more/less
    saturated, black and white, mirror, crop to W:H) are done exactly without a model, said
    any way a chat would ('can you make it a touch warmer, please?'); 'more' or 'too much'
    after one repeats it or takes half of it back; a move ('move it to the
    left|center|right': the object cut out and laid there) too; other instructions need an
    instruction-edit model."""
    request = EditRequest(
        source=source,
        operation="refine",
        instruction=instruction,
        seed=seed,
        model=model,
        steps=steps,
        guidance=guidance,
    )
    run_edit(ctx, request, as_json)


@handles_errors
def thread(
    ctx: typer.Context,
    asset_id: Annotated[str, typer.Argument(help="Any image of the thread.")],
    as_json: Json = False,
) -> None:
    """Print the thread an image belongs to: the original and every turn.

    Branches indented, with each turn's operation, route, instruction and preserved score."""
    from ..engine.threads import thread_of

    state: Workspace = ctx.obj
    turns = thread_of(state.library(), asset_id)
    if as_json:
        out.print_json(json.dumps([t.__dict__ for t in turns]))
        return
    table = Table(title=f"thread of {turns[0].asset_id}: {len(turns) - 1} turn(s)")
    for col in ("asset id", "operation", "route", "preserved", "instruction / prompt"):
        table.add_column(col, overflow="fold")
    for t in turns:
        mark = "→ " if t.asset_id == asset_id else ""
        preserved = "" if t.preserved is None else f"{t.preserved:.3f}"
        table.add_row(
            "  " * t.depth + mark + t.asset_id,
            t.operation or "original",
            t.route or "",
            preserved,
            t.instruction or "",
        )
    out.print(table)
