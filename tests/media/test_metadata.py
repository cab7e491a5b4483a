import io
import json
import time
from pathlib import Path

import pytest
from PIL import ExifTags, Image, PngImagePlugin

from cinedraft.media.comfy import read_comfy_graph
from cinedraft.media.metadata import (
    encode_image,
    made_with,
    parameters_text,
    read_metadata,
    read_parameters,
)

RECORD = {
    "prompt": "a red jar",
    "negative_prompt": "",
    "steps": 8,
    "sampler": "DPM++ 2M",
    "guidance": 4.0,
    "seed": 3,
    "width": 64,
    "height": 64,
    "model_hash": "ab" * 32,
    "model": "builtin",
    "versions": {"cinedraft": "0.1.0"},
    "note": "<&> ünï",
}


def test_parameters_text_is_a1111_style():
    text = parameters_text(RECORD)
    assert text.splitlines() == [
        "a red jar",
        "Negative prompt: ",  # always there: ComfyUI's importer reads nothing without it
        "Steps: 8, Sampler: DPM++ 2M, CFG scale: 4.0, Seed: 3, Size: 64x64, "
        "Model hash: ababababab, Model: builtin, Version: cinedraft 0.1.0",
    ]


def _infotext(text: str) -> dict:
    """A1111's reading of the last line: ``key: value`` pairs (a quoted value may hold commas)."""
    import re

    last = text.splitlines()[-1]
    return {k: v.strip('"') for k, v in re.findall(r'\s*([\w ]+):\s*("[^"]*"|[^,]*)(?:,|$)', last)}


def test_a_production_record_reads_as_a_first_pass_and_a_hires_fix():
    """A1111's meaning of each field: Size is the first pass; the production pass is the
    hires fix (upscale, steps, denoising strength, an upscaler A1111 has); the model is the
    checkpoint's name; the sampler and its schedule are apart."""
    record = RECORD | {
        "width": 1024,
        "height": 768,
        "base_width": 512,
        "base_height": 384,
        "sampler": "DPM++ 2M",
        "schedule_type": "Karras",
        "model": "/home/me/models/dreamshaper_8",
        "render": {"refine_strength": 0.3, "upscale": 2, "refine_steps": 30},
    }
    fields = _infotext(parameters_text(record))
    assert fields["Size"] == "512x384" and fields["Hires upscale"] == "2"
    assert (fields["Hires steps"], fields["Denoising strength"]) == ("30", "0.3")
    assert fields["Hires upscaler"] == "Lanczos" and fields["Model"] == "dreamshaper_8"
    assert (fields["Sampler"], fields["Schedule type"]) == ("DPM++ 2M", "Karras")


def test_the_vae_clip_skip_and_embeddings_are_written_as_a1111_writes_them():
    """What A1111 needs to redo the image: the VAE file by name and hash, Clip skip, the
    embeddings by hash; read back by cinedraft's own reader as written."""
    adapters = [
        {"kind": "vae", "path": "/m/vae/ft-mse.safetensors", "sha256": "73" * 32},
        {"kind": "embedding", "path": "/m/embeddings/shiny.safetensors", "sha256": "5e" * 32},
    ]
    text = parameters_text(RECORD | {"clip_skip": 2, "adapters": adapters})
    fields = _infotext(text)
    assert (fields["VAE"], fields["VAE hash"], fields["Clip skip"]) == (
        "ft-mse.safetensors",
        "7373737373",
        "2",
    )
    assert fields["TI hashes"] == "shiny: 5e5e5e5e5e5e"
    made = read_parameters(text)
    assert (made["vae"], made["clip_skip"], made["embeddings"]) == (
        "ft-mse.safetensors",
        2,
        ["shiny"],
    )


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_metadata_round_trips_in_every_format(tmp_path, fmt):
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(encode_image(Image.new("RGB", (16, 16), "red"), RECORD, fmt, 80))
    meta = read_metadata(path)
    assert meta["parameters"] == parameters_text(RECORD)
    assert meta["record"] == json.loads(json.dumps(RECORD))


# --- what other tools write into their images -------------------------------------------

A1111 = (
    "a photo of a cat, (masterpiece:1.2)\n"
    "on a sofa\n"
    "Negative prompt: blurry, lowres\n"
    "Steps: 20, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, "
    "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, "
    'Lora hashes: "add_detail: 7c6bad76eb54, ink: 0123456789ab", Version: v1.10.1'
)
COMFY = (Path(__file__).parents[1] / "fixtures" / "comfyui" / "default_api_graph.json").read_text()


