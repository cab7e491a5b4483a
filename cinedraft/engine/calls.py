"""Calling a diffusers pipeline whatever its family: pipelines differ in which keyword
arguments their ``__call__`` takes and in how they report a finished step."""

from __future__ import annotations

import inspect
import math
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
    """Keyword arguments that call ``on_step(step)`` (1-based) once each sampling step ends
    (:func:`step_reporter`): through the current ``callback_on_step_end``, else the older
    ``callback`` (PixArt), else none."""
    report = step_reporter(pipe, on_step)
    if takes(pipe, "callback_on_step_end"):

        def step_end(pipe_: object, i: int, t: object, kwargs: dict) -> dict:
            report(i)
            return kwargs

        return {"callback_on_step_end": step_end}
    if takes(pipe, "callback"):
        return {"callback": lambda i, t, latents: report(i), "callback_steps": 1}
    return {}


def step_reporter(
    pipe: diffusers.DiffusionPipeline, on_step: Callable[[int], None], before: int = 0
) -> Callable[[int], None]:
    """For one pipeline call: a function of the callback index ``i`` that calls
    ``on_step(before + step)`` once for each step the call finishes (:func:`finished_step`;
    ``before``: steps done before the call began)."""
    last = 0

    def report(i: int) -> None:
        nonlocal last
        step = finished_step(pipe.scheduler, i)
        if step > last:
            last = step
            on_step(before + step)

    return report


def finished_step(scheduler: diffusers.SchedulerMixin, i: int) -> int:
    """The sampling step (1-based) reached after the pipeline's callback ``i`` (0-based): one
    per model call for most schedulers, but Heun calls the model twice a step and PNDM
    warms up with more calls, listing more timesteps than steps ("7/4" before), so calls
    are spread over the steps in proportion."""
    calls = len(scheduler.timesteps)
    steps = getattr(scheduler, "num_inference_steps", None) or calls
    return max(1, min(steps, math.ceil(steps * (i + 1) / calls)))
