"""The reference pages, written from the code: every command with its options (from the
Typer app) and every setting (from :class:`~cinedraft.config.Settings`).

``python scripts/make_docs.py`` writes them to ``docs/cli.md`` and ``docs/settings.md``; a test
fails when the committed pages differ from what the code says, so a new command, option or
setting cannot go undocumented (the way Datasette keeps its docs true).
"""

from __future__ import annotations

from collections.abc import Iterator

# typer 0.29 (pinned) carries its own click; its Context renders help records.
from typer._click import Context
from typer.main import get_command

from ..config import Settings

HEADER = "<!-- Written by `python scripts/make_docs.py` from the code; do not edit by hand. -->\n"


def _commands(command, path: list[str]) -> Iterator[tuple[list[str], object]]:
    yield path, command
    for name in sorted(getattr(command, "commands", {})):
        yield from _commands(command.commands[name], [*path, name])


def _param_row(param, ctx) -> str:
    """One ``| usage | help |`` row, as ``--help`` shows it (default and range included)."""
    record = param.get_help_record(ctx)
    usage, text = record if record else (param.name, "")
    text = " ".join(text.split()).replace("|", "\\|")  # a pipe would end the table cell
    return f"| `{usage}` | {text} |"


def cli_markdown() -> str:
    """``docs/cli.md``: the command tree, each command's help, arguments and options."""
    from .main import app

    root = get_command(app)
    lines = [
        HEADER,
        "# Command-line reference",
        "",
        "Global options go before the command: `cinedraft [GLOBAL OPTIONS] COMMAND ...`. "
        "Bad input prints one `error:` line and exits with status 2.",
        "",
    ]
    for path, command in _commands(root, []):
        title = " ".join(["cinedraft", *path])
        lines += [f"## `{title}`", ""]
        help_text = (command.help or "").strip()
        if help_text:
            lines += [" ".join(help_text.split("\n\n")[0].split()), ""]
            rest = help_text.split("\n\n")[1:]
            lines += [" ".join(p.split()) + "\n" for p in rest]
        if getattr(command, "commands", None):
            lines += ["Commands: " + ", ".join(f"`{n}`" for n in sorted(command.commands)), ""]
        params = [p for p in command.params if p.name != "help" and not getattr(p, "hidden", False)]
        if params:
            ctx = Context(command, info_name=title)
            lines += [
                "| argument or option | |",
                "|---|---|",
                *(_param_row(p, ctx) for p in params),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def settings_markdown() -> str:
    """``docs/settings.md``: every setting, its ``CINEDRAFT_*`` variable, type and default."""
    lines = [
        HEADER,
        "# Settings",
        "",
        "Each setting is read from its `CINEDRAFT_*` environment variable (or passed to "
        "`Settings(...)` in Python); a bad value is one `error:` line naming the variable.",
        "",
        "| variable | type | default | |",
        "|---|---|---|---|",
    ]
    for name, field in Settings.model_fields.items():
        kind = (
            str(field.annotation)
            .replace("typing.", "")
            .replace("pathlib.", "")
            .replace("<class '", "")
        )
        kind = kind.replace("'>", "").replace(" | ", " or ")  # a pipe would end the table cell
        default = "(computed)" if field.default_factory is not None else field.default
        default = "" if default is None else f"`{default}`"
        text = " ".join((field.description or "").split())
        lines.append(f"| `CINEDRAFT_{name.upper()}` | {kind} | {default} | {text} |")
    return "\n".join(lines) + "\n"


def families_markdown() -> str:
    """docs/families.md: every model family, how it is recognised, its presets and their
    source."""
    from ..tiers import FAMILIES, VIDEO_FAMILIES

    lines = [
        "# Model families and presets",
        "",
        "Written from `cinedraft/tiers.py` by `python scripts/make_docs.py`; do not edit.",
        "A folder's family comes from its pipeline class, what its configs show and, for a few",
        "distilled models, a word in its name (`family_for`). Steps / guidance / sampler are",
        "draft → production; production then upscales, refines (img2img at the strength shown)",
        "and cleans up. Guidance is `guidance_scale`, except where the source says true CFG",
        "(Qwen-Image: `true_cfg_scale` against a blank negative prompt, two passes a step).",
        "",
        "| family | pipelines | recognised by | draft | production | refine | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in FAMILIES.values():
        draft, prod = f.tiers["draft"], f.tiers["production"]
        clues = [f"{k} = {v}" for k, v in f.requires] + (
            [f"'{f.name_hint}' in the name"] if f.name_hint else []
        )
        pipelines = ", ".join(f.pipelines) or (
            "the shipped model"
            if f.name.startswith("builtin")
            else "any other text-to-image pipeline"
        )
        refine = f"{prod.refine_strength:g}" + (
            f" at ≤ {prod.refine_max_side} px" if prod.refine_max_side else ""
        )
        lines.append(
            f"| `{f.name}` | {pipelines} | {'; '.join(clues) or '—'} "
            f"| {draft.steps} / {draft.guidance:g} / {draft.scheduler} "
            f"| {prod.steps} / {prod.guidance:g} / {prod.scheduler} x{prod.upscale} "
            f"| {refine if prod.refine_strength else 'none'} | {f.source} |"
        )
    lines += [
        "",
        "## Video",
        "",
        "| family | pipelines | steps / guidance | fps | size | frames a call | continues by |",
        "|---|---|---|---|---|---|---|",
    ]
    for v in VIDEO_FAMILIES.values():
        lines.append(
            f"| `{v.name}` | {', '.join(v.pipelines) or 'the shipped model'} "
            f"| {v.steps} / {v.guidance:g} | {v.fps} | {v.size[0]}x{v.size[1]} "
            f"| {v.chunk_frames} | {v.conditioning or 'text only'} |"
        )
    return "\n".join(lines) + "\n"
