"""A brand kit (``brand.toml``): the palette, style and negative words, logo and caption font
every output of a catalogue follows, and records.

```toml
name = "Acme"
palette = ["#1a73e8", "#f4f1ea"]    # hex colours
style = ["soft daylight", "minimal"] # added to every prompt
negative = ["text", "watermark"]     # added to every negative prompt
logo = "logo.png"                    # relative to the brand file; drawn on the ad
caption_font = "Inter-Bold.ttf"      # TrueType/OpenType; the ad's captions
```

Files are resolved inside the brand file's folder; a bad colour, an unknown key, a missing or
unreadable logo or font is one :class:`InputError`, raised before anything is made.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageFont

from ..errors import InputError
from ..media.files import sha256_file

KEYS = ("name", "palette", "style", "negative", "logo", "caption_font")
HEX = re.compile(r"#([0-9a-fA-F]{6})")


@dataclass(frozen=True)
class BrandKit:
    name: str = ""
    palette: tuple[tuple[int, int, int], ...] = ()
    style: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    logo: Path | None = None
    caption_font: Path | None = None

    def prompt(self, prompt: str) -> str:
        """The row's prompt with the brand's style words."""
        return ", ".join([prompt, *self.style]) if self.style else prompt

    def negative_prompt(self, negative: str) -> str:
        return ", ".join(w for w in (negative, *self.negative) if w)

    def to_record(self) -> dict:
        """What every output's record (and so its C2PA manifest) says of the kit; files by
        name and SHA-256."""
        files = {
            key: {"name": path.name, "sha256": sha256_file(path)}
            for key, path in (("logo", self.logo), ("caption_font", self.caption_font))
            if path is not None
        }
        return {
            "name": self.name,
            "palette": ["#{:02x}{:02x}{:02x}".format(*c) for c in self.palette],
            "style": list(self.style),
            "negative": list(self.negative),
        } | files

    def font(self, size: int) -> ImageFont.FreeTypeFont:
        """The caption font at ``size`` px; Pillow's own (DejaVu Sans) without one."""
        if self.caption_font is not None:
            return ImageFont.truetype(str(self.caption_font), size)
        return ImageFont.load_default(size)


def read_brand(path: Path | None) -> BrandKit:
    """The kit in ``path``; an empty kit (no palette, no words) for None."""
    if path is None:
        return BrandKit()
    path = Path(path).expanduser()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # Notepad writes a BOM
    except FileNotFoundError:
        raise InputError(f"no such brand file: {path}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"cannot read {path.name}: {exc}") from None
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise InputError(f"{path.name}: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
    root = path.parent.resolve()
    return BrandKit(
        name=_string(path, data, "name"),
        palette=tuple(_colour(path, i, c) for i, c in enumerate(_list(path, data, "palette"))),
        style=tuple(_list(path, data, "style")),
        negative=tuple(_list(path, data, "negative")),
        logo=_file(path, root, data.get("logo"), "logo", _check_image),
        caption_font=_file(path, root, data.get("caption_font"), "caption_font", _check_font),
    )


def _string(path: Path, data: dict, key: str) -> str:
    value = data.get(key, "")
    if not isinstance(value, str):
        raise InputError(f"{path.name}: {key} must be a string")
    return value.strip()


def _list(path: Path, data: dict, key: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{path.name}: {key} must be a list of strings")
    return [v.strip() for v in value if v.strip()]


def _colour(path: Path, index: int, text: str) -> tuple[int, int, int]:
    m = HEX.fullmatch(text)
    if not m:
        raise InputError(f"{path.name}: palette[{index}] {text!r} is not a colour (#RRGGBB)")
    value = int(m.group(1), 16)
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def _file(path: Path, root: Path, text, key: str, check) -> Path | None:
    if text is None:
        return None
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{path.name}: {key} must be a file name")
    found = (root / text).resolve()
    if not found.is_relative_to(root):
        raise InputError(f"{path.name}: {key} {text!r} is outside the brand file's folder")
    if not found.is_file():
        raise InputError(f"{path.name}: {key} {text!r} does not exist")
    check(path, key, found)
    return found


def _check_image(path: Path, key: str, found: Path) -> None:
    try:
        with Image.open(found) as im:
            im.verify()
    except (OSError, SyntaxError, Image.DecompressionBombError):
        raise InputError(f"{path.name}: {key} {found.name!r} is not an image") from None


def _check_font(path: Path, key: str, found: Path) -> None:
    try:
        ImageFont.truetype(str(found), 12)
    except OSError:
        raise InputError(f"{path.name}: {key} {found.name!r} is not a font Pillow reads") from None
