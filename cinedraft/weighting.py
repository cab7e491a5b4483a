"""Prompt weighting in the two syntaxes people write it in, read into one form.

compel's (InvokeAI's): ``(red)1.4``, ``red++``, ``.blend()``, ``.and()``: what cinedraft
encodes with. A1111's, which ComfyUI, Forge and most shared prompts use: ``(red:1.4)``;
``(red)`` is 1.1 times, ``((red))`` 1.21, ``[red]`` 1/1.1; ``\\(`` is a parenthesis meant as
text; ``BREAK`` starts a new 75-token chunk. A prompt in A1111's syntax is turned into
compel's to be encoded (the same weights on the same words, BREAK as compel's ``.and()``,
which encodes each part on its own and joins them, as A1111 does), and a prompt in compel's
is written in A1111's into the metadata that A1111 and ComfyUI read back, so that the image
file says what each tool must be told to weight the same words.

A1111's prompt editing (``[from:to:when]``) and alternation (``[a|b]``) change the prompt
during sampling; cinedraft encodes one prompt, so they are refused rather than encoded as
text. compel's ``.blend()`` and ``.swap()`` have no A1111 form; such a prompt is written
into A1111's metadata as typed.

Pure Python: compel's own parser (which imports torch) is imported only to read a prompt
in compel's syntax.
"""

from __future__ import annotations

import re

from .errors import InputError

Fragment = tuple[str, float]  # words and the weight they are encoded with
ROUND, SQUARE = 1.1, 1 / 1.1  # A1111's (words) and [words]

# compel's markers: "(words)1.3", "word+" / "word--", "(words)-", ".and(", ".blend(", ".swap(".
# compel reads a weight only right after the bracket: "(best quality) 1girl" is A1111's.
_COMPEL = re.compile(r"\)\d*\.?\d+|\w[+-]+(?=[\s,)]|$)|\)[+-]+|\.(and|blend|swap)\(")
# A1111's explicit weight, which compel never writes: "(words:1.3)".
_A1111_WEIGHT = re.compile(r"(?<!\\)\(((?:\\.|[^()\\])*):\s*[+-]?(\d+\.?\d*|\.\d+)\s*\)")
_A1111_TOKEN = re.compile(
    r"\\([()\[\]\\])"  # an escaped bracket or backslash: text
    r"|(?P<open>[(\[])"
    r"|:\s*(?P<weight>[+-]?(?:\d+\.?\d*|\.\d+))\s*\)"
    r"|(?P<close>[)\]])"
    r"|(?P<brk>(?<!\S)BREAK(?!\S))"
)
_BREAK = re.compile(r"(?<!\S)BREAK(?!\S)")
# A1111's prompt editing [a:b:0.5], [a:0.5], [a::0.5] and alternation [a|b].
_SCHEDULING = re.compile(r"(?<!\\)\[(?:\\.|[^\[\]\\])*[:|](?:\\.|[^\[\]\\])*(?<!\\)\]")


def syntax(prompt: str, brackets: bool = True) -> str | None:
    """``"a1111"``, ``"compel"`` or None (plain text) for how ``prompt`` weights words.
    An explicit ``(words:1.3)`` or a ``BREAK`` is A1111's whatever else the prompt holds;
    compel's markers next; then a bracket or an escaped one is A1111's, as ComfyUI and A1111
    read a plain ``(words)`` (with ``brackets`` False, a bare bracket is text)."""
    if _A1111_WEIGHT.search(prompt) or _BREAK.search(prompt):
        return "a1111"
    if _COMPEL.search(prompt):
        return "compel"
    if brackets and re.search(r"[()\[\]]", prompt):
        return "a1111"
    return None


def prompt_editing(prompt: str) -> str | None:
    """Why ``prompt`` cannot be encoded when it holds A1111's prompt editing or alternation
    (and is read as A1111's: in compel's syntax, square brackets are text); else None."""
    if syntax(prompt) != "a1111" or not (match := _SCHEDULING.search(prompt)):
        return None
    return (
        f"{match.group(0)!r} is A1111's prompt editing or alternation (a prompt that "
        "changes during sampling); cinedraft encodes one prompt: write the words you "
        "want, or \\[ \\] for brackets meant as text"
    )


def read_a1111(prompt: str, round_: float = ROUND, square: float = SQUARE) -> list[list[Fragment]]:
    """``prompt`` in A1111's syntax as chunks (split at ``BREAK``) of weighted fragments.
    As in A1111: brackets multiply what they hold, nested ones again; a bracket left open
    weights the rest of the prompt; a closing bracket with none open is text."""
    if editing := prompt_editing(prompt):
        raise InputError(editing)
    fragments: list[list] = []  # [words, weight]; None where a BREAK is
    opened: list[tuple[str, int]] = []  # bracket and where its fragments start

    def text(words: str) -> None:
        if words:
            fragments.append([words, 1.0])

    def close(kind: str, weight: float) -> bool:
        if not opened or opened[-1][0] != kind:
            return False
        for fragment in fragments[opened.pop()[1] :]:
            if fragment is not None:
                fragment[1] *= weight
        return True

    at = 0
    for m in _A1111_TOKEN.finditer(prompt):
        text(prompt[at : m.start()])
        at = m.end()
        if m.group(1):
            text(m.group(1))
        elif m.group("open"):
            opened.append((m.group("open"), len(fragments)))
        elif m.group("weight") is not None:
            if not close("(", float(m.group("weight"))):
                text(m.group(0))
        elif m.group("close"):
            kind = "(" if m.group("close") == ")" else "["
            if not close(kind, round_ if kind == "(" else square):
                text(m.group("close"))
        else:
            fragments.append(None)
    text(prompt[at:])
    while opened:
        close(opened[-1][0], round_ if opened[-1][0] == "(" else square)
    chunks: list[list[list]] = [[]]
    for fragment in fragments:
        if fragment is None:
            chunks.append([])
        else:
            chunks[-1].append(fragment)
    return [_merged(chunk) for chunk in chunks]