def _a1111_file(fmt: str, text: str = A1111) -> io.BytesIO:
    """An image saved as A1111 saves one: PNG with a ``parameters`` text chunk; JPEG and
    WebP with the text in EXIF UserComment, UTF-16 big-endian after ``UNICODE\\0`` (piexif's
    ``UserComment.dump(text, encoding="unicode")``)."""
    buf = io.BytesIO()
    image = Image.new("RGB", (16, 16), (90, 120, 200))
    if fmt == "png":
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", text)
        image.save(buf, "PNG", pnginfo=info)
    else:
        exif = Image.Exif()
        comment = b"UNICODE\0" + text.encode("utf-16-be")
        exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.UserComment] = comment
        image.save(buf, fmt.upper(), exif=exif.tobytes())
    buf.seek(0)
    return buf


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp"])
def test_an_a1111_image_says_its_prompt_and_settings(fmt):
    made = made_with(read_metadata(_a1111_file(fmt)))
    assert made["tool"] == "A1111" and made["version"] == "v1.10.1"
    assert made["prompt"] == "a photo of a cat, (masterpiece:1.2)\non a sofa"
    assert made["negative_prompt"] == "blurry, lowres"
    assert (made["steps"], made["guidance"], made["seed"]) == (20, 7.0, 1234567890)
    assert (made["sampler"], made["scheduler"]) == ("DPM++ 2M", "Karras")
    assert (made["width"], made["height"], made["model"]) == (512, 768, "v1-5-pruned-emaonly")
    assert made["fields"]["Lora hashes"] == "add_detail: 7c6bad76eb54, ink: 0123456789ab"
    assert "clip_skip" not in made
    skipped = A1111.replace(
        "Version:", "Clip skip: 2, VAE hash: 735e4c3a44, VAE: ft.safetensors, Version:"
    )
    made = made_with(read_metadata(_a1111_file(fmt, skipped)))
    assert (made["clip_skip"], made["vae"]) == (2, "ft.safetensors")


def test_the_embeddings_an_a1111_image_names_are_read_from_its_ti_hashes():
    """A1111 loads an embedding a word of the prompt names, and lists it by hash; a list of
    untrusted length, of names that could be paths, is cut to file names, 32 at most."""
    line = "Steps: 20, Sampler: Euler, CFG scale: 7, Seed: 1"
    hashes = 'TI hashes: "EasyNegative: c74b4e810b03, bad-hands-5: aa7651be154c"'
    text = f"a cat\nNegative prompt: EasyNegative\n{line}, {hashes}"
    assert read_parameters(text)["embeddings"] == ["EasyNegative", "bad-hands-5"]
    many = ", ".join(f"e{i}: 0" for i in range(100))
    hostile = f'a cat\n{line}, TI hashes: "../../etc/passwd: 0, {many}"'
    assert read_parameters(hostile)["embeddings"] == [f"e{i}" for i in range(32)]
    assert "embeddings" not in read_parameters(f"a cat\n{line}")


@pytest.mark.parametrize(
    "text",
    [
        "just a comment a camera wrote",
        "a cat\nSteps: 20",  # fewer than three fields: not A1111's line
        "a cat\nSteps: 20, Sampler: Euler, CFG scale: nan, Seed: x1, Size: 9x",
        "p\n" + 'a: "' * 13_000,  # unterminated quotes
        "p\n" + ("k" * 70 + ": ") * 900,  # names too long to be fields
        "x" * 70_000,
    ],
)
def test_text_that_is_not_a1111s_or_is_hostile_claims_nothing_it_does_not_say(text):
    started = time.perf_counter()
    made = read_parameters(text)
    assert time.perf_counter() - started < 0.5
    if made is not None:  # the third: the fields that parse, and nothing else
        assert made["steps"] == 20 and "guidance" not in made and "seed" not in made
        assert "width" not in made and made["fields"]["CFG scale"] == "nan"


