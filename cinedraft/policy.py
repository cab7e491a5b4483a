"""A team's usage policy: protected names (brands, trademarks, people) and what a prompt that
names one gets (``block``, ``flag``, ``allow``), read from a TOML file.

The file (``HOME/policy.toml``, or ``--policy FILE``)::

    allow = ["Acme"]          # the team's own brands: never a hit
    flag_faces = true         # flag outputs in which a face is found

    [[rule]]
    names = ["Nike", "Coca-Cola"]
    action = "block"          # block | flag | allow
    kind = "brand"            # brand | person (optional)
    note = "competitors' trademarks"
    case = "any"              # any (default) | exact: "Apple" the brand, not "apple"

Matching sees words, not substrings ("Nikeland" is not "Nike"; "nike's" and "NIKE" are),
takes a name's words with any separator or none between them ("Coca Cola", "cocacola"),
ignores accents, width variants, invisible characters and letters of other scripts that look
like Latin ones (Unicode's confusables: Cyrillic ``і`` in ``Nіke``), sees through prompt weighting
(``(Nike:1.3)``, ``(nike)1.2``, ``nike++``) and checks every expansion of a wildcard template.
A file that cannot be read, or that says something this module does not know, is an error
naming the file and line: nothing runs unpoliced.
"""

from __future__ import annotations

import functools
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError
from .templates import every_prompt

ACTIONS = ("block", "flag", "allow")
KINDS = ("brand", "person")
MAX_EXPANSIONS = 20_000  # a template with more combinations cannot be checked: refused
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
_WEIGHT = re.compile(r":\s*-?\d+(\.\d+)?(?=\s*\))|\)\s*-?\d*\.?\d+|[()\[\]]|(?<=\w)[+-]+")


class PolicyFileError(InputError):
    """The policy file cannot be read or says something unknown (file and line named)."""


class PolicyBlocked(InputError):
    """A prompt names something the policy blocks."""

    def __init__(self, message: str, hits: list[Hit]):
        super().__init__(message)
        self.hits = hits


@dataclass(frozen=True)
class Rule:
    names: tuple[str, ...]
    action: str
    kind: str | None = None
    note: str | None = None
    exact_case: bool = False
    line: int = 0  # where the rule starts in its file


@dataclass(frozen=True)
class Hit:
    """One protected name found: the rule's action, the name as the rule writes it, and the
    prompt (or template expansion) it was found in."""

    name: str
    action: str
    kind: str | None
    note: str | None
    rule_line: int
    prompt: str

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Verdict:
    """What the policy says about a request: its hits (allowed names excluded)."""

    hits: list[Hit] = field(default_factory=list)

    @property
    def blocked(self) -> bool:
        return any(h.action == "block" for h in self.hits)

    @property
    def flagged(self) -> bool:
        return any(h.action == "flag" for h in self.hits)

    def record(self) -> dict | None:
        """What an output's record keeps: None when nothing was hit."""
        if not self.hits:
            return None
        return {"flagged": self.flagged, "hits": [h.to_dict() for h in self.hits]}

    def about(self, prompt: str, seen_as=lambda p: p) -> dict | None:
        """:meth:`record` for the hits in one prompt (one expansion of a template), the
        hits' prompts read through ``seen_as`` (the engine takes adapter tags out)."""
        return Verdict([h for h in self.hits if seen_as(h.prompt) == prompt]).record()


def normalise(text: str) -> str:
    """The text matching sees: weighting syntax out, invisible characters out, accents and
    width variants folded (``Ｎïke`` reads ``Nike``), and every letter of another script
    that looks like a Latin letter or digit read as that one (Cyrillic ``і``, Greek ``Ν``:
    ``Νіke`` reads ``Nike``)."""
    text = unicodedata.normalize("NFKD", text.translate(_INVISIBLE))
    text = "".join(c for c in text if not unicodedata.combining(c))
    return _WEIGHT.sub(" ", text.translate(_latin_lookalikes()))


