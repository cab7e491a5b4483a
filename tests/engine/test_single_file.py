"""Single-file checkpoints (the A1111 / ComfyUI / Civitai layout): each architecture loads
offline from nothing but the file and makes the same pixels as the same model as a diffusers
folder; the shipped configs are the published ones; anything else is one clear error."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from cinedraft import Engine, ImageRequest, ModelError, Overrides, Settings
from cinedraft.engine.clip_vocab import clip_tokenizer
from cinedraft.engine.single_file import ARCHITECTURES, SHIPPED, TRANSFORMER_ONLY, inspect_file
from cinedraft.media.metadata import read_metadata
from tests.hf_cache import hf_cache_layout


@pytest.fixture(scope="module")
def engine(tiny_single_files, tmp_path_factory):
    home = tmp_path_factory.mktemp("single-file-home")
    settings = Settings(
        home=home,
        offline=True,
        device="cpu",
        provenance=False,
        single_file_configs=tiny_single_files["configs"],
    )
    return Engine(settings)


def _pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=int)


@pytest.mark.parametrize(
    "name, family, pipeline",
    [
        ("sd15", "sd15", "StableDiffusionPipeline"),
        ("sd2", "sd15", "StableDiffusionPipeline"),
        ("sdxl", "sdxl", "StableDiffusionXLPipeline"),
    ],
)
def test_a_single_file_draws_what_the_same_model_as_a_folder_draws(
    engine, tiny_single_files, name, family, pipeline
):
    """Weights converted from the LDM layout, CLIP's tokenizers built from its published
    vocabulary: the pixels are the folder's, and the record names the file and its A1111
    hash (the file's SHA-256)."""
    request = dict(prompt="a red jar on a table", seed=3, steps=2, width=64, height=64)
    file = tiny_single_files[name]
    single = engine.generate_image(ImageRequest(model=str(file), **request)).outputs[0]
    folder = tiny_single_files["folders"] / name
    same = engine.generate_image(ImageRequest(model=str(folder), **request)).outputs[0]
    assert (single.record["family"], single.record["pipeline"]) == (family, pipeline)
    assert np.array_equal(_pixels(single.path), _pixels(same.path))
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    assert single.record["model_hash"] == digest
    parameters = read_metadata(single.path)["parameters"]
    assert f"Model hash: {digest[:10]}, Model: tiny-{name}," in parameters


def test_sd2_files_get_the_prediction_their_release_was_trained_for(tiny_single_files, tmp_path):
    """SD 2.x's 768 px release predicts v, its 512 px base (and SD-Turbo) epsilon; the weights'
    shapes are the same, so the name tells them apart as A1111 users name them."""
    v = inspect_file(tiny_single_files["sd2"])
    base = tmp_path / "v2-1_512-ema-pruned.safetensors"
    base.symlink_to(tiny_single_files["sd2"])
    assert (v.architecture, inspect_file(base).architecture) == ("sd2", "sd2-base")
    shipped = {
        name: json.loads((SHIPPED / name / "scheduler" / "scheduler_config.json").read_text())
        for name in ("sd2", "sd2-base")
    }
    assert shipped["sd2"]["prediction_type"] == "v_prediction"
    assert shipped["sd2-base"]["prediction_type"] == "epsilon"


def test_an_sdxl_refiner_file_finishes_an_sdxl_file(tiny_single_files, tmp_path):
    settings = Settings(
        home=tmp_path,
        offline=True,
        device="cpu",
        provenance=False,
        single_file_configs=tiny_single_files["configs"],
        refiner=str(tiny_single_files["sdxl-refiner"]),
    )
    request = ImageRequest(
        prompt="a red jar", model=str(tiny_single_files["sdxl"]), seed=2, steps=5, tier="production"
    )
    record = Engine(settings).generate_image(request).outputs[0].record
    assert record["refiner"]["model"] == str(tiny_single_files["sdxl-refiner"])


def test_promote_works_on_a_single_file(engine, tiny_single_files):
    draft = engine.generate_image(
        ImageRequest(prompt="a red jar", model=str(tiny_single_files["sd15"]), seed=1, steps=2)
    ).outputs[0]
    prod = engine.promote(draft.asset_id, overrides=Overrides(steps=2)).outputs[0]
    assert prod.record["model"] == str(tiny_single_files["sd15"]) and prod.width > draft.width


def test_the_shipped_configs_are_the_published_models(tmp_path):
    """Every shipped component, built empty from its config, has the parameter count of the
    published model (stable-diffusion-v1-5, stable-diffusion-2-1(-base), SDXL base and
    refiner 1.0); the refiner's UNet matches its published fp16 file (4.52 GB)."""
    import diffusers
    import transformers
    from accelerate import init_empty_weights

    published = {
        ("sd15", "unet"): 859_520_964,
        ("sd2", "unet"): 865_910_724,
        ("sdxl", "unet"): 2_567_463_684,
        ("sdxl-refiner", "unet"): 2_259_526_660,
        ("vae",): 83_653_863,
        ("sd15", "text_encoder"): 123_060_480,  # OpenAI CLIP ViT-L/14's text tower
        ("sd2", "text_encoder"): 340_387_840,  # OpenCLIP ViT-H/14's, less its last layer
        ("sdxl", "text_encoder_2"): 694_659_840,  # OpenCLIP ViT-bigG/14's, projected
    }
    published[("sd2-base", "unet")] = published[("sd2", "unet")]
    published[("sd2-base", "text_encoder")] = published[("sd2", "text_encoder")]
    published[("sdxl", "text_encoder")] = published[("sd15", "text_encoder")]
    published[("sdxl-refiner", "text_encoder_2")] = published[("sdxl", "text_encoder_2")]
    whole = sorted(set(ARCHITECTURES) - set(TRANSFORMER_ONLY))
    assert sorted(p.name for p in SHIPPED.iterdir()) == whole
    counted = 0
    for name in whole:
        index = json.loads((SHIPPED / name / "model_index.json").read_text())
        assert hasattr(diffusers, index["_class_name"])
        for component in ("unet", "vae", "text_encoder", "text_encoder_2"):
            config = SHIPPED / name / component / "config.json"
            assert config.is_file() == bool((index.get(component) or [None])[0])
            if not config.is_file():
                continue
            with init_empty_weights():
                if component in ("unet", "vae"):
                    cls = getattr(diffusers, index[component][1])
                    model = cls.from_config(cls.load_config(config.parent))
                else:
                    text = transformers.CLIPTextConfig.from_pretrained(config.parent)
                    model = getattr(transformers, index[component][1])(text)
            count = sum(p.numel() for p in model.parameters())
            key = ("vae",) if component == "vae" else (name, component)
            assert count == published[key], (name, component, count)
            counted += 1
    assert counted == 16


def test_the_clip_tokenizer_numbers_tokens_as_openai_clip():
    """ids as openai/clip-vit-large-patch14's tokenizer gives them; OpenCLIP's pads with '!'."""
    ids = clip_tokenizer()("a photo of a cat").input_ids
    assert ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert len(clip_tokenizer()) == 49408
    assert clip_tokenizer("!").pad_token_id == 0 and clip_tokenizer().pad_token_id == 49407


def _save_without(source, target, drop) -> None:
    weights = load_file(source)
    save_file({k: v for k, v in weights.items() if not drop(k)}, target)


def test_files_that_are_not_a_whole_checkpoint_say_what_they_are(
    engine, tiny_single_files, tiny_sd_adapters, tmp_path
):
    sd15 = tiny_single_files["sd15"]
    cases = {}
    cases["lora"] = (tiny_sd_adapters["kohya"], "a LoRA, not a model: give it with --lora")
    no_text = tmp_path / "unet-only.safetensors"
    _save_without(sd15, no_text, lambda k: k.startswith("cond_stage_model."))
    cases["unet"] = (no_text, "holds a UNet without its text encoder")
    no_vae_part = tmp_path / "partial.safetensors"
    _save_without(sd15, no_vae_part, lambda k: k.startswith("first_stage_model.decoder.conv_out"))
    cases["partial"] = (no_vae_part, "lacks weights that Stable Diffusion 1.x needs")
    inpaint = tmp_path / "inpainting.safetensors"
    weights = load_file(sd15)
    key = "model.diffusion_model.input_blocks.0.0.weight"
    weights[key] = torch.zeros(weights[key].shape[0], 9, *weights[key].shape[2:])
    save_file(weights, inpaint)
    cases["inpaint"] = (inpaint, "inpainting or other 9-channel checkpoint")
    vae_only = tmp_path / "ae.safetensors"
    save_file({"encoder.down.0.block.0.conv1.weight": torch.zeros(2, 2)}, vae_only)
    cases["vae"] = (vae_only, "a VAE alone, not a model")
    garbage = tmp_path / "broken.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    cases["garbage"] = (garbage, "is not a readable safetensors file")
    for name, (path, message) in cases.items():
        with pytest.raises(ModelError, match=message):
            engine.generate_image(ImageRequest(prompt="a jar", model=str(path), steps=1))


def _transformer_file(folder, target):
    """A transformer kept alone as one file (the pipeline folder's own weights, in
    diffusers' names), as ComfyUI users keep FLUX and SD 3."""
    (weights,) = (folder / "transformer").glob("*.safetensors")
    shutil.copy(weights, target)
    return target


def test_a_flux_transformer_file_joins_the_text_encoders_it_is_given(tiny_flux, tmp_path):
    """--text-encoder names the pipeline holding the rest: the pixels are the folder's; a
    schnell file takes dev's parts and still gets schnell's family (no guidance embedding)."""
    dev = _transformer_file(tiny_flux["dev"], tmp_path / "flux1-dev.safetensors")
    schnell = _transformer_file(tiny_flux["schnell"], tmp_path / "flux1-schnell.safetensors")
    settings = dict(home=tmp_path, offline=True, device="cpu", provenance=False)
    engine = Engine(Settings(text_encoder=str(tiny_flux["dev"]), **settings))
    request = dict(prompt="a red jar", seed=2, steps=2, width=32, height=32)
    single = engine.generate_image(ImageRequest(model=str(dev), **request)).outputs[0]
    folder = engine.generate_image(ImageRequest(model=str(tiny_flux["dev"]), **request))
    assert single.record["family"] == "flux" and single.record["parts"] == str(tiny_flux["dev"])
    assert np.array_equal(_pixels(single.path), _pixels(folder.outputs[0].path))
    fast = engine.generate_image(ImageRequest(model=str(schnell), **request)).outputs[0]
    assert fast.record["family"] == "flux-schnell" and fast.record["guidance"] == 0.0


def test_parts_come_from_the_hf_cache_or_the_error_names_them(
    tiny_flux, tiny_sd, tmp_path, monkeypatch
):
    dev = _transformer_file(tiny_flux["dev"], tmp_path / "flux1-dev.safetensors")
    settings = dict(home=tmp_path, offline=True, device="cpu", provenance=False)
    request = ImageRequest(prompt="a red jar", model=str(dev), seed=2, steps=1)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelError, match="black-forest-labs/FLUX.1-dev, which is not in"):
        Engine(Settings(**settings)).generate_image(request)
    wrong = Engine(Settings(text_encoder=str(tiny_sd), **settings))
    with pytest.raises(ModelError, match="is a StableDiffusionPipeline, not a FluxPipeline"):
        wrong.generate_image(request)
    cache = tmp_path / "hf-cache"
    hf_cache_layout(cache, "black-forest-labs/FLUX.1-dev", tiny_flux["dev"])
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    record = Engine(Settings(**settings)).generate_image(request).outputs[0].record
    assert record["family"] == "flux" and "models--black-forest-labs--FLUX.1-dev" in record["parts"]


