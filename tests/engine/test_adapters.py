"""LoRAs, textual-inversion embeddings and VAE swaps on a tiny SD model: each changes the
image, a LoRA's weight scales its change, nothing stays on the cached pipeline after the
request, and ``rerender`` applies the same files again, pixel for pixel."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from cinedraft import (
    Engine,
    ImageRequest,
    InputError,
    ModelError,
    Settings,
    UnsafeModelError,
)
from cinedraft.engine.adapters import adapters_of
from cinedraft.media.metadata import read_metadata
from cinedraft.request import Lora


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    home = tmp_path_factory.mktemp("adapters-home")
    return Engine(Settings(home=home, offline=True, device="cpu"))


def _draw(engine, model, **fields):
    request = dict(prompt="a red jar on a table", model=str(model), seed=3, steps=2) | fields
    out = engine.generate_image(ImageRequest(**request)).outputs[0]
    with Image.open(out.path) as im:
        return out, np.asarray(im.convert("RGB"), dtype=np.int16)


def test_a_lora_changes_the_image_by_its_weight_and_leaves_nothing_behind(
    engine, tiny_sd, tiny_sd_adapters
):
    _, before = _draw(engine, tiny_sd)
    lora = str(tiny_sd_adapters["lora"])
    full_out, full = _draw(engine, tiny_sd, loras=[Lora(ref=lora, weight=1.0)])
    _, half = _draw(engine, tiny_sd, loras=[Lora(ref=lora, weight=0.5)])
    _, after = _draw(engine, tiny_sd)
    change_full, change_half = np.abs(full - before).mean(), np.abs(half - before).mean()
    assert change_full > 2.0 and 0 < change_half < change_full
    assert np.array_equal(after, before), "the LoRA stayed on the cached pipeline"
    # turned off, not unloaded: the same file again is fused without loading it (loading
    # was most of a LoRA's cost), and draws what it drew
    pipe = engine.models.get(str(tiny_sd)).pipe
    loads = []
    load = pipe.load_lora_weights
    pipe.load_lora_weights = lambda *a, **k: loads.append(1) or load(*a, **k)
    try:
        _, again = _draw(engine, tiny_sd, loras=[Lora(ref=lora, weight=1.0)])
    finally:
        del pipe.load_lora_weights
    assert loads == [] and np.array_equal(again, full)
    (adapter,) = full_out.record["adapters"]
    assert (adapter["kind"], adapter["weight"], adapter["source"]) == ("lora", 1.0, "option")
    assert len(adapter["sha256"]) == 64
    # the C2PA manifest names the LoRA and the model that ran, by their SHA-256
    inputs = {
        i["title"]: i["instance_id"]
        for i in engine.library.verify(full_out.path).manifest["ingredients"]
        if i["relationship"] == "inputTo"
    }
    assert inputs == {
        tiny_sd.name: f"sha256:{full_out.record['model_hash']}",
        "lora.safetensors": f"sha256:{adapter['sha256']}",
    }
    # kohya's key names load to the same weights
    _, kohya = _draw(engine, tiny_sd, loras=[Lora(ref=str(tiny_sd_adapters["kohya"]))])
    assert np.abs(kohya - full).mean() < 1.0


def test_taking_a_lora_off_restores_the_weights_bit_for_bit(engine, tiny_sd, tiny_sd_adapters):
    """After LoRA requests, the model's own weights are exactly what they were: peft's unfuse
    subtracts the LoRA again, which left rounding errors (the next image without it differed
    in 3.8 % of its pixels on one thread) that add up request after request."""
    import torch

    def own_weights():
        pipe = engine.models.get(str(tiny_sd)).pipe
        return {
            f"{part}.{name.replace('.base_layer', '')}": p.detach().clone()
            for part in ("unet", "text_encoder")
            for name, p in getattr(pipe, part).named_parameters()
            if "lora_" not in name
        }

    _draw(engine, tiny_sd)
    before = own_weights()
    lora = str(tiny_sd_adapters["lora"])
    for weight in (1.0, 0.5, 1.0):
        _draw(engine, tiny_sd, loras=[Lora(ref=lora, weight=weight)])
    _draw(engine, tiny_sd)
    after = own_weights()
    assert after.keys() == before.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert not changed, changed[:5]


def test_a_prompt_tag_finds_the_lora_in_the_models_folder(engine, tiny_sd, tiny_sd_adapters):
    loras = engine.settings.models_root / "loras"
    loras.mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_sd_adapters["lora"], loras / "inkwash.safetensors")
    tagged, tagged_px = _draw(engine, tiny_sd, prompt="a red jar on a table <lora:inkwash:0.5>")
    option = Lora(ref=str(tiny_sd_adapters["lora"]), weight=0.5)
    _, option_px = _draw(engine, tiny_sd, loras=[option])
    assert np.array_equal(tagged_px, option_px)
    assert tagged.record["prompt"] == "a red jar on a table"  # the tag is not text
    assert tagged.record["adapters"][0]["source"] == "prompt"
    text = read_metadata(tagged.path)["parameters"]
    sha = tagged.record["adapters"][0]["sha256"][:12]
    assert "a red jar on a table <lora:inkwash:0.5>" in text
    assert f'Lora hashes: "inkwash: {sha}"' in text
    with pytest.raises(InputError, match="inside a {wildcard}"):
        engine.generate_image(
            ImageRequest(prompt="{a <lora:inkwash:1>|b} jar", template=True, model=str(tiny_sd))
        )


def test_a_name_means_the_models_folders_file_whatever_the_working_folder_holds(
    tmp_path, monkeypatch, tiny_sd_adapters
):
    """A LoRA, embedding or VAE option is a path or a name in the models folder; a name was
    tried as a path first, so a file of that name in the working folder won: for the
    server, whose API takes names only, a file outside the models folder."""
    models = tmp_path / "models"
    (models / "loras").mkdir(parents=True)
    shutil.copy(tiny_sd_adapters["lora"], models / "loras" / "inkwash.safetensors")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    shutil.copy(tiny_sd_adapters["kohya"], elsewhere / "inkwash.safetensors")
    monkeypatch.chdir(elsewhere)
    request = ImageRequest(prompt="a jar", loras=[Lora(ref="inkwash.safetensors")])
    (adapter,) = adapters_of(request, models)
    assert adapter.path == (models / "loras" / "inkwash.safetensors").resolve()
    # a file that is not in the models folder is still taken by its path (the CLI's --lora)
    request = ImageRequest(prompt="a jar", loras=[Lora(ref="./inkwash.safetensors")])
    (adapter,) = adapters_of(request, models)
    assert adapter.path == (elsewhere / "inkwash.safetensors").resolve()


def test_rerender_applies_the_same_lora_and_refuses_a_changed_file(
    engine, tiny_sd, tiny_sd_adapters, tmp_path
):
    _, before = _draw(engine, tiny_sd)
    lora = tmp_path / "mine.safetensors"
    shutil.copy(tiny_sd_adapters["lora"], lora)
    out, _ = _draw(engine, tiny_sd, loras=[Lora(ref=str(lora), weight=0.8)])
    again = engine.rerender(out.asset_id)
    assert again.identical and again.max_abs_diff == 0
    # Another file written over the same name while the LoRA is still on the pipeline: the
    # rerender is refused, and taking the old LoRA off still restores the model exactly
    # (its tensors were read into memory, not mapped from the file that changed).
    shutil.copy(tiny_sd_adapters["kohya"], lora)
    with pytest.raises(InputError, match="changed since"):
        engine.rerender(out.asset_id)
    _, after = _draw(engine, tiny_sd)
    assert np.array_equal(after, before)


def test_an_embedding_and_a_vae_apply_and_come_off(engine, tiny_sd, tiny_sd_adapters):
    _, before = _draw(engine, tiny_sd, prompt="a shiny jar")
    emb = str(tiny_sd_adapters["embedding"])
    out, shiny = _draw(engine, tiny_sd, prompt="a shiny jar", embeddings=[emb])
    assert out.record["adapters"][0]["kind"] == "embedding"
    assert np.abs(shiny - before).mean() > 1.0
    _, bright = _draw(engine, tiny_sd, prompt="a shiny jar", vae=str(tiny_sd_adapters["vae"]))
    assert bright.mean() > before.mean() + 5
    _, after = _draw(engine, tiny_sd, prompt="a shiny jar")
    assert np.array_equal(after, before)


def test_tags_as_a1111_and_comfyui_users_write_them_load_what_they_name(
    engine, tiny_sd, tiny_sd_adapters
):
    """A1111's ``<lyco:>`` (its alias of ``<lora:>``) and a weight given for the text encoder
    and the denoiser alike; ComfyUI's ``embedding:name`` (with its file's extension, as
    ComfyUI's own prompts often have it): the same pixels as the options. Each was encoded
    as words before."""
    folder = engine.settings.models_root
    (folder / "loras").mkdir(parents=True, exist_ok=True)
    (folder / "embeddings").mkdir(parents=True, exist_ok=True)
    shutil.copy(tiny_sd_adapters["lora"], folder / "loras" / "inkwash.safetensors")
    shutil.copy(tiny_sd_adapters["embedding"], folder / "embeddings" / "shiny.safetensors")
    option = Lora(ref=str(tiny_sd_adapters["lora"]), weight=0.5)
    _, by_option = _draw(engine, tiny_sd, loras=[option])
    for tag in ("<lyco:inkwash:0.5>", "<lora:inkwash:0.5:0.5>", "<lora:inkwash:te=0.5:unet=.5>"):
        out, by_tag = _draw(engine, tiny_sd, prompt=f"a red jar on a table {tag}")
        assert np.array_equal(by_tag, by_option) and out.record["prompt"] == "a red jar on a table"
    emb = str(tiny_sd_adapters["embedding"])
    _, by_option = _draw(engine, tiny_sd, prompt="a shiny jar", embeddings=[emb])
    out, by_word = _draw(engine, tiny_sd, prompt="a embedding:shiny.pt jar")
    assert np.array_equal(by_word, by_option)
    assert out.record["adapters"][0]["kind"] == "embedding"
    # and the file says so to A1111: the word names it, the hash lists it
    sha = out.record["adapters"][0]["sha256"][:12]
    assert f'TI hashes: "shiny: {sha}"' in read_metadata(out.path)["parameters"]


def test_a_vae_kept_as_one_file_swaps_in_as_its_folder_does(
    engine, tiny_sd, tiny_sd_adapters, tmp_path
):
    """issue #33: ``--vae FILE`` (``vae-ft-mse-840000-ema-pruned.safetensors``, A1111's
    layout: the original names) and a file in diffusers' names draw what the same VAE as a
    folder draws; a file that is no VAE is one clear error."""
    import json

    from safetensors.torch import load_file, save_file

    from tests.ldm_layout import vae_to_ldm

    folder = tiny_sd_adapters["vae"]
    state = load_file(next(folder.glob("*.safetensors")))
    levels = len(json.loads((folder / "config.json").read_text())["block_out_channels"])
    ldm = tmp_path / "vae-ft-mse.safetensors"
    save_file({k: v.contiguous() for k, v in vae_to_ldm(state, levels).items()}, str(ldm))
    named = tmp_path / "bright-vae.safetensors"
    shutil.copy(next(folder.glob("*.safetensors")), named)
    _, from_folder = _draw(engine, tiny_sd, vae=str(folder))
    out, from_ldm = _draw(engine, tiny_sd, vae=str(ldm))
    _, from_named = _draw(engine, tiny_sd, vae=str(named))
    assert np.array_equal(from_ldm, from_folder) and np.array_equal(from_named, from_folder)
    assert out.record["adapters"][0]["kind"] == "vae"
    with pytest.raises(ModelError, match="is not a VAE"):
        _draw(engine, tiny_sd, vae=str(tiny_sd_adapters["lora"]))


def test_a_speed_lora_brings_its_authors_preset(engine, tiny_sd, tiny_sd_adapters, tmp_path):
    speed = tmp_path / "lcm-lora-sdv1-5.safetensors"
    shutil.copy(tiny_sd_adapters["lora"], speed)
    request = ImageRequest(
        prompt="a red jar", model=str(tiny_sd), seed=1, loras=[Lora(ref=str(speed))]
    )
    record = engine.generate_image(request).outputs[0].record
    assert (record["steps"], record["guidance"], record["scheduler"]) == (4, 1.0, "lcm")


def test_a_step_count_in_a_speed_loras_name_is_its_steps():
    """The authors ship one file per step count; the count in the name is the one to sample
    with. A recipe is only put on a model of its kind: noise prediction or flow matching."""
    from cinedraft.tiers import speed_lora

    def picked(name, family="sdxl", flow=False):
        found = speed_lora(name, family, flow)
        return found and (found[0].scheduler, found[1], found[0].guidance_for(found[1]))

    assert picked("sdxl_lightning_8step_lora.safetensors") == ("euler-trailing", 8, 0.0)
    assert picked("sdxl_lightning_2step_lora.safetensors") == ("euler-trailing", 2, 0.0)
    assert picked("Hyper-SDXL-4steps-lora.safetensors") == ("ddim-trailing", 4, 0.0)
    # the CFG-preserved ones are sampled with guidance (and take a negative prompt)
    assert picked("Hyper-SDXL-12steps-CFG-lora.safetensors") == ("ddim-trailing", 12, 5.0)
    assert picked("Hyper-SD15-8steps-CFG-lora.safetensors", "sd15") == ("ddim-trailing", 8, 5.0)
    assert picked("lcm-lora-sdxl.safetensors") == ("lcm", 4, 1.0)
    qwen = picked("Qwen-Image-Lightning-8steps-V1.0.safetensors", "qwen-image", True)
    assert qwen == ("flow-euler-shift3", 8, 1.0)
    edit = ("Qwen-Image-Edit-2509-Lightning-4steps-V1.0-bf16.safetensors", "qwen-image-edit-plus")
    assert picked(*edit, True) == ("flow-euler-shift3", 4, 1.0)
    # Hyper-SD's FLUX.1-dev LoRAs at FLUX.1-dev's guidance; its SD 3 CFG LoRAs at the guidance
    # their card gives each count (both fused at 0.125: test below)
    assert picked("Hyper-FLUX.1-dev-8steps-lora.safetensors", "flux", True) == (
        "flow-euler",
        8,
        3.5,
    )
    assert picked("Hyper-FLUX.1-dev-16steps-lora.safetensors", "flux", True)[1] == 16
    for steps, guidance in ((4, 3.0), (8, 5.0), (16, 7.0)):
        name = f"Hyper-SD3-{steps}steps-CFG-lora.safetensors"
        assert picked(name, "sd3", True) == ("flow-euler", steps, guidance)
    # made for FLUX.1-dev and SD 3 medium: not put on schnell or SD 3.5
    assert picked("Hyper-FLUX.1-dev-8steps-lora.safetensors", "flux-schnell", True) is None
    assert picked("Hyper-SD3-8steps-CFG-lora.safetensors", "sd3.5", True) is None
    # no recipe of its kind: the tier stays (no sampler the model cannot run)
    assert picked("some-lightning-lora.safetensors", "flux", True) is None
    assert picked("lcm-lora.safetensors", "qwen-image", True) is None
    assert picked("watercolour-style.safetensors") is None


def test_a_lightning_lora_on_qwen_image_samples_as_its_authors_do(engine, tmp_path_factory):
    """Qwen-Image-Lightning on Qwen-Image: before, the SDXL-Lightning recipe was put on it and
    the request failed on a sampler the user never asked for ("euler-trailing does not fit
    this model"). Now: the file's 4 steps, true CFG off (one transformer pass a step), and
    Euler flow matching at the shift of its distillation."""
    import math

    import torch
    from diffusers import QwenImagePipeline, QwenImageTransformer2DModel
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    from tests.qwen_layout import save_qwen

    root = tmp_path_factory.mktemp("qwen-lightning")
    folder = save_qwen(root / "qwen-image", "QwenImagePipeline")
    transformer = QwenImageTransformer2DModel.from_pretrained(folder / "transformer")
    torch.manual_seed(1)
    targets = ["to_q", "to_k", "to_v"]
    transformer.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=targets))
    state = get_peft_model_state_dict(transformer)
    QwenImagePipeline.save_lora_weights(root / "lora", transformer_lora_layers=state)
    lora = root / "Qwen-Image-Lightning-4steps-V1.0.safetensors"
    shutil.copy(root / "lora" / "pytorch_lora_weights.safetensors", lora)

    model = engine.models.get(str(folder))
    passes = []
    hook = model.pipe.transformer.register_forward_hook(lambda *_: passes.append(1))
    try:
        request = ImageRequest(
            prompt="a red jar",
            model=str(folder),
            seed=1,
            width=64,
            height=64,
            loras=[Lora(ref=str(lora))],
        )
        record = engine.generate_image(request).outputs[0].record
    finally:
        hook.remove()
    assert (record["steps"], record["guidance"], record["scheduler"]) == (
        4,
        1.0,
        "flow-euler-shift3",
    )
    assert "true_cfg_scale" not in record and len(passes) == 4
    config = model.pipe.scheduler.config
    assert config.base_shift == config.max_shift == pytest.approx(math.log(3))
    assert config.shift_terminal is None


def test_bad_adapters_are_one_clear_error_and_leave_the_model_clean(
    engine, tiny_sd, tiny_sdxl, tiny_sd_adapters, tmp_path
):
    _, before = _draw(engine, tiny_sd)
    pickle = tmp_path / "old.pt"
    pickle.write_bytes(b"\x80\x04")
    with pytest.raises(UnsafeModelError, match="pickle"):
        _draw(engine, tiny_sd, loras=[Lora(ref=str(pickle))])
    with pytest.raises(ModelError, match="no LoRA file 'nowhere'"):
        _draw(engine, tiny_sd, loras=[Lora(ref="nowhere")])
    # an SD 1.5 LoRA on an SDXL model: its layers are not there
    with pytest.raises(ModelError, match="does not fit"):
        _draw(engine, tiny_sdxl, loras=[Lora(ref=str(tiny_sd_adapters["lora"]))])
    _, after = _draw(engine, tiny_sd)
    assert np.array_equal(after, before)
    # nothing of the failed load is left in the SDXL model: peft had injected its layers
    # (32 here) before the weights did not fit, and named no adapter, so they stayed
    from peft.tuners.tuners_utils import BaseTunerLayer

    sdxl = engine.models.get(str(tiny_sdxl), kind="image").pipe
    left = [
        name
        for name, part in sdxl.components.items()
        if isinstance(part, torch.nn.Module)
        and any(isinstance(m, BaseTunerLayer) for m in part.modules())
    ]
    assert left == []


def test_lora_option_parsing():
    assert Lora.parse("style.safetensors:0.7") == Lora(ref="style.safetensors", weight=0.7)
    assert Lora.parse("style.safetensors") == Lora(ref="style.safetensors", weight=None)
    assert Lora.parse("C:/x/style.safetensors") == Lora(ref="C:/x/style.safetensors")


def _lora_for(folder, out):
    """A random LoRA over the attention projections of ``folder``'s denoiser, saved the way
    its pipeline's trainers save one (diffusers' format)."""
    import torch
    from diffusers import DiffusionPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = DiffusionPipeline.from_pretrained(folder)
    denoiser = "transformer" if hasattr(pipe, "transformer") else "unet"
    torch.manual_seed(2)
    getattr(pipe, denoiser).add_adapter(
        LoraConfig(
            r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False
        )
    )
    layers = get_peft_model_state_dict(getattr(pipe, denoiser))
    type(pipe).save_lora_weights(out, **{f"{denoiser}_lora_layers": layers})
    return out / "pytorch_lora_weights.safetensors"


@pytest.mark.parametrize("fixture", ["tiny_sdxl", "tiny_flux"])
def test_sdxl_and_flux_loras_apply_and_come_off(request, engine, tmp_path, fixture):
    folder = request.getfixturevalue(fixture)
    folder = folder["dev"] if isinstance(folder, dict) else folder
    lora = _lora_for(folder, tmp_path / "lora")
    size = dict(width=32, height=32)
    _, before = _draw(engine, folder, **size)
    out, styled = _draw(engine, folder, loras=[Lora(ref=str(lora))], **size)
    _, after = _draw(engine, folder, **size)
    assert np.abs(styled - before).mean() > 1.0 and out.record["adapters"][0]["kind"] == "lora"
    assert np.array_equal(after, before)


@pytest.mark.parametrize(
    "fixture, name, steps, guidance",
    [
        ("tiny_flux", "Hyper-FLUX.1-dev-8steps-lora", 8, 3.5),
        ("tiny_sd3", "Hyper-SD3-4steps-CFG-lora", 4, 3.0),
    ],
)
def test_hyper_sd_on_flux_and_sd3_is_fused_at_its_authors_scale(
    request, engine, tmp_path, fixture, name, steps, guidance
):
    """Hyper-SD's FLUX.1-dev and SD 3 LoRAs are fused at 0.125 by their authors (at 1, 8
    times the change they were made for); before, they were fused at 1 and sampled at the
    tier's steps. Without a weight they now get the card's scale, steps and guidance; a
    weight the user gives wins."""
    folder = request.getfixturevalue(fixture)
    folder = folder["dev"] if fixture == "tiny_flux" else folder["sd3"]
    lora = tmp_path / f"{name}.safetensors"
    shutil.copy(_lora_for(folder, tmp_path / "lora"), lora)
    size = dict(width=32, height=32, steps=None)  # the recipe's steps
    out, recipe = _draw(engine, folder, loras=[Lora.parse(str(lora))], **size)
    record = out.record
    assert (record["steps"], record["guidance"]) == (steps, guidance)
    assert record["scheduler"] == "flow-euler" and record["adapters"][0]["weight"] == 0.125
    _, scaled = _draw(engine, folder, loras=[Lora.parse(f"{lora}:0.125")], **size)
    assert np.array_equal(scaled, recipe)
    full_out, full = _draw(engine, folder, loras=[Lora.parse(f"{lora}:1")], **size)
    assert full_out.record["adapters"][0]["weight"] == 1.0
    assert np.abs(full - recipe).mean() > 1.0
    # a tag without a weight is the same as the option without one
    (engine.settings.models_root / "loras").mkdir(parents=True, exist_ok=True)
    shutil.copy(lora, engine.settings.models_root / "loras" / lora.name)
    tagged, by_tag = _draw(engine, folder, prompt=f"a red jar on a table <lora:{name}>", **size)
    assert tagged.record["adapters"][0]["weight"] == 0.125 and np.array_equal(by_tag, recipe)


def test_an_embedding_of_several_vectors_is_whole_in_a_weighted_prompt(engine, tiny_sd, tmp_path):
    """A1111's embeddings usually hold several vectors; a weighted (or long) prompt goes
    through compel, which took only the first of them unless told how the pipeline spreads
    the token: the weight of one must give the plain prompt's image."""
    from safetensors.torch import save_file

    torch.manual_seed(5)
    path = tmp_path / "glossy.safetensors"
    save_file({"emb_params": torch.randn(3, 32) * 2}, str(path))
    _, plain = _draw(engine, tiny_sd, prompt="a glossy jar", embeddings=[str(path)])
    _, weighted = _draw(engine, tiny_sd, prompt="a (glossy)1 jar", embeddings=[str(path)])
    _, strong = _draw(engine, tiny_sd, prompt="a (glossy)1.5 jar", embeddings=[str(path)])
    assert np.abs(plain - weighted).max() <= 1
    assert np.abs(plain - strong).mean() > 0.5


