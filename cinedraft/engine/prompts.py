"""Prompt handling: wildcard templates (dynamicprompts) and weighting (compel).

Templates: ``a {red|blue} {bottle|jar}`` expands to every combination, in order, cycling when
more images are asked for than there are combinations (each image still gets its own seed).
Weighting: compel's syntax (``(red)1.4``, ``red++``, ``.blend()``) or A1111's (``(red:1.4)``,
``((red))``, ``[red]``, ``BREAK``), read by :mod:`cinedraft.weighting` and encoded by compel.
Plain prompts skip compel and go through the pipeline's own text encoding, so they match
diffusers exactly.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from dynamicprompts.generators import CombinatorialPromptGenerator

from ..errors import InputError
from ..tiers import Family
from ..weighting import as_compel, syntax

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline


def expand_template(template: str, count: int) -> list[str]:
    """``count`` prompts from a wildcard template, every combination before any repeats."""
    try:
        combos = CombinatorialPromptGenerator().generate(template, max_prompts=count)
    except Exception as exc:  # noqa: BLE001 - pyparsing raises its own error types for bad syntax
        raise InputError(f"bad template {template!r}: {exc}") from None
    if not combos:
        raise InputError(f"template {template!r} produced no prompts")
    return list(itertools.islice(itertools.cycle(combos), count))


def compel_texts(texts: list[str], family: Family) -> list[str] | None:
    """``texts`` as compel is to encode them when any of them weights words, else None
    (the pipeline encodes them as written). A family compel cannot encode for refuses
    weights, but takes brackets as text, as it did before A1111's syntax was read."""
    if family.compel is None:
        if any(syntax(t, brackets=False) for t in texts):
            raise InputError(f"prompt weighting is not supported for {family.name} models yet")
        return None
    if not any(syntax(t) for t in texts):
        return None
    return [as_compel(t) for t in texts]


def weighted_embeddings(
    pipe: DiffusionPipeline, family: Family, prompts: list[str], negative: str
) -> dict:
    """Pipeline keyword arguments carrying compel embeddings for ``prompts`` (compel texts)."""
    import compel  # imported on first use: it pulls in every diffusers pipeline family

    wrapper = getattr(compel, family.compel)(pipe, device=str(pipe.device))
    cond = wrapper(prompts, negative_prompt=[negative] * len(prompts))
    kwargs = {"prompt_embeds": cond.embeds, "negative_prompt_embeds": cond.negative_embeds}
    if cond.pooled_embeds is not None:
        kwargs["pooled_prompt_embeds"] = cond.pooled_embeds
    if cond.negative_pooled_embeds is not None:
        kwargs["negative_pooled_prompt_embeds"] = cond.negative_pooled_embeds
    return kwargs
