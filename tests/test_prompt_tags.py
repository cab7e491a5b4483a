"""The tags in a prompt that load files, as A1111, Forge and ComfyUI users write them."""

import pytest

from cinedraft.errors import InputError
from cinedraft.prompt_tags import dropped, embeddings, loras, problem, without_tags
from cinedraft.request import ImageRequest


@pytest.mark.parametrize(
    "prompt, found",
    [
        ("a jar <lora:ink:0.8>", [("ink", 0.8)]),
        ("a jar <lora:ink>", [("ink", None)]),  # no weight given: the LoRA's default
        ("a jar <lyco:ink:0.5>", [("ink", 0.5)]),  # A1111's alias since 1.5
        ("<LORA:ink:.5>", [("ink", 0.5)]),
        ("<lora:ink:0.7:0.7>", [("ink", 0.7)]),  # text encoder and denoiser alike
        ("<lora:ink:te=0.6:unet=0.6>", [("ink", 0.6)]),
        ("<lora:ink:0.6:unet=0.6>", [("ink", 0.6)]),
        ("<lora:a:1> and <lora:b:-0.5>", [("a", 1.0), ("b", -0.5)]),
    ],
)
def test_a1111_lora_tags_name_a_lora_and_one_weight(prompt, found):
    assert problem(prompt) is None and loras(prompt) == found
    assert "<" not in without_tags(prompt)


@pytest.mark.parametrize(
    "prompt, why",
    [
        ("a jar <lora:ink:0.8:0.5>", "the text encoder at 0.8 and the denoiser at 0.5"),
        ("a jar <lora:ink:unet=0.5>", "the text encoder at 1 and the denoiser at 0.5"),
        ("a jar <lora:ink:1:1:8>", "only the text encoder's and the denoiser's"),
        ("a jar <lora:ink:dyn=8>", "only the text encoder's and the denoiser's"),
        ("a jar <lora:ink:strong>", "a weight is a number"),
        ("a jar <hypernet:ink:1>", "A1111's hypernet tag: cinedraft loads LoRAs"),
        ("<embedding:ink:1>", "A1111's embedding tag"),
    ],
)
def test_tags_cinedraft_cannot_load_as_written_are_refused_by_the_request(prompt, why):
    """They were encoded as words (A1111 takes every such tag out of the prompt)."""
    assert why in problem(prompt)
    with pytest.raises(ValueError, match="tag|weight"):
        ImageRequest(prompt=prompt)
    with pytest.raises(ValueError, match="tag|weight"):
        ImageRequest(prompt="a jar", negative_prompt=prompt)


@pytest.mark.parametrize(
    "prompt, names, words",
    [
        ("a <embedding:shiny> jar", ["shiny"], "a shiny jar"),
        ("embedding:EasyNegative, blurry", ["EasyNegative"], "EasyNegative, blurry"),  # ComfyUI's
        ("blurry, embedding:bad-hands.pt", ["bad-hands"], "blurry, bad-hands"),
        ("(embedding:ng.safetensors:1.2), text", ["ng"], "(ng:1.2), text"),
        ("word embedding: a diagram", [], "word embedding: a diagram"),  # no name: words
        ("an embedding:x-ray", ["x-ray"], "an x-ray"),
        ("blurry,embedding:x", [], "blurry,embedding:x"),  # not where a word starts: words
    ],
)
def test_embeddings_are_named_in_cinedrafts_tag_or_comfyuis(prompt, names, words):
    assert embeddings(prompt) == names and without_tags(prompt) == words


def test_a_tag_in_a_wildcard_is_refused(engine):
    with pytest.raises(InputError, match="inside a {wildcard}"):
        engine.generate_image(ImageRequest(prompt="{a embedding:x|b} jar", template=True))


def test_tags_naming_files_this_machine_lacks_can_be_left_out():
    """What ``generate --like`` does with another tool's prompt: a tag whose file is not here
    is taken out (and said) rather than stopping the request; the rest stays as written."""
    here = {("lora", "ink"), ("embedding", "shiny")}
    prompt = "a cat,\n<lora:ink:0.5> <lora:gone:1> <lyco:gone2>, embedding:shiny embedding:bad.pt"
    text, gone = dropped(prompt, lambda kind, name: (kind, name) not in here)
    assert text == "a cat,\n<lora:ink:0.5> , embedding:shiny"
    assert gone == [("lora", "gone"), ("lora", "gone2"), ("embedding", "bad")]
    assert dropped("a cat, (red:1.2)\n", lambda *_: True) == ("a cat, (red:1.2)\n", [])
