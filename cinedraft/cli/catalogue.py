"""``catalogue`` (a product list into product images in every aspect) and ``ad`` (a
vertical ad of one SKU). Exit codes: 0 all rows done; 1 the run finished but some rows or
SKUs failed (each named on stderr with its line); 2 nothing was made (bad input)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..catalogue.brand import read_brand
from ..catalogue.sheet import DEFAULT_ASPECTS, read_sheet
from ..render.masks import parse_aspect
from ..workspace import Workspace
from .common import err, handles_errors, out, parsed_option, progress_bars

PARTIAL = 1  # some rows failed, the rest are done

Brand = Annotated[
    Path | None, typer.Option(help="Brand kit (TOML): palette, style, negative, logo, font.")
]
Out = Annotated[Path, typer.Option(help="Output folder (OUT/<sku>/...).")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _aspects(text: str) -> tuple[str, ...]:
    aspects = tuple(a.strip() for a in text.split(",") if a.strip())
    for aspect in aspects:
        parse_aspect(aspect)
    if not aspects:
        raise ValueError("give at least one aspect, e.g. 1:1,9:16")
    return aspects


@handles_errors
def catalogue(
    ctx: typer.Context,
    products: Annotated[Path, typer.Argument(help="products.csv or products.jsonl.")],
    brand: Brand = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("catalogue-out"),
    scenes: Annotated[int, typer.Option(min=1, max=16, help="Lifestyle drafts per SKU.")] = 3,
    aspects: Annotated[
        str, typer.Option(help="Aspects of rows that name none (comma-separated).")
    ] = ",".join(DEFAULT_ASPECTS),
    model: Annotated[str | None, typer.Option(help="Model (default: the default).")] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of each SKU's first draft.")] = 0,
    as_json: Json = False,
) -> None:
    """Product images for every row of a product list; run it again to resume.

    Drafts, the best promoted, every aspect by outpainting, thumbnails, a contact sheet and
    a manifest. A row with a packshot keeps the product's own pixels. Run it again to
    resume: only what is missing is made."""
    state: Workspace = ctx.obj
    kit = read_brand(brand)
    sheet = read_sheet(products, scenes, parsed_option(aspects, _aspects, "--aspects"))
    for problem in sheet.problems:
        err.print(f"skipped {problem}", soft_wrap=True, markup=False, highlight=False)
    from ..catalogue import Catalogue  # OpenCV, the library: not for --help

    runner = Catalogue(state.library(), state.engine, out_dir, kit, model, seed)
    with progress_bars(enabled=not as_json) as on_progress:
        runner.progress = on_progress
        report = runner.run(sheet)
    if as_json:
        rows = [
            {"sku": s.sku, "problem": s.problem, "made": s.made, "reused": s.reused,
             "files": [{k: v for k, v in f.items() if k != "record"} for f in s.files]}
            for s in report.skus
        ]  # fmt: skip
        out.print_json(json.dumps({"out": str(report.out), "skus": rows, "failed": report.failed}))
    else:
        table = Table(title=f"catalogue: {report.out}")
        for col in ("sku", "images", "product kept", "made", "reused", "problem"):
            table.add_column(col, overflow="fold")
        for s in report.skus:
            kept = [f["product_ssim"] for f in s.files if f["product_ssim"] is not None]
            images = sum(f["role"] in ("hero", "aspect") for f in s.files)
            table.add_row(
                s.sku,
                str(images),
                f"{min(kept):.3f}" if kept else "",
                str(s.made),
                str(s.reused),
                s.problem or "",
            )
        out.print(table)
    for failed in report.failed:
        err.print(f"failed: {failed}", soft_wrap=True, markup=False, highlight=False)
    if report.failed:
        raise typer.Exit(PARTIAL)


@handles_errors
def ad(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="A SKU a catalogue run has made images of.")],
    seconds: Annotated[float, typer.Option(help="Length in seconds (3-60).")] = 15.0,
    caption: Annotated[
        list[str] | None, typer.Option(help="A caption line (up to two; repeat the option).")
    ] = None,
    music: Annotated[
        Path | None, typer.Option(help="A music file; faded out over the last 1.5 s.")
    ] = None,
    brand: Brand = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("catalogue-out"),
    motion: Annotated[
        str,
        typer.Option(
            help="camera: a camera move over each approved still (the product exactly as "
            "approved); model: image to video on the video model (it redraws the product)."
        ),
    ] = "camera",
    model: Annotated[
        str | None, typer.Option(help="Video model, with --motion model (default: the default).")
    ] = None,
    seed: Annotated[int, typer.Option(min=0, help="Seed of the first shot (--motion model).")] = 0,
    steps: Annotated[
        int | None,
        typer.Option(min=1, max=500, help="Sampling steps (--motion model; default: the model's)."),
    ] = None,
    as_json: Json = False,
) -> None:
    """A 1080x1920, 30 fps H.264 vertical ad of one SKU from its catalogue images.

    Three shots from its approved catalogue images, each with a camera move (over the
    still, or image to video with --motion model), joined, with the product name and
    captions inside the TikTok/Reels safe zone; written to OUT/<sku>/ad.mp4."""
    state: Workspace = ctx.obj
    kit = read_brand(brand)
    from ..catalogue.ad import Ad  # PyAV, the editor: not for --help

    maker = Ad(state.library(), state.engine, state.editor, kit)
    with progress_bars(enabled=not as_json) as on_progress:
        maker.progress = on_progress
        result = maker.make(sku, seconds, out_dir, music, caption or [], seed, model, motion, steps)
    if as_json:
        out.print_json(json.dumps(result.__dict__, default=str))
        return
    out.print(
        f"{result.asset_id}  {result.width}x{result.height}  {result.fps:g} fps  "
        f"{result.seconds:.3f} s  {result.path}"
    )
