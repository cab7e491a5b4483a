"""The catalogue studio: product lists into product images in every aspect, with the
product kept exactly (:mod:`.run`), and 15-second vertical ads from them (:mod:`.ad`)."""

from .brand import BrandKit, read_brand
from .run import Catalogue, CatalogueReport, SkuReport
from .sheet import Product, RowProblem, Sheet, read_sheet

__all__ = [
    "BrandKit",
    "Catalogue",
    "CatalogueReport",
    "Product",
    "RowProblem",
    "Sheet",
    "SkuReport",
    "read_brand",
    "read_sheet",
]
