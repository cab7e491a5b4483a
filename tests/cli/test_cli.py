"""The CLI: commands build requests, print results, and fail cleanly on bad input."""

import json
import os
import subprocess
import sys

import pytest
from PIL import Image, PngImagePlugin
from typer.testing import CliRunner

from cinedraft.cli.main import app

runner = CliRunner()


def _invoke(tmp_path, *args):
    return runner.invoke(app, ["--home", str(tmp_path), "--offline", *args])


def test_generate_vary_promote_json(tmp_path):
    res = _invoke(
        tmp_path,
        "vary",
        "a {red|blue} ball on a plain backdrop",
        "-n",
        "3",
        "--seed",
        "2",
        "--steps",
        "3",
        "--json",
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [o["seed"] for o in data["outputs"]] == [2, 3, 4]
    draft_id = data["outputs"][0]["asset_id"]
    res = _invoke(
        tmp_path,
        "promote",
        draft_id,
        "--steps",
        "4",
        "--guidance",
        "3.5",
        "--scheduler",
        "euler",
        "--model",
        "builtin",
        "--json",
    )
    assert res.exit_code == 0, res.output
    prod = json.loads(res.stdout)["outputs"][0]
    assert prod["record"]["parents"] == [{"id": draft_id, "role": "draft"}] and prod["width"] == 256
    record = prod["record"]
    assert (record["steps"], record["guidance"], record["scheduler"]) == (4, 3.5, "euler")
    again = _invoke(tmp_path, "promote", prod["asset_id"])
    assert again.exit_code == 2 and f"promote its draft {draft_id}" in again.output
    table = _invoke(tmp_path, "vary", "a {red|blue} ball", "-n", "2", "--steps", "1")
    assert "a red ball" in table.stdout and "a blue ball" in table.stdout  # the prompt column


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "   "], "prompt is empty"),
        (["generate", "a jar", "--size", "big"], "WIDTHxHEIGHT"),
        (["generate", "a jar", "--size", "100x100"], "multiple of 8"),
        (["generate", "a jar", "--model", "/no/such/model"], "model folder not found"),
        (["generate", "a jar", "--scheduler", "warp"], "unknown scheduler"),
        (["generate", "a jar", "--seed", "-2"], "greater than or equal to 0"),
        (["promote", "0123456789ab"], "no asset 0123456789ab"),
        (["promote", "../../etc"], "not an asset id"),
    ],
)
def test_bad_input_exits_nonzero_with_a_message_and_no_traceback(tmp_path, args, message):
    res = _invoke(tmp_path, *args)
    assert res.exit_code != 0
    assert message in res.output
    assert "Traceback" not in res.output


def test_a_seed_of_minus_one_is_a_random_seed_as_in_a1111(tmp_path):
    """A1111 users type -1 for "random": it was refused as below 0. The seed drawn is the one
    recorded (the API's -1: tests/server/test_api.py)."""
    drawn = []
    for _ in range(2):
        res = _invoke(tmp_path, "generate", "a jar", "--seed", "-1", "--steps", "1", "--json")
        assert res.exit_code == 0, res.output
        drawn.append(json.loads(res.stdout)["outputs"][0]["record"]["seed"])
    assert all(0 <= seed < 2**63 for seed in drawn) and drawn[0] != drawn[1]