@functools.cache
def _latin_lookalikes() -> dict[int, str]:
    """Each non-ASCII character that Unicode's confusables data (UTS #39, through
    confusable_homoglyphs) says looks like an ASCII letter or digit -> that one, a letter
    first: a translation table, one lookup a character (no prompt can make it expand)."""
    from confusable_homoglyphs.confusables import confusables_data

    table = {}
    for char, glyphs in confusables_data.items():
        alike = [g["c"] for g in glyphs if len(g["c"]) == 1 and g["c"].isascii()]
        alike = [c for c in alike if c.isalpha()] or [c for c in alike if c.isdigit()]
        if len(char) == 1 and not char.isascii() and alike:
            table[ord(char)] = alike[0]
    return table


def _key(name: str, exact: bool) -> str:
    words = re.findall(r"[^\W_]+", normalise(name))
    return "".join(words) if exact else "".join(words).casefold()


class Policy:
    """Compiled rules: one pass of one regular expression per case mode finds every hit."""

    def __init__(self, rules: list[Rule], allow: list[str], flag_faces: bool, source: str):
        self.rules = rules
        self.allow = allow
        self.flag_faces = flag_faces
        self.source = source
        self._allowed = {_key(n, False) for n in allow} | {
            _key(n, False) for r in rules if r.action == "allow" for n in r.names
        }
        self._by_key: dict[tuple[bool, str], Rule] = {}
        patterns: dict[bool, list[str]] = {False: [], True: []}
        for rule in rules:
            if rule.action == "allow":
                continue
            for name in rule.names:
                words = re.findall(r"[^\W_]+", normalise(name))
                key = _key(name, rule.exact_case)
                if not words or (not rule.exact_case and key in self._allowed):
                    continue
                # a stricter action wins where two rules name the same thing
                held = self._by_key.get((rule.exact_case, key))
                if held is None or ACTIONS.index(rule.action) < ACTIONS.index(held.action):
                    self._by_key[(rule.exact_case, key)] = rule
                patterns[rule.exact_case].append(r"[\W_]*".join(map(re.escape, words)))
        # longest first, so "coca cola zero" is found whole where "coca cola" is a rule too
        self._regex = {
            exact: re.compile(
                rf"(?<![^\W_])(?:{'|'.join(sorted(set(p), key=len, reverse=True))})(?![^\W_])",
                0 if exact else re.IGNORECASE,
            )
            for exact, p in patterns.items()
            if p
        }

    def describe(self) -> dict:
        """The policy as data (the studio's read-only page)."""
        return {
            "source": self.source,
            "allow": self.allow,
            "flag_faces": self.flag_faces,
            "rules": [
                {
                    "line": r.line,
                    "action": r.action,
                    "kind": r.kind,
                    "note": r.note,
                    "case": "exact" if r.exact_case else "any",
                    "names": list(r.names),
                }
                for r in self.rules
            ],
        }

    def check(self, prompts: list[str]) -> Verdict:
        """Every hit in ``prompts`` (each a prompt or one expansion of a template)."""
        verdict, seen = Verdict(), set()
        for prompt in prompts:
            text = normalise(prompt)
            for exact, regex in self._regex.items():
                for match in regex.finditer(text):
                    key = _key(match.group(0), exact)
                    rule = self._by_key.get((exact, key))
                    if rule is None or _key(match.group(0), False) in self._allowed:
                        continue
                    name = next(n for n in rule.names if _key(n, exact) == key)
                    if (name, prompt) in seen:
                        continue
                    seen.add((name, prompt))
                    verdict.hits.append(
                        Hit(name, rule.action, rule.kind, rule.note, rule.line, prompt)
                    )
        return verdict

    def check_request(
        self, prompt: str, template: bool = False, wildcards: Path | None = None
    ) -> Verdict:
        """The verdict on a prompt, or on every expansion of a wildcard template (its
        wildcard files in ``wildcards``)."""
        return self.check(expansions(prompt, wildcards) if template else [prompt])

    def refuse_if_blocked(self, verdict: Verdict) -> None:
        """PolicyBlocked naming the first blocking rule, when there is one."""
        blocking = [h for h in verdict.hits if h.action == "block"]
        if blocking:
            hit = blocking[0]
            what = f"{hit.kind} " if hit.kind else ""
            why = f" ({hit.note})" if hit.note else ""
            raise PolicyBlocked(
                f"blocked by the policy: {what}{hit.name!r} (rule at {self.source} line "
                f"{hit.rule_line}){why} in {hit.prompt!r}",
                blocking,
            )


