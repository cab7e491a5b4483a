"""Prompt styles as A1111 keeps them: ``styles.csv``, one style a row (``name``, ``prompt``,
``negative_prompt``; the oldest files call the prompt ``text``), so that a user's A1111
styles file works as it is (``CINEDRAFT_STYLES``, default HOME/styles.csv). A style's prompt
takes the user's prompt where it says ``{prompt}``, else follows it after a comma; its
negative prompt likewise; several styles apply in the order named (A1111's
``merge_prompts`` and ``apply_styles_to_prompt``, modules/styles.py).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from pydantic import ValidationError

from .errors import InputError, first_problem
from .request import ImageRequest

MAX_STYLES_FILE = 4 * 2**20  # bytes: A1111's own files are a few KB


def styled(request: ImageRequest, names: list[str], path: Path) -> ImageRequest:
    """``request`` with the styles ``names`` applied to its prompt and negative prompt, and
    checked again as a request (a style's words are the user's words)."""
    if not names:
        return request
    prompt, negative = apply_styles(request.prompt, request.negative_prompt, names, path)
    try:
        return ImageRequest(
            **(request.model_dump() | {"prompt": prompt, "negative_prompt": negative})
        )
    except ValidationError as exc:
        raise InputError(f"with the styles {', '.join(names)}: {first_problem(exc)}") from None


def apply_styles(prompt: str, negative: str, names: list[str], path: Path) -> tuple[str, str]:
    """``prompt`` and ``negative`` with the styles ``names`` from the styles file applied."""
    if not names:
        return prompt, negative
    styles = read_styles(path)
    for name in names:
        if name not in styles:
            known = ", ".join(sorted(styles)[:20]) or "none"
            raise InputError(f"no style {name!r} in {path} (its styles: {known})")
        style_prompt, style_negative = styles[name]
        prompt, negative = _merged(style_prompt, prompt), _merged(style_negative, negative)
    return prompt, negative


def read_styles(path: Path) -> dict[str, tuple[str, str]]:
    """``{name: (prompt, negative prompt)}`` of a styles file; InputError when it cannot be
    read as one."""
    try:
        if path.stat().st_size > MAX_STYLES_FILE:
            raise InputError(f"{path} is larger than a styles file ({MAX_STYLES_FILE} bytes)")
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"no styles file at {path} (A1111's styles.csv)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the styles file {path}: {exc}") from None
    rows = csv.DictReader(io.StringIO(text, newline=""), skipinitialspace=True)
    if not rows.fieldnames or "name" not in rows.fieldnames:
        raise InputError(f"{path} is no styles file: its first line names no 'name' column")
    return {
        row["name"]: (row.get("prompt") or row.get("text") or "", row.get("negative_prompt") or "")
        for row in rows
        if row.get("name")
    }


def _merged(style: str, prompt: str) -> str:
    if "{prompt}" in style:
        return style.replace("{prompt}", prompt)
    return ", ".join(part for part in (prompt.strip(), style.strip()) if part)