def test_unwritable_library(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = _invoke(blocker / "sub", "generate", "a jar", "--steps", "1")
    assert res.exit_code == 2 and "cannot use" in res.output and "Traceback" not in res.output


def test_console_script_runs_offline(tmp_path):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CINEDRAFT_HOME": str(tmp_path)}
    exe = os.path.join(os.path.dirname(sys.executable), "cinedraft")
    proc = subprocess.run(
        [exe, "generate", "a green box on a marble table", "--steps", "2", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["outputs"][0]["path"].startswith(str(tmp_path))


def test_an_image_the_safety_checker_flags_is_never_silent(tmp_path, tiny_sd_checked):
    model = str(tiny_sd_checked[True])
    res = _invoke(tmp_path, "generate", "a red jar", "--model", model, "--steps", "2")
    assert res.exit_code == 0, res.output
    assert "flagged by the model's safety checker (StableDiffusionSafetyChecker)" in res.output


def test_help_and_library_commands_import_no_model_stack(tmp_path):
    """`--help`, `library list` and `audit list` answer without importing torch,
    diffusers or transformers (seconds of imports each), nor the signing stack (c2pa,
    cryptography) and PyAV, which only storing, verifying and video need (tens of ms each:
    `--help` took 0.52 s, now under 0.5 s, `benches/bench_startup.py`)."""
    script = (
        "import sys\n"
        "from cinedraft.cli.main import main\n"
        f"home = {str(tmp_path)!r}\n"
        "for args in (['--help'], ['--home', home, 'library', 'list'],"
        " ['--home', home, 'audit', 'list']):\n"
        "    sys.argv = ['cinedraft', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exc:\n"
        "        assert exc.code in (0, None), (args, exc.code)\n"
        "heavy = ('torch', 'diffusers', 'transformers', 'c2pa', 'cryptography', 'av')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_progress_is_plain_lines_when_not_a_terminal(tmp_path):
    """In CI, a pipe or a log file the progress bar would be dropped: lines instead."""
    res = _invoke(tmp_path, "generate", "a red jar", "--steps", "3")
    assert res.exit_code == 0, res.output
    lines = [line for line in res.stderr.splitlines() if line.startswith("sample ")]
    assert lines[0].startswith("sample 1/3 ") and lines[-1].startswith("sample 3/3 ")
    assert any(line.startswith("save 1/1 ") for line in res.stderr.splitlines())


def test_a_path_printed_to_a_log_or_a_narrow_terminal_is_the_files_path(tmp_path):
    """Rich cropped each line at 80 columns: piped, the result table folded a file's path
    into 11-character pieces and lost the character past each piece's edge (the path shown
    was not the file's), and a line of text broke a path longer than 80 characters in two."""
    import io
    import re

    from cinedraft.cli import common
    from cinedraft.request import Result

    stored = re.compile(r"/\S*/objects/\w\w/\w{64}\.webp")
    home = tmp_path / "a-long-folder-name-a-user-might-keep-their-library-in"
    res = _invoke(home, "generate", "a red jar", "--steps", "1")
    assert res.exit_code == 0, res.output
    shown = stored.search(res.stdout)
    assert shown and len(shown.group()) > 80 and os.path.isfile(shown.group()), res.stdout
    res = _invoke(tmp_path, "generate", "a red jar", "--steps", "1", "--seed", "5", "--json")
    result = Result.model_validate_json(res.stdout)
    exported = _invoke(
        tmp_path,
        "library",
        "export",
        result.outputs[0].asset_id,
        "--to",
        str(tmp_path / ("a folder with a name long enough to pass eighty columns" * 2)),
    )
    assert exported.exit_code == 0, exported.output
    assert os.path.isfile(exported.stdout.splitlines()[0].split("  (+ ")[0])
    screen = io.StringIO()  # an 80-column terminal's view of the same table
    terminal = type(common.out)(file=screen, force_terminal=True, width=80, color_system=None)
    original, common.out = common.out, terminal
    try:
        common.print_result(result, as_json=False)
    finally:
        common.out = original
    cells = [
        line.split("│")[-2].strip()
        for line in screen.getvalue().splitlines()
        if line.startswith("│")
    ]
    assert "".join(cells) == result.outputs[0].path
    assert max(len(line) for line in screen.getvalue().splitlines()) <= 80


def test_generate_like_an_image_takes_its_settings_under_the_options_given(tmp_path):
    """``--like``: more like an image made here, or one brought from A1111 or ComfyUI (their
    sampler names mapped to cinedraft's, a model the models folder lacks said, not guessed)."""
    from tests.media.test_metadata import A1111, COMFY, _a1111_file

    made = _invoke(tmp_path, "generate", "a red jar on a table", "--seed", "7", "--steps", "3")
    made = _invoke(tmp_path, "library", "list", "--json")
    own = json.loads(made.stdout)[0]["id"]
    res = _invoke(tmp_path, "generate", "--like", own, "--seed", "9", "--json")
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)["outputs"][0]["record"]
    assert (record["prompt"], record["steps"], record["seed"]) == ("a red jar on a table", 3, 9)

    a1111 = tmp_path / "00012-1234567890.png"
    a1111.write_bytes(_a1111_file("png").getvalue())
    res = _invoke(tmp_path, "generate", "--like", str(a1111), "--steps", "2", "--json")
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)["outputs"][0]["record"]
    assert record["prompt"] == "a photo of a cat, (masterpiece:1.2)\non a sofa"
    assert record["negative_prompt"] == "blurry, lowres"
    assert (record["seed"], record["guidance"], record["steps"]) == (1234567890, 7.0, 2)
    assert record["scheduler"] == "dpm++-karras" and (record["width"], record["height"]) == (
        512,
        768,
    )
    assert "model 'v1-5-pruned-emaonly' is not in" in res.stderr
    named = A1111.replace(
        "Version:",
        'Clip skip: 2, VAE: ft.safetensors, TI hashes: "EasyNegative: c74b4e810b03", Version:',
    )
    a1111.write_bytes(_a1111_file("png", named).getvalue())
    res = _invoke(
        tmp_path, "generate", "--like", str(a1111), "--steps", "1", "--size", "64x64", "--json"
    )
    assert res.exit_code == 0, res.output  # an embedding this machine lacks: said, not loaded
    assert f"embedding 'EasyNegative' is not in {tmp_path / 'models' / 'embeddings'}" in res.stderr
    assert json.loads(res.stdout)["outputs"][0]["record"]["clip_skip"] == 2
    assert f"VAE 'ft.safetensors' is not in {tmp_path / 'models' / 'vae'}" in res.stderr

    comfy = tmp_path / "ComfyUI_00001_.png"
    graph = json.loads(COMFY)
    graph["5"]["inputs"] |= {"width": 64, "height": 64}
    graph["3"]["inputs"]["sampler_name"] = "dpmpp_3m_sde"
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(graph))
    Image.new("RGB", (8, 8)).save(comfy, "PNG", pnginfo=info)
    res = _invoke(tmp_path, "generate", "--like", str(comfy), "a blue ball", "--json")
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)["outputs"][0]["record"]
    assert (record["prompt"], record["negative_prompt"]) == ("a blue ball", "bad hands")
    assert (record["seed"], record["steps"], record["width"]) == (8566257, 20, 64)
    assert "sampler 'dpmpp_3m_sde normal' has no match here" in res.stderr
    res = _invoke(tmp_path, "generate", "--like", str(comfy), "--negative", "", "--json")
    assert res.exit_code == 0, res.output  # an empty negative given clears the image's
    assert json.loads(res.stdout)["outputs"][0]["record"].get("negative_prompt", "") == ""
    graph["7"]["inputs"]["text"] = "embedding:EasyNegative, bad hands"
    info = PngImagePlugin.PngInfo()
    info.add_text("prompt", json.dumps(graph))
    Image.new("RGB", (8, 8), (1, 1, 1)).save(comfy, "PNG", pnginfo=info)
    res = _invoke(tmp_path, "generate", "--like", str(comfy), "--json")
    assert res.exit_code == 0, res.output  # an embedding this machine lacks: left out, said
    assert json.loads(res.stdout)["outputs"][0]["record"]["negative_prompt"] == "bad hands"
    assert "embedding 'EasyNegative' in the prompt is not in" in res.stderr

    made = _invoke(
        tmp_path,
        "generate",
        "a jar",
        "--tier",
        "production",
        "--steps",
        "1",
        "--size",
        "64x64",
        "--json",
    )
    production = json.loads(made.stdout)["outputs"][0]["asset_id"]
    res = _invoke(tmp_path, "generate", "--like", production, "--tier", "draft", "--json")
    assert res.exit_code == 0, res.output  # the default's value, given, is given
    assert json.loads(res.stdout)["outputs"][0]["record"]["tier"] == "draft"

    photo = tmp_path / "photo.png"
    Image.new("RGB", (8, 8)).save(photo)
    res = _invoke(tmp_path, "generate", "--like", str(photo))
    assert res.exit_code == 2 and "says nothing of how it was made" in res.output
    res = _invoke(tmp_path, "generate")
    assert res.exit_code == 2 and "say what to draw" in res.output


