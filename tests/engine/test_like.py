"""What an A1111 or Forge image's text says shaped it and ``--like`` does not do is said."""

import copy
import json

import pytest

from cinedraft.engine.like import settings_like
from cinedraft.library import Asset
from cinedraft.media.metadata import read_parameters
from tests.media.test_metadata import A1111, COMFY


def _like(text: str, tmp_path) -> tuple[dict, list[str]]:
    made = read_parameters(text)
    return settings_like(Asset.model_construct(id="a" * 12, record={"made_with": made}), tmp_path)


def test_a_plain_a1111_image_has_nothing_left_out_but_what_this_machine_lacks(tmp_path):
    fields, notes = _like(A1111, tmp_path)
    assert fields["seed"] == 1234567890
    assert notes == [f"model 'v1-5-pruned-emaonly' is not in {tmp_path}: the default is used"]


@pytest.mark.parametrize(
    "extra, said",
    [
        ("Variation seed: 42, Variation seed strength: 0.3", "variation seed"),
        ("Seed resize from: 512x512", "seed resize"),
        ("Face restoration: CodeFormer", "face restoration"),
        ("ADetailer model: face_yolov8n.pt, ADetailer confidence: 0.3", "ADetailer"),
        ('ControlNet 0: "Module: canny, Model: control_v11p_sd15_canny"', "ControlNet"),
        ("Refiner: sd_xl_refiner_1.0 [7440042bbd], Refiner switch at: 0.8", "refiner"),
        ("Hypernet: anime, Hypernet strength: 0.5", "hypernetwork"),
        ("Denoising strength: 0.7, Hires upscale: 2, Hires upscaler: Latent", "hires fix"),
        ("Denoising strength: 0.45", "made from another image"),
    ],
)
def test_what_shaped_the_image_and_is_not_done_here_is_said_once(tmp_path, extra, said):
    text = A1111.replace("Version:", f"{extra}, Version:")
    fields, notes = _like(text, tmp_path)
    mine = [n for n in notes if said in n]
    assert len(mine) == 1, notes
    assert fields["seed"] == 1234567890  # the rest is still carried
    if said == "hires fix":  # a hires fix's denoising strength is not a start image
        assert not any("made from another image" in n for n in notes)


def _graph_like(graph: dict, tmp_path) -> list[str]:
    from cinedraft.media.comfy import read_comfy_graph

    made = read_comfy_graph(json.dumps(graph))
    return settings_like(Asset.model_construct(id="c" * 12, record={"made_with": made}), tmp_path)[
        1
    ]


def test_what_shaped_a_comfyui_image_and_is_not_done_here_is_said(tmp_path):
    graph = json.loads(COMFY)
    assert [n for n in _graph_like(graph, tmp_path) if "not carried" in n] == []
    shaped = copy.deepcopy(graph)
    shaped["10"] = {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "c.pth"}}
    shaped["11"] = {"class_type": "LoadImage", "inputs": {"image": "pose.png"}}
    shaped["12"] = {
        "class_type": "ControlNetApplyAdvanced",
        "inputs": {"positive": ["6", 0], "negative": ["7", 0], "control_net": ["10", 0],
                   "image": ["11", 0], "strength": 1.0, "start_percent": 0.0,
                   "end_percent": 1.0},
    }  # fmt: skip
    shaped["3"]["inputs"] |= {"positive": ["12", 0], "negative": ["12", 1]}
    shaped["13"] = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "4x.pth"}}
    shaped["14"] = {"class_type": "FaceDetailer", "inputs": {"image": ["8", 0]}}
    shaped["15"] = dict(shaped["3"], inputs=shaped["3"]["inputs"] | {"latent_image": ["3", 0]})
    notes = _graph_like(shaped, tmp_path)
    for said in ("ControlNet", "upscale model", "detailer pass", "second sampler pass"):
        assert sum(said in n for n in notes) == 1, (said, notes)
    assert not any("start image" in n for n in notes)  # the first pass is from an empty latent
    img2img = copy.deepcopy(graph)
    img2img["5"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["11", 0], "vae": ["4", 2]}}
    img2img["11"] = {"class_type": "LoadImage", "inputs": {"image": "start.png"}}
    assert any("start image is not carried" in n for n in _graph_like(img2img, tmp_path))
