"""generate_video on the built-in video model and on tiny LTX-Video and Wan pipelines.

Every clip is probed from the stored file: the frame count, rate, duration and size are the
ones asked for, whatever the chunking did."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from cinedraft import ImageRequest, InputError, Overrides, Settings, VideoRequest
from cinedraft.editor import Editor
from cinedraft.media.codec import decode_frames
from cinedraft.media.probe import Prober
from cinedraft.engine.engine import Engine
from cinedraft.quality.metrics import drift_ssim

FAST = dict(steps=8, seed=11)


@pytest.fixture(scope="module")
def prober():
    return Prober()


def _probe(prober, path):
    info = prober.probe(path)
    return info.frame_count, info.fps, info.duration, info.video.width, info.video.height


def test_text_to_video_is_exactly_as_asked(engine, prober):
    result = engine.generate_video(
        VideoRequest(
            prompt="a blue ball on a glass table, the ball slides right", seconds=1.5, **FAST
        )
    )
    frames, fps, duration, width, height = _probe(prober, result.path)
    assert (frames, fps, width, height) == (36, 24, 640, 360)
    assert duration == pytest.approx(1.5, abs=1e-3)
    assert (result.frames, result.width, result.height) == (36, 640, 360)
    # 1.5 s at 8 model frames a second is 13 frames: a chunk of 8, then 2 given + 5 new.
    assert result.chunks == 2 and len(result.seams) == 1
    record = engine.library.get(result.asset_id).record
    assert record["kind"] == "video" and record["chunks"] == [8, 7]
    # The second chunk continues the first's frames: sampled at the family's lower guidance.
    assert (record["guidance"], record["continue_guidance"]) == (4.0, 2.0)
    assert record["temporal"]["warp_error"]["mean"] > 0
    poster = engine.library.get(result.poster)
    assert poster.parents == [{"id": result.asset_id, "role": "video"}]


def test_vertical_preset_size_and_rate(engine, prober):
    result = engine.generate_video(
        VideoRequest(
            prompt="a pink cup on a marble table, camera zooms in",
            seconds=0.5,
            preset="vertical-15s",
            **FAST,
        )
    )
    assert _probe(prober, result.path)[:2] == (15, 30)
    assert _probe(prober, result.path)[3:] == (1080, 1920)


def test_same_seed_same_clip(engine):
    request = VideoRequest(
        prompt="a red bottle on a wooden table, the bottle bounces", seconds=0.5, **FAST
    )
    a = np.stack(decode_frames(engine.generate_video(request).path))
    b = np.stack(decode_frames(engine.generate_video(request).path))
    assert np.array_equal(a, b)


def test_a_video_prompts_weighting_gives_the_encoder_its_words_not_its_brackets(engine):
    """No video family encodes weights; "(red bottle:1.3)" was given to the text encoder as
    brackets, a colon and a number. It is given the words (the record keeps what was typed)."""
    plain = dict(prompt="a red bottle on a wooden table, the bottle bounces", seconds=0.5)
    weighted = dict(plain, prompt="a (red bottle:1.3) on a wooden table, [the bottle bounces]")
    a = engine.generate_video(VideoRequest(**plain, **FAST))
    b = engine.generate_video(VideoRequest(**weighted, **FAST))
    assert np.array_equal(np.stack(decode_frames(a.path)), np.stack(decode_frames(b.path)))
    assert engine.library.get(b.asset_id).record["prompt"] == weighted["prompt"]


def test_the_same_clip_twice_without_signing(small_engine):
    """With provenance off nothing makes two identical draws' files differ but their embedded
    records: both clips and both posters are stored, each poster under its own clip."""
    request = VideoRequest(
        prompt="a red bottle on a wooden table, the bottle bounces", seconds=0.5, **FAST
    )
    a, b = small_engine.generate_video(request), small_engine.generate_video(request)
    assert a.asset_id != b.asset_id and a.poster != b.poster
    poster = small_engine.library.get(b.poster)
    assert poster.parents == [{"id": b.asset_id, "role": "video"}]
    assert poster.record["kind"] == "poster" and poster.record["prompt"] == request.prompt


def test_image_to_video_starts_on_the_image(engine):
    image = engine.generate_image(
        ImageRequest(prompt="a green ball on a glass table", seed=5)
    ).outputs[0]
    result = engine.generate_video(
        VideoRequest(
            prompt="camera zooms in",
            image=image.asset_id,
            seconds=1.0,
            preset="square-social",
            **FAST,
        )
    )
    first = Image.fromarray(decode_frames(result.path)[0])
    with Image.open(image.path) as given:
        assert drift_ssim(given.convert("RGB"), first) >= 0.8
    assert engine.library.get(result.asset_id).parents == [
        {"id": image.asset_id, "role": "first_frame"}
    ]


def test_image_to_video_sets_out_from_the_given_image(engine, monkeypatch):
    """The built-in family's still start: the frames an image-to-video call draws start from
    the given image noised a fifth of the way into the schedule, not from pure noise, so they
    stay nearer the image (its subject's colour and place); progress counts every step."""
    from dataclasses import replace

    from cinedraft_training.evaluation import NATIVE

    model = engine.models.get("builtin", kind="video")
    assert model.family.still_start == 0.2
    own = model.family
    scenes = ["a red box on a marble table", "a small blue jar on a plain backdrop"]
    images = [
        engine.generate_image(ImageRequest(prompt=scene, seed=40 + i)).outputs[0]
        for i, scene in enumerate(scenes)
    ]
    distance = {}
    for still in (0.2, 0.0):
        monkeypatch.setattr(model, "family", replace(own, still_start=still))
        distance[still] = []
        for i, (scene, image) in enumerate(zip(scenes, images)):
            steps = []
            result = engine.video.generate(
                VideoRequest(
                    prompt=f"{scene}, the object bounces",
                    image=image.asset_id,
                    seconds=0.875,
                    seed=40 + i,
                    hold_subject=False,
                ),
                "builtin",
                preset=NATIVE,
                on_progress=lambda stage, done, total: (
                    steps.append((done, total)) if stage.startswith("chunk") else None
                ),
            )
            assert result.record["still_start"] == still
            assert steps[-1] == (20, 20) and len(steps) == 20 - round(20 * still)
            frames = np.stack(decode_frames(result.path)).astype(float)
            distance[still].append(np.abs(frames[1:] - frames[0]).mean())
    assert np.mean(distance[0.2]) < 0.9 * np.mean(distance[0.0]), distance


@pytest.mark.parametrize("name", ["dpm++", "euler-trailing", "ddim-trailing"])
def test_a_still_start_skips_the_first_steps_of_any_schedule(name):
    """``_skipping`` cuts a schedule's first steps as an image-to-image strength does, for a
    sigma-scaled sampler as for the others, and ``_still_start`` noises the given frame to
    the first step left, divided by what the pipeline multiplies its latents by."""
    import torch
    from diffusers import DPMSolverMultistepScheduler

    from cinedraft.engine.schedulers import make_scheduler
    from cinedraft.engine.video import _skipping, _still_start

    own = DPMSolverMultistepScheduler(  # the built-in video model's schedule
        beta_schedule="squaredcos_cap_v2",
        prediction_type="v_prediction",
        timestep_spacing="trailing",
    )
    base = make_scheduler(name, own)
    full = type(base).from_config(base.config)
    full.set_timesteps(20)
    scheduler, skipped = _skipping(base, 20, 0.2)
    scheduler.set_timesteps(20)
    assert skipped == 4 and list(scheduler.timesteps) == list(full.timesteps[4:])
    known = torch.randn(1, 4, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    noise = torch.randn(1, 4, 8, 8, 8, generator=torch.Generator().manual_seed(1))
    start = _still_start(scheduler, 20, known, False, noise) * scheduler.init_noise_sigma
    t = int(full.timesteps[4])
    if hasattr(full, "sigmas") and len(full.sigmas) == len(full.timesteps) + 1:
        sigma = float(full.sigmas[4])
        if name.startswith("euler"):  # a sigma-scaled sampler: x + sigma * noise
            expected = known[:, :, -1:] + sigma * noise
        else:
            alpha = 1 / (sigma**2 + 1) ** 0.5
            expected = alpha * known[:, :, -1:] + alpha * sigma * noise
    else:
        a = float(full.alphas_cumprod[t])
        expected = a**0.5 * known[:, :, -1:] + (1 - a) ** 0.5 * noise
    assert torch.allclose(start, expected, atol=1e-4)


def test_a_schedule_that_cannot_be_cut_by_count_starts_from_noise(engine):
    """Second-order samplers repeat timesteps and PNDM adds warm-up ones: cutting their
    first steps by count would misalign the solver, so image to video with one starts from
    noise, and its record says so (``still_start`` 0)."""
    from diffusers import DPMSolverMultistepScheduler, PNDMScheduler

    from cinedraft.engine.schedulers import make_scheduler
    from cinedraft.engine.video import _can_skip
    from cinedraft_training.evaluation import NATIVE

    own = DPMSolverMultistepScheduler(beta_schedule="squaredcos_cap_v2")
    cut = {n: _can_skip(make_scheduler(n, own), 20) for n in ("dpm++", "euler", "ddim", "heun")}
    assert cut == {"dpm++": True, "euler": True, "ddim": True, "heun": False}
    assert not _can_skip(PNDMScheduler(), 20)  # the scheduler SD 1.5 folders ship
    image = engine.generate_image(ImageRequest(prompt="a red box", seed=3)).outputs[0]
    steps = []
    result = engine.video.generate(
        VideoRequest(
            prompt="a red box, the camera pans",
            image=image.asset_id,
            seconds=0.875,
            seed=3,
            steps=4,
            scheduler="heun",
            hold_subject=False,
        ),
        "builtin",
        preset=NATIVE,
        on_progress=lambda stage, done, total: (
            steps.append(done) if stage.startswith("chunk") else None
        ),
    )
    assert (
        result.record["still_start"] == 0.0 and result.record["sampler"] == "HeunDiscreteScheduler"
    )
    assert steps == [1, 2, 3, 4]  # Heun's 7 model calls, reported as its 4 steps


def test_a_model_whose_own_sampler_scales_its_noise_starts_from_unit_noise(tmp_path):
    """A video model whose own scheduler starts from sigma-scaled noise (Euler, as
    AnimateDiff-Lightning's folders ship) gets its initial latents scaled once, by the
    pipeline: the UNet's first input is unit noise, not noise scaled twice."""
    import json
    import shutil

    from cinedraft.builtin import VIDEO_MODEL

    folder = tmp_path / "euler-video"
    shutil.copytree(VIDEO_MODEL, folder)
    for config, entry in [
        (folder / "scheduler" / "scheduler_config.json", {"_class_name": "EulerDiscreteScheduler"}),
        (folder / "model_index.json", {"scheduler": ["diffusers", "EulerDiscreteScheduler"]}),
    ]:
        config.write_text(json.dumps(json.loads(config.read_text()) | entry))
    engine = Engine(Settings(home=tmp_path / "home", offline=True, provenance=False))
    pipe = engine.models.get(str(folder), kind="video").pipe
    assert pipe.scheduler.init_noise_sigma > 100  # sigma-scaled: its first sigma, about 1e4
    inputs = []
    hook = pipe.unet.register_forward_pre_hook(
        lambda module, args, kwargs: inputs.append(float(args[0].std())), with_kwargs=True
    )
    try:
        engine.video.generate(
            VideoRequest(prompt="a red box on a marble table", seconds=0.5, steps=2, seed=1),
            str(folder),
        )
    finally:
        hook.remove()
    assert 0.5 < inputs[0] < 2, inputs


def test_extension_seam_is_like_any_frame_pair(engine):
    """The editor's extend with a generated continuation: the seam's warp error in the
    joined file is within 1.5x of the average of the frame pairs around it."""
    clip = engine.generate_video(
        VideoRequest(
            prompt="a yellow jar on a plain backdrop, the jar slides left",
            seconds=1.0,
            preset="square-social",
            **FAST,
        )
    )
    editor = Editor(
        engine.library,
        generate_continuation=lambda path, seconds, prompt, before, overrides, *_: (
            engine.continue_clip(path, seconds, prompt, before, seed=3, overrides=overrides)
        ),
    )
    joined = editor.extend(clip.asset_id, 1.0, "the jar slides left")
    seam = joined.record["edit"]["seams"][0]
    assert seam["at_frame"] == 30
    assert seam["ratio"] <= 1.5, seam
    assert joined.record["frames"] == 60
    continuation = [p for p in joined.parents if p["id"] != clip.asset_id][0]["id"]
    assert engine.library.get(continuation).parents == [{"id": clip.asset_id, "role": "extends"}]


def test_extension_of_a_clip_at_another_aspect_keeps_its_framing(engine):
    """A 16:9 clip of the square model: only the band it shows is held; the continuation's
    first frame lines up with the clip's last (small warp error), through the same crop
    (issue #34: the crop follows the subject, so it need not be the middle)."""
    from cinedraft.media.files import sha256_file

    clip = engine.generate_video(
        VideoRequest(
            prompt="a red bottle on a glass table, the bottle rotates", seconds=1.0, **FAST
        )
    )
    path = engine.continue_clip(clip.path, 0.5, "the bottle rotates", seed=5)
    crop = engine.library.get(clip.asset_id).record["crop"]
    assert crop[0] == 0.5 and crop[1] > 0.6  # the bottle stands low: its base is kept
    continuation = engine.library.get(engine.library.by_sha(sha256_file(path)).id)
    assert continuation.record["crop"] == crop
    last, first = decode_frames(clip.path)[-1], decode_frames(path)[0]
    assert last.shape == first.shape == (360, 640, 3)
    from cinedraft.quality.metrics import warp_error

    inside = np.mean(
        [warp_error(a, b) for a, b in zip(decode_frames(path), decode_frames(path)[1:])]
    )
    assert warp_error(last, first) <= 2.0 * inside


def test_a_lead_in_runs_into_the_clip(engine):
    """A generated lead-in (extend before): made backwards from the clip's first frames, its
    last frame leads into the clip's first like a frame pair inside it."""
    from cinedraft.media.files import sha256_file
    from cinedraft.quality.metrics import warp_error

    clip = engine.generate_video(
        VideoRequest(
            prompt="a green cup on a wooden table, the cup slides right", seconds=1.0, **FAST
        )
    )
    path = engine.continue_clip(clip.path, 0.5, "the cup slides right", before=True, seed=5)
    lead, first = decode_frames(path), decode_frames(clip.path)[0]
    assert len(lead) == 12 and lead[-1].shape == first.shape == (360, 640, 3)
    inside = np.mean([warp_error(a, b) for a, b in zip(lead, lead[1:])])
    assert warp_error(lead[-1], first) <= 2.0 * inside
    asset = engine.library.by_sha(sha256_file(path))
    assert engine.library.get(asset.id).parents == [{"id": clip.asset_id, "role": "leads_into"}]


def test_long_clip_chunks_seams_and_retries(engine):
    request = VideoRequest(
        prompt="a purple tube on a glass table, light sweeps across",
        seconds=2.0,
        max_seam_ratio=1.01,
        retries=1,
        **FAST,
    )
    result = engine.generate_video(request)
    # 17 model frames: 8, then 2 given + 6 new, then 2 given + 3 new.
    assert result.record["chunks"] == [8, 8, 5] and len(result.seams) == 2
    for seam in result.seams:
        # A first draw over the bar is drawn again; the better of the two is kept.
        assert seam.attempts in (1, 2) and (seam.attempts == 2 or seam.ratio <= 1.01)
        assert seam.colour_jump >= 0 and 0 <= seam.flicker <= 1
    assert len(set(result.record["chunk_seeds"])) == 3


def test_a_chunk_that_loses_the_subject_is_drawn_again(engine):
    """A held-out prompt (the evaluation's validation set, seed 777) whose first two draws
    lose the jar by the last frame and whose third keeps it: the engine keeps the third, and
    the evaluation's own check agrees; with holding off, the first draw is delivered and the
    evaluation sees the subject lost."""
    from cinedraft_training.adherence import subject_identity
    from cinedraft_training.evaluation import NATIVE, ONE_CHUNK

    prompt = (
        "a large pink jar on a wooden table in the center with dramatic lighting, the jar "
        "slides left"
    )
    clips = {}
    for hold in (True, False):
        request = VideoRequest(prompt=prompt, seconds=ONE_CHUNK, seed=804, hold_subject=hold)
        result = engine.video.generate(request, "builtin", preset=NATIVE)
        clips[hold] = (result, np.stack(decode_frames(result.path)))
    held, frames = clips[True]
    assert held.subject_kept is True
    assert held.record["subject"] == [{"chunk": 0, "kept": True, "why": "", "attempts": 3}]
    assert held.record["chunk_seeds"] == [804 + 2 * 7919]
    assert subject_identity(frames, prompt).kept
    alone, frames = clips[False]
    assert alone.subject_kept is None and alone.record["subject"] == []
    assert alone.record["chunk_seeds"] == [804]
    assert not subject_identity(frames, prompt).kept


def test_a_subject_no_draw_finds_is_not_chased_into_the_next_chunks():
    """The loop itself, drawing rendered frames: every draw of the second chunk ends on a
    yellow jar where the clip showed a red one. That chunk is drawn three times and recorded
    as lost; the third, which continues the yellow jar, is held to it and drawn once (it was
    drawn three times in vain before)."""
    import dataclasses

    from cinedraft.engine.chunks import ChunkLoop, Drawn
    from cinedraft_training.scenes import Scene, render_scene

    red = Scene("jar", "red", "plain", "studio", "center", "large", x=0.5, scale=0.45)
    frames = {c: render_scene(dataclasses.replace(red, colour=c), 64)[0] for c in ("red", "yellow")}

    def draw(frames_n, continuing, seed, given, on_step):
        chunk = seed // 1_000_003
        colours = ["red"] * frames_n if chunk == 0 else ["yellow"] * frames_n
        if chunk == 1:  # it turns yellow half-way through
            colours[: frames_n // 2] = ["red"] * (frames_n // 2)
        return Drawn(np.stack([frames[c] for c in colours]), None, seed)

    loop = ChunkLoop(
        draw,
        [8, 8, 8],
        2,
        backwards=False,
        keeps_first=False,
        retries=2,
        max_seam_ratio=2.0,
        hold_subject=True,
        steps=1,
        progress=lambda *args: None,
    )
    held = loop.run(None, seed=0).subject
    assert [(c["kept"], c["attempts"]) for c in held] == [(True, 1), (False, 3), (True, 1)]
    assert "colour" in held[1]["why"]


def test_colour_anchor_pulls_towards_the_first_chunk():
    from cinedraft.engine.chunks import Anchor
    from cinedraft.quality.metrics import mean_lab

    rng = np.random.default_rng(0)
    first = rng.integers(90, 110, (4, 16, 16, 3)).astype(np.uint8)
    drifted = np.clip(first.astype(int) + [30, 10, -10], 0, 255).astype(np.uint8)
    anchor = Anchor(mean_lab(first))
    target = anchor.correction(drifted)
    fixed = Anchor.apply(drifted, target, target)
    before = np.linalg.norm(mean_lab(drifted) - mean_lab(first))
    after = np.linalg.norm(mean_lab(fixed) - mean_lab(first))
    assert after < 0.75 * before


def test_a_chunk_joins_the_frame_it_follows_without_a_colour_step():
    """A chunk drawn darker than the frame it continues: its first frame is matched to that
    frame's mean colour, its last is pulled towards the anchor as before."""
    from cinedraft.engine.chunks import Anchor
    from cinedraft.quality.metrics import mean_lab

    rng = np.random.default_rng(1)
    edge = rng.integers(100, 140, (16, 16, 3)).astype(np.uint8)
    darker = np.stack(
        [np.clip(edge.astype(int) - 8 - i, 0, 255).astype(np.uint8) for i in range(6)]
    )
    anchor = Anchor(mean_lab(edge[None]))
    joined = anchor.join(darker, darker, edge)
    assert np.linalg.norm(mean_lab(joined[:1]) - mean_lab(edge[None])) < 0.5
    assert np.linalg.norm(mean_lab(darker[:1]) - mean_lab(edge[None])) > 3  # the step it had
    pulled = Anchor.apply(darker[-1:], *(2 * [anchor.correction(darker)]))
    assert np.array_equal(joined[-1:], pulled)
    # At the start of a clip there is no frame to join: the first frame is left as drawn.
    assert np.array_equal(anchor.join(darker, darker, None)[0], darker[0])


def test_a_chunk_that_speeds_up_scores_as_a_seam():
    """A texture sliding 1 px a frame, then 6 px a frame from the joint: the seam pair is like
    the new chunk's own pairs, but the change of pace is a visible seam, so it scores high;
    at an even 6 px a frame the same joint scores about 1."""
    from cinedraft.quality.seams import score_seam

    rng = np.random.default_rng(2)
    texture = rng.integers(0, 256, (64, 200)).astype(np.uint8)

    def slide(start: int, speed: int, n: int) -> np.ndarray:
        return np.stack(
            [
                np.repeat(texture[:, start + speed * i : start + speed * i + 64, None], 3, 2)
                for i in range(n)
            ]
        )

    slow, fast = slide(0, 1, 5), slide(10, 6, 5)  # fast[0] is 6 px on from slow[-1]
    sped_up = score_seam(slow, fast)
    assert sped_up["ratio"] > 1.5, sped_up
    assert 0.7 < score_seam(slide(0, 6, 5), slide(30, 6, 5))["ratio"] < 1.3
    assert score_seam(slow, fast, window=0)["ratio"] is None  # no pairs to compare with


def test_continuing_calls_take_the_familys_guidance_unless_one_is_asked():
    from cinedraft.tiers import VIDEO_FAMILIES

    builtin, ltx = VIDEO_FAMILIES["builtin-video"], VIDEO_FAMILIES["ltx-video"]
    assert builtin.guidance_for(None, continuing=False) == builtin.guidance == 4.0
    assert builtin.guidance_for(None, continuing=True) == 2.0
    assert builtin.guidance_for(6.5, continuing=True) == 6.5  # an asked guidance is kept
    assert ltx.guidance_for(None, continuing=True) == ltx.guidance  # none of its own


@pytest.mark.parametrize("seconds", [0, -1, 1000])
def test_bad_length_is_refused(seconds):
    with pytest.raises(ValidationError, match="seconds"):
        VideoRequest(prompt="a red jar", seconds=seconds)


def test_bad_inputs_are_clear_errors(engine, tmp_path):
    with pytest.raises(InputError, match="unknown preset"):
        engine.generate_video(VideoRequest(prompt="a red jar", preset="imax", seconds=1))
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    with pytest.raises(InputError, match="broken.png"):
        engine.generate_video(VideoRequest(prompt="zoom in", image=str(broken), seconds=1))
    with pytest.raises(InputError, match="no such file"):
        engine.generate_video(
            VideoRequest(prompt="zoom in", image=str(tmp_path / "nope.png"), seconds=1)
        )
    with pytest.raises(ValidationError, match="either image"):
        VideoRequest(prompt="zoom in", image="a", extend="b")


# ------------------------------------------------------------------ other architectures


@pytest.fixture(scope="module")
def small_engine(tmp_path_factory):
    home = tmp_path_factory.mktemp("video-home")
    return Engine(
        Settings(
            home=home,
            offline=True,
            device="cpu",
            provenance=False,
            vae_tiling=True,
            vae_slicing=True,
        )
    )


TINY = dict(steps=2, seed=3, model_size=(32, 32))


def test_ltx_video_text_image_and_long(small_engine, tiny_ltx, prober):
    engine = small_engine
    model = str(tiny_ltx)
    clip = engine.generate_video(
        VideoRequest(
            prompt="a red bottle", model=model, seconds=1.0, preset="square-social", **TINY
        )
    )
    assert _probe(prober, clip.path)[:2] == (30, 30)
    assert clip.record["pipeline"] == "LTXPipeline" and clip.record["family"] == "ltx-video"
    assert clip.chunks == 1 and clip.record["chunks"] == [25]  # 24 fps + 1, of the form 8k + 1
    # Image to video through LTXImageToVideoPipeline, and a clip longer than one call:
    image = tiny_ltx.parent / "first.png"
    Image.new("RGB", (32, 32), (200, 30, 30)).save(image)
    long = engine.generate_video(
        VideoRequest(
            prompt="a red bottle",
            model=model,
            image=str(image),
            seconds=5.0,
            preset="preview",
            **TINY,
        )
    )
    assert long.chunks == 2 and long.record["chunks"] == [97, 25]
    assert _probe(prober, long.path)[0] == 120
    # The memory options reached the pipeline.
    assert engine.models.get(model, kind="video").pipe.vae.use_tiling


def test_ltx_0_9_1_decodes_with_its_timestep(small_engine, tiny_ltx_091, prober):
    """A timestep-conditioned VAE marks LTX-Video 0.9.1+: its preset passes the decode
    timestep and noise scale its docs give (without them it decodes noisy)."""
    clip = small_engine.generate_video(
        VideoRequest(prompt="a red bottle", model=str(tiny_ltx_091), seconds=0.5, **TINY)
    )
    assert clip.record["family"] == "ltx-video-0.9.1"
    assert clip.record["call"] == {"decode_timestep": 0.03, "decode_noise_scale": 0.025}
    assert _probe(prober, clip.path)[0] == 12  # 0.5 s at the preview's 24 fps


def test_wan_text_to_video_only(small_engine, tiny_wan, prober, tmp_path):
    model = str(tiny_wan)
    clip = small_engine.generate_video(
        VideoRequest(prompt="a blue jar", model=model, seconds=1.0, preset="preview", **TINY)
    )
    assert _probe(prober, clip.path)[:2] == (24, 24)
    assert clip.record["chunks"] == [17]  # 16 fps + 1, of the form 4k + 1
    image = tmp_path / "first.png"
    Image.new("RGB", (32, 32)).save(image)
    with pytest.raises(InputError, match="text only"):
        small_engine.generate_video(
            VideoRequest(prompt="a blue jar", model=model, image=str(image), seconds=1.0, **TINY)
        )
    with pytest.raises(InputError, match="at most"):
        small_engine.generate_video(
            VideoRequest(prompt="a blue jar", model=model, seconds=20, **TINY)
        )


def test_extend_uses_the_clips_own_model_unless_told(small_engine, tiny_wan):
    """A clip made by one model is continued by that model (it was continued by the
    configured video model, whatever made the clip); ``overrides`` choose another, and its
    sampling."""
    engine = small_engine
    clip = engine.generate_video(
        VideoRequest(prompt="a blue jar", model=str(tiny_wan), seconds=0.5, **TINY)
    )
    editor = Editor(
        engine.library,
        generate_continuation=lambda path, seconds, prompt, before, overrides, *_: (
            engine.continue_clip(path, seconds, prompt, before, seed=3, overrides=overrides)
        ),
    )
    # Wan makes clips from text only: asked to continue one, it says so, by name.
    with pytest.raises(InputError, match=f"{tiny_wan} .*text only"):
        editor.extend(clip.asset_id, 0.5, "the jar slides left")
    chosen = Overrides(model="builtin", steps=2, guidance=3.0, scheduler="euler")
    joined = editor.extend(clip.asset_id, 0.5, "the jar slides left", overrides=chosen)
    made = [p["id"] for p in joined.parents if p["id"] != clip.asset_id][0]
    record = engine.library.get(made).record
    assert record["model"] == "builtin" and record["steps"] == 2
    assert (record["guidance"], record["sampler"]) == (3.0, "EulerDiscreteScheduler")
    # The scheduler was lent for that request only: the cached pipeline has its own again.
    own = engine.models.get("builtin", kind="video").pipe.scheduler
    assert type(own).__name__ != "EulerDiscreteScheduler"


def test_an_image_model_is_not_a_video_model(small_engine, tiny_sd):
    with pytest.raises(InputError, match="not a video pipeline"):
        small_engine.generate_video(VideoRequest(prompt="a red jar", model=str(tiny_sd), seconds=1))
