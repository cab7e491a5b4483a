"""cinedraft: draft fast, finish cinematic, keep the record.

Public API::

    from cinedraft import Engine, ImageRequest, Settings
    engine = Engine(Settings())
    result = engine.generate_image(ImageRequest(prompt="a red bottle on a glass table"))
"""

from ._version import __version__  # noqa: E402

from .config import Settings  # noqa: E402
from .errors import (  # noqa: E402
    AssetNotFoundError,
    CinedraftError,
    InputError,
    InputTooLargeError,
    ModelError,
    ModelNotFoundError,
    OutputError,
    UnsafeModelError,
)
from .library import Asset, AssetQuery, Library, Verification  # noqa: E402
from .request import (  # noqa: E402
    ImageOutput,
    ImageRequest,
    Overrides,
    Rerender,
    Result,
    VideoRequest,
    VideoResult,
)
from .tiers import FAMILIES, Family, Tier  # noqa: E402


def generate_image(
    request: ImageRequest, settings: Settings | None = None, on_progress=None
) -> Result:
    """One-off generation with a fresh engine; keep an :class:`Engine` to reuse loaded models."""
    from .engine.engine import Engine

    return Engine(settings or Settings()).generate_image(request, on_progress)


def __getattr__(name: str):
    # The engine pulls in torch and diffusers (seconds); library-only users never pay for it.
    if name == "Engine":
        from .engine.engine import Engine

        return Engine
    raise AttributeError(f"module 'cinedraft' has no attribute {name!r}")


__all__ = [
    "Asset",
    "AssetNotFoundError",
    "AssetQuery",
    "CinedraftError",
    "Engine",
    "FAMILIES",
    "Family",
    "ImageOutput",
    "ImageRequest",
    "InputError",
    "InputTooLargeError",
    "Library",
    "ModelError",
    "ModelNotFoundError",
    "OutputError",
    "Overrides",
    "Rerender",
    "Result",
    "Settings",
    "Tier",
    "UnsafeModelError",
    "Verification",
    "VideoRequest",
    "VideoResult",
    "__version__",
    "generate_image",
]
