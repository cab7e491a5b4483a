"""Contact sheets: many images (or video frames) tiled on one page."""

from __future__ import annotations

import math

from PIL import Image


def contact_sheet(
    images: list[Image.Image], columns: int = 4, tile: int | None = None, gap: int = 4
) -> Image.Image:
    """Tile ``images`` row by row on a dark page; ``tile`` is the side each one is scaled to."""
    if not images:
        raise ValueError("no images for a contact sheet")
    side = tile or max(max(im.size) for im in images)
    rows = math.ceil(len(images) / columns)
    cols = min(columns, len(images))
    sheet = Image.new(
        "RGB", (cols * side + (cols + 1) * gap, rows * side + (rows + 1) * gap), (24, 24, 24)
    )
    for i, im in enumerate(images):
        im = im.convert("RGB")
        scale = side / max(im.size)
        im = im.resize(
            (round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS
        )
        r, c = divmod(i, columns)
        sheet.paste(im, (gap + c * (side + gap), gap + r * (side + gap)))
    return sheet
