"""The studio server: REST API, Server-Sent Events, job workers, the web UI."""

from .app import create_app

__all__ = ["create_app"]
