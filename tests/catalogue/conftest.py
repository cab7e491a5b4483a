"""Packshots from the built-in world: an object on a plain backdrop, with its true mask."""

import numpy as np
import pytest
from PIL import Image

from cinedraft_training.scenes import Scene, render_scene


def packshot(obj: str, colour: str, lighting: str = "studio", size: int = 256, seed: int = 0):
    """``(image, true mask)`` of a packshot of the built-in world."""
    scene = Scene(obj, colour, "plain", lighting, size="large" if seed % 2 else "small")
    image, cover = render_scene(scene, size, np.random.default_rng(seed))
    return Image.fromarray(image), cover > 0.5


@pytest.fixture
def products(tmp_path):
    """A product list folder: two packshots, a CSV of three SKUs (two with packshots), a
    brand kit."""
    for name, obj, colour in (("bottle.png", "bottle", "red"), ("jar.png", "jar", "blue")):
        packshot(obj, colour, seed=1)[0].save(tmp_path / name)
    (tmp_path / "products.csv").write_text(
        "sku,name,colour,prompt,packshot,scenes,aspects\n"
        'B-1,bottle,red,a {colour} {name} on a wooden table,bottle.png,2,"1:1,9:16,16:9"\n'
        'J-2,jar,blue,a {colour} {name} on a marble table,jar.png,1,"4:5"\n'
        'C-3,cup,green,a {colour} {name} on a glass table,,2,"1:1,1.91:1"\n'
    )
    (tmp_path / "brand.toml").write_text(
        'name = "Acme"\npalette = ["#8b5a2b", "#f4f1ea"]\nstyle = ["studio lighting"]\n'
        'negative = ["text"]\n'
    )
    return tmp_path
