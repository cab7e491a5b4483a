"""The product list of a catalogue: ``products.csv`` or ``products.jsonl``, one row per SKU.

Columns: ``sku`` and ``name`` (required); ``prompt`` (a template: ``{name}``, ``{colour}``...
are filled from the row's other columns), ``packshot`` (a product photo, relative to the
list's folder), ``scenes`` (lifestyle images), ``aspects`` (``1:1,4:5,9:16``), ``negative``,
``caption`` (a line for the ad); any other column is a field templates may use.

Two kinds of problem, told apart as a batch job needs them:

- the file as a whole (no rows, no ``sku`` column, duplicate SKUs, an aspect such as ``0:1``):
  :class:`InputError`, raised before anything is made;
- one row (an empty name, a packshot that is missing, outside the list's folder or not an
  image, a template naming a column the row lacks, more cells than the header): a
  :class:`RowProblem` with its line number; that row is skipped, the others run.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ..errors import InputError
from ..render.masks import parse_aspect
from ..weighting import escaped

DEFAULT_PROMPT = "{name}, product photo"
DEFAULT_ASPECTS = ("1:1", "4:5", "9:16", "16:9", "1.91:1")
MAX_SCENES = 16
MAX_ROWS = 10_000
SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")  # it names the SKU's output folder


@dataclass(frozen=True)
class Product:
    """One valid row: what to make for one SKU."""

    line: int
    sku: str
    name: str
    prompt: str  # the template filled in
    packshot: Path | None
    scenes: int
    aspects: tuple[str, ...]
    negative: str = ""
    caption: str = ""
    fields: dict[str, str] = field(default_factory=dict)  # every column, as given

    def to_record(self) -> dict:
        """What the outputs' records say about the row (the packshot by name only)."""
        return {
            "sku": self.sku,
            "name": self.name,
            "line": self.line,
            "packshot": self.packshot.name if self.packshot else None,
            "caption": self.caption or None,
        }


@dataclass(frozen=True)
class RowProblem:
    line: int
    sku: str | None
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}{f' ({self.sku})' if self.sku else ''}: {self.reason}"


@dataclass
class Sheet:
    path: Path
    products: list[Product]
    problems: list[RowProblem]


def read_sheet(path: Path, scenes: int = 3, aspects: tuple[str, ...] = DEFAULT_ASPECTS) -> Sheet:
    """Read and check a product list; ``scenes`` and ``aspects`` are the defaults of rows
    that do not say. Raises :class:`InputError` for a problem of the whole file."""
    path = Path(path).expanduser()
    rows = _rows(path)
    if not rows:
        raise InputError(f"{path.name} has no product rows")
    if not any("sku" in row for _, row in rows):
        raise InputError(f"{path.name} has no 'sku' column (found: {', '.join(rows[0][1])})")
    _refuse_duplicates(path, rows)
    _refuse_bad_aspects(path, rows, aspects)
    products, problems = [], []
    for line, row in rows:
        try:
            products.append(_product(line, row, path.parent.resolve(), scenes, aspects))
        except _RowError as exc:
            problems.append(RowProblem(line, (row.get("sku") or "").strip() or None, str(exc)))
    return Sheet(path, products, problems)


class _RowError(Exception):
    pass


COLUMNS = ("sku", "name", "prompt", "packshot", "scenes", "aspects", "negative", "caption")
# What spreadsheets save as CSV: commas, or semicolons where the comma is the decimal mark
# (Excel in most of Europe), or tabs (Excel's "Unicode text", UTF-16).
DELIMITERS = (",", ";", "\t")


def _rows(path: Path) -> list[tuple[int, dict]]:
    """``(line number, row)`` pairs; a row with more cells than the header keeps the extra
    ones under None (a row problem, named later). The known columns are matched whatever
    their case ("SKU", "Name")."""
    text = _text_of(path)
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path.name} line {number} is not JSON: {exc.msg}") from None
            if not isinstance(row, dict):
                raise InputError(f"{path.name} line {number} is not a JSON object")
            rows.append((number, {str(k): _text(v) for k, v in row.items()}))
    elif path.suffix.lower() == ".csv":
        header = next((line for line in text.splitlines() if line.strip()), "")
        delimiter = max(DELIMITERS, key=header.count)  # names hold none; ties: the comma
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        rows = [(reader.line_num, _named(row)) for row in reader if not _blank(row)]
    else:
        raise InputError(f"{path.name}: a product list is a .csv or .jsonl file")
    if len(rows) > MAX_ROWS:
        raise InputError(f"{path.name} has {len(rows)} rows; at most {MAX_ROWS} per run")
    return rows


