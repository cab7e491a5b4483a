"""Families from evidence and presets from their authors: a folder's family comes from its
pipeline class, its scheduler and its denoiser's config (and, for a few distilled models, a
word in its name), each tested on a tiny random-weight folder saved as the real ones are."""

from __future__ import annotations

import inspect
import json
import shutil

import diffusers
import numpy as np
import pytest
from PIL import Image

from cinedraft import Engine, ImageRequest, InputError, ModelError, Overrides, Settings
from cinedraft.tiers import FAMILIES, VIDEO_FAMILIES, family_for


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    home = tmp_path_factory.mktemp("families")
    return Engine(Settings(home=home, offline=True, device="cpu", provenance=False))


def _facts(pipeline, **more):
    return {"pipeline": pipeline} | more


@pytest.mark.parametrize(
    "facts, ref, family",
    [
        (_facts("StableDiffusionPipeline"), "runwayml/stable-diffusion-v1-5", "sd15"),
        (_facts("StableDiffusionPipeline"), "stabilityai/sd-turbo", "sd-turbo"),
        (_facts("StableDiffusionPipeline", scheduler="LCMScheduler"), "my-lcm", "lcm"),
        (_facts("LatentConsistencyModelPipeline", scheduler="LCMScheduler"), "lcm-v7", "lcm"),
        (_facts("StableDiffusionXLPipeline"), "/models/juggernaut", "sdxl"),
        (_facts("StableDiffusionXLPipeline"), "stabilityai/sdxl-turbo", "sdxl-turbo"),
        (_facts("StableDiffusionXLPipeline"), "/m/sdxl-lightning-4step", "sdxl-lightning"),
        (_facts("StableDiffusionXLPipeline", scheduler="LCMScheduler"), "x", "lcm-sdxl"),
        (_facts("StableDiffusion3Pipeline"), "stabilityai/stable-diffusion-3-medium", "sd3"),
        (_facts("StableDiffusion3Pipeline", qk_norm="rms_norm"), "sd3.5-large", "sd3.5"),
        (
            _facts("StableDiffusion3Pipeline", qk_norm="rms_norm"),
            "sd3.5-large-turbo",
            "sd3.5-turbo",
        ),
        (_facts("FluxPipeline", guidance_embeds=True), "black-forest-labs/FLUX.1-dev", "flux"),
        # schnell from its config, whatever the folder is called
        (_facts("FluxPipeline", guidance_embeds=False), "/models/my-flux", "flux-schnell"),
        (_facts("PixArtSigmaPipeline"), "PixArt-alpha/PixArt-Sigma", None),
        (_facts("QwenImagePipeline"), "Qwen/Qwen-Image", "qwen-image"),
        (_facts("QwenImageEditPipeline"), "Qwen/Qwen-Image-Edit", "qwen-image-edit"),
        (_facts("QwenImageEditPlusPipeline"), "Qwen/Qwen-Image-Edit-2509", "qwen-image-edit-plus"),
    ],
)
def test_the_family_comes_from_the_configs_and_the_name(facts, ref, family):
    found = family_for(facts, ref)
    assert (found.name if found else None) == family


def test_every_preset_names_its_source_and_every_scheduler_exists():
    from cinedraft.engine.schedulers import OWN, SCHEDULERS

    for family in FAMILIES.values():
        assert len(family.source) > 20, family.name
        for tier in family.tiers.values():
            assert tier.scheduler in SCHEDULERS or tier.scheduler == OWN, (family.name, tier)
            assert tier.guidance <= 1 or not family.name.endswith(("turbo", "lightning"))


def test_every_video_family_names_its_source():
    assert all(len(f.source) > 20 for f in VIDEO_FAMILIES.values()), [
        f.name for f in VIDEO_FAMILIES.values() if len(f.source) <= 20
    ]


@pytest.mark.parametrize(
    "pipeline, facts, family, valid",
    [
        # (frames wanted, frames one call makes): CogVideoX 1.0 takes 8N+1, 1.5 16N+1
        ("CogVideoXPipeline", {}, "cogvideox", [(49, 49), (40, 41), (2, 9)]),
        ("CogVideoXPipeline", {"patch_size_t": 2}, "cogvideox-1.5", [(81, 81), (40, 49), (2, 17)]),
        ("LTXPipeline", {"vae_timestep_conditioning": False}, "ltx-video", [(97, 97), (2, 9)]),
        ("LTXPipeline", {"vae_timestep_conditioning": True}, "ltx-video-0.9.1", [(161, 161)]),
    ],
)
def test_video_versions_are_told_apart_and_keep_their_frame_counts(pipeline, facts, family, valid):
    from cinedraft.tiers import video_family_for

    found = video_family_for(pipeline, facts)
    assert found.name == family
    assert [(n, found.frames_for(n)) for n, _ in valid] == valid
    decode = {"decode_timestep": 0.03, "decode_noise_scale": 0.025}
    assert (dict(found.call) == decode) == (family == "ltx-video-0.9.1")


