"""The ComfyUI graph an SD-family PNG carries is one ComfyUI's core nodes run: every node is
one of them, has exactly their required inputs, every combo value is one they offer, and
every link points at an existing node's output of the type the input takes (checked against
the node definitions recorded from ComfyUI's own ``nodes.py`` in tests/fixtures/comfyui)."""

import json
from pathlib import Path

import pytest
from PIL import Image

from cinedraft import Engine, ImageRequest, Overrides, Settings
from cinedraft.media.comfy import SAMPLERS, comfy_workflow
from cinedraft.request import Lora

NODES = json.loads((Path(__file__).parents[1] / "fixtures" / "comfyui" / "nodes.json").read_text())
WIDGETS = {"INT": int, "FLOAT": (int, float), "STRING": str, "FILENAME": str}


def check_graph(graph: dict) -> None:
    for key, node in graph.items():
        spec = NODES[node["class_type"]]  # KeyError: not a core node
        inputs = node["inputs"]
        assert set(inputs) == set(spec["inputs"]), (key, node["class_type"])
        for name, kind in spec["inputs"].items():
            value = inputs[name]
            if isinstance(kind, list):  # a combo: one of its values
                assert value in kind, (key, name, value)
            elif kind in WIDGETS:
                assert isinstance(value, WIDGETS[kind]) and not isinstance(value, bool), (key, name)
                if kind == "FILENAME":
                    assert value.endswith(".safetensors") and "/" not in value
            else:  # a link: [node id, output index] of the type this input takes
                source, index = value
                outputs = NODES[graph[source]["class_type"]]["outputs"]
                assert outputs[index] == kind, (key, name, value)
    assert sum(n["class_type"] == "SaveImage" for n in graph.values()) == 1


RECORD = {
    "kind": "image",
    "family": "sdxl",
    "model": "/models/juggernautXL_v9",
    "prompt": "a red jar",
    "negative_prompt": "",
    "seed": 7,
    "steps": 40,
    "guidance": 6.0,
    "scheduler": "dpm++",
    "width": 2048,
    "height": 1536,
    "base_width": 1024,
    "base_height": 768,
    "render": {"refine_strength": 0.25, "refine_steps": 30, "upscale": 2},
    "adapters": [{"kind": "lora", "path": "/m/loras/ink.safetensors", "weight": 0.7}],
}


def test_an_embedding_is_named_to_comfyui_as_comfyui_names_one():
    """The prompt's word for an embedding (its file's name, the token it was loaded as) is
    ``embedding:name`` in ComfyUI's text, in a weight too; other words are left alone."""
    shiny = {"kind": "embedding", "path": "/m/embeddings/shiny.safetensors", "sha256": "0" * 64}
    record = RECORD | {
        "prompt": "a (shiny:1.2) jar, shiny-ish, not shinyness",
        "negative_prompt": "shiny",
        "adapters": [*RECORD["adapters"], shiny],
    }
    graph = comfy_workflow(record)
    check_graph(graph)
    texts = [n["inputs"]["text"] for n in graph.values() if n["class_type"] == "CLIPTextEncode"]
    assert texts == ["a (embedding:shiny:1.2) jar, shiny-ish, not shinyness", "embedding:shiny"]


@pytest.mark.parametrize("scheduler", sorted(SAMPLERS))
def test_every_sampler_maps_to_a_graph_comfyui_runs(scheduler):
    graph = comfy_workflow(RECORD | {"scheduler": scheduler})
    check_graph(graph)
    samplers = [n for n in graph.values() if n["class_type"] == "KSampler"]
    base, hires = samplers
    assert base["inputs"]["denoise"] == 1.0 and base["inputs"]["steps"] == 40
    assert (hires["inputs"]["denoise"], hires["inputs"]["steps"]) == (0.25, 7)  # int(30 * .25)
    latent = next(n for n in graph.values() if n["class_type"] == "EmptyLatentImage")
    assert (latent["inputs"]["width"], latent["inputs"]["height"]) == (1024, 768)
    lora = next(n for n in graph.values() if n["class_type"] == "LoraLoader")
    assert lora["inputs"]["lora_name"] == "ink.safetensors"


def test_only_sd_family_recipes_get_a_graph():
    assert comfy_workflow(RECORD | {"family": "builtin"}) is None
    assert comfy_workflow(RECORD | {"family": "flux"}) is None
    assert comfy_workflow(RECORD | {"scheduler": "own"}) is None
    assert comfy_workflow(RECORD | {"kind": "video"}) is None
    draft = comfy_workflow(RECORD | {"render": {}})
    check_graph(draft)
    assert [n["class_type"] for n in draft.values()].count("KSampler") == 1


