"""Classical upscaling: Lanczos resampling, then an unsharp mask to restore edge contrast."""

from __future__ import annotations

from PIL import Image, ImageFilter


def upscale_lanczos(image: Image.Image, size: tuple[int, int], sharpen: float = 0.0) -> Image.Image:
    """Resize to ``size`` (width, height) with Lanczos; ``sharpen`` is the unsharp amount (0-2).

    The mask radius grows with the scale factor so it works on the enlarged edges, not noise.
    """
    out = image.resize(size, Image.Resampling.LANCZOS)
    if sharpen > 0:
        scale = max(size[0] / image.width, size[1] / image.height)
        out = out.filter(
            ImageFilter.UnsharpMask(radius=max(1.0, scale * 0.75), percent=int(sharpen * 100), threshold=2)
        )
    return out
