"""Device and dtype choice, made when an engine is built (never at import)."""

from __future__ import annotations

import torch

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def pick_device(setting: str = "auto") -> torch.device:
    """'auto' -> CUDA if present, else Apple MPS, else CPU; anything else is taken as asked."""
    if setting != "auto":
        return torch.device(setting)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_dtype(setting: str, device: torch.device, family_dtype: str) -> torch.dtype:
    """Half precision is slow or unsupported on CPU, so 'auto' means float32 there."""
    if setting != "auto":
        return _DTYPES[setting]
    return torch.float32 if device.type == "cpu" else _DTYPES[family_dtype]
