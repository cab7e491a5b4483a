"""The ``cinedraft`` app: global options, then one command per function."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from pydantic import ValidationError

# typer 0.29 (pinned) parses with its own copy of click; its usage errors are these classes.
from typer._click.exceptions import ClickException, NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from ..config import Settings
from ..errors import EXIT_CODE
from . import (
    analyze,
    catalogue,
    cluster,
    demo,
    edit,
    generate,
    library,
    models,
    policy,
    serve,
    threads,
    trust,
    video,
)
from ..workspace import Workspace
from .common import say_error


class OneLineErrors(TyperGroup):
    """Click's own usage errors (an unknown option, a value of the wrong type, a missing
    argument) end like every other error: one ``error:`` line and exit status 2."""

    def main(self, *args, standalone_mode: bool = True, **kwargs):
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except NoArgsIsHelpError as exc:
            exc.show()  # `cinedraft library` alone: the help is the answer
            code = EXIT_CODE
        except ClickException as exc:
            say_error(exc.format_message())
            code = EXIT_CODE if isinstance(exc, UsageError) else exc.exit_code
        except typer.Abort:
            say_error("aborted")
            code = 1
        if not standalone_mode:
            return code
        raise SystemExit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=OneLineErrors,
    name="cinedraft",
    help="Draft images fast, promote the ones you like to production quality, keep the record.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def configure(
    ctx: typer.Context,
    home: Annotated[Path | None, typer.Option(help="cinedraft home (CINEDRAFT_HOME).")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu, cuda or mps.")] = None,
    offline: Annotated[bool, typer.Option("--offline", help="Never download models.")] = False,
    variant: Annotated[
        str | None, typer.Option(help="Weights variant to load: fp16, bf16... (CINEDRAFT_VARIANT).")
    ] = None,
    policy_file: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="The usage policy file (CINEDRAFT_POLICY; default "
            "HOME/policy.toml when it exists).",
        ),
    ] = None,
    text_encoder: Annotated[
        str | None,
        typer.Option(
            help="A diffusers folder or hub id whose text encoders and VAE complete a FLUX or "
            "SD 3 transformer file, or those parts as files, comma-separated "
            "(clip_l.safetensors,t5xxl_fp16.safetensors,ae.safetensors; CINEDRAFT_TEXT_ENCODER)."
        ),
    ] = None,
) -> None:
    given = {
        "home": home,
        "device": device,
        "variant": variant,
        "text_encoder": text_encoder,
        "policy": policy_file,
    }
    overrides = {k: v for k, v in given.items() if v is not None}
    if offline:
        overrides["offline"] = True
    try:
        ctx.obj = Workspace(settings=Settings(**overrides))
    except ValidationError as exc:  # a bad option or CINEDRAFT_* variable: say which
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "settings"
            where = f"--{name}" if name in overrides else f"CINEDRAFT_{name.upper()}"
            say_error(f"{where}: {e['msg']} (got {e.get('input')!r})")
        raise typer.Exit(EXIT_CODE) from None


app.command()(generate.generate)
app.command()(generate.vary)
app.command()(generate.promote)
app.command()(threads.refine)
app.command()(threads.inpaint)
app.command()(threads.outpaint)
app.command()(threads.thread)
app.command()(video.video)
app.command()(video.extend)
app.command()(catalogue.catalogue)
app.command()(catalogue.ad)
app.command()(demo.demo)
app.command()(library.verify)
app.add_typer(library.app, name="library")
app.add_typer(trust.app, name="trust")
app.command()(analyze.analyze)
app.add_typer(analyze.lab, name="lab")
app.add_typer(edit.app, name="edit")
app.add_typer(models.app, name="models")
app.add_typer(policy.policy, name="policy")
app.add_typer(policy.audit, name="audit")
app.command()(serve.serve)
app.command()(cluster.worker)
app.add_typer(cluster.cluster, name="cluster")


def main() -> None:
    # Library notices (e.g. "torchvision not installed") are not for CLI users. Said through
    # the environment, which transformers reads when a command first imports it: importing
    # it here would cost every command, `--help` included, half a second.
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    app()
