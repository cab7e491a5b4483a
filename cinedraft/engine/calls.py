"""Calling a diffusers pipeline whatever its family: pipelines differ in which keyword
arguments their ``__call__`` takes and in how they report a finished step."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import diffusers


def takes(pipe: diffusers.DiffusionPipeline, name: str) -> bool:
    """Whether the pipeline's ``__call__`` has a parameter called ``name``."""
    return name in inspect.signature(pipe.__call__).parameters


def accepted(pipe: diffusers.DiffusionPipeline, kwargs: dict) -> dict:
    """The keyword arguments this pipeline's ``__call__`` takes (families differ)."""
    names = inspect.signature(pipe.__call__).parameters
    return {k: v for k, v in kwargs.items() if k in names}


def step_callbacks(pipe: diffusers.DiffusionPipeline, on_step: Callable[[int], None]) -> dict:
    """Keyword arguments that call ``on_step(i)`` (1-based) after each sampling step: the
    current ``callback_on_step_end``, else the older ``callback`` (PixArt), else none."""
    if takes(pipe, "callback_on_step_end"):

        def step_end(pipe_: object, i: int, t: object, kwargs: dict) -> dict:
            on_step(i + 1)
            return kwargs

        return {"callback_on_step_end": step_end}
    if takes(pipe, "callback"):
        return {"callback": lambda i, t, latents: on_step(i + 1), "callback_steps": 1}
    return {}