def _comfy_parts(pipeline, folder, names):
    """A pipeline's text encoders and VAE as ComfyUI keeps them: one file each (``names``:
    the text encoders' in order, then the VAE's), CLIP in its ``text_model.`` names, T5 in
    transformers' names, the VAE in the original (LDM) names."""
    from tests.ldm_layout import _wrapped, vae_to_ldm

    folder.mkdir()
    files = []
    for i, name in enumerate(names[:-1]):
        component = pipeline / ("text_encoder" + (f"_{i + 1}" if i else ""))
        state = load_file(next(component.glob("*.safetensors")))
        clip = "T5" not in json.loads((component / "config.json").read_text())["architectures"][0]
        save_file(_wrapped(state) if clip else state, str(folder / name))
        files.append(folder / name)
    vae = load_file(next((pipeline / "vae").glob("*.safetensors")))
    levels = len(json.loads((pipeline / "vae" / "config.json").read_text())["block_out_channels"])
    ldm = {k.removeprefix("first_stage_model."): v for k, v in vae_to_ldm(vae, levels).items()}
    save_file(ldm, str(folder / names[-1]))
    return [*files, folder / names[-1]]


def test_a_flux_file_loads_with_its_parts_as_separate_files(tiny_flux, tmp_path, monkeypatch):
    """issue #33: ComfyUI's layout, a transformer file and the text encoders and VAE as
    files of their own: each fills its component, the configs and tokenizers come from the
    official repo's small files in the HF cache; the pixels are the folder's. Without that
    repo, or without a part, one line names what is missing."""
    dev = _transformer_file(tiny_flux["dev"], tmp_path / "flux1-dev.safetensors")
    names = ["clip_l.safetensors", "t5xxl.safetensors", "ae.safetensors"]
    clip, t5, ae = _comfy_parts(tiny_flux["dev"], tmp_path / "parts", names)
    settings = dict(home=tmp_path, offline=True, device="cpu", provenance=False)
    request = dict(prompt="a red jar", seed=2, steps=2, width=32, height=32)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    files = ",".join(str(f) for f in (clip, t5, ae))
    with pytest.raises(ModelError, match=r"configs and tokenizers come from black-forest-labs"):
        Engine(Settings(text_encoder=files, **settings)).generate_image(
            ImageRequest(model=str(dev), **request)
        )
    small = tmp_path / "small-files"  # the repo as `--exclude '*.safetensors'` leaves it
    shutil.copytree(tiny_flux["dev"], small, ignore=shutil.ignore_patterns("*.safetensors"))
    hf_cache_layout(tmp_path / "hf-cache", "black-forest-labs/FLUX.1-dev", small)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    engine = Engine(Settings(text_encoder=files, **settings))
    single = engine.generate_image(ImageRequest(model=str(dev), **request)).outputs[0]
    folder = engine.generate_image(ImageRequest(model=str(tiny_flux["dev"]), **request))
    assert single.record["family"] == "flux" and "ae.safetensors" in single.record["parts"]
    assert np.array_equal(_pixels(single.path), _pixels(folder.outputs[0].path))
    without_vae = Engine(Settings(text_encoder=f"{clip},{t5}", **settings))
    with pytest.raises(ModelError, match=r"needs its vae \(AutoencoderKL"):
        without_vae.generate_image(ImageRequest(model=str(dev), **request))


