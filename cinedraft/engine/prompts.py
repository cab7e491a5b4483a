"""Prompt weighting (compel) and prompts past the encoder's window.

Weighting: compel's syntax (``(red)1.4``, ``red++``, ``.blend()``) or A1111's (``(red:1.4)``,
``((red))``, ``[red]``, ``BREAK``), read by :mod:`cinedraft.weighting` and encoded by compel.
Plain prompts skip compel and go through the pipeline's own text encoding, so they match
diffusers exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InputError
from ..tiers import Family
from ..weighting import as_compel, plain, syntax, words

if TYPE_CHECKING:
    import torch
    from compel import Compel
    from diffusers import DiffusionPipeline
    from transformers import CLIPTextModel, PreTrainedTokenizerBase
    from transformers.modeling_outputs import BaseModelOutputWithPooling


def compel_texts(
    texts: list[str], family: Family, pipe: DiffusionPipeline | None = None, always: bool = False
) -> list[str] | None:
    """``texts`` as compel is to encode them when any of them weights words, or (on a family
    that encodes long prompts in windows) runs past the encoder's window, or ``always`` (a
    Clip skip: cinedraft reads that layer itself); else None (the pipeline encodes them as
    written). A family compel cannot encode for refuses weights, but takes brackets as
    text, as it did before A1111's syntax was read."""
    if family.compel is None:
        if any(syntax(t, brackets=False) for t in texts):
            raise InputError(f"prompt weighting is not supported for {family.name} models yet")
        return None
    # Bare brackets weigh where A1111's syntax comes from (CLIP-only SD and SDXL); FLUX's
    # prompts are sentences for T5, and compel's T5 encoding is not the pipeline's (padded to
    # another length), so a bracket there stays text unless the prompt weighs explicitly.
    brackets = family.compel in ("CompelForSD", "CompelForSDXL")
    weighted = any(syntax(t, brackets) for t in texts)
    if not (weighted or always or (family.prompt_windows and _past_the_window(pipe, texts))):
        return None
    return [as_compel(t) for t in texts]


def unread_words(pipe: DiffusionPipeline, family: Family, prompt: str) -> str | None:
    """The words of ``prompt`` past the encoder's window on a family that cuts there rather
    than encoding windows (the built-in model), as the tokenizer spells them; None when the
    whole prompt was read."""
    tokenizer = getattr(pipe, "tokenizer", None)
    if family.prompt_windows or family.compel != "CompelForSD" or tokenizer is None:
        return None
    past = _past_window(tokenizer, plain(prompt))
    return tokenizer.decode(past).strip() if past else None


def _past_the_window(pipe: DiffusionPipeline | None, texts: list[str]) -> bool:
    tokenizer = getattr(pipe, "tokenizer", None)
    return tokenizer is not None and any(_past_window(tokenizer, t) for t in texts)


