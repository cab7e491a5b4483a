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


ROWS = (
    "sku,name,colour,prompt,packshot,scenes,aspects\n"
    'B-1,bottle,red,a {colour} {name} on a wooden table,bottle.png,2,"1:1,9:16,16:9"\n'
    'J-2,jar,blue,a {colour} {name} on a marble table,jar.png,1,"4:5"\n'
    "{extra}"
    'C-3,cup,green,a {colour} {name} on a glass table,,2,"1:1,1.91:1"\n'
)


def write_products(folder, extra: str = ""):
    """Two packshots and a CSV of three SKUs (two with packshots) in ``folder``; ``extra``
    lines go before the last row."""
    for name, obj, colour in (("bottle.png", "bottle", "red"), ("jar.png", "jar", "blue")):
        packshot(obj, colour, seed=1)[0].save(folder / name)
    (folder / "products.csv").write_text(ROWS.replace("{extra}", extra))
    return folder


@pytest.fixture
def products(tmp_path):
    """A product list folder (:func:`write_products`) and a brand kit."""
    write_products(tmp_path)
    (tmp_path / "brand.toml").write_text(
        'name = "Acme"\npalette = ["#8b5a2b", "#f4f1ea"]\nstyle = ["studio lighting"]\n'
        'negative = ["text"]\n'
    )
    return tmp_path