def test_an_sd3_file_loads_with_its_three_encoders_and_vae_as_files(
    tiny_sd3, tmp_path, monkeypatch
):
    """SD 3.5 Large as ComfyUI keeps it: clip_l, clip_g and t5xxl files beside the transformer
    (told apart by width; these tiny CLIPs are alike, so by the order given)."""
    file = _transformer_file(tiny_sd3["sd3.5"], tmp_path / "sd3.5_large.safetensors")
    names = ["clip_l.safetensors", "clip_g.safetensors", "t5xxl.safetensors", "vae.safetensors"]
    files = _comfy_parts(tiny_sd3["sd3.5"], tmp_path / "parts", names)
    small = tmp_path / "small-files"
    shutil.copytree(tiny_sd3["sd3.5"], small, ignore=shutil.ignore_patterns("*.safetensors"))
    hf_cache_layout(tmp_path / "hf-cache", "stabilityai/stable-diffusion-3.5-large", small)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    settings = dict(home=tmp_path, offline=True, device="cpu", provenance=False)
    engine = Engine(Settings(text_encoder=",".join(map(str, files)), **settings))
    request = dict(prompt="a red jar", seed=2, steps=2, width=32, height=32)
    single = engine.generate_image(ImageRequest(model=str(file), **request)).outputs[0]
    folder = engine.generate_image(ImageRequest(model=str(tiny_sd3["sd3.5"]), **request))
    assert single.record["family"] == "sd3.5"
    assert np.array_equal(_pixels(single.path), _pixels(folder.outputs[0].path))


