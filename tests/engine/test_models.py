"""Loading: real architectures through the same code, and refusal of unsafe weights."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from cinedraft import (
    Engine,
    ImageRequest,
    ModelError,
    ModelNotFoundError,
    Overrides,
    Settings,
    UnsafeModelError,
)
from cinedraft.engine.models import check_folder, resolve_model


@pytest.mark.parametrize(
    "fixture, family, pipeline",
    [
        ("tiny_sd", "sd15", "StableDiffusionPipeline"),
        ("tiny_sdxl", "sdxl", "StableDiffusionXLPipeline"),
    ],
)
def test_real_architectures_run_draft_and_production(request, tmp_path, fixture, family, pipeline):
    folder = request.getfixturevalue(fixture)
    engine = Engine(Settings(home=tmp_path, offline=True, device="cpu"))
    draft = engine.generate_image(
        ImageRequest(prompt="a red jar", model=str(folder), seed=1, steps=2)
    ).outputs[0]
    assert draft.record["family"] == family and draft.record["pipeline"] == pipeline
    assert (draft.width, draft.height) == (32, 32)
    prod = engine.promote(draft.asset_id, overrides=Overrides(steps=2)).outputs[0]
    assert (prod.width, prod.height) == (64, 64) and prod.drift is not None
    again = engine.generate_image(
        ImageRequest(prompt="a red jar", model=str(folder), seed=1, steps=2)
    ).outputs[0]
    with Image.open(draft.path) as a, Image.open(again.path) as b:
        assert np.array_equal(np.asarray(a), np.asarray(b))


def test_pickle_checkpoint_file_is_refused(tmp_path):
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"\x80\x04not really")
    with pytest.raises(UnsafeModelError, match="pickle"):
        resolve_model(str(ckpt), offline=True)


def test_folder_with_only_pickle_weights_is_refused(tiny_sd, tmp_path):
    folder = tmp_path / "pickled"
    shutil.copytree(tiny_sd, folder)
    for f in (folder / "unet").glob("*.safetensors"):
        f.rename(f.with_name("diffusion_pytorch_model.bin"))
    with pytest.raises(UnsafeModelError, match="pickle"):
        check_folder(folder)


def test_remote_code_pipeline_is_refused(tiny_sd, tmp_path):
    folder = tmp_path / "custom"
    shutil.copytree(tiny_sd, folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["unet"] = ["my_module", "MyUNet"]
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(UnsafeModelError, match="remote code"):
        check_folder(folder)


def test_missing_models_are_clear_errors(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        resolve_model(str(tmp_path / "nope"), offline=True)
    with pytest.raises(ModelNotFoundError, match="HF cache"):
        resolve_model("someone/not-cached-model", offline=True)
    with pytest.raises(ModelNotFoundError, match="model_index.json"):
        check_folder(tmp_path)


def test_a_video_folder_with_motion_reach_loads_it_and_a_bad_one_is_refused(tmp_path):
    """The loader installs neighbourhood motion attention (``builtin/reach.py``) where the UNet
    folder has its weights, with the trained values, and refuses a file that does not fit."""
    import torch

    from diffusers import UNetMotionModel

    from cinedraft import ModelError, VideoRequest
    from cinedraft.builtin import VIDEO_MODEL, reach

    folder = tmp_path / "video"
    shutil.copytree(VIDEO_MODEL, folder)
    (folder / "unet" / reach.REACH_FILE).unlink(missing_ok=True)
    donor = UNetMotionModel.from_pretrained(folder / "unet")
    reach.install(donor, radius=1)
    with torch.no_grad():
        next(p for n, p in donor.named_parameters() if ".processor." in n).fill_(0.25)
    reach.save(donor, folder / "unet")

    engine = Engine(Settings(home=tmp_path / "home", offline=True, device="cpu"))
    unet = engine.models.get(str(folder), "video").pipe.unet
    assert reach.config(unet).radius == 1
    loaded = next(p for n, p in unet.named_parameters() if ".processor." in n)
    assert torch.all(loaded == 0.25)
    clip = engine.generate_video(
        VideoRequest(
            prompt="a red jar, the jar slides left",
            model=str(folder),
            seconds=0.5,
            steps=2,
            seed=1,
            preset="square-social",
        )
    )
    assert clip.frames > 0

    (folder / "unet" / reach.REACH_FILE).write_bytes(b"\x00" * 64)  # not safetensors
    with pytest.raises(ModelError, match="could not load"):
        Engine(Settings(home=tmp_path / "home2", offline=True, device="cpu")).models.get(
            str(folder), "video"
        )


def test_a_weights_file_that_is_not_a_regular_file_is_refused_not_read(tiny_sd, tmp_path):
    """A weights file linked to /dev/zero would be read forever (the hash, then the loader)."""
    import os
    import time

    from cinedraft import ModelError
    from cinedraft.engine.device import pick_device
    from cinedraft.engine.models import ModelCache

    folder = tmp_path / "zeroed"
    shutil.copytree(tiny_sd, folder)
    weights = next((folder / "unet").glob("*.safetensors"))
    weights.unlink()
    os.symlink("/dev/zero", weights)
    start = time.perf_counter()
    with pytest.raises(ModelError, match="not a regular file"):
        ModelCache(pick_device("cpu"), "auto", offline=True).get(str(folder))
    assert time.perf_counter() - start < 30


def test_an_fp16_only_download_loads_and_draws(tiny_sd, tmp_path):
    """An fp16 download leaves only ``*.fp16.safetensors``; it loads without asking for the
    variant, and draws the same picture as the full-precision folder (to fp16 rounding)."""
    from diffusers import DiffusionPipeline

    from cinedraft.engine.models import weights_variant

    folder = tmp_path / "fp16-only"
    DiffusionPipeline.from_pretrained(tiny_sd).to(
        dtype=__import__("torch").float16
    ).save_pretrained(folder, safe_serialization=True, variant="fp16")
    assert not list(folder.glob("*/diffusion_pytorch_model.safetensors"))
    assert weights_variant(folder) == "fp16" and weights_variant(tiny_sd) is None
    engine = Engine(Settings(home=tmp_path / "home", offline=True, device="cpu"))
    request = dict(prompt="a red bottle on a glass table", seed=4, steps=2)
    half = engine.generate_image(ImageRequest(model=str(folder), **request)).outputs[0]
    full = engine.generate_image(ImageRequest(model=str(tiny_sd), **request)).outputs[0]
    with Image.open(half.path) as a, Image.open(full.path) as b:
        diff = np.abs(np.asarray(a.convert("RGB"), float) - np.asarray(b.convert("RGB"), float))
    assert diff.mean() < 8, diff.mean()


def test_promote_uses_the_production_model_and_the_overrides(tiny_sd, tiny_sdxl, tmp_path):
    """``promote`` renders with CINEDRAFT_PRODUCTION_MODEL when it is set (it used the draft's
    model), keeps the draft's framing at that model's own size, and ``--model``, ``--steps``,
    ``--guidance`` and ``--scheduler`` win over the tier."""
    settings = Settings(home=tmp_path, offline=True, device="cpu", production_model=str(tiny_sd))
    engine = Engine(settings)
    draft = engine.generate_image(
        ImageRequest(prompt="a red jar", model="builtin", seed=1, steps=2, width=64, height=48)
    ).outputs[0]
    prod = engine.promote(draft.asset_id, overrides=Overrides(steps=2)).outputs[0]
    assert prod.record["model"] == str(tiny_sd) and prod.record["family"] == "sd15"
    # tiny_sd's own 32x32 area at the draft's 4:3, twice over for production
    assert prod.record["base_width"] > prod.record["base_height"]
    assert (prod.width, prod.height) == (
        2 * prod.record["base_width"],
        2 * prod.record["base_height"],
    )
    chosen = Overrides(model=str(tiny_sdxl), steps=3, guidance=2.5, scheduler="euler")
    other = engine.promote(draft.asset_id, overrides=chosen).outputs[0].record
    assert other["model"] == str(tiny_sdxl) and other["family"] == "sdxl"
    assert (other["steps"], other["guidance"], other["scheduler"]) == (3, 2.5, "euler")
    assert {"id": draft.asset_id, "role": "draft"} in other["parents"]


def test_the_official_sd_layout_loads_with_its_safety_checker(tiny_sd_checked, tmp_path):
    """``safety_checker`` from diffusers' own ``stable_diffusion`` module is not remote code:
    the folder loads, the checker runs and its verdict is recorded; an image it flags is
    stored black and says so; turned off, it is not loaded, and the record says that."""
    engine = Engine(Settings(home=tmp_path / "on", offline=True, device="cpu"))
    request = dict(prompt="a red jar", seed=1, steps=2)
    clean = engine.generate_image(ImageRequest(model=str(tiny_sd_checked[False]), **request))
    record = clean.outputs[0].record
    assert record["safety"] == {"checker": "StableDiffusionSafetyChecker", "flagged": False}
    with Image.open(clean.outputs[0].path) as im:
        assert np.asarray(im).mean() > 10
    flagged = engine.generate_image(ImageRequest(model=str(tiny_sd_checked[True]), **request))
    assert flagged.outputs[0].record["safety"]["flagged"] is True
    with Image.open(flagged.outputs[0].path) as im:
        assert np.asarray(im.convert("RGB")).max() <= 8  # black, but for the watermark
    off = Engine(Settings(home=tmp_path / "off", offline=True, device="cpu", safety_checker=False))
    result = off.generate_image(ImageRequest(model=str(tiny_sd_checked[True]), **request))
    assert result.outputs[0].record["safety"] == {"checker": "off"}
    with Image.open(result.outputs[0].path) as im:
        assert np.asarray(im).mean() > 10


@pytest.mark.parametrize(
    "spec", [["stable_diffusion", "NotAClass"], ["os", "system"], ["Stable_Diffusion", "X"]]
)
def test_only_diffusers_own_pipeline_modules_are_allowed(tiny_sd, tmp_path, spec):
    folder = tmp_path / "custom"
    shutil.copytree(tiny_sd, folder)
    index = json.loads((folder / "model_index.json").read_text())
    index["safety_checker"] = spec
    (folder / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(UnsafeModelError, match="remote code"):
        check_folder(folder)


def test_a_variant_is_chosen_by_setting_and_picked_when_it_is_all_there_is(tiny_sd, tmp_path):
    """A folder with full-precision and bf16 files loads the full ones unless the variant
    setting (``--variant``) asks; a bf16-only folder loads without asking; a variant the
    folder lacks, or a choice among several with no default, is one clear error."""
    import torch
    from diffusers import DiffusionPipeline

    from cinedraft.engine.models import weights_variant

    pipe = DiffusionPipeline.from_pretrained(tiny_sd)
    both = tmp_path / "both"
    pipe.save_pretrained(both, safe_serialization=True)
    with torch.no_grad():  # the bf16 files hold other weights, so the two draw apart
        for p in pipe.unet.parameters():
            p.mul_(-1)
    pipe.to(dtype=torch.bfloat16).save_pretrained(both, safe_serialization=True, variant="bf16")
    assert weights_variant(both) is None and weights_variant(both, "bf16") == "bf16"
    request = dict(prompt="a red jar", model=str(both), seed=2, steps=2)
    images = {}
    for variant in (None, "bf16"):
        home = tmp_path / f"home-{variant}"
        engine = Engine(Settings(home=home, offline=True, device="cpu", variant=variant))
        out = engine.generate_image(ImageRequest(**request)).outputs[0]
        assert out.record.get("variant") == variant
        with Image.open(out.path) as im:
            images[variant] = np.asarray(im.convert("RGB"), float)
    assert np.abs(images[None] - images["bf16"]).mean() > 5
    engine = Engine(Settings(home=tmp_path / "fp8", offline=True, device="cpu", variant="fp8"))
    with pytest.raises(ModelError, match=r"has no fp8 weights \(it holds: bf16, full\)"):
        engine.generate_image(ImageRequest(**request))
    only = tmp_path / "bf16-only"
    pipe.save_pretrained(only, safe_serialization=True, variant="bf16")
    assert weights_variant(only) == "bf16"
    pipe.save_pretrained(only, safe_serialization=True, variant="fp16")
    with pytest.raises(ModelError, match="several weight variants .* --variant"):
        weights_variant(only)


def test_sdxl_images_carry_the_librarys_mark_only(tiny_sdxl, tmp_path):
    """diffusers' SDXL pipelines stamp their own invisible watermark (a fixed message) on
    every image of 256 px or more when invisible-watermark is installed, and cinedraft
    installs it for the library's mark: every SDXL image was marked twice. The engine's
    pipelines (text to image, image to image, inpainting) now decode without it."""
    import torch
    from diffusers.pipelines.stable_diffusion_xl.watermark import StableDiffusionXLWatermarker

    engine = Engine(Settings(home=tmp_path, offline=True))
    model = engine.models.get(str(tiny_sdxl))
    pipes = (model.pipe, model.img2img, model.inpaint)
    assert all(getattr(p, "watermark", "none") is None for p in pipes)

    def draw() -> np.ndarray:
        generator = torch.Generator().manual_seed(3)
        call = dict(prompt="a red jar", width=256, height=256, num_inference_steps=1)
        return model.pipe(**call, generator=generator, output_type="np").images[0]

    plain = draw()
    model.pipe.watermark = StableDiffusionXLWatermarker()  # what diffusers would stamp
    try:
        stamped = draw()
    finally:
        model.pipe.watermark = None
    assert np.abs(stamped - plain).max() > 1 / 255  # the stamp changes pixels