def test_taking_an_embedding_off_leaves_weighted_prompts_as_they_were(
    tiny_sd, tiny_sd_adapters, tmp_path
):
    """diffusers' unloading rebuilt the tokenizer without its decode wrapper, so every later
    weighted (or long) prompt, which compel decodes and re-encodes, drew something else;
    a request with a LoRA alone unloaded embeddings too. (A fresh engine: the model as
    loaded from disk.)"""
    engine = Engine(Settings(home=tmp_path, offline=True, device="cpu", provenance=False))
    _, before = _draw(engine, tiny_sd, prompt="a (glossy)1.2 jar")
    _draw(engine, tiny_sd, embeddings=[str(tiny_sd_adapters["embedding"])])
    _draw(engine, tiny_sd, loras=[Lora(ref=str(tiny_sd_adapters["lora"]), weight=1.0)])
    _, after = _draw(engine, tiny_sd, prompt="a (glossy)1.2 jar")
    assert np.array_equal(before, after)


@pytest.mark.parametrize(
    "kind, tensors",
    [
        (
            "LoHa",
            {
                "hada_w1_a": (32, 4),
                "hada_w1_b": (4, 32),
                "hada_w2_a": (32, 4),
                "hada_w2_b": (4, 32),
            },
        ),
        ("LoKr", {"lokr_w1": (4, 4), "lokr_w2": (8, 8)}),
    ],
)
def test_a_lycoris_file_diffusers_cannot_read_is_named_for_what_it_is(
    engine, tiny_sd, tmp_path, kind, tensors
):
    """Civitai's LyCORIS LoHa and LoKr files were "does not fit the model" followed by every
    tensor name diffusers could not rename (a screenful): the file fits, the reader does not."""
    from safetensors.torch import save_file

    module = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q"
    path = tmp_path / "style.safetensors"
    weights = {f"{module}.{name}": torch.randn(*shape) for name, shape in tensors.items()}
    save_file(weights | {f"{module}.alpha": torch.tensor(4.0)}, str(path))
    _, before = _draw(engine, tiny_sd)
    with pytest.raises(ModelError) as caught:
        _draw(engine, tiny_sd, loras=[Lora(ref=str(path))])
    message = str(caught.value)
    assert f"style.safetensors is a LyCORIS {kind} file" in message and len(message) < 300
    _, after = _draw(engine, tiny_sd)
    assert np.array_equal(after, before)


def test_a_lora_that_does_not_fit_says_so_in_a_line(engine, tiny_sdxl, tiny_sd_adapters):
    with pytest.raises(ModelError) as caught:
        _draw(engine, tiny_sdxl, loras=[Lora(ref=str(tiny_sd_adapters["kohya"]))])
    assert "does not fit" in str(caught.value) and len(str(caught.value)) < 700
