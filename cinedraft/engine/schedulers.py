"""Schedulers by short name, and the names other tools print for them.

A scheduler is swapped with ``from_config`` on the pipeline's own scheduler config, so a
model's training choices (prediction type, beta schedule, timestep spacing) carry over.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:  # diffusers imports torch: the table is read where torch is not wanted
    import diffusers

# name -> (diffusers class, extra config, the "Sampler" and "Schedule type" A1111 shows;
# None: A1111's "Automatic", the sampler's own schedule)
SCHEDULERS: dict[str, tuple[str, dict, str, str | None]] = {
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}, "DPM++ 2M", None),
    "dpm++-karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
        "DPM++ 2M",
        "Karras",
    ),
    "unipc": ("UniPCMultistepScheduler", {}, "UniPC", None),
    "euler": ("EulerDiscreteScheduler", {}, "Euler", None),
    # What SDXL-Lightning and similar step-distilled models were trained to be sampled with.
    "euler-trailing": (
        "EulerDiscreteScheduler",
        {"timestep_spacing": "trailing"},
        "Euler",
        "SGM Uniform",
    ),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}, "Euler a", None),
    "heun": ("HeunDiscreteScheduler", {}, "Heun", None),
    "ddim": ("DDIMScheduler", {}, "DDIM", None),
    "ddim-trailing": ("DDIMScheduler", {"timestep_spacing": "trailing"}, "DDIM", "SGM Uniform"),
    "lcm": ("LCMScheduler", {}, "LCM", None),
    "flow-euler": ("FlowMatchEulerDiscreteScheduler", {}, "Euler", "Simple"),
    # What Qwen-Image-Lightning was distilled with (tiers.SPEED_LORAS cites it): shift 3.
    "flow-euler-shift3": (
        "FlowMatchEulerDiscreteScheduler",
        {
            "base_shift": math.log(3),
            "max_shift": math.log(3),
            "shift": 1.0,
            "shift_terminal": None,
            "time_shift_type": "exponential",
            "use_dynamic_shifting": True,
        },
        "Euler",
        "Simple",
    ),
}


OWN = "own"  # the scheduler the model folder ships, as it is


def check_name(name: str) -> None:
    """InputError for a name that is no scheduler's (the server's routes ask before a job is
    queued)."""
    if name != OWN and name not in SCHEDULERS:
        raise InputError(f"unknown scheduler {name!r}; known: {OWN}, {', '.join(SCHEDULERS)}")


def make_scheduler(name: str, own: diffusers.SchedulerMixin) -> diffusers.SchedulerMixin:
    """A fresh scheduler called ``name`` built from the model's ``own`` scheduler's config
    (``"own"``: a fresh copy of that one).

    Raises InputError for unknown names and for ones the pipeline's model can't use
    (e.g. a DDPM-family solver on a flow-matching model).
    """
    if name == OWN:
        return type(own).from_config(own.config)
    check_name(name)
    import diffusers

    class_name, extra = SCHEDULERS[name][:2]
    cls = getattr(diffusers, class_name)
    if not _fits(class_name, own):
        usable = [n for n, spec in SCHEDULERS.items() if _fits(spec[0], own)]
        raise InputError(
            f"scheduler {name!r} does not fit this model ({type(own).__name__}); "
            f"usable: {', '.join([OWN, *usable])}"
        )
    return cls.from_config(own.config, **extra)


def is_flow(own: diffusers.SchedulerMixin) -> bool:
    """Whether a model whose scheduler is ``own`` is a flow-matching one."""
    return "FlowMatch" in type(own).__name__


def _fits(class_name: str, own: diffusers.SchedulerMixin) -> bool:
    """Whether a scheduler class can sample a model whose scheduler is ``own``: one diffusers
    lists as compatible, or any noise-prediction scheduler for a noise-prediction model (LCM's
    scheduler is not on DDIM's list, yet LCM-LoRA is sampled exactly so: diffusers' LCM docs
    build it ``from_config`` of the pipeline's own). Flow matching mixes with neither."""
    compatible = {c.__name__ for c in getattr(own, "compatibles", [])} | {type(own).__name__}
    return class_name in compatible or (not is_flow(own) and "FlowMatch" not in class_name)


def sampler_label(name: str, own: diffusers.SchedulerMixin | None = None) -> str:
    """The sampler name A1111-style tools show (the class name for a model's own)."""
    if name == OWN and own is not None:
        return type(own).__name__
    return SCHEDULERS[name][2] if name in SCHEDULERS else name


def schedule_label(name: str) -> str | None:
    """The "Schedule type" A1111 shows beside the sampler; None for the sampler's own."""
    return SCHEDULERS[name][3] if name in SCHEDULERS else None
