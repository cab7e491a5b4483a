"""The engine on the built-in model: reproducibility, batches, adherence, tiers, metadata."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cinedraft import ImageRequest, InputError, Overrides
from cinedraft_training.adherence import classify_colour, held_out_prompts, score_image
from cinedraft.quality.compare import analyze_images
from cinedraft.quality.metrics import laplacian_variance
from cinedraft.media.metadata import read_metadata

PROMPT = "a red bottle on a glass table in the center with studio lighting"


def _pixels(result, i=0):
    with Image.open(result.outputs[i].path) as im:
        return np.asarray(im.convert("RGB"))


def test_same_request_same_pixels_other_seed_other_pixels(engine):
    req = ImageRequest(prompt=PROMPT, seed=11, tier="draft")
    a, b = engine.generate_image(req), engine.generate_image(req)
    c = engine.generate_image(req.model_copy(update={"seed": 12}))
    assert np.array_equal(_pixels(a), _pixels(b))
    assert np.abs(_pixels(a).astype(int) - _pixels(c)).mean() > 2


def test_batch_of_n_gives_n_images_with_consecutive_seeds(engine):
    result = engine.generate_image(ImageRequest(prompt=PROMPT, seed=40, count=5))
    assert [o.seed for o in result.outputs] == [40, 41, 42, 43, 44]
    assert len({o.path for o in result.outputs}) == 5
    assert all(o.width == 64 and o.height == 64 for o in result.outputs)


def test_colour_words_change_the_object_colour(engine):
    """Prompt adherence on held-out colour/object pairs, scored by the domain scorer."""
    hits = 0
    prompts = []
    for colour, obj in [("red", "jar"), ("blue", "bottle"), ("yellow", "box"), ("green", "tube")]:
        for seed in (1, 2):
            prompts.append(
                (
                    f"a large {colour} {obj} on a plain backdrop in the center"
                    " with studio lighting",
                    colour,
                    seed,
                )
            )
    for prompt, colour, seed in prompts:
        out = engine.generate_image(ImageRequest(prompt=prompt, seed=seed, tier="production"))
        hits += classify_colour(_pixels(out), prompt) == colour
    assert hits / len(prompts) >= 0.75  # chance is 1/8


def test_production_meets_the_held_out_colour_target(engine):
    """The Foundation target, >= 80 % colour accuracy at the production tier on prompts that
    name colour/object pairs no training caption had, with random surface, lighting, size and
    position: the evaluation script's own prompts and seeds (its 96-prompt figure is in the
    model card)."""
    prompts = held_out_prompts(20, seed=1234)
    hits = 0
    for i, prompt in enumerate(prompts):
        out = engine.generate_image(ImageRequest(prompt=prompt, seed=1234 + i, tier="production"))
        hits += score_image(Image.fromarray(_pixels(out)), prompt).colour_ok
    assert hits / len(prompts) >= 0.8


def test_production_is_larger_sharper_and_keeps_the_composition(engine):
    draft = engine.generate_image(ImageRequest(prompt=PROMPT, seed=5)).outputs[0]
    prod = engine.promote(draft.asset_id).outputs[0]
    assert (prod.width, prod.height) == (256, 256)
    assert prod.record["parents"] == [{"id": draft.asset_id, "role": "draft"}]
    with Image.open(draft.path) as d, Image.open(prod.path) as p:
        enlarged = d.convert("RGB").resize(p.size, Image.Resampling.BICUBIC)
        assert laplacian_variance(p) > 1.5 * laplacian_variance(enlarged)
    assert prod.drift >= 0.7  # SSIM of production (downscaled) vs draft


def test_production_adds_no_artifact_the_enlarged_draft_lacks(engine):
    """On evaluation prompts, ``analyze`` (its own thresholds) holds no blocking, noise,
    colour blotch, speck or halo against the production image, the draft enlarged beside
    it, and production's colour outliers, specks and halos (means) are no more than the
    draft's. The refine had painted magenta and green blotches (``chroma_outliers`` 0.43
    per mille against 0.00 on 8 prompts); limiting R, G and B apart left a few stray pixels
    (0.01); the 30-step render's dark rims read as halos (14-18 % against 0-10 %)."""
    drafts, finals = [], []
    for i, prompt in enumerate(held_out_prompts(3, seed=1234)):
        draft = engine.generate_image(ImageRequest(prompt=prompt, seed=1234 + i)).outputs[0]
        final = engine.promote(draft.asset_id).outputs[0]
        report = analyze_images([Path(draft.path), Path(final.path)])
        verdict = report["verdict"][0]
        assert verdict["clearer"] == final.path
        named = ("compression", "noise", "colour blotches", "specks", "halos")
        assert not [d for d in verdict["despite"] if d.startswith(named)], (prompt, verdict)
        shown = {i["path"]: i["display"] for i in report["images"]}
        drafts.append(shown[draft.path])
        finals.append(shown[final.path])
    for metric in ("chroma_outliers", "speckle", "overshoot"):
        mean_draft, mean_final = (np.mean([m[metric] for m in side]) for side in (drafts, finals))
        assert mean_final <= mean_draft, (metric, mean_final, mean_draft)


