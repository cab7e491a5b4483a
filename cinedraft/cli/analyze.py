"""``analyze`` and ``lab factors``: measured clarity, one function per command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..quality import HIGHER_IS_CLEARER
from ..request import Overrides
from ..workspace import Workspace
from .common import file_or_asset, handles_errors, out, progress_bars

lab = typer.Typer(
    help="Controlled experiments on what makes an output clearer.", no_args_is_help=True
)

SHOWN = tuple(HIGHER_IS_CLEARER)  # every stored metric, in its order


@handles_errors
def analyze(
    ctx: typer.Context,
    files: Annotated[
        list[Path], typer.Argument(help="Images to compare, or video clips: files or asset ids.")
    ],
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for crops.png.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Which image is clearer, by how much, and why; for clips, flicker and warp error.

    A clarity table of the images; for clips, temporal flicker and warp error per second."""
    from ..quality.compare import VIDEO_SUFFIXES, analyze_images, analyze_video  # OpenCV, PyAV

    resolved = [file_or_asset(ctx.obj, f) for f in files]
    files = [path for path, _ in resolved]
    names = {str(path): name for path, name in resolved}
    videos = [f for f in files if f.suffix.lower() in VIDEO_SUFFIXES]
    images = [f for f in files if f not in videos]
    if videos:  # FFmpeg can crash a process on a malformed file: probe each in the worker first
        from ..media.probe import Prober

        prober = Prober()
        try:
            for video in videos:
                prober.probe(video)
        finally:
            prober.close()
    report = {
        "images": analyze_images(images, out_dir) if images else None,
        "videos": [analyze_video(v) for v in videos],
    }
    if as_json:
        out.print_json(json.dumps(report, default=str))
        return
    if report["images"]:
        _print_images(report["images"], names)
    for video in report["videos"]:
        _print_video(video, names[video["path"]])


def _print_images(report: dict, names: dict[str, str]) -> None:
    w, h = report["display_size"]
    table = Table(title=f"clarity at display size {w}x{h} (no-reference metrics)")
    table.add_column("metric")
    for item in report["images"]:
        table.add_column(
            f"{names[item['path']]}\n{item['width']}x{item['height']} {item['format']}",
            overflow="fold",
        )
    for metric in SHOWN:
        table.add_row(metric, *(f"{i['display'][metric]:.4g}" for i in report["images"]))
    out.print(table)
    for v in report["verdict"]:
        out.print(
            f"[bold]{names[v['clearer']]}[/] is clearer than {names[v['than']]}: "
            f"{v['sharpness_ratio']:.2f}x the {v['compared']} (the smaller enlarged "
            "bicubically). Why:"
        )
        for reason in v["reasons"]:
            out.print(f"  - {reason}")
        if v["despite"]:
            out.print("Despite:")
            for reason in v["despite"]:
                out.print(f"  - {reason}")
    if "crops" in report:
        out.print(f"1:1 crops of the most detailed region: {report['crops']}")


def _print_video(video: dict, name: str) -> None:
    table = Table(
        title=f"{name}: {video['width']}x{video['height']}, "
        f"{video['frames']} frames at {video['fps']} fps ({video['seconds']} s)"
    )
    for col in ("second", "flicker (luma jump)", "warp error"):
        table.add_column(col)
    for row in video["per_second"]:
        table.add_row(str(row["second"]), f"{row['flicker']:.3f}", f"{row['warp_error']:.3f}")
    table.add_row("all", f"{video['flicker']:.3f}", f"{video['warp_error']:.3f}")
    out.print(table)


@lab.command()
@handles_errors
def factors(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="The prompt every run uses.")],
    seed: Annotated[int, typer.Option(help="The seed every run uses.")] = 3,
    model: Annotated[
        str | None,
        typer.Option(help="Model (default: the configured draft and production models)."),
    ] = None,
    steps: Annotated[int | None, typer.Option(help="The production tier's sampling steps.")] = None,
    guidance: Annotated[
        float | None, typer.Option(help="Guidance scale of every run (both tiers).")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Sampler of every run (both tiers): dpm++, euler, ...")
    ] = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default HOME/lab/<seed>).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Vary one factor at a time on one prompt and seed, and report what each changes.

    Steps, resolution, rendering pipeline, compression, model; writes report.html,
    report.json, plots and the images."""
    state: Workspace = ctx.obj
    from ..quality.lab import run_factors

    folder = out_dir or state.settings.home / "lab" / f"seed-{seed}"
    with progress_bars(enabled=not as_json) as on_progress:
        report = run_factors(
            state.engine(),
            prompt,
            seed,
            folder,
            on_progress=on_progress,
            overrides=Overrides(model=model, steps=steps, guidance=guidance, scheduler=scheduler),
        )
    if as_json:
        out.print_json(json.dumps(report))
        return
    table = Table(
        title="draft -> production sharpness: "
        f"{report['baseline']:.3g} -> {report['production']:.3g}"
    )
    for col in ("factor", "change", "gain", "x reference", "share"):
        table.add_column(col, overflow="fold")
    for f in sorted(report["factors"], key=lambda f: -f["gain"]):
        table.add_row(
            f["factor"],
            f["change"],
            f"{f['gain']:.3g}",
            str(f["ratio"]),
            "" if f["share"] is None else f"{f['share']:.0%}",
        )
    share = report["interaction_share"]
    table.add_row(
        "interaction",
        "not explained by one factor alone",
        f"{report['interaction']:.3g}",
        "",
        "" if share is None else f"{share:.0%}",
    )
    out.print(table)
    out.print(report["interaction_note"])
    out.print(f"report: {folder / 'report.html'}")
