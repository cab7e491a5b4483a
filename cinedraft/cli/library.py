"""``library ...`` and ``verify``: the library from the command line, one function per command.

Each builds an :class:`AssetQuery` or calls one :class:`Library` method; nothing else.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..library import Asset, AssetQuery
from ..quality import HIGHER_IS_CLEARER
from ..workspace import Workspace
from .common import err, file_or_asset, handles_errors, out, printable, progress_bars

app = typer.Typer(
    help="Every output, searchable, with its record and lineage.", no_args_is_help=True
)

Json = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Since = Annotated[str | None, typer.Option(help="Created on/after (YYYY-MM-DD or ISO time, UTC).")]
Until = Annotated[str | None, typer.Option(help="Created before (YYYY-MM-DD or ISO time, UTC).")]
TierF = Annotated[str | None, typer.Option("--tier", help="draft or production.")]
ModelF = Annotated[
    str | None, typer.Option("--model", help="Model id as recorded ('builtin', ...).")
]
KindF = Annotated[str | None, typer.Option("--kind", help="image, video, edit or import.")]
TagF = Annotated[
    list[str] | None, typer.Option("--tag", help="Has this tag (repeat for all of several).")
]
Fav = Annotated[bool, typer.Option("--favourites", help="Only favourites.")]
Flagged = Annotated[bool, typer.Option("--flagged", help="Only what the usage policy flagged.")]
Rating = Annotated[int, typer.Option("--min-rating", min=0, max=5, help="At least this rating.")]
Limit = Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000, help="At most this many.")]


def _print_assets(assets: list[Asset], as_json: bool, sort: str = "newest") -> None:
    """A table on a terminal; one tab-separated line per asset when piped (a table squeezed
    to a pipe's 80 columns folds the prompt a letter a line). Sorted by a metric, its value
    is shown."""
    if as_json:
        out.print_json(json.dumps([a.model_dump(mode="json", exclude={"record"}) for a in assets]))
        return
    metric = sort if sort in HIGHER_IS_CLEARER else None
    columns = [
        "asset id",
        "created",
        "kind",
        "tier",
        "size",
        "rating",
        *([metric] if metric else []),
    ]
    rows = [
        [
            a.id,
            a.created.replace("T", " ").removesuffix("Z"),
            a.kind,
            a.tier or "",
            f"{a.width}x{a.height}" if a.width else "",
            ("*" if a.favourite else "") + str(a.rating),
            *([f"{a.metrics[metric]:.4g}" if metric in a.metrics else ""] if metric else []),
            a.prompt,
        ]
        for a in assets
    ]
    if not out.is_terminal:
        for row in rows:
            print("\t".join(printable(cell.replace("\t", " ").replace("\n", " ")) for cell in row))
        return
    table = Table(title=f"{len(assets)} asset(s)")
    for col in columns:
        table.add_column(col, no_wrap=True)
    table.add_column("prompt", overflow="fold", min_width=24)
    for row in rows:
        table.add_row(*row)
    out.print(table)


def _query(
    text, since, until, tier, model, kind, tag, favourites, min_rating, sort, limit, flagged
):
    return AssetQuery(
        text=text,
        since=since,
        until=until,
        tier=tier,
        model=model,
        kind=kind,
        tags=tuple(tag or ()),
        favourite=favourites,
        flagged=flagged,
        min_rating=min_rating,
        sort=sort,
        limit=limit,
    )


@app.command("list")
@handles_errors
def list_assets(
    ctx: typer.Context,
    since: Since = None,
    until: Until = None,
    tier: TierF = None,
    model: ModelF = None,
    kind: KindF = None,
    tag: TagF = None,
    favourites: Fav = False,
    flagged: Flagged = False,
    min_rating: Rating = 0,
    sort: Annotated[
        str,
        typer.Option(
            help="newest, oldest, rating, or a metric: sharpness, "
            "tenengrad, hf_ratio, edge_width, blockiness, ringing, noise, chroma_outliers, "
            "speckle, overshoot."
        ),
    ] = "newest",
    limit: Limit = 50,
    as_json: Json = False,
) -> None:
    """List assets, newest first, with filters."""
    state: Workspace = ctx.obj
    query = _query(
        None, since, until, tier, model, kind, tag, favourites, min_rating, sort, limit, flagged
    )
    _print_assets(state.library().find(query), as_json, sort)


@app.command()
@handles_errors
def search(
    ctx: typer.Context,
    text: Annotated[
        str, typer.Argument(help='Words in the prompt (FTS5: "glass table", red OR blue, bott*).')
    ],
    since: Since = None,
    until: Until = None,
    tier: TierF = None,
    model: ModelF = None,
    kind: KindF = None,
    tag: TagF = None,
    favourites: Fav = False,
    flagged: Flagged = False,
    min_rating: Rating = 0,
    sort: Annotated[
        str,
        typer.Option(
            help="newest, oldest, rating, relevance, or a metric "
            "(sharpness, blockiness, ...; best first)."
        ),
    ] = "newest",
    limit: Limit = 50,
    as_json: Json = False,
) -> None:
    """Full-text search over prompts, plus the same filters as ``list``."""
    state: Workspace = ctx.obj
    query = _query(
        text, since, until, tier, model, kind, tag, favourites, min_rating, sort, limit, flagged
    )
    _print_assets(state.library().find(query), as_json, sort)


@app.command()
@handles_errors
def show(ctx: typer.Context, asset_id: str, as_json: Json = False) -> None:
    """The whole record of one asset, its file, tags and lineage both ways."""
    state: Workspace = ctx.obj
    library = state.library()
    asset = library.get(asset_id)
    ancestors, descendants = (
        library.lineage(asset_id, "parents"),
        library.lineage(asset_id, "children"),
    )
    if as_json:
        data = asset.model_dump(mode="json") | {
            "ancestors": [{"depth": d, "id": i, "role": r} for d, i, r in ancestors],
            "descendants": [{"depth": d, "id": i, "role": r} for d, i, r in descendants],
        }
        out.print_json(json.dumps(data))
        return
    table = Table(title=f"asset {asset.id}", show_header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key in (
        "kind",
        "tier",
        "model",
        "prompt",
        "negative_prompt",
        "seed",
        "created",
        "mime",
        "path",
        "sha256",
        "bytes",
        "rating",
        "favourite",
        "tags",
    ):
        table.add_row(key, str(getattr(asset, key)))
    for label, walk in (("ancestors", ancestors), ("descendants", descendants)):
        table.add_row(label, ", ".join(f"{i} ({r}, {d})" for d, i, r in walk) or "-")
    if policy := asset.record.get("policy"):  # what the usage policy found (docs/policy.md)
        hits = "; ".join(f"{h['action']} {h['name']}" for h in policy.get("hits", []))
        table.add_row("policy", ("FLAGGED: " if policy.get("flagged") else "") + (hits or "-"))
    out.print(table)
    out.print_json(json.dumps(asset.record))


@app.command()
@handles_errors
def rerender(
    ctx: typer.Context,
    asset_id: str,
    compare: Annotated[
        bool, typer.Option("--compare", help="Report the pixel difference.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Run an asset's stored record again (a new asset); --compare reports the pixel diff."""
    state: Workspace = ctx.obj
    with progress_bars(enabled=not as_json) as on_progress:
        result = state.engine().rerender(asset_id, on_progress)
    if as_json:
        out.print_json(result.model_dump_json())
        return
    out.print(f"re-rendered {asset_id} as {result.output.asset_id}: {result.output.path}")
    if compare:
        verdict = "[green]identical pixels[/]" if result.identical else "[yellow]pixels differ[/]"
        out.print(
            f"{verdict}: max |diff| {result.max_abs_diff}, mean |diff| {result.mean_abs_diff}, "
            f"PSNR {result.psnr} dB"
        )
    if compare and not result.identical:
        raise typer.Exit(1)


@app.command()
@handles_errors
def export(
    ctx: typer.Context,
    asset_ids: Annotated[list[str], typer.Argument(help="Asset ids to export.")],
    to: Annotated[Path, typer.Option("--to", help="Destination folder.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="Convert first: png, webp or jpeg.")
    ] = None,
    profile: Annotated[
        str | None, typer.Option(help="Delivery profile: lossless, web or preview.")
    ] = None,
) -> None:
    """Copy files and their records (JSON) out of the library."""
    state: Workspace = ctx.obj
    for path in state.library().export(asset_ids, to, fmt, profile):
        out.print(f"{path}  (+ {path.with_suffix('.json').name})")


@app.command("import")
@handles_errors
def import_files(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(help="PNG, JPEG, WebP, AVIF or MP4 files.")],
) -> None:
    """Add outside files as they are (their embedded record and manifest are kept)."""
    state: Workspace = ctx.obj
    for path in files:
        asset = state.library().import_file(path)
        out.print(f"{asset.id}  {path}")


@app.command()
@handles_errors
def check(
    ctx: typer.Context,
    hashes: Annotated[bool, typer.Option(help="Re-hash every file (slower, thorough).")] = True,
    as_json: Json = False,
) -> None:
    """Integrity: every row has its file with the right hash, every file has a row."""
    state: Workspace = ctx.obj
    report = state.library().check(hashes=hashes)
    if as_json:
        out.print_json(json.dumps(report))
    else:
        out.print(
            f"{report['assets']} assets checked: "
            + ("[green]ok[/]" if report["ok"] else "[red]problems[/]")
        )
        for key in ("missing", "corrupt", "orphans", "pending", "invalid_ids", "temp_files"):
            for item in report[key]:
                out.print(f"  {key}: {item}")
        for item in report["quarantined"]:  # set aside by recovery: kept, not a library problem
            out.print(f"  quarantined: {item['file']} ({item['reason']})")
    if not report["ok"]:
        raise typer.Exit(1)


@app.command()
@handles_errors
def tag(
    ctx: typer.Context,
    asset_id: str,
    add: Annotated[list[str] | None, typer.Option("--add", help="Tag to add (repeatable).")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Tag to remove.")] = None,
) -> None:
    """Add or remove tags."""
    state: Workspace = ctx.obj
    asset = state.library().tag(asset_id, add or [], remove or [])
    out.print(f"{asset.id}: {', '.join(asset.tags) or '(no tags)'}")


@app.command()
@handles_errors
def rate(
    ctx: typer.Context, asset_id: str, rating: Annotated[int, typer.Argument(help="0-5")]
) -> None:
    """Rate an asset 0-5."""
    state: Workspace = ctx.obj
    out.print(f"{asset_id}: rating {state.library().rate(asset_id, rating).rating}")


@app.command()
@handles_errors
def favourite(
    ctx: typer.Context,
    asset_id: str,
    off: Annotated[bool, typer.Option("--off", help="Remove from favourites.")] = False,
) -> None:
    """Mark (or unmark) a favourite."""
    state: Workspace = ctx.obj
    asset = state.library().favourite(asset_id, not off)
    out.print(f"{asset.id}: {'favourite' if asset.favourite else 'not a favourite'}")


@handles_errors
def verify(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="An image or video file, or an asset id.")],
    require_trusted: Annotated[
        bool,
        typer.Option(
            "--require-trusted", help="Fail unless the signer is this library or a CA it trusts."
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """C2PA manifest (valid, signer, tampering) and watermark of any file.

    Exit status 0 when the manifest is intact (Trusted, or Valid from a signer unknown here),
    1 when it is missing, broken or damaged, or (with --require-trusted) not Trusted.
    """
    state: Workspace = ctx.obj
    path, name = file_or_asset(state, file)
    found = state.library().verify(path)
    if as_json:
        out.print_json(found.model_dump_json())
    else:
        m = found.manifest
        colour = "green" if found.ok else "red"
        table = Table(title=name if path != file else str(file), show_header=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        state = {"Valid": "Valid, unknown signer"}.get(m["state"], m["state"])
        table.add_row(
            "C2PA manifest", f"[{colour}]{state}[/]" + (" (TAMPERED)" if m["tampered"] else "")
        )
        table.add_row("signer", f"{m['signer']} (issuer {m['issuer']})" if m["signer"] else "-")
        table.add_row("generator", m["generator"] or "-")
        table.add_row("AI-generated", "yes" if m["ai_generated"] else "no / unknown")
        table.add_row("model", m["model"] or "-")
        table.add_row(
            "ingredients",
            ", ".join(f"{i['title']} ({i['relationship']})" for i in m["ingredients"]) or "-",
        )
        table.add_row("watermark", found.watermark or found.watermark_note)
        table.add_row(
            "in this library",
            ("yes, " + ("identical file" if found.library_copy else "a copy that differs"))
            if found.in_library
            else "no",
        )
        for failure in m["failures"]:
            table.add_row("failure", f"[red]{failure}[/]")
        for note in m["trust_notes"]:
            table.add_row("trust", f"[yellow]{note}[/] (`cinedraft trust add` its CA to trust it)")
        out.print(table)
    if not found.ok:
        err.print("[red]verification failed[/]")
        raise typer.Exit(1)
    if require_trusted and not found.trusted:
        err.print("[red]the signer is not trusted by this library[/]")
        raise typer.Exit(1)