def test_files_carry_parameters_and_the_full_record(engine):
    draft = engine.generate_image(
        ImageRequest(prompt=PROMPT, seed=9, negative_prompt="blurry")
    ).outputs[0]
    meta = read_metadata(draft.path)
    assert draft.path.endswith(".webp")
    assert meta["parameters"].startswith(
        PROMPT + "\nNegative prompt: blurry\nSteps: 8, Sampler: DPM++ 2M"
    )
    assert "Seed: 9" in meta["parameters"]
    assert meta["record"]["asset_id"] == draft.asset_id
    prod = engine.promote(draft.asset_id, overrides=Overrides(steps=6)).outputs[0]
    meta = read_metadata(prod.path)
    assert prod.path.endswith(".png") and meta["record"]["tier"] == "production"
    assert (
        meta["record"]["model_hash"] == draft.record["model_hash"]
        and len(draft.record["model_hash"]) == 64
    )
    assert "Denoising strength: 0.05" in meta["parameters"]


def test_template_expands_every_combination_then_cycles(engine):
    result = engine.generate_image(
        ImageRequest(
            prompt="a {red|blue} {ball|box} on a plain backdrop",
            template=True,
            count=6,
            seed=0,
            steps=2,
        )
    )
    prompts = [o.prompt for o in result.outputs]
    assert len(set(prompts[:4])) == 4 and prompts[4:] == prompts[:2]
    assert result.outputs[0].record["template"] == "a {red|blue} {ball|box} on a plain backdrop"


def test_weighted_prompt_changes_the_image_and_scheduler_by_name(engine):
    base = ImageRequest(prompt="a blue ball on a plain backdrop", seed=3, steps=4)
    plain = _pixels(engine.generate_image(base))
    weighted = _pixels(
        engine.generate_image(
            base.model_copy(update={"prompt": "a (blue)1.6 ball on a plain backdrop"})
        )
    )
    assert np.abs(plain.astype(int) - weighted).mean() > 0.5
    euler = engine.generate_image(base.model_copy(update={"scheduler": "euler"})).outputs[0]
    assert euler.record["scheduler"] == "euler" and euler.record["sampler"] == "Euler"


def test_a1111_weighting_encodes_as_its_compel_equal_and_is_written_back_as_a1111(engine):
    """A prompt pasted from A1111, ComfyUI or a shared prompt weights its words (its
    brackets and numbers were encoded as words); BREAK encodes its parts apart, as compel's
    .and() does; the file's A1111 text gives a compel prompt's weights in A1111's syntax."""
    base = ImageRequest(prompt="a blue ball on a plain backdrop", seed=3, steps=4)

    def pixels(prompt):
        return _pixels(engine.generate_image(base.model_copy(update={"prompt": prompt})))

    compel = pixels("a (blue ball)1.6 on a plain backdrop")
    assert np.array_equal(pixels("a (blue ball:1.6) on a plain backdrop"), compel)
    assert np.array_equal(
        pixels("a (((((blue ball))))) on a plain backdrop"),
        pixels("a (blue ball)1.61051 on a plain backdrop"),
    )
    assert np.abs(pixels("a blue ball on a plain backdrop").astype(int) - compel).mean() > 0.5
    assert np.array_equal(
        pixels("a blue ball BREAK on a plain backdrop"),
        pixels('("a blue ball", "on a plain backdrop").and()'),
    )
    out = engine.generate_image(base.model_copy(update={"prompt": "a (blue)1.6 ball, red--"}))
    text = read_metadata(out.outputs[0].path)["parameters"]
    assert text.splitlines()[0] == "a (blue:1.6) ball, (red:0.81)"


