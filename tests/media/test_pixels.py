"""A user's image is read as a viewer shows it. A 16-bit greyscale image (photo and scanning
software export them) by its values, not as a white page: PIL's ``convert("RGB")`` clips
``I;16`` values to 0..255. A phone's portrait photo upright: it stores landscape pixels and
an EXIF Orientation tag that viewers (browsers too) apply and PIL does not."""

import io

import numpy as np
import pytest
from PIL import Image

from cinedraft.library import Library
from cinedraft.media.pixels import as_shown, eight_bit, shown_size
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


def _shown():
    """What the viewer sees: 48 wide, 64 tall; red top, blue bottom, a green right edge."""
    pixels = np.zeros((64, 48, 3), np.uint8)
    pixels[:32], pixels[32:] = (200, 30, 30), (30, 30, 200)
    pixels[:, 40:] = (30, 200, 30)
    return pixels


# EXIF orientation -> the stored pixels of what is shown (TIFF 6.0 / EXIF 2.32: orientation
# 6 stores the picture turned a quarter anticlockwise, 8 clockwise, 2 mirrored, 3 upside down).
STORED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    6: lambda a: np.rot90(a, 1),
    8: lambda a: np.rot90(a, -1),
}


def _phone_photo(orientation, fmt="JPEG", exif=None):
    buf = io.BytesIO()
    stored = Image.fromarray(np.ascontiguousarray(STORED[orientation](_shown())))
    tags = Image.Exif()
    tags[0x0112] = orientation
    stored.save(buf, fmt, exif=exif if exif is not None else tags.tobytes(), quality=95)
    return buf.getvalue()


@pytest.mark.parametrize("orientation", sorted(STORED))
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_photo_is_read_upright_as_its_exif_orientation_says(orientation, fmt):
    with Image.open(io.BytesIO(_phone_photo(orientation, fmt))) as im:
        assert shown_size(im) == (48, 64)
        pixels = np.asarray(as_shown(im).convert("RGB")).astype(int)
    assert pixels.shape == (64, 48, 3)
    assert np.abs(pixels - _shown()).mean() < 4  # JPEG's loss, not a turn or a mirror


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
@pytest.mark.parametrize("value", [0, 9, 65535])
def test_an_orientation_out_of_range_or_unreadable_exif_leaves_the_pixels_as_stored(value):
    tags = Image.Exif()
    tags[0x0112] = value
    for exif in (tags.tobytes(), b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff"):
        with Image.open(io.BytesIO(_phone_photo(1, exif=exif))) as im:
            assert shown_size(im) == (48, 64)
            assert as_shown(im).size == (48, 64)


def test_an_imported_phone_photo_is_recorded_and_exported_upright(tmp_path):
    (tmp_path / "phone.jpg").write_bytes(_phone_photo(6))
    library = Library(tmp_path / "lib")
    asset = library.import_file(tmp_path / "phone.jpg")
    assert (asset.width, asset.height) == (48, 64)
    (png,) = library.export([asset.id], tmp_path / "out", fmt="png")
    library.close()
    with Image.open(png) as im:
        assert im.size == (48, 64)
        assert np.abs(np.asarray(im.convert("RGB")).astype(int) - _shown()).mean() < 4
