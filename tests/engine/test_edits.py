"""Edit turns on the built-in model: img2img, inpaint, outpaint, exact adjustments, threads,
promote of an edit, provenance; and the refusals."""

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from cinedraft.engine.threads import thread_of
from cinedraft.errors import InputError
from cinedraft.library import AssetQuery
from cinedraft.quality.metrics import ssim
from cinedraft.render import adjust
from cinedraft.request import EditRequest, ImageRequest
from tests.editor.conftest import make_clip

PROMPT = "a red bottle on a wooden table"


def _pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="module")
def source(engine):
    return engine.generate_image(ImageRequest(prompt=PROMPT, seed=5)).outputs[0]


def _edit(engine, **fields):
    return engine.edit(EditRequest(seed=fields.pop("seed", 1), **fields))


def test_img2img_shares_the_models_components_and_strength_sets_the_distance(engine, source):
    near = _edit(engine, source=source.asset_id, operation="img2img", strength=0.3)
    far = _edit(engine, source=source.asset_id, operation="img2img", strength=0.9)
    model = engine.models.get("builtin")
    assert model.img2img.unet is model.pipe.unet and model.img2img.vae is model.pipe.vae
    record = near.output.record
    assert record["pipeline"] == "StableDiffusionImg2ImgPipeline"
    assert record["parents"] == [{"id": source.asset_id, "role": "edit_of"}]
    assert record["edit"]["strength"] == 0.3 and near.route == "img2img"
    assert (near.output.width, near.output.height) == (source.width, source.height)
    original = Image.open(source.path).convert("RGB")
    close, distant = (ssim(original, Image.open(r.output.path)) for r in (near, far))
    assert close > distant and close < 1.0


def test_inpaint_changes_only_the_mask_and_keeps_the_rest_byte_for_byte(engine, source):
    result = _edit(
        engine,
        source=source.asset_id,
        operation="inpaint",
        prompt="a blue bottle on a wooden table",
        region=(16, 12, 32, 36),
    )
    model = engine.models.get("builtin")
    assert model.inpaint.unet is model.pipe.unet  # from_pipe: no second copy
    before, after = _pixels(source.path), _pixels(result.output.path)
    outside = np.ones(before.shape[:2], bool)
    outside[12:48, 16:48] = False
    assert np.array_equal(after[outside], before[outside])
    inside = after[18:42, 22:42].astype(int) - before[18:42, 22:42]
    assert np.abs(inside).mean() > 10  # the model drew something else there
    # blue where it was red: the prompt was followed inside the mask
    assert after[18:42, 26:38, 2].mean() > before[18:42, 26:38, 2].mean() + 20
    record = result.output.record
    assert record["edit"]["mask"] == {"bbox": [16, 12, 32, 36], "area": round(32 * 36 / 4096, 4)}
    assert record["watermark"]["inherited"]  # the kept pixels carry the source's mark
    assert result.preserved is not None and result.preserved > 0.99


def test_inpaint_on_a_large_image_works_on_a_crop_at_the_models_size(engine, tmp_path):
    big = tmp_path / "big.png"
    Image.open(engine.library.get(_first(engine)).path).convert("RGB").resize(
        (256, 192), Image.Resampling.LANCZOS
    ).save(big)
    result = _edit(
        engine, source=str(big), operation="inpaint", prompt=PROMPT, region=(100, 80, 40, 40)
    )
    record = result.output.record
    assert record["base_width"] * record["base_height"] <= 64 * 64  # the model's native area
    before, after = _pixels(big), _pixels(result.output.path)
    outside = np.ones(before.shape[:2], bool)
    outside[80:120, 100:140] = False
    assert np.array_equal(after[outside], before[outside])
    assert not np.array_equal(after[~outside], before[~outside])


def _first(engine) -> str:
    return engine.generate_image(ImageRequest(prompt=PROMPT, seed=7)).outputs[0].asset_id


@pytest.mark.parametrize(
    "how, size, at",
    [
        ({"aspect": "9:16"}, (64, 114), (0, 25)),
        ({"expand": {"left": 32, "right": 0, "top": 0, "bottom": 16}}, (96, 80), (32, 0)),
    ],
)
def test_outpaint_grows_the_canvas_and_keeps_the_old_pixels(engine, source, how, size, at):
    result = _edit(engine, source=source.asset_id, operation="outpaint", **how)
    after = _pixels(result.output.path)
    assert (result.output.width, result.output.height) == size
    x, y = at
    assert np.array_equal(after[y : y + 64, x : x + 64], _pixels(source.path))
    new = np.ones(after.shape[:2], bool)
    new[y : y + 64, x : x + 64] = False
    assert after[new].std() > 3  # drawn, not a flat fill
    assert result.output.record["edit"]["thread"]["offset"] == [x, y]
    assert result.preserved == pytest.approx(1.0, abs=1e-3)