def _merged(chunk: list[list]) -> list[Fragment]:
    out: list[Fragment] = []
    for words, weight in chunk:
        if out and abs(out[-1][1] - weight) < 1e-9:
            out[-1] = (out[-1][0] + words, weight)
        else:
            out.append((words, weight))
    return [(w, weight) for w, weight in out if w.strip()]


def as_compel(prompt: str) -> str:
    """The compel text that encodes ``prompt`` as its own syntax weights it: a compel prompt
    as it is, an A1111 or plain one rewritten (compel's special characters escaped)."""
    if syntax(prompt) == "compel":
        return prompt
    chunks = [_compel_chunk(c) for c in read_a1111(prompt)]
    if len(chunks) == 1:
        return chunks[0]
    # Each chunk's quotes are escaped already, as compel reads them inside quotes too.
    return "(" + ", ".join(f'"{c}"' for c in chunks) + ").and()"


def _compel_chunk(fragments: list[Fragment]) -> str:
    parts = []
    for words, weight in fragments:
        escaped = re.sub(r'([()"])', r"\\\1", words.strip())
        parts.append(escaped if weight == 1 else f"({escaped}){_number(weight)}")
    return " ".join(parts)


def as_a1111(prompt: str, comfy: bool = False) -> str:
    """``prompt`` as A1111 (or, with ``comfy``, ComfyUI's text box) reads the same weights:
    compel's syntax rewritten, A1111's as typed. ComfyUI has no ``[words]`` and no
    ``BREAK``: its text weighs with parentheses only and joins the chunks."""
    kind = syntax(prompt)
    if kind is None or (kind == "a1111" and not comfy):
        return prompt
    chunks = read_a1111(prompt) if kind == "a1111" else _read_compel(prompt)
    if chunks is None:  # a blend or swap: no A1111 form
        return prompt
    texts = [
        " ".join(
            _escaped(words.strip(), comfy)
            if weight == 1
            else f"({_escaped(words.strip(), comfy)}:{_number(weight)})"
            for words, weight in chunk
        )
        for chunk in chunks
    ]
    return (" " if comfy else " BREAK ").join(t for t in texts if t)


def _escaped(words: str, comfy: bool) -> str:
    return re.sub(r"([()])" if comfy else r"([()\[\]])", r"\\\1", words)


def _read_compel(prompt: str) -> list[list[Fragment]] | None:
    from compel.prompt_parser import FlattenedPrompt, PromptParser
    from compel.prompt_parser import Fragment as Words

    conjunction = PromptParser().parse_conjunction(prompt)
    if any(w != 1 for w in conjunction.weights):
        return None
    chunks = []
    for part in conjunction.prompts:
        if not isinstance(part, FlattenedPrompt) or not all(
            type(f) is Words for f in part.children
        ):
            return None
        chunks.append([(f.text, float(f.weight)) for f in part.children])
    return chunks


def plain(prompt: str) -> str:
    """``prompt``'s words without weighting syntax in either syntax, for an encoder no weights
    reach (video models): brackets, weights and ``BREAK`` would be read there as words."""
    kind = syntax(prompt)
    if kind is None:
        return prompt
    if kind == "compel":
        return words(prompt)
    texts = ("".join(text for text, _ in chunk) for chunk in read_a1111(prompt))
    return ", ".join(" ".join(t.split()).strip(" ,") for t in texts if t.strip(" ,"))


def words(compel_text: str) -> str:
    """The words of a compel text without its syntax: what a pooled embedding, which takes
    no weights, is to be made from (compel makes it from the text with its brackets and
    numbers in it). A blend's words are its first prompt's."""
    from compel.prompt_parser import Blend, PromptParser
    from compel.prompt_parser import Fragment as Words

    def flat(part) -> str:
        if isinstance(part, Blend):
            return flat(part.prompts[0])
        texts = [  # a .swap() gives the words it starts from
            c.text if isinstance(c, Words) else " ".join(f.text for f in c.original)
            for c in part.children
        ]
        return " ".join(t.strip() for t in texts if t.strip())

    conjunction = PromptParser().parse_conjunction(compel_text)
    return " ".join(flat(p) for p in conjunction.prompts).replace(" ,", ",")


def escaped(text: str) -> str:
    """``text`` as words, whatever brackets it holds: A1111's escapes (which compel reads
    too), for values filled into a prompt from data (a product named ``Shampoo (250 ml)``
    is not to weigh "250 ml")."""
    return re.sub(r"([()\[\]\\])", r"\\\1", text)


def unescaped(text: str) -> str:
    """``text`` with A1111's escapes turned into the characters they stand for, for an
    encoder that takes the prompt as written (where brackets are text, a backslash would be
    read as one more character)."""
    return re.sub(r"\\([()\[\]\\])", r"\1", text)


def _number(weight: float) -> str:
    return f"{round(weight, 4):g}"
