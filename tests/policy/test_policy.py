"""The usage policy: its file, how names are matched, and where it applies."""

from __future__ import annotations

import pytest

from cinedraft.policy import PolicyBlocked, PolicyFileError, load_policy

POLICY = """
allow = ["Acme"]

[[rule]]
names = ["Nike", "Coca-Cola", "Taylor Swift"]
action = "block"
kind = "brand"
note = "other companies' trademarks"

[[rule]]
names = ["Apple"]
action = "flag"
case = "exact"

[[rule]]
names = ["Acme", "Globex"]
action = "flag"
"""


@pytest.fixture
def policy(tmp_path):
    path = tmp_path / "policy.toml"
    path.write_text(POLICY)
    return load_policy(path)


def _hits(policy, prompt, template=False):
    return [(h.action, h.name) for h in policy.check_request(prompt, template).hits]


@pytest.mark.parametrize(
    "prompt, hits",
    [
        ("a Nike shoe on a table", [("block", "Nike")]),
        ("NIKE's new shoe", [("block", "Nike")]),  # case, possessive
        ("a poster in Nikeland", []),  # a word, not a substring
        ("a can of coca cola", [("block", "Coca-Cola")]),  # any separator, or none
        ("cocacola ad", [("block", "Coca-Cola")]),
        ("(Nike:1.3) sneakers", [("block", "Nike")]),  # A1111 weighting
        ("(nike)1.2 sneakers, red++", [("block", "Nike")]),  # compel weighting
        ("a Ｎïke\u200b shoe", [("block", "Nike")]),  # width variant, accent, invisible char
        # letters of other scripts that look Latin (Unicode's confusables): Cyrillic і, С
        # and А, Greek Ν; they were no hit
        ("a N\u0456ke shoe", [("block", "Nike")]),
        ("\u0421oca-Cola and \u039dike", [("block", "Coca-Cola"), ("block", "Nike")]),
        ("an \u0410pple laptop", [("flag", "Apple")]),
        ("\u043a\u043e\u0442 \u043d\u0430 \u0441\u0442\u043e\u043b\u0435", []),  # Russian
        ("a green apple", []),  # exact case: the fruit
        ("an Apple laptop", [("flag", "Apple")]),
        ("the Acme logo", []),  # the team's own brand is allowed, even where a rule names it
        ("a Globex tower", [("flag", "Globex")]),
        ("portrait of taylor swift", [("block", "Taylor Swift")]),
    ],
)
def test_names_are_matched_as_words_through_case_weighting_and_disguise(policy, prompt, hits):
    assert _hits(policy, prompt) == hits


def test_every_expansion_of_a_template_is_checked(policy):
    verdict = policy.check_request("a {red|blue} {jar|Nike shoe|mug}", template=True)
    assert [h.prompt for h in verdict.hits] == ["a red Nike shoe", "a blue Nike shoe"]
    assert policy.check_request("a {red|blue} {jar|mug}", template=True).hits == []
    with pytest.raises(PolicyBlocked, match="'Nike'.*line 4.*other companies' trademarks"):
        policy.refuse_if_blocked(verdict)


@pytest.mark.parametrize(
    "text, message",
    [
        ("[[rule]]\nnames = ['x']\naction = 'ban'\n", "line 1: action must be one of"),
        ("allow = ['a']\n\n[[rule]]\nnames = []\naction = 'block'\n", "line 3: a rule needs"),
        ("[[rule]]\nnames = ['x']\naction = 'flag'\ncolour = 1\n", "unknown rule key 'colour'"),
        ("flag_faces = 'yes'\n", "line 1: flag_faces must be true or false"),
        ("rules = 3\n", "line 1: unknown setting 'rules'"),
        ("[[rule]\nnames = 1\n", "not valid TOML"),
    ],
)
def test_a_bad_policy_file_names_the_file_and_line(tmp_path, text, message):
    path = tmp_path / "policy.toml"
    path.write_text(text)
    with pytest.raises(PolicyFileError, match=message) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)
    with pytest.raises(PolicyFileError, match="cannot read"):
        load_policy(tmp_path / "missing.toml")


def test_the_starter_policy_loads():
    from pathlib import Path

    starter = load_policy(Path(__file__).parents[2] / "examples" / "policy.toml")
    assert [h.name for h in starter.check_request("a Starbucks cup").hits] == ["Starbucks"]


def test_a_policy_file_saved_with_a_bom_loads(tmp_path):
    """Windows Notepad saved UTF-8 with a byte-order mark: "not valid TOML" at line 1."""
    path = tmp_path / "policy.toml"
    path.write_bytes(("\ufeff" + POLICY).encode())
    assert [h.name for h in load_policy(path).check_request("a Nike shoe").hits] == ["Nike"]
