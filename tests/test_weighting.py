"""Prompt weighting in A1111's syntax (what A1111, Forge, ComfyUI and shared prompts use) and
compel's, read into the same weights: A1111's meaning as its wiki states it ("Attention/
emphasis": ``(word)`` 1.1, ``((word))`` 1.21, ``[word]`` 1/1.1, ``(word:1.5)``, ``\\(`` for a
literal bracket, ``BREAK`` for a new chunk), compel's as compel's own parser reads it."""

import pytest
from compel.prompt_parser import PromptParser

from cinedraft import InputError
from cinedraft.engine.prompts import compel_texts
from cinedraft.tiers import FAMILIES
from cinedraft.weighting import (
    ROUND,
    SQUARE,
    as_a1111,
    as_compel,
    escaped,
    plain,
    read_a1111,
    syntax,
    unescaped,
)


def _compel_fragments(text: str) -> list[list[tuple[str, float]]]:
    """What compel encodes ``text`` as: each chunk's words (spacing aside) and weights."""
    conjunction = PromptParser().parse_conjunction(text)
    chunks = []
    for part in conjunction.prompts:
        merged: list[tuple[str, float]] = []
        for f in part.children:
            words = " ".join(f.text.replace(" ,", ",").split())
            if merged and abs(merged[-1][1] - f.weight) < 1e-6:
                merged[-1] = (merged[-1][0] + " " + words, f.weight)
            else:
                merged.append((words, f.weight))
        chunks.append([(w.replace(" ,", ","), round(x, 4)) for w, x in merged])
    return chunks


def _tidy(chunks):
    return [[(" ".join(w.split()), round(x, 4)) for w, x in c] for c in chunks]


@pytest.mark.parametrize(
    "prompt, chunks",
    [
        ("a (red bottle:1.3) on a table", [[("a", 1), ("red bottle", 1.3), ("on a table", 1)]]),
        ("a (red) jar", [[("a", 1), ("red", ROUND), ("jar", 1)]]),
        ("a ((red)) jar", [[("a", 1), ("red", ROUND**2), ("jar", 1)]]),
        ("a [red] jar", [[("a", 1), ("red", SQUARE), ("jar", 1)]]),
        ("a ((red:1.5) glass) jar", [[("a", 1), ("red", 1.65), ("glass", ROUND), ("jar", 1)]]),
        ("a \\(red\\) jar", [[("a (red) jar", 1)]]),  # escaped: text
        ("a jar (red", [[("a jar", 1), ("red", ROUND)]]),  # left open: to the end
        ("a jar) red]", [[("a jar) red]", 1)]]),  # closed with none open: text
        ("note: 4 (jars:0.5)", [[("note: 4", 1), ("jars", 0.5)]]),
        ("(a red jar:1.2) BREAK on a table", [[("a red jar", 1.2)], [("on a table", 1)]]),
        ("(a BREAK b:2)", [[("a", 2)], [("b", 2)]]),  # a bracket spans the BREAK
        ("(best quality) 1girl, solo", [[("best quality", ROUND), ("1girl, solo", 1)]]),
    ],
)
def test_a1111_syntax_reads_as_a1111_weighs_it(prompt, chunks):
    assert syntax(prompt) == "a1111"
    assert _tidy(read_a1111(prompt)) == _tidy(chunks)
    # ... and compel is given the same words at the same weights, chunk by chunk.
    assert _compel_fragments(as_compel(prompt)) == _tidy(chunks)


@pytest.mark.parametrize(
    "prompt, kind",
    [
        ("a red jar on a table", None),
        ("a (red)1.4 jar", "compel"),
        ("a red++ jar", "compel"),
        ('("a red jar", "a blue box").blend(0.7, 0.3)', "compel"),
        ("a (red:1.4) jar", "a1111"),
        ("(red:1.2) 4k, a jar", "a1111"),  # ") 4" is not compel's weight after an A1111 one
        ("a (red) jar", "a1111"),
        ("a jar BREAK a box", "a1111"),
    ],
)
def test_each_prompt_is_read_in_the_syntax_it_is_written_in(prompt, kind):
    assert syntax(prompt) == kind


