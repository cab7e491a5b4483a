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
        ("qwen-edit", "qwen-image-edit", "QwenImageEditPipeline"),
        ("qwen-edit-plus", "qwen-image-edit-plus", "QwenImageEditPlusPipeline"),
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
    assert record.get("call") == (dict(FAMILIES[family].call) or None)
    assert record["prompt"] == "make the bottle blue" and record["seed"] == 4
    assert (result.output.width, result.output.height) == (image.width, image.height)
    # the model worked at most at the source's size (not at its own 1024² default)
    assert record["base_width"] <= image.width and record["base_height"] <= image.height
    assert record["parents"] == [{"id": image.asset_id, "role": "edit_of"}]


def test_qwen_image_edit_samples_with_its_authors_true_cfg_without_torchvision(
    engine, tiny_edit_models, source
):
    """Qwen-Image-Edit has no guidance input: the tier's guidance is true CFG against the
    authors' blank negative prompt, so its transformer runs twice a step. Its Qwen2.5-VL
    processor loads from the official layout although this machine has no torchvision."""
    from transformers.utils import is_torchvision_available

    assert not is_torchvision_available(), "engine.processors is not exercised with torchvision"
    model = engine.models.get(str(tiny_edit_models["qwen-edit"]))
    assert type(model.pipe.processor).__name__ == "Qwen2VLProcessor"
    texts = []
    hook = model.pipe.transformer.register_forward_hook(
        lambda module, args, kwargs, out: texts.append(kwargs["encoder_hidden_states"]),
        with_kwargs=True,
    )
    try:
        result = engine.edit(
            EditRequest(
                source=source.outputs[0].asset_id,
                operation="refine",
                instruction="make the bottle blue",
                model=str(tiny_edit_models["qwen-edit"]),
                steps=3,
                seed=4,
            )
        )
    finally:
        hook.remove()
    preset = FAMILIES["qwen-image-edit"].tiers["draft"]
    assert len(texts) == 2 * 3  # the instruction's pass and the negative's, every step
    assert not texts[0].shape == texts[1].shape and texts[1].equal(texts[3])
    assert result.output.record["true_cfg_scale"] == preset.guidance == 4.0
    plan = engine.edits._plan(
        EditRequest(source="x", operation="refine", instruction="i", model=model.ref),
        source.outputs[0],
    )
    kwargs = engine.image.prompt_kwargs(plan, ["make the bottle blue"])
    assert kwargs["negative_prompt"] == [" "] and "guidance_scale" not in kwargs


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