@pytest.mark.parametrize("scheduler", [None, "heun"])
def test_progress_is_reported_per_step(engine, scheduler):
    """One event a sampling step, also for Heun, which calls the model twice a step (its
    9 calls for 5 steps were shown as 9/5)."""
    events = []
    request = ImageRequest(prompt=PROMPT, seed=1, steps=5, scheduler=scheduler)
    engine.generate_image(request, lambda *e: events.append(e))
    sample = [e for e in events if e[0] == "sample"]
    assert [e[1] for e in sample] == [1, 2, 3, 4, 5] and sample[-1][2] == 5


def test_loading_a_model_is_a_stage_of_the_first_request_on_it(tmp_path, tiny_sd):
    """A request that loads its model said nothing until sampling began (a large checkpoint
    takes a minute: the studio's job sat at "queued"); a request on a loaded model has no
    such stage."""
    from cinedraft import Engine, Settings

    engine = Engine(Settings(home=tmp_path, offline=True, device="cpu", provenance=False))
    request = ImageRequest(prompt="a red jar", model=str(tiny_sd), seed=1, steps=2)
    events = []
    engine.generate_image(request, lambda *e: events.append(e))
    stage = f"load {tiny_sd}"
    assert events[:2] == [(stage, 0, 1), (stage, 1, 1)] and events[2][0] == "sample"
    again = []
    engine.generate_image(request, lambda *e: again.append(e))
    assert not [e for e in again if e[0].startswith("load")] and again[0][0] == "sample"


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"scheduler": "nope"}, "unknown scheduler"),
        ({"tier": "ultra"}, "unknown tier"),
        ({"prompt": "a {red|blue", "template": True, "count": 2}, "bad template"),
    ],
)
def test_bad_requests_raise_input_errors(engine, changes, message):
    with pytest.raises(InputError, match=message):
        engine.generate_image(ImageRequest(**{"prompt": PROMPT, **changes}))


def test_request_validation():
    with pytest.raises(ValueError, match="prompt is empty"):
        ImageRequest(prompt="   ")
    with pytest.raises(ValueError, match="multiple of 8"):
        ImageRequest(prompt="x", width=100)


def test_production_at_a_requested_size_and_aspect(engine):
    out = engine.generate_image(
        ImageRequest(prompt=PROMPT, tier="production", width=512, height=384, seed=2, steps=4)
    ).outputs[0]
    assert (out.width, out.height) == (512, 384)
    # The base keeps the model's native area at the asked aspect; refine is capped at 256.
    assert (out.record["base_width"], out.record["base_height"]) == (72, 56)
    assert set(out.record["timings"]) >= {"base", "upscale_refine", "cleanup"}


def test_rerender_reproduces_draft_and_production_pixels_exactly(engine):
    draft = engine.generate_image(ImageRequest(prompt=PROMPT, seed=21, steps=4)).outputs[0]
    prod = engine.promote(draft.asset_id, overrides=Overrides(steps=6)).outputs[0]
    for original in (draft, prod):
        again = engine.rerender(original.asset_id)
        assert again.identical and again.max_abs_diff == 0, original.record["tier"]
        assert again.output.asset_id != original.asset_id
        assert {"id": original.asset_id, "role": "rerender"} in again.output.record["parents"]
    assert engine.library.get(prod.asset_id).children[0]["role"] == "rerender"


def test_rerender_reports_a_difference_when_the_stored_file_changed(engine):
    draft = engine.generate_image(ImageRequest(prompt=PROMPT, seed=22, steps=3)).outputs[0]
    with Image.open(draft.path) as im:  # someone overwrote the stored file's pixels
        changed = im.convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    changed.save(draft.path, "WEBP", quality=80)
    again = engine.rerender(draft.asset_id)
    assert not again.identical and again.max_abs_diff > 0
    assert draft.asset_id in engine.library.check()["corrupt"]


