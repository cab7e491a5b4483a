"""Tags in a prompt that load a file rather than being words, as A1111 and ComfyUI users write
them: A1111's ``<lora:name:0.8>`` (``<lyco:...>`` is its alias, A1111's built-in Lora
extension registers both), cinedraft's ``<embedding:name>``, and ComfyUI's ``embedding:name``
(a word that starts so; ``.pt`` or ``.safetensors`` after the name is the file's, not the
name's). A LoRA tag's numbers are A1111's: ``<lora:name:te:unet>`` or ``te=``/``unet=``, the
text encoder's weight and the denoiser's (which defaults to the text encoder's); cinedraft
puts one weight on both, so a tag that gives two different ones is refused, as is any other
of A1111's extra networks (``<hypernet:...>``): A1111 takes such tags out of the prompt, and
here they would otherwise have been encoded as words.

Pure Python: the request checks its prompts with it before anything is loaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NAME = r"[A-Za-z0-9][A-Za-z0-9._+-]*"
_NETWORK = re.compile(r"<(\w+):([^<>]*)>")  # A1111's extra-network syntax, any kind
_LORA_KINDS = ("lora", "lyco")
_EMBEDDING = re.compile(rf"<embedding:({NAME})>")
# ComfyUI's: "embedding:name" where a word starts (or inside a weight's bracket)
_COMFY_EMBEDDING = re.compile(
    rf"(?<![^\s(\[])embedding:({NAME}?)(?:\.(?:safetensors|pt|bin))?(?=[\s,()\[\]:]|$)"
)
_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)")


def problem(text: str) -> str | None:
    """Why ``text`` cannot be taken (a tag of a kind cinedraft does not load, or a LoRA tag
    whose weights cannot be one weight); None when it can."""
    for m in _NETWORK.finditer(text):
        kind = m.group(1).lower()
        if kind == "embedding" and _EMBEDDING.fullmatch(m.group(0)):
            continue
        if kind not in _LORA_KINDS:
            return (
                f"{m.group(0)!r} is A1111's {m.group(1)} tag: cinedraft loads LoRAs "
                "(<lora:name:weight>) and embeddings (<embedding:name>) only"
            )
        try:
            _lora(m.group(2))
        except ValueError as exc:
            return f"{m.group(0)!r}: {exc}"
    return None


def loras(text: str) -> list[tuple[str, float | None]]:
    """The LoRAs ``text``'s tags name, and the weight each gives (None: none given); raises
    ValueError for a tag :func:`problem` refuses."""
    return [_lora(m.group(2)) for m in _NETWORK.finditer(text) if m.group(1).lower() in _LORA_KINDS]


def embeddings(text: str) -> list[str]:
    """The embeddings ``text`` names, in either tag."""
    return [m.group(1) for m in (*_EMBEDDING.finditer(text), *_COMFY_EMBEDDING.finditer(text))]


def without_tags(text: str) -> str:
    """``text`` as words: LoRA tags out, each embedding tag as the embedding's name (the token
    it is loaded as)."""
    text = _NETWORK.sub(lambda m: "" if m.group(1).lower() in _LORA_KINDS else m.group(0), text)
    text = _COMFY_EMBEDDING.sub(r"\1", _EMBEDDING.sub(r"\1", text))
    return re.sub(r"\s{2,}", " ", text).strip(" ,")


def dropped(text: str, absent: Callable[[str, str], bool]) -> tuple[str, list[tuple[str, str]]]:
    """``text`` without the tags whose file ``absent(kind, name)`` says is not here (kind
    ``"lora"`` or ``"embedding"``), and those tags' (kind, name); ``text`` as it was when
    none is dropped."""
    gone: list[tuple[str, str]] = []

    def drop(kind: str, name: str, tag: str) -> str:
        if absent(kind, name):
            gone.append((kind, name))
            return ""
        return tag

    def network(m: re.Match) -> str:
        if m.group(1).lower() not in _LORA_KINDS:
            return m.group(0)
        try:
            return drop("lora", _lora(m.group(2))[0], m.group(0))
        except ValueError:  # the request refuses it, in its own words
            return m.group(0)

    def embedding(m: re.Match) -> str:
        return drop("embedding", m.group(1), m.group(0))

    out = _COMFY_EMBEDDING.sub(embedding, _EMBEDDING.sub(embedding, _NETWORK.sub(network, text)))
    return (re.sub(r"[ \t]{2,}", " ", out).strip(" ,") if gone else text), gone


def _lora(args: str) -> tuple[str, float | None]:
    """A LoRA tag's name and weight; ValueError saying why its numbers are not one weight."""
    name, *rest = args.split(":")
    positional, named = [], {}
    for item in rest:
        key, equals, value = item.partition("=")
        if equals:
            named[key.strip()] = value.strip()
        else:
            positional.append(item.strip())
    if set(named) - {"te", "unet"} or len(positional) > 2:
        raise ValueError("only the text encoder's and the denoiser's weights (te, unet) are read")
    numbers = [*positional, *named.values()]
    if not all(_NUMBER.fullmatch(n) for n in numbers):
        raise ValueError("a weight is a number")
    te = float(named.get("te", positional[0] if positional else 1))
    unet = float(named.get("unet", positional[1] if len(positional) > 1 else te))
    if te != unet:
        raise ValueError(
            f"the text encoder at {te:g} and the denoiser at {unet:g}: cinedraft puts one "
            "weight on both; give one"
        )
    return name.strip(), te if numbers else None
