"""The catalogue studio: product lists into product images in every aspect, with the
product kept exactly (:mod:`.run`), and 15-second vertical ads from them (:mod:`.ad`).

Names load on first use: the run needs OpenCV and the library, which the command line's
``--help`` should not pay for."""

from importlib import import_module

_WHERE = {
    "BrandKit": ".brand",
    "read_brand": ".brand",
    "Catalogue": ".run",
    "CatalogueReport": ".run",
    "SkuReport": ".run",
    "Product": ".sheet",
    "RowProblem": ".sheet",
    "Sheet": ".sheet",
    "read_sheet": ".sheet",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_WHERE)