def test_a_comfyui_image_says_its_prompt_and_settings():
    """ComfyUI's SaveImage writes the API graph into the PNG's ``prompt`` chunk."""
    buf = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", COMFY)
    info.add_text("workflow", "{}")
    Image.new("RGB", (16, 16)).save(buf, "PNG", pnginfo=info)
    buf.seek(0)
    made = made_with(read_metadata(buf))
    assert made == {
        "tool": "ComfyUI",
        "prompt": "masterpiece best quality girl",
        "negative_prompt": "bad hands",
        "seed": 8566257,
        "steps": 20,
        "guidance": 8,
        "sampler": "euler",
        "scheduler": "normal",
        "model": "v1-5-pruned-emaonly.safetensors",
        "width": 512,
        "height": 512,
    }


def test_a_comfyui_graph_is_read_through_loras_combines_a_hires_pass_and_a_primitive():
    graph = json.loads(COMFY)
    graph["10"] = {
        "class_type": "LoraLoader",
        "inputs": {"model": ["4", 0], "clip": ["4", 1], "lora_name": "ink.safetensors"}
        | {"strength_model": 0.7, "strength_clip": 1.0},
    }
    graph["3"]["inputs"]["model"] = ["10", 0]
    graph["11"] = {"class_type": "PrimitiveString", "inputs": {"value": "a red jar"}}
    graph["12"] = {"class_type": "CLIPTextEncode", "inputs": {"clip": ["4", 1], "text": ["11", 0]}}
    graph["13"] = {
        "class_type": "ConditioningCombine",
        "inputs": {"conditioning_1": ["6", 0], "conditioning_2": ["12", 0]},
    }
    graph["3"]["inputs"]["positive"] = ["13", 0]
    # an img2img conditioning whose pixels come from another pass: not its prompts
    graph["14"] = {
        "class_type": "KSampler",
        "inputs": {**graph["3"]["inputs"], "positive": ["15", 0], "negative": ["15", 0]},
    }
    graph["15"] = {"class_type": "CLIPTextEncode", "inputs": {"text": "another pass"}}
    graph["16"] = {"class_type": "VAEDecode", "inputs": {"samples": ["14", 0]}}
    graph["17"] = {
        "class_type": "InstructPixToPixConditioning",
        "inputs": {"positive": ["13", 0], "pixels": ["16", 0]},
    }
    graph["3"]["inputs"]["positive"] = ["17", 0]
    # a hires pass listed first: the prompt and size are the first pass's
    graph = {
        "20": {
            "class_type": "KSampler",
            "inputs": {**graph["3"]["inputs"], "latent_image": ["8", 0], "steps": 9},
        }
    } | graph
    made = read_comfy_graph(json.dumps(graph))
    assert made["prompt"] == "masterpiece best quality girl, a red jar"
    assert made["model"] == "v1-5-pruned-emaonly.safetensors"
    assert made["loras"] == [{"name": "ink.safetensors", "weight": 0.7}]
    assert (made["steps"], made["width"]) == (20, 512)


@pytest.mark.parametrize(
    "graph",
    [
        "[]",
        "not json",
        "[" * 100_000 + "]" * 100_000,  # nesting past the parser's recursion
        json.dumps({"1": {"class_type": "SaveImage"}}),  # no sampler
        json.dumps({"1": {"class_type": "KSampler", "inputs": "x"}, "2": 5}),
        # a loop, and a fan-out that walked naively would be 100**12 paths
        json.dumps(
            {"1": {"class_type": "KSampler", "inputs": {"positive": ["2", 0], "model": ["3", 0]}}}
            | {
                str(i): {
                    "class_type": "X",
                    "inputs": {f"c{j}": [str(i + 1), 0] for j in range(100)},
                }
                for i in range(2, 14)
            }
            | {"14": {"class_type": "X", "inputs": {"back": ["2", 0]}}}
        ),
        json.dumps(
            {
                "1": {"class_type": "KSampler", "inputs": {"model": ["2", 0], "seed": True}},
                "2": {"class_type": "LoraLoader", "inputs": {"model": ["2", 0]}},
            }
        ),
    ],
)
def test_a_hostile_or_foreign_comfyui_chunk_claims_nothing_it_does_not_say(graph):
    started = time.perf_counter()
    made = read_comfy_graph(graph)
    assert time.perf_counter() - started < 0.5
    assert made is None or set(made) <= {"tool"}, made


def test_cinedrafts_own_parameters_read_back_as_written():
    made = read_parameters(parameters_text(RECORD))
    assert made["tool"] == "cinedraft" and made["prompt"] == "a red jar"
    assert (made["steps"], made["seed"], made["guidance"]) == (8, 3, 4.0)
    assert (made["width"], made["height"], made["negative_prompt"]) == (64, 64, "")
