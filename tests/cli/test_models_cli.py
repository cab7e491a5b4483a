"""``cinedraft models``: the models folder and the HF cache, what each model would get and why
one cannot load; ``--model NAME`` finds a model in the models folder, and a hub id in the HF
cache loads offline."""

import json
import os
import shutil
import subprocess
import sys

from typer.testing import CliRunner

from cinedraft.cli.main import app
from tests.hf_cache import hf_cache_layout

runner = CliRunner()


def _invoke(home, *args, env=None):
    return runner.invoke(app, ["--home", str(home), "--offline", *args], env=env)


def test_the_models_folder_is_listed_and_names_resolve_in_it(
    tmp_path, tiny_sd, tiny_wan, tiny_sdxl_refiner, tiny_single_files
):
    models = tmp_path / "models"
    models.mkdir()
    shutil.copy(tiny_single_files["sd15"], models / "dreamshaper_8.safetensors")
    configs = {"CINEDRAFT_SINGLE_FILE_CONFIGS": str(tiny_single_files["configs"])}
    shutil.copytree(tiny_sdxl_refiner, models / "sdxl-refiner")
    shutil.copytree(tiny_sd, models / "dreamshaper")
    shutil.copytree(tiny_wan, models / "wan-mini")
    shutil.copytree(tiny_sd, models / "custom")
    index = json.loads((models / "custom" / "model_index.json").read_text())
    (models / "custom" / "model_index.json").write_text(
        json.dumps(index | {"unet": ["my_module", "MyUNet"]})
    )
    (models / "old.ckpt").write_bytes(b"\x80\x04pickle")
    (models / "sd_xl_base_1.0.safetensors").write_bytes(b"{}")
    # the folders LoRAs, embeddings and VAEs are named from are not models (each was listed
    # as one that "cannot load: not a diffusers pipeline folder")
    for folder in ("loras", "embeddings", "vae"):
        (models / folder).mkdir()
        (models / folder / "x.safetensors").write_bytes(b"{}")
    res = _invoke(tmp_path, "models", "--json", env=configs)
    assert res.exit_code == 0, res.output
    entries = {e["name"]: e for e in json.loads(res.stdout) if e["source"] == "models folder"}
    assert set(entries) == {
        "dreamshaper",
        "dreamshaper_8",
        "wan-mini",
        "custom",
        "old",
        "sd_xl_base_1.0",
        "sdxl-refiner",
    }
    assert entries["sdxl-refiner"]["kind"] == "refiner" and not entries["sdxl-refiner"]["problem"]
    sd = entries["dreamshaper"]
    assert (sd["kind"], sd["family"], sd["precision"]) == ("image", "sd15", ["full"])
    assert sd["bytes"] > 100_000 and sd["presets"]["draft"].startswith("12 steps")
    assert (entries["wan-mini"]["kind"], entries["wan-mini"]["family"]) == ("video", "wan")
    assert "remote code" in entries["custom"]["problem"]
    assert "pickle" in entries["old"]["problem"]
    assert "not a readable safetensors file" in entries["sd_xl_base_1.0"]["problem"]
    single = entries["dreamshaper_8"]
    assert (single["kind"], single["family"], single["precision"]) == ("image", "sd15", ["full"])
    assert single["pipeline"] == "StableDiffusionPipeline" and not single["problem"]
    shown = _invoke(tmp_path, "models", "show", "dreamshaper")
    assert shown.exit_code == 0 and "family sd15" in shown.stdout, shown.output
    missing = _invoke(tmp_path, "models", "show", "nothing-here")
    assert missing.exit_code == 2 and "no model 'nothing-here'" in missing.output
    made = _invoke(tmp_path, "generate", "a red jar", "--model", "dreamshaper", "--steps", "2")
    assert made.exit_code == 0, made.output
    args = ("generate", "a red jar", "--model", "dreamshaper_8", "--steps", "2", "--json")
    from_file = _invoke(tmp_path, *args, env=configs)
    assert from_file.exit_code == 0, from_file.output
    assert json.loads(from_file.stdout)["outputs"][0]["record"]["model"] == "dreamshaper_8"
    broken = _invoke(tmp_path, "generate", "a red jar", "--model", "sd_xl_base_1.0")
    assert broken.exit_code == 2 and broken.output.count("error:") == 1, broken.output
    assert "not a readable safetensors file" in broken.output


def test_a_hub_id_in_the_hf_cache_is_listed_and_loads_offline(tmp_path, tiny_sd):
    cache = tmp_path / "hf-cache"
    hf_cache_layout(cache, "tiny-org/tiny-sd", tiny_sd)
    env = os.environ | {"HF_HUB_CACHE": str(cache), "HF_HUB_OFFLINE": "1"}
    cli = [sys.executable, "-m", "cinedraft", "--home", str(tmp_path / "home"), "--offline"]
    listed = subprocess.run([*cli, "models", "--json"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    entries = [e for e in json.loads(listed.stdout) if e["source"] == "HF cache"]
    assert [(e["name"], e["family"]) for e in entries] == [("tiny-org/tiny-sd", "sd15")]
    made = subprocess.run(
        [*cli, "generate", "a red jar", "--model", "tiny-org/tiny-sd", "--steps", "2", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["outputs"][0]["record"]["family"] == "sd15"
