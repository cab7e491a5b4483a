import json

import pytest
from PIL import Image

from cinedraft.media.metadata import encode_image, parameters_text, read_metadata

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


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_metadata_round_trips_in_every_format(tmp_path, fmt):
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(encode_image(Image.new("RGB", (16, 16), "red"), RECORD, fmt, 80))
    meta = read_metadata(path)
    assert meta["parameters"] == parameters_text(RECORD)
    assert meta["record"] == json.loads(json.dumps(RECORD))