def test_an_exact_adjustment_runs_no_model_and_says_so(engine, source):
    result = _edit(engine, source=source.asset_id, operation="refine", instruction="warmer")
    record = result.output.record
    assert result.route == "exact" and record["kind"] == "adjusted"
    assert record["edit"]["diffusion"] is False and "model" not in record
    before, after = _pixels(source.path).astype(int), _pixels(result.output.path).astype(int)
    assert np.array_equal(after[..., 1], before[..., 1])  # green untouched
    assert after[..., 0].mean() > before[..., 0].mean()
    crop = _edit(engine, source=source.asset_id, operation="refine", instruction="crop to 9:16")
    assert np.array_equal(_pixels(crop.output.path), _pixels(source.path)[:, 14:50])


def test_more_repeats_the_last_exact_change_and_too_much_takes_half_back(engine, source):
    warmer = _edit(
        engine, source=source.asset_id, operation="refine", instruction="Warmer, please!"
    )
    assert warmer.route == "exact"
    assert warmer.output.record["edit"]["adjustments"] == [{"kind": "warmth", "amount": 1.0}]
    more = _edit(engine, source=warmer.output.asset_id, operation="refine", instruction="more")
    assert more.route == "exact" and more.output.record["edit"]["diffusion"] is False
    assert more.output.record["edit"]["adjustments"] == [{"kind": "warmth", "amount": 1.0}]
    twice = adjust.apply(Image.open(warmer.output.path), [adjust.Adjustment("warmth")])
    assert np.array_equal(_pixels(more.output.path), np.asarray(twice))
    back = _edit(engine, source=more.output.asset_id, operation="refine", instruction="too much")
    assert back.output.record["edit"]["adjustments"] == [{"kind": "warmth", "amount": -0.5}]
    assert back.output.record["edit"]["instruction"] == "too much"  # as the user said it
    # "more" means nothing after a turn that was not a graded exact one
    with pytest.raises(InputError, match="'more' repeats the exact change.*was not made by one"):
        _edit(engine, source=source.asset_id, operation="refine", instruction="more")


def test_undo_says_where_the_image_before_is_and_changes_nothing(engine, source):
    turn = _edit(engine, source=source.asset_id, operation="refine", instruction="darker")
    count = len(engine.library.find(AssetQuery()))
    with pytest.raises(InputError, match=f"The image before {turn.output.asset_id} is "):
        _edit(engine, source=turn.output.asset_id, operation="refine", instruction="undo")
    with pytest.raises(InputError, match="first image of its thread; nothing to undo"):
        _edit(engine, source=source.asset_id, operation="refine", instruction="go back")
    for nothing in ("please", "Thanks!", "?"):  # went to the edit model, which "cannot do" it
        with pytest.raises(InputError, match="asks for no change: say what should change"):
            _edit(engine, source=source.asset_id, operation="refine", instruction=nothing)
    assert len(engine.library.find(AssetQuery())) == count


def test_the_edit_model_is_given_the_change_without_the_asking_around_it(engine, source):
    asked = "Could you make the bottle blue, please?"
    polite = _edit(engine, source=source.asset_id, operation="refine", instruction=asked)
    plain = _edit(
        engine, source=source.asset_id, operation="refine", instruction="make the bottle blue"
    )
    assert polite.route == plain.route == "instruct"
    assert polite.output.record["edit"]["instruction"] == asked
    assert np.array_equal(_pixels(polite.output.path), _pixels(plain.output.path))


