"""Instruction-edit families on tiny random-weight models saved as diffusers saves them:
loaded, recognised, called with their authors' presets, and refused where they do not fit."""

import pytest

from cinedraft.errors import InputError
from cinedraft.request import EditRequest, ImageRequest
from cinedraft.tiers import FAMILIES


@pytest.fixture(scope="module")
def source(engine):
    return engine.generate_image(ImageRequest(prompt="a red bottle on a wooden table", seed=3))


@pytest.mark.parametrize(
    "name, family, pipeline",
    [
        ("ip2p", "instruct-pix2pix", "StableDiffusionInstructPix2PixPipeline"),
        ("sdxl-ip2p", "sdxl-instruct-pix2pix", "StableDiffusionXLInstructPix2PixPipeline"),
        ("kontext", "flux-kontext", "FluxKontextPipeline"),
    ],
)
def test_an_instruction_edit_model_refines_with_its_authors_preset(
    engine, tiny_edit_models, source, name, family, pipeline
):
    image = source.outputs[0]
    result = engine.edit(
        EditRequest(
            source=image.asset_id,
            operation="refine",
            instruction="make the bottle blue",
            model=str(tiny_edit_models[name]),
            seed=4,
        )
    )
    record = result.output.record
    preset = FAMILIES[family].tiers["draft"]
    assert result.route == "instruct" and record["family"] == family
    assert record["pipeline"] == pipeline
    assert (record["steps"], record["guidance"]) == (preset.steps, preset.guidance)
    assert record["call"] == dict(FAMILIES[family].call)
    assert record["prompt"] == "make the bottle blue" and record["seed"] == 4
    assert (result.output.width, result.output.height) == (image.width, image.height)
    # the model worked at most at the source's size (not at its own 1024² default)
    assert record["base_width"] <= image.width and record["base_height"] <= image.height
    assert record["parents"] == [{"id": image.asset_id, "role": "edit_of"}]


def test_an_instruction_edit_model_makes_nothing_from_text(engine, tiny_edit_models):
    with pytest.raises(InputError, match="instruction-edit model"):
        engine.generate_image(ImageRequest(prompt="a bottle", model=str(tiny_edit_models["ip2p"])))


def test_img2img_on_an_instruction_edit_model_is_refused_in_one_line(
    engine, tiny_edit_models, source
):
    with pytest.raises(InputError, match="no image-to-image pipeline"):
        engine.edit(
            EditRequest(
                source=source.outputs[0].asset_id,
                operation="img2img",
                prompt="a bottle",
                model=str(tiny_edit_models["ip2p"]),
            )
        )
