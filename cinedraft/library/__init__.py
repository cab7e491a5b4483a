"""The library: SQLite records, content-addressed files, C2PA provenance, watermarks."""

from .library import Asset, AssetQuery, Library, Verification

__all__ = ["Asset", "AssetQuery", "Library", "Verification"]
