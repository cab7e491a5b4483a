"""``generate``, ``vary`` and ``promote``: one function each, each builds one request
(``generate --from`` an edit request: img2img)."""

from __future__ import annotations

from typing import Annotated

import typer

from ..request import EditRequest, ImageRequest, Lora, Overrides, parse_size
from ..workspace import Workspace
from .common import (
    ClipSkip,
    Styles,
    Guidance,
    Negative,
    Scheduler,
    Steps,
    err,
    handles_errors,
    parsed_option,
    print_result,
    progress_bars,
    refuse_options,
)
from .threads import run_edit, turn_sampling

Size = Annotated[str | None, typer.Option("--size", help="WIDTHxHEIGHT of the output.")]
Seed = Annotated[
    int | None, typer.Option(help="Seed of the first image; random if not set or -1 (recorded).")
]
Tier = Annotated[str, typer.Option(help="draft (fast preview) or production (full render).")]
Model = Annotated[str | None, typer.Option(help="'builtin', a diffusers folder or a hub id.")]
Json = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Loras = Annotated[
    list[str] | None,
    typer.Option(
        "--lora",
        help="FILE[:WEIGHT] or a name in MODELS/loras (repeatable). No WEIGHT: 1, or the "
        "scale a speed LoRA's authors publish.",
    ),
]
Embeddings = Annotated[
    list[str] | None,
    typer.Option(
        "--embedding",
        help="Textual-inversion FILE; used where its name is in the prompt (repeatable).",
    ),
]
Vae = Annotated[
    str | None,
    typer.Option(
        "--vae", help="A VAE to decode with: a diffusers folder, or one .safetensors file."
    ),
]
TiledRefine = Annotated[
    bool | None,
    typer.Option(
        "--tiled-refine/--no-tiled-refine",
        help="Production above the model's refine size (SDXL: 1024 px): refine in overlapping "
        "tiles (more detail; a strong subject may be redrawn in several tiles), or refine at "
        "that size and scale up. Default: the model family's (SDXL-class: tiles).",
        show_default=False,
    ),
]


def _adapters(loras: list[str] | None, embeddings: list[str] | None, vae: str | None) -> dict:
    return {
        "loras": [Lora.parse(text) for text in loras or []],
        "embeddings": embeddings or [],
        "vae": vae,
    }


def _size(text: str | None) -> dict:
    size = parsed_option(text, parse_size, "--size")
    return {} if size is None else {"width": size[0], "height": size[1]}


def _run(ctx: typer.Context, request: ImageRequest, as_json: bool) -> None:
    state: Workspace = ctx.obj
    engine = state.engine()
    with progress_bars(enabled=not as_json) as on_progress:
        result = engine.generate_image(request, on_progress)
    print_result(result, as_json)


