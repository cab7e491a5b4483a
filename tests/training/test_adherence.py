import numpy as np

from cinedraft_training.adherence import score_image
from cinedraft_training.scenes import caption_scene, render_scene, sample_scene


def _accuracy(noise: float, n: int = 120) -> tuple[float, float]:
    rng = np.random.default_rng(7)
    colour = position = 0
    for _ in range(n):
        scene = sample_scene(rng, held_out=None)
        img, _ = render_scene(scene, 64, rng)
        img = np.clip(img / 255 + rng.normal(0, noise, img.shape), 0, 1) * 255
        s = score_image(img.astype(np.uint8), caption_scene(scene, full=True))
        colour += s.colour_ok
        position += s.position_ok
    return colour / n, position / n


def test_scorer_is_right_on_ground_truth():
    colour, position = _accuracy(0.0)
    assert colour >= 0.95 and position >= 0.85


def test_scorer_survives_sampling_noise():
    colour, _ = _accuracy(0.06)
    assert colour >= 0.9


def test_scorer_rejects_the_wrong_colour():
    from cinedraft_training.scenes import Scene

    img, _ = render_scene(Scene("jar", "green", "wooden", "warm"), 64)
    s = score_image(img, "a blue jar on a wooden table with warm lighting")
    assert s.colour == "green" and s.colour_ok is False