def test_families_that_hold_latents_have_pipelines_that_can_hold_them():
    """Latent conditioning needs ``callback_on_step_end``: a family whose pipeline lacks it
    (ModelScope) must not claim it, or its records would say a conditioning happened that
    did not."""
    for family in VIDEO_FAMILIES.values():
        if family.conditioning != "latents":
            continue
        for name in family.pipelines:
            call = inspect.signature(getattr(diffusers, name).__call__).parameters
            assert "callback_on_step_end" in call, (family.name, name)
    assert VIDEO_FAMILIES["modelscope"].conditioning is None


def test_flux_dev_and_schnell_get_their_authors_presets(engine, tiny_flux):
    draft = {}
    for name, folder in tiny_flux.items():
        request = ImageRequest(prompt="a red jar", model=str(folder), seed=1, width=32, height=32)
        draft[name] = engine.generate_image(request).outputs[0].record
    assert draft["dev"]["family"] == "flux" and draft["schnell"]["family"] == "flux-schnell"
    assert (draft["dev"]["steps"], draft["dev"]["guidance"]) == (28, 3.5)
    assert (draft["schnell"]["steps"], draft["schnell"]["guidance"]) == (4, 0.0)
    assert draft["schnell"]["call"] == {"max_sequence_length": 256}


def test_a_flux_negative_prompt_runs_as_true_cfg_and_is_recorded(engine, tiny_flux):
    """FLUX's guidance is distilled: a negative prompt only acts through a second pass
    (true CFG). It used to be recorded and never passed."""
    model = str(tiny_flux["dev"])
    base = dict(prompt="a red jar", model=model, seed=4, steps=2, width=32, height=32)
    plain = engine.generate_image(ImageRequest(**base)).outputs[0]
    negative = engine.generate_image(ImageRequest(**base, negative_prompt="blue")).outputs[0]
    assert "true_cfg_scale" not in plain.record
    assert negative.record["true_cfg_scale"] == FAMILIES["flux"].true_cfg > 1
    with Image.open(plain.path) as a, Image.open(negative.path) as b:
        diff = np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).mean()
    assert diff > 1.0, "the negative prompt changed nothing"


def test_qwen_image_guides_by_true_cfg_against_a_blank_negative_and_promotes(
    engine, tmp_path_factory
):
    """Qwen-Image's transformer has no guidance input, so a guidance_scale would be ignored
    (under the generic preset it was: no guidance at all). Its authors' guidance is true CFG
    against " ": two transformer passes a step, recorded; a negative prompt replaces " "; the
    production refine goes through Qwen's img2img pipeline with the same guidance."""
    from tests.qwen_layout import save_qwen

    folder = save_qwen(tmp_path_factory.mktemp("models") / "qwen-image", "QwenImagePipeline")
    base = dict(prompt="a red jar", model=str(folder), seed=2, steps=2, width=64, height=64)
    model = engine.models.get(str(folder))
    texts = []
    hook = model.pipe.transformer.register_forward_hook(
        lambda module, args, kwargs, out: texts.append(kwargs["encoder_hidden_states"]),
        with_kwargs=True,
    )
    try:
        draft = engine.generate_image(ImageRequest(**base)).outputs[0]
        engine.generate_image(ImageRequest(**base, negative_prompt="blue, blurry"))
    finally:
        hook.remove()
    assert draft.record["family"] == "qwen-image"
    assert draft.record["true_cfg_scale"] == draft.record["guidance"] == 4.0
    assert len(texts) == 2 * 2 * 2  # two passes a step, two steps, two images
    blank, negative = texts[1], texts[5]
    assert blank.shape[1] < negative.shape[1]  # " " against "blue, blurry"
    unguided = engine.generate_image(ImageRequest(**base, guidance=1.0)).outputs[0]
    assert "true_cfg_scale" not in unguided.record
    prod = engine.promote(draft.asset_id, overrides=Overrides(steps=2), size=(128, 128))
    record = prod.outputs[0].record
    assert record["family"] == "qwen-image" and record["true_cfg_scale"] == 4.0
    assert record["render"]["refine_strength"] > 0 and "upscale_refine" in record["timings"]


