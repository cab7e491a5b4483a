"""A user's image is read as a viewer shows it. A 16-bit greyscale image (photo and scanning
software export them) by its values, not as a white page: PIL's ``convert("RGB")`` clips
``I;16`` values to 0..255. A phone's portrait photo upright: it stores landscape pixels and
an EXIF Orientation tag that viewers (browsers too) apply and PIL does not. A Display P3 or
Adobe RGB photo in sRGB by its ICC profile, as viewers convert it. A transparent image on
white, not on whatever colours its tool left under the transparent pixels."""

import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from cinedraft.library import Library
from cinedraft.media.pixels import as_shown, eight_bit, shown_rgb, shown_size
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


def _s15(v):
    return struct.pack(">i", round(v * 65536))


def _xyz(x, y, z):
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def matrix_icc(name, red, green, blue, gamma=2.2):
    """An ICC v2 display profile (ICC.1:2001-04) with these colorants (XYZ, D50) and a plain
    gamma curve, as a camera or phone embeds one."""
    text = name.encode() + b"\0"
    desc = b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 78
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, round(gamma * 256))
    tags = [
        (b"desc", desc),
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
        *((tag, _xyz(*c)) for tag, c in ((b"rXYZ", red), (b"gXYZ", green), (b"bXYZ", blue))),
        *((tag, curve) for tag in (b"rTRC", b"gTRC", b"bTRC")),
        (b"cprt", b"text\0\0\0\0none\0"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, data = struct.pack(">I", len(tags)), b""
    for tag, body in tags:
        body += b"\0" * (-len(body) % 4)
        table += tag + struct.pack(">II", offset + len(data), len(body))
        data += body
    header = (
        struct.pack(">I4sI", offset + len(data), b"", 0x02100000)
        + b"mntrRGB XYZ "
        + b"\0" * 12
        + b"acsp"
        + b"\0" * 28
        + _xyz(0.9642, 1.0, 0.8249)[8:]
        + b"\0" * 48
    )
    return header + table + data


# Colorants (XYZ, adapted to D50) of Display P3 and of sRGB, as their ICC profiles give them.
P3 = ((0.5151, 0.2412, -0.0011), (0.2920, 0.6922, 0.0419), (0.1571, 0.0666, 0.7841))
SRGB = ((0.4360, 0.2225, 0.0139), (0.3851, 0.7169, 0.0971), (0.1431, 0.0606, 0.7141))


def _p3_in_srgb(rgb):
    """The sRGB value of a P3 (gamma 2.2) colour, by the colorant matrices: the reference the
    conversion is held to, worked out without the colour engine."""
    linear = np.linalg.solve(np.array(SRGB).T, np.array(P3).T @ ((np.array(rgb) / 255) ** 2.2))
    linear = np.clip(linear, 0, 1)
    return 255 * np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_a_wide_gamut_photo_is_read_in_srgb_by_its_icc_profile(fmt):
    colour = (200, 60, 40)
    buf = io.BytesIO()
    icc = matrix_icc("Display P3 (test)", *P3)
    Image.new("RGB", (16, 16), colour).save(buf, fmt, icc_profile=icc, quality=100)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        seen = np.asarray(as_shown(im).convert("RGB"))[8, 8].astype(float)
    assert np.abs(seen - _p3_in_srgb(colour)).max() <= 3  # (219, 37, 13), not (200, 60, 40)
    assert np.abs(seen - colour).max() > 15


def test_an_srgb_profile_changes_nothing_and_a_broken_or_mismatched_one_is_ignored():
    """A camera's sRGB profile leaves the values as they are (within rounding); a profile
    that is not one, or is an RGB one on a CMYK image, is ignored as viewers ignore it."""
    colour = (200, 60, 40)
    cases = {
        "sRGB": (Image.new("RGB", (8, 8), colour), ImageCms.createProfile("sRGB"), 1),
        "not a profile": (Image.new("RGB", (8, 8), colour), b"garbage" * 20, 0),
        "RGB profile on CMYK": (Image.new("CMYK", (8, 8), (0, 200, 200, 30)), None, 0),
    }
    for name, (image, icc, tolerance) in cases.items():
        buf = io.BytesIO()
        icc = icc or matrix_icc("Display P3 (test)", *P3)
        icc = icc if isinstance(icc, bytes) else ImageCms.ImageCmsProfile(icc).tobytes()
        image.save(buf, "PNG" if image.mode == "RGB" else "JPEG", icc_profile=icc, quality=100)
        with Image.open(io.BytesIO(buf.getvalue())) as im:
            plain = np.asarray(im.convert("RGB")).astype(int)
            seen = np.asarray(as_shown(im).convert("RGB")).astype(int)
        assert np.abs(seen - plain).max() <= tolerance, name


def test_an_imported_p3_photo_is_exported_in_srgb(tmp_path):
    """Export conversion wrote a P3 photo's values into a file without a profile: every
    viewer then showed it washed out."""
    Image.new("RGB", (32, 32), (200, 60, 40)).save(
        tmp_path / "p3.png", icc_profile=matrix_icc("Display P3 (test)", *P3)
    )
    library = Library(tmp_path / "lib")
    asset = library.import_file(tmp_path / "p3.png")
    (webp,) = library.export([asset.id], tmp_path / "out", fmt="webp")
    library.close()
    with Image.open(webp) as im:
        assert "icc_profile" not in im.info or not im.info["icc_profile"]
        seen = np.asarray(im.convert("RGB"))[16, 16].astype(float)
    assert np.abs(seen - _p3_in_srgb((200, 60, 40))).max() <= 4


def _cut_out(mode):
    """A red square on transparency; under the transparent pixels a tool left green and
    black (what dropping the alpha showed)."""
    pixels = np.zeros((32, 32, 4), np.uint8)
    pixels[:8, :, :3] = (0, 255, 0)
    pixels[8:24, 8:24] = (200, 30, 30, 255)
    image = Image.fromarray(pixels)
    if mode == "LA":
        return image.convert("LA")
    if mode == "P":  # a palette PNG with one transparent index, as GIF-era tools save it
        return image.convert("RGB").quantize(4).copy()
    return image


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_a_transparent_image_is_laid_on_white(mode, tmp_path):
    image = _cut_out(mode)
    if mode == "P":
        index = image.getpixel((0, 20))  # black: the transparent background
        image.info["transparency"] = index
    image.save(tmp_path / "cut.png")
    with Image.open(tmp_path / "cut.png") as im:
        rgb = np.asarray(shown_rgb(im)).astype(int)
    assert rgb[28, 2].tolist() == [255, 255, 255]
    # the green stripe: under the alpha, or (one transparent index) an opaque colour of its own
    assert rgb[2, 2].tolist() == ([0, 255, 0] if mode == "P" else [255, 255, 255])
    assert rgb[16, 16, 0] > rgb[16, 16, 2] or mode == "LA"  # the square is still there
    assert rgb[16, 16].max() < 230
    with Image.open(tmp_path / "cut.png") as im:
        assert as_shown(im).mode == im.mode  # the alpha itself is kept for who wants it