@pytest.mark.parametrize(
    "prompt, a1111, comfy",
    [
        ("a (red)1.4 jar", "a (red:1.4) jar", "a (red:1.4) jar"),
        ("a red++ jar, blue-", "a (red:1.21) jar, (blue:0.9)", "a (red:1.21) jar, (blue:0.9)"),
        ('("a red jar", "on a table").and()', "a red jar BREAK on a table", None),
        ("a [red] jar", "a [red] jar", "a (red:0.9091) jar"),  # ComfyUI has no [ ]
        ("a (red:1.3) jar", "a (red:1.3) jar", "a (red:1.3) jar"),
        ("a red jar", "a red jar", "a red jar"),
    ],
)
def test_metadata_says_the_weights_in_the_syntax_a1111_and_comfyui_read(prompt, a1111, comfy):
    assert as_a1111(prompt) == a1111
    written = as_a1111(prompt, comfy=True)
    if comfy is not None:
        assert written == comfy
    # Read back as A1111 reads it, the words carry the weights compel encoded them with.
    assert _tidy(read_a1111(as_a1111(prompt))) == _compel_fragments(as_compel(prompt))


def test_a_blend_has_no_a1111_form_and_is_written_as_typed():
    blend = '("a red jar", "a blue box").blend(0.7, 0.3)'
    assert as_a1111(blend) == blend


@pytest.mark.parametrize("prompt", ["a [red:blue:0.5] jar", "a [red|blue] jar", "[jar::3]"])
def test_a1111_prompt_editing_is_refused_not_encoded_as_text(prompt):
    with pytest.raises(InputError, match="prompt editing or alternation"):
        syntax(prompt) and as_compel(prompt)


def test_a_family_compel_cannot_encode_refuses_weights_but_takes_brackets_as_text():
    sd3, sd15 = FAMILIES["sd3"], FAMILIES["sd15"]
    assert compel_texts(["a jar (glass) on a table", ""], sd3) is None
    for weighted in ("a (glass:1.3) jar", "a (glass)1.3 jar", "a jar BREAK a table"):
        with pytest.raises(InputError, match="weighting is not supported for sd3"):
            compel_texts([weighted, ""], sd3)
    assert compel_texts(["a red jar", "blurry"], sd15) is None  # plain: diffusers encodes
    assert compel_texts(["a (red:1.3) jar", 'blurry, "text"'], sd15) == [
        "a (red)1.3 jar",
        'blurry, \\"text\\"',
    ]


@pytest.mark.parametrize(
    "prompt, words",
    [
        ("a red jar", "a red jar"),
        ("a (red jar:1.3) on a (table), BREAK studio light", "a red jar on a table, studio light"),
        ("a red++ jar, (blue)0.8", "a red jar, blue"),
        ("a \\(b\\) c", "a (b) c"),
        ("", ""),
    ],
)
def test_plain_gives_the_words_without_either_syntax(prompt, words):
    assert plain(prompt) == words


@pytest.mark.parametrize(
    "value",
    ["Shampoo (250 ml)", "Tee [Organic]", "(red:1.4)", "a\\b", "((x)", "[a|b]", "[a:b:0.5]", "]("],
)
def test_an_escaped_value_is_read_as_its_words_in_either_syntax(value):
    """What a catalogue fills into a prompt from a product list: words, never weights, never
    prompt editing; and the plain path turns it back into the value."""
    text = f"{escaped(value)}, product photo"
    assert read_a1111(text) == [[(f"{value}, product photo", 1.0)]]
    assert PromptParser().parse_conjunction(as_compel(text)).prompts[0].children[0].text == (
        f"{value}, product photo"
    )
    assert unescaped(text) == f"{value}, product photo"
