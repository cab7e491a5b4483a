"""The training recipe both built-in models share: the noise schedule, the learning-rate
curve and the EMA of the weights (``scripts/train_builtin.py``,
``scripts/train_builtin_video.py``)."""

from __future__ import annotations

import math

import torch

SCHEDULE = dict(
    num_train_timesteps=1000,
    beta_schedule="squaredcos_cap_v2",
    prediction_type="v_prediction",
    timestep_spacing="trailing",
)


def learning_rate(lr0: float, step: int, steps: int) -> float:
    """Linear warm-up over the first 2.5 % of the steps, a cosine tail over the last 30 %."""
    lr = lr0 * min(1.0, (step + 1) / max(1, steps // 40))
    if step > 0.7 * steps:
        lr *= 0.5 * (1 + math.cos(math.pi * (step - 0.7 * steps) / (0.3 * steps)))
    return lr


def update_ema(pairs, step: int, most: float) -> None:
    """EMA of each (live, ema) model's weights; the decay ramps up to ``most``."""
    decay = min(most, (1 + step) / (10 + step))
    with torch.no_grad():
        for live, ema in pairs:
            for p_ema, p in zip(ema.parameters(), live.parameters()):
                p_ema.lerp_(p, 1 - decay)
