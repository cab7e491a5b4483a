"""``policy check`` and ``audit ...``: the usage policy a prompt meets, and the audit trail of
who made what, one function per command."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import InputError, OutputError
from ..workspace import Workspace
from .common import handles_errors, out
from .library import Json, Since

policy = typer.Typer(help="The usage policy: what a prompt would hit.", no_args_is_help=True)
audit = typer.Typer(
    help="The audit trail: who made what, when, with which model.", no_args_is_help=True
)


@policy.command()
@handles_errors
def check(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="A prompt, or a template with --template.")],
    template: Annotated[
        bool,
        typer.Option("--template", help="Check every expansion of {a|b} and __wildcard__ files."),
    ] = False,
    as_json: Json = False,
) -> None:
    """What a prompt would hit in the policy in force (HOME/policy.toml or --policy)."""
    from ..policy import OFF, load_policy

    state: Workspace = ctx.obj
    found = state.settings.policy_file
    rules = load_policy(found) if found else OFF
    verdict = rules.check_request(prompt, template, state.settings.wildcards_root)
    if as_json:
        out.print_json(json.dumps({"policy": rules.source} | (verdict.record() or {"hits": []})))
        return
    if not verdict.hits:
        out.print(f"no hits ({rules.source})")
        return
    for hit in verdict.hits:
        kind = f" ({hit.kind})" if hit.kind else ""
        note = f": {hit.note}" if hit.note else ""
        where = f" in {hit.prompt!r}" if template else ""
        out.print(f"{hit.action}  {hit.name!r}{kind}, rule at line {hit.rule_line}{note}{where}")


@audit.command("list")
@handles_errors
def list_entries(
    ctx: typer.Context,
    since: Since = None,
    actor: Annotated[str | None, typer.Option(help="Only this actor's entries.")] = None,
    flagged: Annotated[bool, typer.Option("--flagged", help="Only flagged entries.")] = False,
    as_json: Json = False,
) -> None:
    """Audit entries, oldest first."""
    state: Workspace = ctx.obj
    entries = state.library().audit_entries(_since(since), actor, flagged)
    if as_json:
        out.print_json(json.dumps(entries))
        return
    table = Table(title=f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}")
    for col in ("#", "at", "actor", "action", "assets", "model", "policy"):
        table.add_column(col, overflow="fold")
    for e in entries:
        hits = (e["policy"] or {}).get("hits", [])
        table.add_row(
            str(e["seq"]),
            e["at"],
            e["actor"],
            e["action"],
            " ".join(e["assets"]),
            e["model"] or "",
            ", ".join(f"{h['action']} {h['name']}" for h in hits),
        )
    out.print(table)


@audit.command()
@handles_errors
def verify(ctx: typer.Context) -> None:
    """Check the hash chain: a deleted, changed or moved entry is named (exit 1)."""
    state: Workspace = ctx.obj
    count, problems = state.library().audit_verify()
    for problem in problems:
        out.print(f"[red]broken[/red]: {problem}")
    if problems:
        raise typer.Exit(1)
    out.print(f"the audit trail holds: {count} entries, each following the one before")


@audit.command()
@handles_errors
def export(
    ctx: typer.Context,
    to: Annotated[Path, typer.Option("--out", help="The file to write.")],
    since: Since = None,
    format: Annotated[str, typer.Option(help="jsonl or csv.")] = "jsonl",
) -> None:
    """Write audit entries to a file (JSON lines or CSV)."""
    if format not in ("jsonl", "csv"):
        raise InputError(f"--format must be jsonl or csv (got {format!r})")
    try:  # opened before anything is read: an unwritable place fails first
        handle = open(to, "w", encoding="utf-8", newline="")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise OutputError(f"cannot write {to}: {exc.strerror or exc}") from None
    with handle:
        state: Workspace = ctx.obj
        entries = state.library().audit_entries(_since(since))
        if format == "jsonl":
            for entry in entries:
                handle.write(json.dumps(entry, sort_keys=True) + "\n")
        else:
            writer = csv.DictWriter(handle, fieldnames=list(entries[0]) if entries else ["seq"])
            writer.writeheader()
            for entry in entries:
                writer.writerow(
                    {
                        k: json.dumps(v) if isinstance(v, list | dict) else v
                        for k, v in entry.items()
                    }
                )
    out.print(f"wrote {len(entries)} entries to {to}")


@audit.command()
@handles_errors
def prune(
    ctx: typer.Context,
    before: Annotated[str, typer.Option(help="Delete entries older than this (YYYY-MM-DD).")],
) -> None:
    """Retention: delete old entries; what is left still verifies (the chain is anchored)."""
    state: Workspace = ctx.obj
    deleted = state.library().audit_prune(_since(before))
    out.print(f"pruned {deleted} entries older than {before}")


def _since(value: str | None) -> str | None:
    """A date or ISO time as the audit trail stores times (UTC, seconds, Z)."""
    if value is None:
        return None
    from datetime import datetime, timezone

    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"not a date or ISO time: {value!r}") from None
    when = when if when.tzinfo else when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
