"""Contact sheets: many images (or video frames) tiled on one page."""

from __future__ import annotations

import math

from PIL import Image


def contact_sheet(
    images: list[Image.Image], columns: int = 4, tile: int | None = None, gap: int = 4
) -> Image.Image:
    """Tile ``images`` row by row on a dark page; ``tile`` is the long side each one is
    scaled to. A cell is as wide and as tall as the largest scaled image, so frames of a
    9:16 clip fill their cells instead of sitting in squares half empty."""
    if not images:
        raise ValueError("no images for a contact sheet")
    side = tile or max(max(im.size) for im in images)
    scaled = [
        (
            max(1, round(im.width * side / max(im.size))),
            max(1, round(im.height * side / max(im.size))),
        )
        for im in images
    ]
    cell_w, cell_h = max(w for w, _ in scaled), max(h for _, h in scaled)
    rows = math.ceil(len(images) / columns)
    cols = min(columns, len(images))
    sheet = Image.new(
        "RGB", (cols * cell_w + (cols + 1) * gap, rows * cell_h + (rows + 1) * gap), (24, 24, 24)
    )
    for i, (im, size) in enumerate(zip(images, scaled)):
        im = im.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        r, c = divmod(i, columns)
        sheet.paste(im, (gap + c * (cell_w + gap), gap + r * (cell_h + gap)))
    return sheet
