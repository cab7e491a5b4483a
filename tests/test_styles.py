"""Prompt styles from A1111's styles.csv, applied as A1111 applies them."""

import pytest

from cinedraft.errors import InputError
from cinedraft.request import ImageRequest
from cinedraft.styles import apply_styles, read_styles, styled

# As A1111 writes the file (csv module, a header row; a style's text may hold newlines).
STYLES = (
    "\ufeffname,prompt,negative_prompt\n"
    'cinematic,"cinematic still of {prompt}, shallow depth of field","cartoon, flat"\n'
    "vivid,vivid colours,\n"
    'two lines,"first line\nsecond line",\n'
    'editing,"a [red:blue:0.5] jar",\n'
)


@pytest.fixture
def styles_file(tmp_path):
    path = tmp_path / "styles.csv"
    path.write_text(STYLES, encoding="utf-8")
    return path


def test_a_style_takes_the_prompt_where_it_says_or_follows_it(styles_file):
    assert apply_styles("a jar", "blurry", ["cinematic"], styles_file) == (
        "cinematic still of a jar, shallow depth of field",
        "blurry, cartoon, flat",
    )
    assert apply_styles("a jar", "", ["vivid", "cinematic"], styles_file) == (
        "cinematic still of a jar, vivid colours, shallow depth of field",
        "cartoon, flat",
    )
    assert read_styles(styles_file)["two lines"] == ("first line\nsecond line", "")


def test_the_oldest_a1111_files_call_the_prompt_text(tmp_path):
    path = tmp_path / "styles.csv"
    path.write_text("name,text\nold,in the old style\n")
    assert apply_styles("a jar", "", ["old"], path) == ("a jar, in the old style", "")


@pytest.mark.parametrize(
    "names, why",
    [
        (["noir"], "no style 'noir' in"),
        (["editing"], "with the styles editing: prompt: "),  # checked as the user's words
    ],
)
def test_a_style_that_cannot_be_applied_is_refused(styles_file, names, why):
    with pytest.raises(InputError, match=why):
        styled(ImageRequest(prompt="a jar"), names, styles_file)


def test_a_missing_or_foreign_file_is_said(tmp_path):
    with pytest.raises(InputError, match="no styles file at"):
        read_styles(tmp_path / "styles.csv")
    (tmp_path / "other.csv").write_text("sku,title\nA,jar\n")
    with pytest.raises(InputError, match="names no 'name' column"):
        read_styles(tmp_path / "other.csv")
    assert styled(ImageRequest(prompt="a jar"), [], tmp_path / "none.csv").prompt == "a jar"