def test_a_production_png_carries_the_graph(tiny_sd, tmp_path):
    engine = Engine(Settings(home=tmp_path, offline=True, device="cpu", provenance=False))
    draft = engine.generate_image(
        ImageRequest(prompt="a red jar", model=str(tiny_sd), seed=1, steps=2)
    ).outputs[0]
    prod = engine.promote(draft.asset_id, overrides=Overrides(steps=2)).outputs[0]
    with Image.open(prod.path) as im:
        graph = json.loads(im.text["prompt"])
    check_graph(graph)
    assert graph["1"]["inputs"]["ckpt_name"] == "tiny-sd.safetensors"
    assert any(n["class_type"] == "ImageScale" for n in graph.values())
    builtin = engine.generate_image(
        ImageRequest(prompt="a red jar", seed=1, steps=2, tier="production")
    )
    with Image.open(builtin.outputs[0].path) as im:
        assert "prompt" not in im.text


def test_lora_option_round_trip_is_in_the_graph(tiny_sd, tiny_sd_adapters, tmp_path):
    engine = Engine(Settings(home=tmp_path, offline=True, device="cpu", provenance=False))
    request = ImageRequest(
        prompt="a red jar",
        model=str(tiny_sd),
        seed=1,
        steps=2,
        tier="production",
        loras=[Lora(ref=str(tiny_sd_adapters["lora"]), weight=0.6)],
    )
    out = engine.generate_image(request).outputs[0]
    with Image.open(out.path) as im:
        graph = json.loads(im.text["prompt"])
    check_graph(graph)
    lora = next(n for n in graph.values() if n["class_type"] == "LoraLoader")
    assert lora["inputs"]["strength_model"] == 0.6


def test_a_weighted_prompt_is_given_to_comfyui_in_its_own_syntax():
    """ComfyUI reads (words:1.4); compel's (words)1.4 would be 1.1 times "words" and a "1.4"."""
    graph = comfy_workflow({**RECORD, "prompt": "a (red)1.4 jar", "negative_prompt": "blurry++"})
    check_graph(graph)
    texts = [n["inputs"]["text"] for n in graph.values() if n["class_type"] == "CLIPTextEncode"]
    assert texts == ["a (red:1.4) jar", "(blurry:1.21)"]


def test_clip_skip_is_comfyuis_last_layer_and_read_back():
    """A1111's Clip skip 2 is ComfyUI's CLIP Set Last Layer at -2, on the encoders' way from
    the checkpoint; read back from a graph that has one (and not from one that does not)."""
    from cinedraft.media.comfy import read_comfy_graph

    graph = comfy_workflow(RECORD | {"family": "sd15", "clip_skip": 2})
    check_graph(graph)
    layer = [n for n in graph.values() if n["class_type"] == "CLIPSetLastLayer"]
    assert [n["inputs"]["stop_at_clip_layer"] for n in layer] == [-2]
    assert read_comfy_graph(json.dumps(graph))["clip_skip"] == 2
    assert "clip_skip" not in read_comfy_graph(json.dumps(comfy_workflow(RECORD)))


def test_a_vae_file_is_loaded_in_the_graph_and_read_back():
    """A VAE kept as one file is ComfyUI's VAE Loader, decoding every pass; a diffusers VAE
    folder, which that loader cannot take, makes no graph rather than a wrong one."""
    from cinedraft.media.comfy import read_comfy_graph

    vae = {"kind": "vae", "path": "/m/vae/vae-ft-mse-840000-ema-pruned.safetensors"}
    graph = comfy_workflow(RECORD | {"adapters": [*RECORD["adapters"], vae]})
    check_graph(graph)
    loader = next(k for k, n in graph.items() if n["class_type"] == "VAELoader")
    decoders = [n for n in graph.values() if n["class_type"] in ("VAEDecode", "VAEEncode")]
    assert decoders and all(n["inputs"]["vae"] == [loader, 0] for n in decoders)
    assert read_comfy_graph(json.dumps(graph))["vae"] == "vae-ft-mse-840000-ema-pruned.safetensors"
    folder = {"kind": "vae", "path": "/m/vae/bright-vae"}
    assert comfy_workflow(RECORD | {"adapters": [folder]}) is None