def test_every_output_is_signed_and_production_is_watermarked(engine, tmp_path):
    draft = engine.generate_image(ImageRequest(prompt=PROMPT, seed=23, steps=3)).outputs[0]
    prod = engine.promote(draft.asset_id, overrides=Overrides(steps=4)).outputs[0]
    found = engine.library.verify(prod.path)
    assert found.ok and found.manifest["state"] == "Trusted" and found.library_copy
    parent = {"title": draft.asset_id, "relationship": "parentOf", "instance_id": draft.asset_id}
    model = {
        "title": "builtin",
        "relationship": "inputTo",
        "instance_id": f"sha256:{prod.record['model_hash']}",
    }
    assert found.manifest["ingredients"] == [model, parent]
    assert found.watermark == prod.asset_id
    assert engine.library.verify(draft.path).manifest["state"] == "Trusted"
    web = engine.library.export([prod.asset_id], tmp_path, profile="web")[0]
    assert engine.library.verify(web).watermark == prod.asset_id  # `verify` said "none found"


def test_a_draft_written_by_the_previous_release_re_renders_identically(engine):
    """A file made before records were versioned (``tests/fixtures/v0``) loads, is upgraded,
    and re-renders to the same pixels."""
    from pathlib import Path

    from cinedraft.media.metadata import read_metadata

    fixture = Path(__file__).parents[1] / "fixtures" / "v0" / "draft.webp"
    record = read_metadata(fixture)["record"]
    assert "schema_version" not in record
    stored = engine.library.add_bytes(fixture.read_bytes(), ".webp", dict(record))
    again = engine.rerender(stored.id)
    assert again.identical and again.max_abs_diff == 0
    assert again.output.record["schema_version"] >= 1


def test_only_generated_images_are_promoted_or_re_rendered(engine, tmp_path):
    """An imported file has no generation record: promote and rerender refuse it in one line
    naming what is missing, before any model runs."""
    from PIL import Image

    from cinedraft.errors import InputError

    path = tmp_path / "photo.png"
    Image.new("RGB", (32, 32), "orange").save(path)
    outside = engine.library.import_file(path)
    refused = r"is not a generated image; {} \(kind: "
    with pytest.raises(InputError, match=refused.format("only those can be promoted")):
        engine.promote(outside.id)
    with pytest.raises(InputError, match=refused.format("there is nothing to re-run")):
        engine.rerender(outside.id)


def test_a_tiled_refine_is_recorded_and_rerenders_pixel_identically(engine):
    """Production above the size a model refines at, in tiles when asked: the record says so
    and how many tiles, and ``rerender`` tiles again to the same pixels."""
    request = ImageRequest(prompt=PROMPT, seed=5, steps=2, tier="production", width=384, height=384)
    whole = engine.generate_image(request).outputs[0]
    tiled = engine.generate_image(request.model_copy(update={"tiled_refine": True})).outputs[0]
    limit = whole.record["render"]["refine_max_side"]
    assert limit < 384 and "refine_tiles" not in whole.record["render"]
    assert tiled.record["render"]["refine_tiled"] and tiled.record["render"]["refine_tiles"] == 4
    with Image.open(whole.path) as a, Image.open(tiled.path) as b:
        assert a.size == b.size == (384, 384)
        assert np.abs(np.asarray(a, dtype=int) - np.asarray(b, dtype=int)).mean() > 1.0
    again = engine.rerender(tiled.asset_id)
    assert again.identical, again


def test_the_words_the_built_in_model_did_not_read_are_recorded(engine):
    """Its encoder reads 32 tokens; the rest of a long prompt was cut without a word in the
    record (the studio shows records, not the console's diffusers warning)."""
    long = PROMPT + ", soft shadow" * 8 + ", a blue ball"
    out = engine.generate_image(ImageRequest(prompt=long, seed=1, steps=2)).outputs[0]
    assert out.record["prompt_unread"].endswith("a blue ball")
    assert "studio lighting" not in out.record["prompt_unread"]
    short = engine.generate_image(ImageRequest(prompt=PROMPT, seed=1, steps=2)).outputs[0]
    assert "prompt_unread" not in short.record
