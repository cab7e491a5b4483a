"""Wildcard templates (dynamicprompts, the library behind A1111's Dynamic Prompts extension):
``a {red|blue} {bottle|jar}`` makes every combination, and ``__colours__`` every line of the
wildcard file ``colours.txt``, in order (``__animals/cats__``: ``animals/cats.txt``; a ``.yaml`` or
``.json`` file of lists too) in the wildcards folder, as users of that extension keep them.
A wildcard the folder has no file for is refused: it would have been drawn as the word
``__colours__``. The folder is the user's (HOME/wildcards); a name only ever matches a file
inside it (dynamicprompts looks names up in the tree it read from that folder).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

from .errors import InputError

_WILDCARD = re.compile(r"__([\w*./-]+?)__")


def expand(template: str, count: int, wildcards: Path | None) -> list[str]:
    """``count`` prompts from ``template``, every combination before any repeats (each image
    still gets its own seed)."""
    combos = _generate(template, wildcards, count)
    if not combos:
        raise InputError(f"template {template!r} produced no prompts")
    return list(itertools.islice(itertools.cycle(combos), count))


def every_prompt(template: str, wildcards: Path | None, limit: int) -> list[str]:
    """Every prompt ``template`` can make, up to ``limit`` + 1 (so that the caller sees
    that there are more); ``[template]`` when it makes none."""
    return _generate(template, wildcards, limit + 1) or [template]


def _generate(template: str, wildcards: Path | None, most: int) -> list[str]:
    from dynamicprompts.generators import CombinatorialPromptGenerator
    from dynamicprompts.wildcards import WildcardManager

    manager = WildcardManager(wildcards if wildcards and wildcards.is_dir() else None)
    manager.sort_wildcards = False  # a file's lines in the order its author wrote them
    for name in _WILDCARD.findall(template):
        if not manager.get_values(name):
            where = wildcards or "the wildcards folder"
            raise InputError(f"no wildcard file for __{name}__ in {where} ({name}.txt)")
    try:
        combos = CombinatorialPromptGenerator(manager).generate(template, max_prompts=most)
    except RecursionError:
        raise InputError(
            f"template {template!r}: its wildcards name each other in a loop"
        ) from None
    except Exception as exc:  # noqa: BLE001 - pyparsing raises its own error types for bad syntax
        raise InputError(f"bad template {template!r}: {exc}") from None
    for combo in combos:  # a wildcard file naming one there is no file for
        if m := _WILDCARD.search(combo):
            raise InputError(f"no wildcard file for __{m.group(1)}__ (named in a wildcard file)")
    return combos
