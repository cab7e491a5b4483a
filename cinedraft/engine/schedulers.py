"""Schedulers by short name, and the names other tools print for them.

A scheduler is swapped with ``from_config`` on the pipeline's own scheduler config, so a
model's training choices (prediction type, beta schedule, timestep spacing) carry over.
"""

from __future__ import annotations

import diffusers

from ..errors import InputError

# name -> (diffusers class, extra config, the "Sampler" name A1111-style tools show)
SCHEDULERS: dict[str, tuple[str, dict, str]] = {
    "dpm++": ("DPMSolverMultistepScheduler", {"algorithm_type": "dpmsolver++"}, "DPM++ 2M"),
    "dpm++-karras": (
        "DPMSolverMultistepScheduler",
        {"algorithm_type": "dpmsolver++", "use_karras_sigmas": True},
        "DPM++ 2M Karras",
    ),
    "unipc": ("UniPCMultistepScheduler", {}, "UniPC"),
    "euler": ("EulerDiscreteScheduler", {}, "Euler"),
    "euler-a": ("EulerAncestralDiscreteScheduler", {}, "Euler a"),
    "heun": ("HeunDiscreteScheduler", {}, "Heun"),
    "ddim": ("DDIMScheduler", {}, "DDIM"),
    "lcm": ("LCMScheduler", {}, "LCM"),
    "flow-euler": ("FlowMatchEulerDiscreteScheduler", {}, "Euler (flow)"),
}


def make_scheduler(name: str, current: diffusers.SchedulerMixin) -> diffusers.SchedulerMixin:
    """A fresh scheduler called ``name`` built from ``current``'s config.

    Raises InputError for unknown names and for ones the pipeline's model can't use
    (e.g. a DDPM-family solver on a flow-matching model).
    """
    if name not in SCHEDULERS:
        raise InputError(f"unknown scheduler {name!r}; known: {', '.join(SCHEDULERS)}")
    class_name, extra, _ = SCHEDULERS[name]
    cls = getattr(diffusers, class_name)
    compatible = {c.__name__ for c in getattr(current, "compatibles", [])} | {
        type(current).__name__
    }
    if class_name not in compatible:
        usable = [n for n, (c, _, _) in SCHEDULERS.items() if c in compatible]
        raise InputError(
            f"scheduler {name!r} does not fit this model ({type(current).__name__}); "
            f"usable: {', '.join(usable) or 'its own'}"
        )
    return cls.from_config(current.config, **extra)


def sampler_label(name: str) -> str:
    return SCHEDULERS[name][2] if name in SCHEDULERS else name
