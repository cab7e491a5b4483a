"""A 16-bit greyscale image (photo and scanning software export them) is read by its values,
not as a white page: PIL's ``convert("RGB")`` clips ``I;16`` values to 0..255."""

import numpy as np
from PIL import Image

from cinedraft.library import Library
from cinedraft.media.pixels import eight_bit
from cinedraft.quality.compare import analyze_images


def _grey16(path):
    """A dark disc (20,000 of 65,535) on a light ground (60,000), saved as a 16-bit PNG."""
    y, x = np.mgrid[0:96, 0:128]
    values = np.where((x - 64) ** 2 + (y - 48) ** 2 < 30**2, 20_000, 60_000).astype(np.uint16)
    Image.fromarray(values).save(path)
    return path


def test_16_bit_grey_is_scaled_to_8_bits_and_other_modes_pass_through(tmp_path):
    with Image.open(_grey16(tmp_path / "grey16.png")) as im:
        assert im.mode in ("I;16", "I")
        assert np.unique(np.asarray(im.convert("RGB"))).tolist() == [255]  # what PIL does
        assert np.unique(np.asarray(eight_bit(im).convert("RGB"))).tolist() == [78, 233]
    rgb = Image.new("RGB", (4, 4), "red")
    assert eight_bit(rgb) is rgb


def test_an_imported_16_bit_grey_image_is_measured_and_analysed_by_its_pixels(tmp_path):
    path = _grey16(tmp_path / "grey16.png")
    library = Library(tmp_path / "lib")
    asset = library.import_file(path)
    assert library.get(asset.id).metrics["sharpness"] > 0  # a white page has no edges
    library.close()
    flat = tmp_path / "flat.png"
    Image.new("RGB", (128, 96), (233, 233, 233)).save(flat)
    report = analyze_images([flat, path])
    assert report["verdict"][0]["clearer"] == str(path)  # the disc, not a tie of two blanks
