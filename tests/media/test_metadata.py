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
        "Steps: 8, Sampler: DPM++ 2M, CFG scale: 4.0, Seed: 3, Size: 64x64, "
        "Model hash: ababababab, Model: builtin, Version: cinedraft 0.1.0",
    ]


@pytest.mark.parametrize("fmt", ["png", "webp", "jpeg"])
def test_metadata_round_trips_in_every_format(tmp_path, fmt):
    path = tmp_path / f"x.{fmt}"
    path.write_bytes(encode_image(Image.new("RGB", (16, 16), "red"), RECORD, fmt, 80))
    meta = read_metadata(path)
    assert meta["parameters"] == parameters_text(RECORD)
    assert meta["record"] == json.loads(json.dumps(RECORD))