def test_a_move_runs_no_model_and_keeps_everything_but_the_two_places(engine):
    from cinedraft_training.adherence import classify_position

    source = engine.generate_image(
        ImageRequest(prompt="a red bottle on a plain backdrop on the right", seed=3)
    ).outputs[0]
    before = _pixels(source.path)
    place = "left" if classify_position(before) != "left" else "right"
    seen = []
    result = engine.edit(
        EditRequest(
            source=source.asset_id, operation="refine", instruction=f"move it to the {place}"
        ),
        on_progress=lambda stage, done, total: seen.append((stage, done, total)),
    )
    assert [s for s in seen if s[0] == "move"] == [("move", 1, 3), ("move", 2, 3), ("move", 3, 3)]
    record, after = result.output.record, _pixels(result.output.path)
    assert result.route == "move" and record["kind"] == "adjusted" and "model" not in record
    assert record["edit"]["diffusion"] is False and record["edit"]["move"]["place"] == place
    assert record["edit"]["move"]["shift_px"] != 0 and "strength" not in record["edit"]
    assert classify_position(after) == place
    changed = np.abs(after.astype(int) - before).max(axis=2) > 0
    assert 0.02 < changed.mean() <= record["edit"]["move"]["painted"]
    assert result.preserved > 0.85  # SSIM outside what it painted (windows straddle its edge)
    assert record["watermark"]["inherited"] is True
    assert thread_of(engine.library, result.output.asset_id)[-1].route == "move"


def test_an_instruction_the_builtin_models_cannot_do_says_what_they_can(engine, source):
    with pytest.raises(InputError) as caught:
        _edit(engine, source=source.asset_id, operation="refine", instruction="add a hat")
    message = str(caught.value)
    assert "builtin-edit cannot do 'add a hat'" in message
    assert "it knows colour changes" in message and "make the jar black" in message
    assert "warmer" in message


def test_bad_edit_input_is_refused_or_noted(engine, source, tmp_path):
    for strength in (0.0, 1.5, -0.2):
        with pytest.raises(ValidationError, match="strength"):
            EditRequest(source=source.asset_id, operation="img2img", strength=strength)
    with pytest.raises(ValidationError, match="mask file or a region"):
        EditRequest(source=source.asset_id, operation="inpaint")
    big_mask = tmp_path / "mask.png"
    drawn = Image.new("L", (256, 256), 0)
    drawn.paste(255, (64, 64, 128, 128))
    drawn.save(big_mask)
    noted = _edit(
        engine, source=source.asset_id, operation="inpaint", prompt=PROMPT, mask=str(big_mask)
    )
    assert noted.notes == ["the mask was 256x256; resized to 64x64"]
    assert noted.output.record["edit"]["mask"]["bbox"] == [16, 16, 16, 16]
    Image.new("L", (64, 64), 0).save(tmp_path / "empty.png")
    with pytest.raises(InputError, match="empty"):
        _edit(
            engine,
            source=source.asset_id,
            operation="inpaint",
            prompt=PROMPT,
            mask=str(tmp_path / "empty.png"),
        )


def test_a_16_bit_grey_image_is_edited_by_its_values_not_as_white(engine, tmp_path):
    """PIL reads a 16-bit greyscale PNG as mode I;16, whose convert("RGB") clips every
    value to white: "warmer" made a white page."""
    values = np.full((64, 64), 60_000, np.uint16)
    values[16:48, 16:48] = 20_000  # a dark square, 78 of 255 once scaled
    Image.fromarray(values).save(tmp_path / "grey16.png")
    result = _edit(
        engine, source=str(tmp_path / "grey16.png"), operation="refine", instruction="warmer"
    )
    warmer = _pixels(result.output.path)
    assert warmer[32, 32].mean() < 120 and warmer[2, 2].mean() > 200
    assert warmer[32, 32, 0] > warmer[32, 32, 2]  # and warmer: more red than blue


def test_a_phone_photo_is_edited_upright_as_it_is_shown(engine, tmp_path):
    """A phone stores a portrait photo as landscape pixels and an EXIF tag to turn them;
    "warmer" and a square crop came out on their side (96x64 for a 64x96 photo)."""
    shown = np.zeros((96, 64, 3), np.uint8)
    shown[:48], shown[48:] = (200, 30, 30), (30, 30, 200)  # red above blue
    tags = Image.Exif()
    tags[0x0112] = 6  # stored a quarter turn anticlockwise; viewers turn it back
    Image.fromarray(np.ascontiguousarray(np.rot90(shown))).save(
        tmp_path / "phone.jpg", exif=tags.tobytes(), quality=95
    )
    for instruction, size in (("warmer", (96, 64)), ("crop to 1:1", (64, 64))):
        result = _edit(
            engine, source=str(tmp_path / "phone.jpg"), operation="refine", instruction=instruction
        )
        out = _pixels(result.output.path)
        assert out.shape[:2] == size, instruction
        assert out[4, 32, 0] > 150 > out[-4, 32, 0] and out[-4, 32, 2] > 150 > out[4, 32, 2]