def test_a_flux_file_in_black_forest_labs_names_draws_as_its_folder(tiny_flux, tmp_path):
    """issue #33: ``flux1-dev.safetensors`` as BFL publish it (fused q/k/v, ``double_blocks``).
    diffusers' converter assumes FLUX.1's width (3072, heads of 128), so this model is that
    wide with one block of each kind (0.53 B parameters, bf16 on disk, as published)."""
    from tests.conftest import flux_transformer
    from tests.ldm_layout import flux_to_bfl

    torch.manual_seed(0)
    wide = flux_transformer(True, head_dim=128, heads=24, rope=(16, 56, 56)).to(torch.bfloat16)
    folder = tmp_path / "flux-wide"  # the tiny pipeline with the wide transformer
    shutil.copytree(tiny_flux["dev"], folder, ignore=shutil.ignore_patterns("transformer"))
    wide.save_pretrained(folder / "transformer", safe_serialization=True)
    file = tmp_path / "flux1-dev.safetensors"
    save_file({k: v.contiguous() for k, v in flux_to_bfl(wide.state_dict()).items()}, str(file))
    del wide
    assert inspect_file(file).architecture == "flux-dev"
    settings = dict(home=tmp_path, offline=True, device="cpu", provenance=False)
    engine = Engine(Settings(text_encoder=str(folder), **settings))
    request = dict(prompt="a red jar", seed=2, steps=1, width=32, height=32)
    single = engine.generate_image(ImageRequest(model=str(file), **request)).outputs[0]
    whole = engine.generate_image(ImageRequest(model=str(folder), **request)).outputs[0]
    assert single.record["family"] == "flux"
    assert np.array_equal(_pixels(single.path), _pixels(whole.path))