def expansions(template: str, wildcards: Path | None = None) -> list[str]:
    """Every prompt a wildcard template can make (all of them: a policy checks each)."""
    combos = every_prompt(template, wildcards, MAX_EXPANSIONS)
    if len(combos) > MAX_EXPANSIONS:
        raise InputError(
            f"template {template!r} makes more than {MAX_EXPANSIONS} prompts: too many to "
            "check against the policy"
        )
    return combos


OFF = Policy([], [], False, "no policy")


def load_policy(path: Path) -> Policy:
    """The policy in ``path``; PolicyFileError naming the file and line of what is wrong."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # Notepad writes a BOM
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyFileError(f"{path}: cannot read the policy: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{path}: not valid TOML: {exc}") from None
    starts = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[rule]]"]

    def fail(line: int, message: str) -> PolicyFileError:
        return PolicyFileError(f"{path} line {line}: {message}")

    unknown = set(data) - {"allow", "flag_faces", "rule"}
    if unknown:
        key = sorted(unknown)[0]
        raise fail(_line_of(text, key), f"unknown setting {key!r} (allow, flag_faces, rule)")
    allow = data.get("allow", [])
    if not isinstance(allow, list) or not all(isinstance(n, str) and n.strip() for n in allow):
        raise fail(_line_of(text, "allow"), "allow must be a list of names")
    flag_faces = data.get("flag_faces", False)
    if not isinstance(flag_faces, bool):
        raise fail(_line_of(text, "flag_faces"), "flag_faces must be true or false")
    tables = data.get("rule", [])
    if not isinstance(tables, list):
        raise fail(_line_of(text, "rule"), "rules are written as [[rule]] tables")
    rules = []
    for i, table in enumerate(tables):
        line = starts[i] if i < len(starts) else 0
        rules.append(_rule(table, line, fail))
    return Policy(rules, allow, flag_faces, str(path))


def _rule(table: dict, line: int, fail) -> Rule:
    unknown = set(table) - {"names", "action", "kind", "note", "case"}
    if unknown:
        key = sorted(unknown)[0]
        raise fail(line, f"unknown rule key {key!r} (names, action, kind, note, case)")
    names = table.get("names")
    if not isinstance(names, list) or not names:
        raise fail(line, "a rule needs names = [...] with at least one name")
    if not all(isinstance(n, str) and re.search(r"[^\W_]", n) for n in names):
        raise fail(line, "every name must be text with a letter or digit in it")
    action = table.get("action")
    if action not in ACTIONS:
        raise fail(line, f"action must be one of {', '.join(ACTIONS)} (got {action!r})")
    kind = table.get("kind")
    if kind is not None and kind not in KINDS:
        raise fail(line, f"kind must be one of {', '.join(KINDS)} (got {kind!r})")
    note = table.get("note")
    if note is not None and not isinstance(note, str):
        raise fail(line, "note must be text")
    case = table.get("case", "any")
    if case not in ("any", "exact"):
        raise fail(line, f"case must be 'any' or 'exact' (got {case!r})")
    return Rule(tuple(names), action, kind, note, case == "exact", line)


def _line_of(text: str, key: str) -> int:
    for i, line in enumerate(text.splitlines()):
        if re.match(rf"\s*\[*\s*{re.escape(key)}\b", line):
            return i + 1
    return 1
