import numpy as np
import pytest
from PIL import Image, ImageDraw


def scene(size: int = 256, seed: int = 0) -> Image.Image:
    """A photo-like test image: smooth colour field, solid shapes, thin dark lines."""
    rng = np.random.default_rng(seed)
    field = rng.integers(0, 256, (size // 12, size // 12, 3), dtype=np.uint8)
    image = Image.fromarray(field).resize((size, size), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(image)
    for _ in range(size // 24):
        x, y = (int(v) for v in rng.integers(0, size - 50, 2))
        draw.ellipse([x, y, x + 48, y + 32], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        draw.line(
            [tuple(int(v) for v in rng.integers(0, size, 2)) for _ in range(2)],
            fill=(0, 0, 0),
            width=2,
        )
    return image


@pytest.fixture
def photo():
    return scene()
