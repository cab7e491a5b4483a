"""cinedraft: draft fast, finish cinematic, keep the record.

Public API::

    from cinedraft import Engine, ImageRequest, Settings
    engine = Engine(Settings())
    result = engine.generate_image(ImageRequest(prompt="a red bottle on a glass table"))
"""

__version__ = "0.1.0"

from .config import Settings  # noqa: E402
from .engine.image import Engine  # noqa: E402
from .errors import (  # noqa: E402
    AssetNotFoundError,
    CinedraftError,
    InputError,
    ModelError,
    ModelNotFoundError,
    OutputError,
    UnsafeModelError,
)
from .request import ImageOutput, ImageRequest, Result  # noqa: E402
from .tiers import FAMILIES, Family, Tier  # noqa: E402


def generate_image(request: ImageRequest, settings: Settings | None = None, on_progress=None) -> Result:
    """One-off generation with a fresh engine; keep an :class:`Engine` to reuse loaded models."""
    return Engine(settings or Settings()).generate_image(request, on_progress)


__all__ = [
    "AssetNotFoundError",
    "CinedraftError",
    "Engine",
    "FAMILIES",
    "Family",
    "ImageOutput",
    "ImageRequest",
    "InputError",
    "ModelError",
    "ModelNotFoundError",
    "OutputError",
    "Result",
    "Settings",
    "Tier",
    "UnsafeModelError",
    "__version__",
    "generate_image",
]