def test_a_transparent_png_is_edited_on_white(engine, tmp_path):
    """A logo's transparent pixels hid green and black; "warmer" showed them."""
    pixels = np.zeros((64, 64, 4), np.uint8)
    pixels[:16, :, :3] = (0, 255, 0)
    pixels[16:48, 16:48] = (200, 30, 30, 255)
    Image.fromarray(pixels).save(tmp_path / "logo.png")
    result = _edit(
        engine, source=str(tmp_path / "logo.png"), operation="refine", instruction="warmer"
    )
    out = _pixels(result.output.path)
    assert out[4, 4].min() > 200 and out[60, 4].min() > 200  # white, warmed; not green, black
    assert out[32, 32, 0] > 150 > out[32, 32, 1]


def test_a_video_is_refused_as_an_edit_source(engine, tmp_path):
    path = make_clip(tmp_path / "clip.mp4", frames=12)
    with pytest.raises(InputError, match="is a clip, and a turn changes an image") as said:
        _edit(engine, source=path, operation="refine", instruction="warmer")
    assert "edit grade CLIP" in str(said.value)  # what does change a clip's colour


def test_a_five_turn_thread_with_a_branch_keeps_the_untouched_region(engine, source):
    turn = source.asset_id
    steps = [
        dict(operation="inpaint", prompt="a blue bottle on a wooden table", region=(20, 8, 24, 28)),
        dict(operation="refine", instruction="a bit warmer"),
        dict(operation="inpaint", prompt=PROMPT, region=(0, 44, 20, 20)),
        dict(operation="refine", instruction="more contrast"),
        dict(
            operation="inpaint", prompt="a green bottle on a wooden table", region=(40, 30, 20, 20)
        ),
    ]
    ids = [turn]
    for i, step in enumerate(steps, start=1):
        result = _edit(engine, source=turn, seed=i, **step)
        assert result.turn == i and result.thread == source.asset_id
        turn = result.output.asset_id
        ids.append(turn)
    assert result.preserved >= 0.80
    # a branch: turn 2 refined again; nothing is overwritten
    branch = _edit(engine, source=ids[2], operation="refine", instruction="cooler")
    assert branch.turn == 3
    turns = thread_of(engine.library, branch.output.asset_id)
    by_id = {t.asset_id: t for t in turns}
    assert set(ids) | {branch.output.asset_id} <= set(by_id)
    assert by_id[branch.output.asset_id].parent == ids[2]
    assert by_id[ids[3]].parent == ids[2]
    assert by_id[ids[0]].depth == 0 and by_id[ids[5]].depth == 5
    assert by_id[ids[2]].instruction == "a bit warmer" and by_id[ids[2]].route == "exact"


def test_promote_renders_an_edit_at_production_and_keeps_the_edit(engine, source):
    edit = _edit(
        engine,
        source=source.asset_id,
        operation="inpaint",
        prompt="a blue bottle on a wooden table",
        region=(16, 12, 32, 36),
    )
    result = engine.promote(edit.output.asset_id)
    out = result.outputs[0]
    assert (out.width, out.height) == (256, 256)
    assert out.record["parents"] == [{"id": edit.output.asset_id, "role": "draft"}]
    assert out.drift > 0.7  # composition kept
    small = np.asarray(Image.open(out.path).convert("RGB").resize((64, 64), Image.BOX))
    assert small[18:42, 26:38, 2].mean() > small[18:42, 26:38, 0].mean()  # still blue
    with pytest.raises(InputError, match="production-sized"):
        engine.promote(
            _edit(
                engine, source=out.asset_id, operation="refine", instruction="warmer"
            ).output.asset_id
        )


def test_an_edit_turns_manifest_records_the_edit_with_the_source_as_parent(engine, source):
    result = _edit(engine, source=source.asset_id, operation="refine", instruction="darker")
    found = engine.library.verify(result.output.path)
    assert found.manifest["actions"][:2] == ["c2pa.opened", "c2pa.edited"]
    parent = {"title": source.asset_id, "relationship": "parentOf", "instance_id": source.asset_id}
    assert parent in found.manifest["ingredients"]
    entries = engine.library.audit_entries()
    assert any(e["action"] == "edit" and result.output.asset_id in e["assets"] for e in entries)