@handles_errors
def generate(
    ctx: typer.Context,
    prompt: Annotated[
        str | None,
        typer.Argument(help="What to draw; (red:1.3) weights words. With --like: its prompt."),
    ] = None,
    tier: Tier = "draft",
    size: Size = None,
    seed: Seed = None,
    model: Model = None,
    steps: Steps = None,
    guidance: Guidance = None,
    scheduler: Scheduler = None,
    negative: Negative = "",
    clip_skip: ClipSkip = None,
    style: Styles = None,
    count: Annotated[
        int, typer.Option("-n", "--count", help="Images (seeds seed, seed+1, ...).")
    ] = 1,
    lora: Loras = None,
    embedding: Embeddings = None,
    vae: Vae = None,
    tiled_refine: TiledRefine = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from", help="img2img: start from this image (asset id or file), see --strength."
        ),
    ] = None,
    strength: Annotated[
        float | None,
        typer.Option(help="With --from: how far from it, above 0 and at most 1 (default 0.6)."),
    ] = None,
    like: Annotated[
        str | None,
        typer.Option(
            "--like",
            help="Take the prompt and settings of this image (asset id or file; made here, "
            "or in A1111, Forge or ComfyUI); the options given win.",
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Generate images from a prompt, from an image (--from) or like an image (--like).

    The draft tier unless --tier production."""
    if like is not None:
        if source is not None:
            raise typer.BadParameter("--like and --from are two different starts: pick one")
        given = dict(
            prompt=prompt,
            # given, not defaulted: "--tier draft" of a production image, "--negative ''"
            tier=tier if _typed(ctx, "tier") else None,
            seed=seed,
            model=model,
            steps=steps,
            guidance=guidance,
            scheduler=scheduler,
            negative_prompt=negative if _typed(ctx, "negative") else None,
            clip_skip=clip_skip,
            tiled_refine=tiled_refine,
        )
        given |= _size(size) | {k: v for k, v in _adapters(lora, embedding, vae).items() if v}
        request = _like(ctx, like, {k: v for k, v in given.items() if v is not None}, count)
        _run(ctx, _styled(ctx, request, style), as_json)
        return
    if prompt is None:
        raise typer.BadParameter("say what to draw (a prompt), or --like an image")
    if source is not None:
        given = {
            "--tier": tier != "draft",
            "--clip-skip": clip_skip is not None,  # an edit reads prompts as its source did
            "--style": bool(style),
            "--size": size is not None,
            "--count": count != 1,
            "--lora": bool(lora),
            "--embedding": bool(embedding),
            "--vae": vae is not None,
            "--tiled-refine": tiled_refine is not None,
        }
        why = "an edit keeps the source's size; promote the result for production"
        refuse_options("--from", given, why)
        sampling = turn_sampling(seed, model, steps, guidance, scheduler, negative)
        request = EditRequest(
            source=source, operation="img2img", prompt=prompt, strength=strength, **sampling
        )
        run_edit(ctx, request, as_json)
        return
    if strength is not None:
        raise typer.BadParameter("--strength needs --from (the image to start from)")
    request = ImageRequest(
        prompt=prompt,
        tier=tier,
        seed=seed,
        model=model,
        steps=steps,
        guidance=guidance,
        scheduler=scheduler,
        negative_prompt=negative,
        clip_skip=clip_skip,
        count=count,
        tiled_refine=tiled_refine,
        **_adapters(lora, embedding, vae),
        **_size(size),
    )
    _run(ctx, _styled(ctx, request, style), as_json)


def _styled(ctx: typer.Context, request: ImageRequest, names: list[str] | None) -> ImageRequest:
    """``request`` with ``--style`` applied from the workspace's styles file."""
    from ..styles import styled

    state: Workspace = ctx.obj
    return styled(request, names or [], state.settings.styles_file)


def _typed(ctx: typer.Context, name: str) -> bool:
    """Whether the option ``name`` was given (on the command line or in its environment
    variable), whatever its value: an option left at its default leaves --like's value."""
    source = ctx.get_parameter_source(name)  # typer's own copy of click's ParameterSource
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _like(ctx: typer.Context, ref: str, given: dict, count: int) -> ImageRequest:
    """The request for ``--like``: the image's settings under the options given."""
    from ..engine.like import settings_like  # the engine package: imported when it runs

    state: Workspace = ctx.obj
    engine = state.engine()
    fields, notes = settings_like(engine.library.resolve(ref, "image"), engine.settings.models_root)
    for note in notes:
        err.print(f"note: --like {ref}: {note}", soft_wrap=True)
    return ImageRequest(**(fields | given), count=count)


@handles_errors
def vary(
    ctx: typer.Context,
    template: Annotated[str, typer.Argument(help="Prompt with {a|b|c} wildcards.")],
    count: Annotated[int, typer.Option("-n", "--count", help="How many variations.")] = 12,
    tier: Tier = "draft",
    size: Size = None,
    seed: Seed = None,
    model: Model = None,
    steps: Steps = None,
    guidance: Guidance = None,
    scheduler: Scheduler = None,
    negative: Negative = "",
    clip_skip: ClipSkip = None,
    style: Styles = None,
    lora: Loras = None,
    embedding: Embeddings = None,
    vae: Vae = None,
    as_json: Json = False,
) -> None:
    """Many variations of a wildcard template: every combination, each with its own seed."""
    request = ImageRequest(
        prompt=template,
        template=True,
        count=count,
        tier=tier,
        seed=seed,
        model=model,
        steps=steps,
        guidance=guidance,
        scheduler=scheduler,
        negative_prompt=negative,
        clip_skip=clip_skip,
        **_adapters(lora, embedding, vae),
        **_size(size),
    )
    _run(ctx, _styled(ctx, request, style), as_json)


@handles_errors
def promote(
    ctx: typer.Context,
    asset_id: Annotated[str, typer.Argument(help="Asset id of a draft.")],
    size: Size = None,
    model: Annotated[
        str | None,
        typer.Option(help="Model (default: CINEDRAFT_PRODUCTION_MODEL, else the draft's)."),
    ] = None,
    steps: Steps = None,
    guidance: Guidance = None,
    scheduler: Scheduler = None,
    negative: Annotated[
        str | None, typer.Option("--negative", help="Negative prompt (default: the draft's).")
    ] = None,
    tiled_refine: TiledRefine = None,
    as_json: Json = False,
) -> None:
    """Re-render a draft at the production tier, keeping its composition (drift reported).

    The draft's prompt and seed, at the tier's (or the given) steps, guidance, scheduler."""
    state: Workspace = ctx.obj
    engine = state.engine()
    overrides = Overrides(model=model, steps=steps, guidance=guidance, scheduler=scheduler)
    with progress_bars(enabled=not as_json) as on_progress:
        size_wh = tuple(_size(size).values()) or None
        result = engine.promote(
            asset_id,
            on_progress,
            overrides=overrides,
            size=size_wh,
            tiled_refine=tiled_refine,
            negative_prompt=negative,
        )
    print_result(result, as_json)
