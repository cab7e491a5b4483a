"""``demo``: the main job on the built-in model, start to finish.

1. draft a grid of variations from a wildcard template;
2. promote the first draft to production;
3. animate the first draft (image to video, 3 s at the preview preset);
4. print where the files are and what each step cost (time per image, size, sharpness, drift,
   seconds per video stage).
"""

from __future__ import annotations

import time

from typing import Annotated

import typer
from PIL import Image
from rich.table import Table

from ..quality.metrics import laplacian_variance
from ..render.contact import contact_sheet
from ..request import ImageRequest, VideoRequest
from ..workspace import Workspace
from .common import err, handles_errors, out, progress_bars

TEMPLATE = (
    "a {red|blue|yellow|green} {bottle|jar|ball} on a {glass table|wooden table}, studio lighting"
)


@handles_errors
def demo(
    ctx: typer.Context,
    count: Annotated[int, typer.Option("-n", "--count", help="Draft variations.")] = 12,
    seed: Annotated[int, typer.Option(help="Seed of the first draft.")] = 1,
    video: Annotated[
        bool, typer.Option(help="Also animate the first draft (image to video).")
    ] = True,
) -> None:
    """Draft a grid of variations, promote one to production, summarise both tiers."""
    state: Workspace = ctx.obj
    steps = [
        f"draft {count} variations of a wildcard template",
        "promote the first to the production tier",
        *(["animate the first draft into a 3 s clip (image to video)"] if video else []),
        "print a summary of both tiers",
    ]
    err.print("cinedraft demo on the built-in model, offline: " + "; ".join(steps) + ".")
    started = time.monotonic()

    def done(what: str) -> None:
        err.print(f"{what} in {time.monotonic() - started:.1f}s")

    engine = state.engine()
    request = ImageRequest(prompt=TEMPLATE, template=True, count=count, seed=seed)
    # 1. Drafts.
    with progress_bars() as on_progress:
        drafts = engine.generate_image(request, on_progress)
    done(f"{count} drafts")
    images = [Image.open(o.path).convert("RGB") for o in drafts.outputs]
    grid_path = state.settings.home / f"grid-{drafts.outputs[0].asset_id}.png"
    contact_sheet(images, columns=6, tile=128).save(grid_path)
    # 2. Promote the first.
    with progress_bars() as on_progress:
        production = engine.promote(drafts.outputs[0].asset_id, on_progress)
    final = production.outputs[0]
    done("production render")
    # 3. Image to video from the first draft.
    clip = None
    if video:
        motion = VideoRequest(
            prompt=f"{drafts.outputs[0].prompt}, camera slowly zooms in",
            image=drafts.outputs[0].asset_id,
            seconds=3,
            seed=seed,
        )
        with progress_bars() as on_progress:
            clip = engine.generate_video(motion, on_progress)
        done("clip")
    # 4. Summary.
    draft_img = images[0]
    prod_img = Image.open(final.path).convert("RGB")
    enlarged = draft_img.resize(prod_img.size, Image.Resampling.BICUBIC)
    table = Table(title="cinedraft demo: draft vs production (built-in model)")
    for col in ("tier", "images", "s/image", "size", "bytes", "sharpness*"):
        table.add_column(col)
    table.add_row(
        "draft",
        str(len(images)),
        f"{drafts.seconds_per_image:.2f}",
        f"{draft_img.width}x{draft_img.height}",
        str(drafts.outputs[0].record["file"]["bytes"]),
        f"{laplacian_variance(enlarged) * 1e4:.1f}",
    )
    table.add_row(
        "production",
        "1",
        f"{production.seconds_per_image:.2f}",
        f"{prod_img.width}x{prod_img.height}",
        str(final.record["file"]["bytes"]),
        f"{laplacian_variance(prod_img) * 1e4:.1f}",
    )
    out.print(table)
    out.print("* Laplacian variance x1e4 at the production size (the draft enlarged bicubically).")
    out.print(f"grid of drafts:  {grid_path}")
    out.print(f"first draft:     {drafts.outputs[0].path}  ({drafts.outputs[0].prompt})")
    out.print(f"production:      {final.path}  drift SSIM vs draft {final.drift:.3f}")
    if clip is not None:
        stages = ", ".join(f"{k} {v:.1f}" for k, v in clip.timings.items())
        out.print(
            f"video:           {clip.path}  {clip.frames} frames {clip.width}x{clip.height} "
            f"at {clip.fps} fps, {clip.chunks} chunks; seconds per stage: {stages}"
        )
    out.print(
        f"library:         {engine.library.count()} assets in {engine.library.root}, "
        f"every file signed (C2PA); try `cinedraft --home {state.settings.home} "
        f"library show {final.asset_id}`"
    )
    out.print(
        f"production / draft time per image: "
        f"{production.seconds_per_image / drafts.seconds_per_image:.1f}x"
    )