def test_vary_takes_wildcard_files_from_the_wildcards_folder(tmp_path):
    """``__colours__`` is every line of HOME/wildcards/colours.txt (A1111's Dynamic Prompts
    layout); it was drawn as the word "__colours__". The policy reads those lines too."""
    (tmp_path / "wildcards").mkdir()
    (tmp_path / "wildcards" / "colours.txt").write_text("red\nblue\n")
    res = _invoke(tmp_path, "vary", "a __colours__ ball", "-n", "2", "--steps", "1", "--json")
    assert res.exit_code == 0, res.output
    prompts = [o["record"]["prompt"] for o in json.loads(res.stdout)["outputs"]]
    assert prompts == ["a red ball", "a blue ball"]
    res = _invoke(tmp_path, "vary", "a __colors__ ball", "-n", "2", "--steps", "1")
    assert res.exit_code == 2 and "no wildcard file for __colors__" in res.output
    (tmp_path / "policy.toml").write_text('[[rule]]\nnames = ["blue ball"]\naction = "flag"\n')
    res = _invoke(tmp_path, "policy", "check", "a __colours__ ball", "--template", "--json")
    assert [h["prompt"] for h in json.loads(res.stdout)["hits"]] == ["a blue ball"]


def test_a_style_from_the_styles_file_is_applied_to_the_prompt_and_the_negative(tmp_path):
    """A1111 users' styles.csv, as it is: the record says the prompt the style made."""
    (tmp_path / "styles.csv").write_text(
        'name,prompt,negative_prompt\nstill,"a film still of {prompt}",grainy\n'
    )
    res = _invoke(tmp_path, "generate", "a red ball", "--style", "still", "--steps", "1", "--json")
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)["outputs"][0]["record"]
    assert (record["prompt"], record["negative_prompt"]) == ("a film still of a red ball", "grainy")
    res = _invoke(tmp_path, "vary", "a {red|blue} ball", "-n", "2", "--style", "noir")
    assert res.exit_code == 2 and "no style 'noir' in" in res.output