def test_a_negative_prompt_a_model_would_ignore_is_refused(engine, tiny_sd, tmp_path):
    turbo = tmp_path / "sd-turbo"
    shutil.copytree(tiny_sd, turbo)
    request = ImageRequest(prompt="a red jar", model=str(turbo), seed=1, negative_prompt="blue")
    with pytest.raises(InputError, match=r"sd-turbo\) samples without classifier-free guidance"):
        engine.generate_image(request)
    # with guidance asked for, it runs; and the distilled preset is used otherwise
    out = engine.generate_image(request.model_copy(update={"guidance": 2.0})).outputs[0]
    assert out.record["family"] == "sd-turbo" and out.record["steps"] == 1


def test_a_folder_with_an_lcm_scheduler_gets_the_lcm_preset(engine, tiny_sd, tmp_path):
    folder = tmp_path / "dreamshaper-lcm"
    shutil.copytree(tiny_sd, folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["scheduler"] = ["diffusers", "LCMScheduler"]
    (folder / "model_index.json").write_text(json.dumps(index))
    config = json.loads((folder / "scheduler" / "scheduler_config.json").read_text())
    (folder / "scheduler" / "scheduler_config.json").write_text(
        json.dumps(config | {"_class_name": "LCMScheduler"})
    )
    out = engine.generate_image(ImageRequest(prompt="a red jar", model=str(folder), seed=1))
    record = out.outputs[0].record
    assert (record["family"], record["steps"], record["guidance"]) == ("lcm", 4, 8.0)
    assert record["sampler"] == "LCM"


def test_a_text_to_image_pipeline_no_family_names_runs_on_the_generic_preset(engine, tiny_pixart):
    """PixArt-Sigma: its own scheduler, no negative prompt passed as None (that was a
    traceback), draft and production."""
    model = str(tiny_pixart)
    draft = engine.generate_image(ImageRequest(prompt="a red jar", model=model, seed=1, steps=2))
    record = draft.outputs[0].record
    assert record["family"] == "generic" and record["scheduler"] == "own"
    assert record["sampler"] == "DDIMScheduler"
    prod = engine.promote(draft.outputs[0].asset_id, overrides=Overrides(steps=2)).outputs[0]
    assert prod.width == 2 * draft.outputs[0].width and prod.record["family"] == "generic"


def test_a_pipeline_that_needs_an_image_is_refused_in_one_line(engine, tiny_sd, tmp_path):
    """An img2img folder (the SDXL refiner's layout) is not a text-to-image model: one clear
    error, not SD 1.5 presets and a traceback."""
    folder = tmp_path / "refiner"
    shutil.copytree(tiny_sd, folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["_class_name"] = "StableDiffusionImg2ImgPipeline"
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(ModelError, match=r"StableDiffusionImg2ImgPipeline: .*needs 'image'"):
        engine.generate_image(ImageRequest(prompt="a red jar", model=str(folder)))


def test_sdxl_production_hands_its_last_steps_to_the_refiner(
    tiny_sdxl, tiny_sdxl_refiner, tiny_sd, tmp_path
):
    """CINEDRAFT_REFINER: production on an SDXL model runs the base to 80 % of its steps and
    the refiner the rest (recorded); drafts and other families never touch it; a folder that
    is not a refiner is one clear error."""
    request = dict(prompt="a red jar", model=str(tiny_sdxl), seed=2, steps=5, width=64, height=64)
    plain = Engine(Settings(home=tmp_path / "a", offline=True, device="cpu", provenance=False))
    refined = Engine(
        Settings(
            home=tmp_path / "b",
            offline=True,
            device="cpu",
            provenance=False,
            refiner=str(tiny_sdxl_refiner),
        )
    )
    prod = ImageRequest(tier="production", **request)
    without = plain.generate_image(prod).outputs[0]
    with_refiner = refined.generate_image(prod).outputs[0]
    assert "refiner" not in without.record
    assert with_refiner.record["refiner"]["model"] == str(tiny_sdxl_refiner)
    assert with_refiner.record["refiner"]["switch"] == 0.8
    with Image.open(without.path) as a, Image.open(with_refiner.path) as b:
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).mean() > 1.0
    draft = refined.generate_image(ImageRequest(**request)).outputs[0]
    assert "refiner" not in draft.record
    wrong = Engine(Settings(home=tmp_path / "c", offline=True, device="cpu", refiner=str(tiny_sd)))
    with pytest.raises(ModelError, match="not an SDXL refiner"):
        wrong.generate_image(prod)


def test_sd3_and_sd3_5_are_told_apart_by_their_transformer(engine, tiny_sd3):
    records = {}
    for name, folder in tiny_sd3.items():
        request = ImageRequest(
            prompt="a red jar", negative_prompt="blue", model=str(folder), seed=1, steps=2
        )
        records[name] = engine.generate_image(request).outputs[0].record
    assert records["sd3"]["family"] == "sd3" and records["sd3"]["guidance"] == 7.0
    assert records["sd3.5"]["family"] == "sd3.5" and records["sd3.5"]["guidance"] == 3.5
    assert records["sd3"]["sampler"] == "Euler" and records["sd3"]["schedule_type"] == "Simple"


def test_sdxl_production_refines_in_tiles_above_1024_unless_told(engine, tiny_sdxl):
    """issue #33: SDXL-class production refines at the sizes the model knows, in tiles above
    them (the family's default, as Ultimate SD Upscale does at low strength); a request can
    turn tiles off or, on the built-in model (whose tiles redraw the subject), on."""
    sdxl = dict(prompt="a red jar", model=str(tiny_sdxl), tier="production")
    big = dict(width=2048, height=2048)
    plan = engine.image.plan(ImageRequest(**sdxl, **big), None, None)
    assert plan.tier.refine_tiled and plan.tier.refine_max_side == 1024
    off = engine.image.plan(ImageRequest(**sdxl, **big, tiled_refine=False), None, None)
    assert not off.tier.refine_tiled
    builtin = engine.image.plan(ImageRequest(prompt="a red jar", tier="production"), None, None)
    assert not builtin.tier.refine_tiled
    asked = ImageRequest(prompt="a red jar", tier="production", tiled_refine=True)
    assert engine.image.plan(asked, None, None).tier.refine_tiled


@pytest.mark.parametrize("family", ["sd15", "sdxl", "flux"])
def test_weights_in_either_syntax_encode_alike_on_every_family_compel_serves(
    engine, tiny_sd, tiny_sdxl, tiny_flux, family
):
    """compel's three wrappers (SD, SDXL with its pooled embedding, FLUX's CLIP and T5): the
    same weights written as A1111 writes them give the same pixels, and do change them."""
    folder = {"sd15": tiny_sd, "sdxl": tiny_sdxl, "flux": tiny_flux["dev"]}[family]
    base = dict(model=str(folder), seed=2, steps=2, width=32, height=32)

    def pixels(prompt: str) -> np.ndarray:
        out = engine.generate_image(ImageRequest(prompt=prompt, **base)).outputs[0]
        assert out.record["family"] == family
        with Image.open(out.path) as im:
            return np.asarray(im.convert("RGB"), dtype=int)

    a1111 = pixels("a (red jar:1.8) on a table")
    assert np.array_equal(a1111, pixels("a (red jar)1.8 on a table"))
    assert np.abs(a1111 - pixels("a red jar on a table")).mean() > 0.5


def test_a_bare_bracket_is_text_on_flux(engine, tiny_flux):
    """FLUX's prompts are sentences for T5: "(glass)" is encoded as written, as before A1111's
    syntax was read; an explicit weight still weighs."""
    base = dict(model=str(tiny_flux["dev"]), seed=2, steps=1, width=32, height=32)
    out = engine.generate_image(ImageRequest(prompt="a jar (glass) on a table", **base))
    assert out.outputs[0].record["family"] == "flux"
    plan = engine.image.plan(ImageRequest(prompt="a jar (glass) on a table", **base), None, None)
    assert "prompt" in engine.image.prompt_kwargs(plan, ["a jar (glass) on a table"])
    assert "prompt_embeds" in engine.image.prompt_kwargs(plan, ["a jar (glass:1.3) on a table"])


@pytest.mark.parametrize("family", ["flux", "sd3"])
def test_an_escaped_bracket_reaches_an_encoder_that_reads_brackets_as_text_as_a_bracket(
    engine, tiny_flux, tiny_sd3, family
):
    """``\\(`` is A1111's bracket meant as text (a catalogue escapes its products' names so);
    where the prompt goes to the pipeline as written, the backslash is not a character."""
    folder = {"flux": tiny_flux["dev"], "sd3": tiny_sd3["sd3"]}[family]
    request = ImageRequest(
        prompt="a jar \\(250 ml\\) on a table",
        negative_prompt="\\[blurry\\]",
        model=str(folder),
        seed=2,
        steps=1,
        width=32,
        height=32,
    )
    plan = engine.image.plan(request, None, None)
    kwargs = engine.image.prompt_kwargs(plan, [request.prompt])
    assert kwargs["prompt"] == ["a jar (250 ml) on a table"]
    assert kwargs["negative_prompt"] == ["[blurry]"]


def test_weights_are_refused_on_a_family_compel_cannot_encode_for(engine, tiny_sd3):
    base = dict(model=str(tiny_sd3["sd3"]), seed=2, steps=1, width=32, height=32)
    assert engine.generate_image(ImageRequest(prompt="a jar (glass) on a table", **base))
    with pytest.raises(InputError, match="weighting is not supported for sd3"):
        engine.generate_image(ImageRequest(prompt="a (glass:1.3) jar", **base))


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_words_past_the_encoders_window_count_on_sd_and_sdxl(engine, tiny_sd, tiny_sdxl, family):
    """A1111 and ComfyUI encode a long prompt in windows of the encoder's length and join
    them; the pipeline's own encoding cut it at the window, so its last words did nothing
    (the tiny encoders' window is 32 tokens; real ones 77)."""
    folder = {"sd15": tiny_sd, "sdxl": tiny_sdxl}[family]
    base = dict(model=str(folder), seed=2, steps=2, width=32, height=32)
    start = "a red jar on a table, " * 8  # past the window

    def pixels(prompt: str) -> np.ndarray:
        with Image.open(
            engine.generate_image(ImageRequest(prompt=prompt, **base)).outputs[0].path
        ) as im:
            return np.asarray(im.convert("RGB"), dtype=int)

    assert np.abs(pixels(start + "a blue ball") - pixels(start + "a green box")).mean() > 0.5


def test_the_builtin_model_cuts_every_prompt_at_its_window(engine):
    """The built-in model learnt from one 32-token window: a weighted prompt is cut there as
    a plain one is (compel had encoded it in two windows, which drew another object)."""
    long = "a red bottle on a glass table in the center with studio lighting, " * 4
    base = dict(seed=1, steps=4)

    def pixels(prompt: str) -> np.ndarray:
        with Image.open(
            engine.generate_image(ImageRequest(prompt=prompt, **base)).outputs[0].path
        ) as im:
            return np.asarray(im.convert("RGB"), dtype=int)

    assert np.array_equal(
        pixels(long), pixels(long.replace("studio lighting", "(studio)1 lighting", 1))
    )


@pytest.mark.parametrize("family", ["sd15", "sdxl"])
def test_a_weight_of_one_changes_nothing(engine, tiny_sd, tiny_sdxl, family):
    """compel's encoding of unweighted words is the pipeline's own: SDXL's empty negative is
    zeros there (force_zeros_for_empty_prompt), so compel's must be too, not the encoding
    of an empty prompt."""
    folder = {"sd15": tiny_sd, "sdxl": tiny_sdxl}[family]
    base = dict(model=str(folder), seed=2, steps=2, width=32, height=32)
    images = []
    for prompt in ("a red jar on a table", "a (red jar)1 on a table", "a (red jar:1) on a table"):
        out = engine.generate_image(ImageRequest(prompt=prompt, **base)).outputs[0]
        with Image.open(out.path) as im:
            images.append(np.asarray(im.convert("RGB"), dtype=int))
    assert np.abs(images[0] - images[1]).max() <= 1 and np.array_equal(images[1], images[2])


def test_the_sdxl_refiner_is_given_the_weights_too(tiny_sdxl, tiny_sdxl_refiner, tmp_path):
    """The refiner encoded the prompt as text, brackets and numbers as words."""
    engine = Engine(
        Settings(
            home=tmp_path,
            offline=True,
            device="cpu",
            provenance=False,
            refiner=str(tiny_sdxl_refiner),
        )
    )
    base = dict(model=str(tiny_sdxl), seed=2, steps=5, width=64, height=64, tier="production")
    images = []
    for prompt in ("a (red jar:1.8) on a table", "a (red jar)1.8 on a table"):
        out = engine.generate_image(ImageRequest(prompt=prompt, **base)).outputs[0]
        assert out.record["refiner"]
        with Image.open(out.path) as im:
            images.append(np.asarray(im.convert("RGB"), dtype=int))
    assert np.array_equal(images[0], images[1])


def test_clip_skip_reads_the_next_to_last_layer_as_a1111_does(engine, tiny_sd, tmp_path):
    """A1111's Clip skip 2 (what most anime SD 1.x models were trained with) changes the
    image, 1 does not; weights still weigh; the record and the A1111 text say it, and a
    promotion and a re-render keep it."""
    from cinedraft.media.metadata import read_metadata

    base = dict(model=str(tiny_sd), seed=2, steps=2, width=32, height=32)

    def draw(prompt: str, **extra) -> tuple[dict, np.ndarray]:
        out = engine.generate_image(ImageRequest(prompt=prompt, **base, **extra)).outputs[0]
        with Image.open(out.path) as im:
            return out, np.asarray(im.convert("RGB"), dtype=int)

    _, last = draw("a red jar on a table")
    out, skipped = draw("a red jar on a table", clip_skip=2)
    assert np.abs(skipped - last).mean() > 0.5 and out.record["clip_skip"] == 2
    _, weighted = draw("a (red jar)1.5 on a table", clip_skip=2)
    assert np.abs(weighted - skipped).mean() > 0.5  # weights still weigh
    _, one = draw("a red jar on a table", clip_skip=1)
    assert np.array_equal(one, last)  # A1111's 1 is the last layer: no change
    assert "Clip skip: 2" in read_metadata(out.path)["parameters"]
    promoted = engine.promote(out.asset_id, overrides=Overrides(steps=2))
    assert promoted.outputs[0].record["clip_skip"] == 2
    again = engine.rerender(out.asset_id)
    assert again.output.record["clip_skip"] == 2 and again.identical


def test_clip_skip_is_a1111s_layer(engine, tiny_sd):
    """The embeddings are A1111's: the encoder's hidden state ``skip`` layers from the end,
    through its final layer norm (sd_hijack_clip.py), computed here from transformers alone.
    More layers than the encoder has is refused."""
    import torch

    from cinedraft.engine.prompts import weighted_embeddings

    skip = 2
    with pytest.raises(InputError, match="text encoder has 2 layers"):
        engine.image.plan(ImageRequest(prompt="a", model=str(tiny_sd), clip_skip=3), None, None)
    request = ImageRequest(prompt="a red jar", model=str(tiny_sd), clip_skip=skip)
    plan = engine.image.plan(request, None, None)
    pipe = plan.model.pipe
    got = weighted_embeddings(pipe, plan.model.family, ["a red jar"], "", skip)["prompt_embeds"]
    ids = pipe.tokenizer(
        ["a red jar"], padding="max_length", max_length=pipe.tokenizer.model_max_length
    ).input_ids
    with torch.no_grad():
        states = pipe.text_encoder(torch.tensor(ids), output_hidden_states=True).hidden_states
        norm = getattr(pipe.text_encoder, "text_model", pipe.text_encoder).final_layer_norm
        want = norm(states[-skip])
    assert torch.allclose(got, want, atol=1e-5)
    plain = weighted_embeddings(pipe, plan.model.family, ["a red jar"], "")["prompt_embeds"]
    assert not torch.allclose(got, plain, atol=1e-3)


def test_clip_skip_is_sdxls_own_reading_at_2_and_refused_where_it_means_nothing(
    engine, tiny_sdxl, tiny_flux
):
    """SDXL reads its encoders' next-to-last layer already (A1111 and ComfyUI alike), so an
    A1111 SDXL image's "Clip skip: 2" changes nothing; FLUX has no such setting."""
    base = dict(prompt="a red jar", seed=2, steps=1, width=32, height=32)
    plain = engine.generate_image(ImageRequest(model=str(tiny_sdxl), **base)).outputs[0]
    two = engine.generate_image(ImageRequest(model=str(tiny_sdxl), clip_skip=2, **base)).outputs[0]
    assert two.record.get("clip_skip") is None
    with Image.open(plain.path) as a, Image.open(two.path) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))
    for folder, skip in ((tiny_sdxl, 3), (tiny_flux["dev"], 2)):
        with pytest.raises(InputError, match=f"clip skip {skip} is for SD 1.x and 2.x"):
            engine.generate_image(ImageRequest(model=str(folder), clip_skip=skip, **base))
