"""Prompt handling: wildcard templates (dynamicprompts) and weighting (compel).

Templates: ``a {red|blue} {bottle|jar}`` expands to every combination, in order, cycling when
more images are asked for than there are combinations (each image still gets its own seed).
Weighting: compel syntax such as ``(red)1.4``, ``red++`` or ``.blend()``. Plain prompts skip
compel and go through the pipeline's own text encoding, so they match diffusers exactly.
"""

from __future__ import annotations

import itertools
import re
from typing import TYPE_CHECKING

from dynamicprompts.generators import CombinatorialPromptGenerator

from ..errors import InputError
from ..tiers import Family

if TYPE_CHECKING:
    from diffusers import DiffusionPipeline

# Compel syntax: "(words)1.3", "word+" / "word--", ".and(", ".blend(", ".swap(".
_WEIGHTING = re.compile(r"\)\s*[+-]*\d*\.?\d+|\w[+-]+(?=[\s,)]|$)|\)[+-]+|\.(and|blend|swap)\(")


def expand_template(template: str, count: int) -> list[str]:
    """``count`` prompts from a wildcard template, every combination before any repeats."""
    try:
        combos = CombinatorialPromptGenerator().generate(template, max_prompts=count)
    except Exception as exc:  # noqa: BLE001 - pyparsing raises its own error types for bad syntax
        raise InputError(f"bad template {template!r}: {exc}") from None
    if not combos:
        raise InputError(f"template {template!r} produced no prompts")
    return list(itertools.islice(itertools.cycle(combos), count))


def has_weighting(prompt: str) -> bool:
    return bool(_WEIGHTING.search(prompt))


def weighted_embeddings(
    pipe: DiffusionPipeline, family: Family, prompts: list[str], negative: str
) -> dict:
    """Pipeline keyword arguments carrying compel embeddings for ``prompts``."""
    import compel  # imported on first use: it pulls in every diffusers pipeline family

    if family.compel is None:
        raise InputError(f"prompt weighting is not supported for {family.name} models yet")
    wrapper = getattr(compel, family.compel)(pipe, device=str(pipe.device))
    cond = wrapper(prompts, negative_prompt=[negative] * len(prompts))
    kwargs = {"prompt_embeds": cond.embeds, "negative_prompt_embeds": cond.negative_embeds}
    if cond.pooled_embeds is not None:
        kwargs["pooled_prompt_embeds"] = cond.pooled_embeds
    if cond.negative_pooled_embeds is not None:
        kwargs["negative_pooled_prompt_embeds"] = cond.negative_pooled_embeds
    return kwargs
