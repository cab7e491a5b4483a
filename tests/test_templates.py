"""Wildcard templates with wildcard files, as users of A1111's Dynamic Prompts keep them."""

import re

import pytest

from cinedraft.errors import InputError
from cinedraft.policy import expansions, load_policy
from cinedraft.templates import every_prompt, expand


@pytest.fixture
def wildcards(tmp_path):
    root = tmp_path / "wildcards"
    (root / "animals").mkdir(parents=True)
    (root / "colours.txt").write_text("red\nblue\n# a comment\n\n")
    (root / "animals" / "cats.txt").write_text("tabby\n")
    (root / "materials.yaml").write_text("materials:\n  - glass\n  - oak\n")
    (root / "outer.txt").write_text("__colours__ __missing__\n")
    (root / "loop.txt").write_text("a __loop__\n")
    return root


def test_a_wildcard_is_every_line_of_its_file(wildcards):
    assert expand("a __colours__ jar", 3, wildcards) == ["a red jar", "a blue jar", "a red jar"]
    assert expand("a __animals/cats__", 1, wildcards) == ["a tabby"]
    assert sorted(every_prompt("{a|an} __materials__ jar", wildcards, 10)) == [
        "a glass jar",
        "a oak jar",
        "an glass jar",
        "an oak jar",
    ]


@pytest.mark.parametrize(
    "template, why",
    [
        ("a __colors__ jar", "no wildcard file for __colors__ in"),  # was drawn as the word
        ("a __outer__ jar", "no wildcard file for __missing__ (named in a wildcard file)"),
        ("a __loop__ jar", "name each other in a loop"),
        ("a __../secrets__ jar", "no wildcard file for __../secrets__"),
    ],
)
def test_a_wildcard_with_no_file_is_refused(wildcards, template, why):
    (wildcards.parent / "secrets.txt").write_text("hunter2\n")  # beside the folder, not in it
    with pytest.raises(InputError, match=re.escape(why)):
        expand(template, 2, wildcards)


def test_without_a_wildcards_folder_a_wildcard_is_refused(tmp_path):
    with pytest.raises(InputError, match="no wildcard file for __colours__"):
        expand("a __colours__ jar", 1, tmp_path / "none")
    assert expand("a {red|blue} jar", 2, None) == ["a red jar", "a blue jar"]


def test_the_policy_checks_what_the_wildcard_files_hold(wildcards, tmp_path):
    (wildcards / "brands.txt").write_text("Acme\nNike\n")
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text('[[rule]]\nnames = ["Nike"]\naction = "block"\n')
    verdict = load_policy(policy_file).check_request("a __brands__ shoe", True, wildcards)
    assert [h.prompt for h in verdict.hits] == ["a Nike shoe"]
    assert expansions("a __brands__ shoe", wildcards) == ["a Acme shoe", "a Nike shoe"]
