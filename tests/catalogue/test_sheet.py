"""Product lists and brand kits: a problem of the whole file is one error before anything is
made; a bad row is named with its line number and skipped."""

import pytest

from cinedraft.catalogue import read_brand, read_sheet
from cinedraft.errors import InputError
from cinedraft.weighting import plain, read_a1111


def _sheet(tmp_path, text, name="products.csv"):
    (tmp_path / name).write_text(text)
    return read_sheet(tmp_path / name)


def test_rows_fill_their_templates_and_take_defaults(products):
    sheet = read_sheet(products / "products.csv", scenes=4, aspects=("1:1",))
    assert [p.sku for p in sheet.products] == ["B-1", "J-2", "C-3"] and not sheet.problems
    bottle = sheet.products[0]
    assert bottle.prompt == "a red bottle on a wooden table" and bottle.scenes == 2
    assert bottle.aspects == ("1:1", "9:16", "16:9") and bottle.line == 2
    assert bottle.packshot == (products / "bottle.png").resolve()
    assert sheet.products[2].packshot is None


def test_a_products_brackets_are_its_name_not_a_weight(tmp_path):
    """A1111's syntax weighs bare brackets on SD and SDXL: a product's own name must not
    weigh "250 ml" at 1.1 or "Organic" at 1/1.1; the template's weight still weighs."""
    sheet = _sheet(
        tmp_path,
        "sku,name,prompt\n"
        "A,Shampoo (250 ml),\n"
        'B,Tee [Organic],"({name}:1.2) on a table"\n'
        "C,Back\\slash,\n",
    )
    shampoo, tee, slash = (p.prompt for p in sheet.products)
    assert read_a1111(shampoo) == [[("Shampoo (250 ml), product photo", 1.0)]]
    assert read_a1111(tee) == [[("Tee [Organic]", 1.2), (" on a table", 1.0)]]
    assert read_a1111(slash) == [[("Back\\slash, product photo", 1.0)]]
    assert plain(shampoo) == "Shampoo (250 ml), product photo"


def test_jsonl_reads_like_csv(tmp_path):
    sheet = _sheet(
        tmp_path,
        '{"sku": "A", "name": "jar", "aspects": ["1:1", "9:16"]}\n\n{"sku": "B", "name": "cup"}\n',
        "products.jsonl",
    )
    assert [(p.sku, p.line, p.aspects[:2]) for p in sheet.products] == [
        ("A", 1, ("1:1", "9:16")),
        ("B", 3, ("1:1", "4:5")),
    ]
    assert sheet.products[1].prompt == "cup, product photo"


@pytest.mark.parametrize(
    "data",
    [
        "SKU,Name,Colour,Prompt\nA-1,Crème mug,red,a {Colour} {name}\n".encode(),  # headings
        "sku;name;colour;prompt\nA-1;Crème mug;red;a {colour} {name}, on oak\n".encode(),  # EU
        "\ufeffsku,name,colour,prompt\nA-1,Crème mug,red,a {colour} {name}\n".encode(),  # BOM
        "sku\tname\tcolour\tprompt\nA-1\tCrème mug\tred\ta {colour} {name}\n".encode("utf-16"),
    ],
    ids=["capitalised", "semicolons", "utf-8 with BOM", "utf-16 tabs"],
)
def test_a_spreadsheets_csv_reads_whatever_excel_saved_it_as(tmp_path, data):
    """Excel in most of Europe separates by semicolons, its "Unicode text" is UTF-16 with
    tabs, and people head columns "SKU", "Name": each was "no 'sku' column"."""
    (tmp_path / "products.csv").write_bytes(data)
    (product,) = read_sheet(tmp_path / "products.csv").products
    assert (product.sku, product.name) == ("A-1", "Crème mug")
    assert product.prompt.startswith("a red Crème mug")


def test_a_csv_that_is_not_utf8_is_refused_with_what_to_do(tmp_path):
    (tmp_path / "products.csv").write_bytes("sku,name\nA,Crème brûlée\n".encode("cp1252"))
    with pytest.raises(InputError, match="not UTF-8 text .*Save As, 'CSV UTF-8'"):
        read_sheet(tmp_path / "products.csv")


@pytest.mark.parametrize(
    "text, message",
    [
        ("", "has no product rows"),
        ("sku,name\n", "has no product rows"),
        ("name,prompt\njar,a jar\n", "no 'sku' column"),
        ("sku,name\nA,jar\nA,cup\n", "'A' is on line 2 and line 3"),
        ("sku,name,aspects\nA,jar,0:1\n", "line 2: aspect must look like W:H"),
    ],
)
def test_a_bad_file_is_one_error(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        _sheet(tmp_path, text)


def test_bad_rows_are_named_by_line_and_skipped(tmp_path):
    (tmp_path / "not-an-image.png").write_text("hello")
    (tmp_path.parent / "outside.png").write_bytes(b"")
    sheet = _sheet(
        tmp_path,
        "sku,name,packshot,prompt\n"
        "A,,,\n"  # empty name
        "B,jar,missing.png,\n"
        "C,jar,,a {colour} jar\n"  # unknown column
        "D,jar,not-an-image.png,\n"
        "E,jar,../outside.png,\n"
        "F,jar,,{name.__class__}\n"  # attribute access in a template
        "G,jar,,,extra\n"  # more cells than the header
        "H,jar,,\n",
    )
    assert [p.sku for p in sheet.products] == ["H"]
    assert [(p.line, p.sku) for p in sheet.problems] == [
        (2, "A"), (3, "B"), (4, "C"), (5, "D"), (6, "E"), (7, "F"), (8, "G"),
    ]  # fmt: skip
    reasons = [p.reason for p in sheet.problems]
    assert reasons[0] == "the name is empty"
    assert "does not exist" in reasons[1] and "unknown column {colour}" in reasons[2]
    assert "not an image" in reasons[3] and "outside the product list's folder" in reasons[4]
    assert "not a plain column name" in reasons[5] and "more cell" in reasons[6]
    assert str(sheet.problems[1]).startswith("line 3 (B): ")


def test_the_brand_kit_is_checked(tmp_path):
    brand = tmp_path / "brand.toml"
    brand.write_text('palette = ["#1a73e8", "#12345"]\n')
    with pytest.raises(InputError, match=r"palette\[1\] '#12345' is not a colour"):
        read_brand(brand)
    brand.write_text('colours = ["#1a73e8"]\n')
    with pytest.raises(InputError, match="unknown key 'colours'"):
        read_brand(brand)
    brand.write_text('logo = "../logo.png"\n')
    with pytest.raises(InputError, match="outside the brand file's folder"):
        read_brand(brand)
    brand.write_text('name = "Acme"\npalette = ["#1A73E8"]\nstyle = ["minimal"]\n')
    kit = read_brand(brand)
    assert kit.palette == ((26, 115, 232),) and kit.prompt("a jar") == "a jar, minimal"
    assert kit.to_record()["palette"] == ["#1a73e8"]


def test_a_brand_file_saved_with_a_bom_reads(tmp_path):
    """Windows Notepad saved UTF-8 with a byte-order mark, which TOML's parser refused
    ("Invalid statement (at line 1, column 1)")."""
    brand = tmp_path / "brand.toml"
    brand.write_bytes('\ufeffname = "Acmé"\npalette = ["#1A73E8"]\n'.encode())
    assert read_brand(brand).name == "Acmé"
