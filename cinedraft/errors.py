"""Exceptions raised by cinedraft. Every one carries a message meant for the user.

    CinedraftError
    ├── InputError               a request the user can fix (empty prompt, bad size, bad template)
    │   └── InputTooLargeError   a file over a size or pixel cap (HTTP 413)
    ├── ModelError
    │   ├── ModelNotFoundError   no such local folder, or not in the HF cache while offline
    │   └── UnsafeModelError     pickle weights or remote code: refused, never loaded
    ├── AssetNotFoundError       no output with that asset id
    ├── OutputError              the output folder cannot be written
    ├── QueueFullError           too many jobs waiting (HTTP 429)
    └── JobCancelled             raised inside a running job whose cancel was asked

The CLI prints the message and exits with :data:`EXIT_CODE`; nothing else is caught.
"""

from __future__ import annotations

EXIT_CODE = 2


class CinedraftError(Exception):
    """Base class: something cinedraft could not do, with a message for the user."""


class InputError(CinedraftError, ValueError):
    """The request is invalid; the message says which field and what is allowed."""


class InputTooLargeError(InputError):
    """A file is larger (bytes or pixels) than cinedraft accepts."""


class ModelError(CinedraftError):
    """A model could not be loaded."""


class ModelNotFoundError(ModelError):
    """The model is neither a local diffusers folder nor available (offline) in the HF cache."""


class UnsafeModelError(ModelError):
    """The model would need pickle deserialisation or remote code; cinedraft refuses both."""


class AssetNotFoundError(CinedraftError, KeyError):
    """No output with the given asset id."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class OutputError(CinedraftError, OSError):
    """The output location cannot be written."""


class QueueFullError(CinedraftError):
    """Too many queued jobs; try again later."""


class JobCancelled(CinedraftError):
    """Raised inside a running job when its cancel was requested (workers end the job as
    cancelled; it is never shown as an error)."""


def first_problem(exc, where: str = "request") -> str:
    """``field: message`` of the first problem of a pydantic ``ValidationError`` (``where``
    when it names no field): one line, as cinedraft says every error, in the CLI, the API,
    records and cluster results alike."""
    e = exc.errors()[0]
    loc = ".".join(str(p) for p in e["loc"]) or where
    return f"{loc}: {e['msg'].removeprefix('Value error, ')}"