@pytest.mark.parametrize("name, family", [("sd3", "sd3"), ("sd3.5", "sd3.5")])
def test_an_sd3_transformer_file_loads_with_its_parts(tiny_sd3, tmp_path, name, family):
    file = _transformer_file(tiny_sd3[name], tmp_path / f"{name}_medium.safetensors")
    settings = dict(home=tmp_path, offline=True, device="cpu", provenance=False)
    engine = Engine(Settings(text_encoder=str(tiny_sd3[name]), **settings))
    request = dict(prompt="a red jar", seed=2, steps=2, width=32, height=32)
    single = engine.generate_image(ImageRequest(model=str(file), **request)).outputs[0]
    folder = engine.generate_image(ImageRequest(model=str(tiny_sd3[name]), **request))
    assert single.record["family"] == family
    assert np.array_equal(_pixels(single.path), _pixels(folder.outputs[0].path))


@pytest.mark.parametrize(
    "keys, architecture",
    [  # the original (BFL / Stability, ComfyUI's) names, bare or under the LDM prefix
        (["double_blocks.0.img_attn.qkv.weight", "guidance_in.in_layer.weight"], "flux-dev"),
        (["model.diffusion_model.double_blocks.0.img_attn.qkv.weight"], "flux-schnell"),
        (["joint_blocks.0.x_block.attn.qkv.weight"], "sd3"),
        (["joint_blocks.0.x_block.attn.ln_q.weight"], "sd3.5-large"),
        (["model.diffusion_model.joint_blocks.0.x_block.attn2.qkv.weight"], "sd3.5-medium"),
        (["single_transformer_blocks.0.attn.to_q.weight"], "flux-schnell"),  # diffusers' names
    ],
)
def test_transformer_files_are_told_apart_by_their_tensor_names(tmp_path, keys, architecture):
    file = tmp_path / "model.safetensors"
    save_file({key: torch.zeros(1) for key in keys}, file)
    assert inspect_file(file).architecture == architecture


def test_models_lists_a_transformer_file_with_its_parts_or_says_what_is_missing(
    tiny_flux, tmp_path, monkeypatch
):
    from cinedraft.engine.inventory import describe

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    file = _transformer_file(tiny_flux["schnell"], tmp_path / "flux1-schnell.safetensors")
    entry = describe(file, "flux1-schnell", "models folder", None, str(tiny_flux["dev"]))
    assert (entry.kind, entry.family, entry.pipeline) == ("image", "flux-schnell", "FluxPipeline")
    assert entry.presets["draft"].startswith("4 steps") and not entry.problem
    alone = describe(file, "flux1-schnell", "models folder")
    assert "black-forest-labs/FLUX.1-schnell, which is not in the HF cache" in alone.problem
