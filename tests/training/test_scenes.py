import numpy as np

from cinedraft_training.scenes import (
    HELD_OUT_PAIRS,
    Scene,
    caption_scene,
    parse_prompt,
    render_scene,
    sample_scene,
)


def test_render_is_deterministic_without_rng_and_sized():
    scene = Scene("bottle", "red", "glass", "studio")
    a, mask = render_scene(scene, 64)
    b, _ = render_scene(scene, 64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert 0.02 < mask.mean() < 0.3  # the object covers part of the frame
    wide, _ = render_scene(scene, (96, 64))
    assert wide.shape == (64, 96, 3)


def test_colour_and_position_change_the_pixels_where_expected():
    red, m_red = render_scene(Scene("ball", "red", "plain", "studio", "left"), 64)
    blue, _ = render_scene(Scene("ball", "blue", "plain", "studio", "left"), 64)
    inside = m_red > 0.9
    assert red[inside][:, 0].mean() > red[inside][:, 2].mean() + 60
    assert blue[inside][:, 2].mean() > blue[inside][:, 0].mean() + 60
    cols = np.nonzero(m_red > 0.5)[1]
    assert cols.mean() < 32  # "left" is in the left half


def test_captions_parse_back_to_their_scene():
    rng = np.random.default_rng(0)
    for _ in range(200):
        scene = sample_scene(rng)
        attrs = parse_prompt(caption_scene(scene, full=True))
        assert attrs == {
            "object": scene.object,
            "colour": scene.colour,
            "surface": scene.surface,
            "lighting": scene.lighting,
            "position": scene.position,
            "size": scene.size,
        }


def test_an_unplaced_caption_names_everything_but_the_place():
    rng = np.random.default_rng(2)
    for _ in range(50):
        scene = sample_scene(rng)
        attrs = parse_prompt(caption_scene(scene, full=True, place=False))
        assert "position" not in attrs and attrs["object"] == scene.object
        assert attrs["lighting"] == scene.lighting and attrs["size"] == scene.size
        assert "position" not in parse_prompt(caption_scene(scene, rng, place=False))


def test_held_out_pairs_are_never_sampled_for_training():
    rng = np.random.default_rng(1)
    train = {(s.colour, s.object) for s in (sample_scene(rng) for _ in range(3000))}
    assert not train & HELD_OUT_PAIRS
    held = {(s.colour, s.object) for s in (sample_scene(rng, held_out=True) for _ in range(300))}
    assert held <= HELD_OUT_PAIRS
