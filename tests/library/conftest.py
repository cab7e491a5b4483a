import numpy as np
import pytest
from PIL import Image

from cinedraft.library import Library


def make_record(library: Library, prompt: str = "a red bottle on a glass table", **fields) -> dict:
    """A generation record as the engine writes one (values chosen by the test)."""
    size = fields.pop("size", 64)
    return {
        "asset_id": library.new_id(),
        "kind": "image",
        "prompt": prompt,
        "negative_prompt": "",
        "seed": 1,
        "model": "builtin",
        "tier": "draft",
        "steps": 8,
        "sampler": "DPM++",
        "guidance": 4.0,
        "width": size,
        "height": size,
        "model_hash": "0" * 64,
        "versions": {"cinedraft": "test"},
        "render": {},
        "parents": [],
    } | fields


def noise_image(size: int, seed: int = 0) -> Image.Image:
    """A smooth random image (photographic-ish spectrum, not white noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, size // 16), max(2, size // 16), 3), dtype=np.uint8)
    return Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC)


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib")
    yield lib
    lib.close()


@pytest.fixture
def add(library):
    """``add(prompt, fmt="png", size=64, **record fields)`` -> Asset."""

    def _add(prompt="a red bottle on a glass table", fmt="png", size=64, seed=0, **fields):
        record = make_record(library, prompt, size=size, **fields)
        return library.add_image(noise_image(size, seed), record, fmt, 90)

    return _add
