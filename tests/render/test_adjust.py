"""Exact adjustments: parsing instructions, and pixel arithmetic that moves nothing else."""

import numpy as np
import pytest
from PIL import Image

from cinedraft.render import adjust


@pytest.fixture
def photo():
    rng = np.random.default_rng(0)
    base = np.linspace(30, 220, 96)[None, :, None] * np.ones((64, 1, 3))
    noise = rng.normal(0, 8, (64, 96, 3))
    tint = np.array([1.0, 0.9, 0.8])
    return Image.fromarray(np.clip(base * tint + noise, 0, 255).astype(np.uint8))


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("make it warmer", [("warmth", 1.0)]),
        ("Cooler.", [("warmth", -1.0)]),
        ("warmer and a bit brighter", [("warmth", 1.0), ("brightness", 0.5)]),
        ("much darker, less saturated", [("brightness", -2.0), ("saturation", -1.0)]),
        ("make it black and white", [("grayscale", 1.0)]),
        ("more contrast then mirror", [("contrast", 1.0), ("mirror", 1.0)]),
    ],
)
def test_instructions_made_of_adjustments_parse(text, kinds):
    parsed = adjust.parse(text)
    assert [(a.kind, a.amount) for a in parsed] == kinds


@pytest.mark.parametrize(
    "text, kinds",
    [
        ("can you make it warmer, please?", [("warmth", 1.0)]),
        ("Warmer please!", [("warmth", 1.0)]),
        ("ok, now a touch brighter thanks", [("brightness", 0.5)]),
        ("I'd like it warmer", [("warmth", 1.0)]),
        ("even warmer", [("warmth", 1.0)]),
        ("warmer still", [("warmth", 1.0)]),
        ("it's too dark", [("brightness", 1.0)]),
        ("less warm", [("warmth", -1.0)]),
        ("cooler tones", [("warmth", -1.0)]),
        ("warm it up", [("warmth", 1.0)]),
        ("more warmth and reduce the saturation", [("warmth", 1.0), ("saturation", -1.0)]),
        ("a little less contrast", [("contrast", -0.5)]),
        ("increase contrast", [("contrast", 1.0)]),
        ("way brighter", [("brightness", 2.0)]),
        ("make the colours more vivid", [("saturation", 1.0)]),
        ("make it black & white", [("grayscale", 1.0)]),
        ("b&w", [("grayscale", 1.0)]),
        ("black-and-white", [("grayscale", 1.0)]),
        ("flip it", [("mirror", 1.0)]),
        ("could you mirror the image", [("mirror", 1.0)]),
    ],
)
def test_an_adjustment_said_as_people_say_it_in_a_chat_is_the_same_adjustment(text, kinds):
    parsed = adjust.parse(text)
    assert parsed is not None, text
    assert [(a.kind, a.amount) for a in parsed] == kinds


@pytest.mark.parametrize(
    "text",
    [
        "make the jar blue",
        "make the jar blue please",
        "warmer and put it on a marble table",
        "",
        "please",
        "crop to 0:16",
        "flip it vertically",
        "more",
        "warmer wood",
    ],
)
def test_anything_else_is_not_an_adjustment(text):
    assert adjust.parse(text) is None


@pytest.mark.parametrize(
    "text, scale",
    [
        ("more", 1.0),
        ("again please", 1.0),
        ("a bit more", 0.5),
        ("much more", 2.0),
        ("too much", -0.5),
        ("less", -0.5),
        ("a bit less", -0.25),
        ("warmer", None),
        ("more tones", None),
        ("more blue", None),
    ],
)
def test_more_or_too_much_refer_back_to_the_last_change(text, scale):
    assert adjust.again(text) == scale
    assert not adjust.undo(text)


def test_undo_is_asked_as_people_ask_it():
    assert all(adjust.undo(t) for t in ("undo", "Undo that, please", "go back", "revert"))
    assert not adjust.undo("undo the crop and make it blue")


def test_warmer_raises_red_lowers_blue_and_keeps_green(photo):
    before = np.asarray(photo).astype(int)
    after = np.asarray(adjust.apply(photo, adjust.parse("warmer"))).astype(int)
    assert after[..., 0].mean() > before[..., 0].mean() + 3
    assert after[..., 2].mean() < before[..., 2].mean() - 3
    assert np.array_equal(after[..., 1], before[..., 1])


def test_brighter_darker_contrast_saturation_move_the_right_way(photo):
    luma = lambda im: np.asarray(im.convert("L")).astype(float)  # noqa: E731
    spread = lambda im: luma(im).std()  # noqa: E731

    def chroma(im):
        a = np.asarray(im).astype(float)
        return (a.max(axis=2) - a.min(axis=2)).mean()

    assert luma(adjust.apply(photo, adjust.parse("brighter"))).mean() > luma(photo).mean() + 3
    assert luma(adjust.apply(photo, adjust.parse("darker"))).mean() < luma(photo).mean() - 3
    assert spread(adjust.apply(photo, adjust.parse("more contrast"))) > spread(photo) * 1.1
    assert chroma(adjust.apply(photo, adjust.parse("more saturated"))) > chroma(photo) * 1.1
    assert chroma(adjust.apply(photo, adjust.parse("less saturated"))) < chroma(photo) * 0.9
    assert chroma(adjust.apply(photo, adjust.parse("black and white"))) == 0


def test_a_crop_is_the_exact_centred_pixels_at_the_aspect(photo):
    out = adjust.apply(photo, adjust.parse("crop to 9:16"))
    assert out.size == (36, 64)
    left = (96 - 36) // 2
    assert np.array_equal(np.asarray(out), np.asarray(photo)[:, left : left + 36])


def test_a_crop_that_would_leave_a_sliver_is_refused(photo):
    """A crop to 1000:1 of a 64x64 image stored a 64x1 image."""
    from cinedraft.errors import InputError

    with pytest.raises(InputError, match="leaves 96x1 pixels"):
        adjust.apply(photo, adjust.parse("crop to 1000:1"))
    assert adjust.apply(photo, adjust.parse("crop to 12:1")).size == (96, 8)


def test_mirror_twice_is_the_image(photo):
    twice = adjust.apply(photo, adjust.parse("mirror and mirror"))
    assert np.array_equal(np.asarray(twice), np.asarray(photo))


@pytest.mark.parametrize(
    "hostile",
    ["please," * 3000 + "x", "x" + ", please" * 3000, "can you " * 3000 + "warmer"],
    ids=["please-comma", "comma-please", "can-you"],
)
def test_a_hostile_run_of_asking_words_is_read_in_linear_time(hostile):
    import time

    started = time.perf_counter()
    adjust.parse(hostile), adjust.again(hostile), adjust.undo(hostile)
    assert time.perf_counter() - started < 2  # a repeated group took 9 s on the first