def _text_of(path: Path) -> str:
    """The list's text: UTF-8 (a BOM allowed), or UTF-16 when it starts with its BOM."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"no such product list: {path}") from None
    except OSError as exc:
        raise InputError(f"cannot read {path.name}: {exc.strerror}") from None
    try:
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}): save it as UTF-8 (Excel: Save As, 'CSV UTF-8')"
        ) from None


def _named(row: dict) -> dict:
    """A row with its known columns' names in lower case and every name stripped."""
    named = {}
    for key, value in row.items():
        if isinstance(key, str):
            key = key.strip()
            key = key.lower() if key.lower() in COLUMNS else key
        named[key] = value
    return named


def _blank(row: dict) -> bool:
    return not any(v.strip() for v in row.values() if isinstance(v, str)) and None not in row


def _text(value) -> str:
    if isinstance(value, list):  # JSONL aspects may be a list
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _refuse_duplicates(path: Path, rows: list[tuple[int, dict]]) -> None:
    seen: dict[str, int] = {}
    for line, row in rows:
        sku = (row.get("sku") or "").strip()
        if sku and sku in seen:
            raise InputError(
                f"{path.name}: SKU {sku!r} is on line {seen[sku]} and line {line}; "
                "each SKU once (its outputs share one folder)"
            )
        seen.setdefault(sku, line)


def _refuse_bad_aspects(path: Path, rows: list[tuple[int, dict]], default: tuple[str, ...]):
    for line, row in [(0, {"aspects": ",".join(default)}), *rows]:
        for aspect in _split(row.get("aspects") or ""):
            try:
                parse_aspect(aspect)
            except ValueError as exc:
                where = f"line {line}" if line else "--aspects"
                raise InputError(f"{path.name} {where}: {exc}") from None


def _split(text: str) -> tuple[str, ...]:
    return tuple(a.strip() for a in text.replace(";", ",").split(",") if a.strip())


def _product(line: int, row: dict, root: Path, scenes: int, aspects: tuple[str, ...]) -> Product:
    if None in row:
        raise _RowError(f"{len(row[None])} more cell(s) than the header has columns")
    row = {k.strip(): (v or "").strip() for k, v in row.items()}
    sku, name = row.get("sku", ""), row.get("name", "")
    if not SKU.fullmatch(sku):
        raise _RowError(
            "the sku is empty" if not sku else f"sku {sku!r}: letters, digits, '.', '_', '-'"
        )
    if not name:
        raise _RowError("the name is empty")
    count = scenes
    if row.get("scenes"):
        if not row["scenes"].isdigit() or not 1 <= int(row["scenes"]) <= MAX_SCENES:
            raise _RowError(f"scenes must be 1..{MAX_SCENES}, got {row['scenes']!r}")
        count = int(row["scenes"])
    return Product(
        line=line,
        sku=sku,
        name=name,
        prompt=fill(row.get("prompt") or DEFAULT_PROMPT, row),
        packshot=_packshot(row.get("packshot", ""), root),
        scenes=count,
        aspects=_split(row.get("aspects", "")) or aspects,
        negative=row.get("negative", ""),
        caption=row.get("caption", ""),
        fields=row,
    )


def fill(template: str, row: dict[str, str]) -> str:
    """``template`` with ``{column}`` filled from ``row``, each value as words: a product
    named ``Shampoo (250 ml)`` does not weigh "250 ml" (the template's own brackets still
    weigh). Only plain names: ``{a.b}`` or ``{a[0]}`` would let a product list read Python
    attributes."""
    out = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise _RowError(f"prompt template: {exc}") from None
    for text, name, spec, conversion in parsed:
        out.append(text)
        if name is None:
            continue
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or spec or conversion:
            raise _RowError(f"prompt template: {{{name}}} is not a plain column name")
        if name not in row:
            raise _RowError(f"prompt template names an unknown column {{{name}}}")
        out.append(escaped(row[name]))
    return "".join(out).strip()


def _packshot(text: str, root: Path) -> Path | None:
    if not text:
        return None
    path = (root / text).resolve()
    if not path.is_relative_to(root):
        raise _RowError(f"packshot {text!r} is outside the product list's folder")
    if not path.is_file():
        raise _RowError(f"packshot {text!r} does not exist")
    try:
        with Image.open(path) as im:
            im.verify()
    except (OSError, SyntaxError, Image.DecompressionBombError):
        raise _RowError(f"packshot {text!r} is not an image") from None
    return path