def _past_window(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    """The token ids of ``text`` past the encoder's window (whose length counts the start and
    end marks): what the pipeline's own encoding cuts off."""
    ids = tokenizer(text, truncation=False, verbose=False).input_ids
    window = tokenizer.model_max_length
    return ids[window - 1 : -1] if len(ids) > window else []


def weighted_embeddings(
    pipe: DiffusionPipeline,
    family: Family,
    prompts: list[str],
    negative: str,
    clip_skip: int | None = None,
) -> dict:
    """Pipeline keyword arguments carrying compel embeddings for ``prompts`` (compel texts);
    with ``clip_skip`` (A1111's number), from that layer of the text encoder."""
    import compel  # imported on first use: it pulls in every diffusers pipeline family

    # The manager spreads a textual-inversion token over all its vectors, as the pipeline's
    # own encoding does (an A1111 embedding usually has several; compel alone took one).
    # Embeddings load into SD's one CLIP encoder; the manager re-encodes with that tokenizer,
    # which would garble the ids of FLUX's T5.
    manager = compel.DiffusersTextualInversionManager(pipe)
    wrapper = getattr(compel, family.compel)(
        pipe,
        textual_inversion_manager=manager if family.compel == "CompelForSD" else None,
        device=str(pipe.device),
    )
    if not family.prompt_windows and hasattr(wrapper, "compel"):
        # Cut at the window, as the pipeline's own encoding of a plain prompt does (compel's
        # SD wrapper always encodes in windows).
        wrapper.compel.conditioning_provider.truncate_to_model_max_length = True
    if clip_skip:
        provider = wrapper.compel.conditioning_provider
        provider.text_encoder = _LayerOf(provider.text_encoder, clip_skip)
    cond = wrapper(prompts, negative_prompt=[negative] * len(prompts))
    kwargs = {"prompt_embeds": cond.embeds, "negative_prompt_embeds": cond.negative_embeds}
    if cond.pooled_embeds is not None:
        kwargs["pooled_prompt_embeds"] = cond.pooled_embeds
    if cond.negative_pooled_embeds is not None:
        kwargs["negative_pooled_prompt_embeds"] = cond.negative_pooled_embeds
    if family.compel == "CompelForSDXL":
        kwargs |= _pooled(wrapper.compel_2, prompts, negative)
    return _zero_empty_negative(pipe, negative, kwargs)


class _LayerOf:
    """A CLIP text encoder as compel calls it, its last hidden state taken ``skip`` layers
    from the end through the final layer norm: A1111's Clip skip (``hidden_states[-2]`` for
    2), which the pipeline's own ``clip_skip`` would do but cannot with transformers 5
    (diffusers#14124: its CLIPTextModel has no ``text_model`` now), nor compel's
    "penultimate" reading, for the same reason."""

    def __init__(self, encoder: CLIPTextModel, skip: int):
        self.encoder, self.skip = encoder, skip

    @property
    def device(self) -> torch.device:
        return self.encoder.device

    @property
    def dtype(self) -> torch.dtype:
        return self.encoder.dtype

    def __call__(
        self, ids: torch.Tensor, attention_mask: torch.Tensor | None = None, **_: object
    ) -> BaseModelOutputWithPooling:
        out = self.encoder(ids, attention_mask, output_hidden_states=True, return_dict=True)
        norm = getattr(self.encoder, "text_model", self.encoder).final_layer_norm
        out.last_hidden_state = norm(out.hidden_states[-self.skip])
        return out


def refiner_embeddings(pipe: DiffusionPipeline, prompts: list[str], negative: str) -> dict:
    """The same for SDXL's refiner, which has only the second (OpenCLIP) encoder: compel's
    recipe for it (its README, "SDXL"), windows as the base model's."""
    import compel

    encoder = compel.Compel(
        tokenizer=pipe.tokenizer_2,
        text_encoder=pipe.text_encoder_2,
        returned_embeddings_type=compel.ReturnedEmbeddingsType.PENULTIMATE_HIDDEN_STATES_NON_NORMALIZED,
        requires_pooled=True,
        truncate_long_prompts=False,
        device=str(pipe.device),
    )
    embeds, _ = encoder([*prompts, negative])
    n = len(prompts)
    kwargs = {"prompt_embeds": embeds[:n], "negative_prompt_embeds": embeds[n:].expand(n, -1, -1)}
    return _zero_empty_negative(pipe, negative, kwargs | _pooled(encoder, prompts, negative))


def _pooled(encoder: Compel, prompts: list[str], negative: str) -> dict:
    """SDXL's pooled embeddings of the prompts' words, without their syntax, as the pipeline
    makes them from a plain prompt (its first window)."""
    import torch

    with torch.no_grad():
        texts = [words(p) for p in [*prompts, negative]]
        pooled = encoder.conditioning_provider.get_pooled_embeddings(texts)
    n = len(prompts)
    return {
        "pooled_prompt_embeds": pooled[:n],
        "negative_pooled_prompt_embeds": pooled[n:].expand(n, -1),
    }


def _zero_empty_negative(pipe: DiffusionPipeline, negative: str, kwargs: dict) -> dict:
    """An SDXL model whose config says ``force_zeros_for_empty_prompt`` guides against zeros
    when there is no negative prompt, as its pipeline does with a plain prompt (not against
    the encoding of "")."""
    import torch

    if negative or not getattr(pipe.config, "force_zeros_for_empty_prompt", False):
        return kwargs
    for key in ("negative_prompt_embeds", "negative_pooled_prompt_embeds"):
        if key in kwargs:
            kwargs[key] = torch.zeros_like(kwargs[key])
    return kwargs
