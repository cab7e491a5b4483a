"""Neighbourhood motion attention: AnimateDiff's temporal attention, widened to see round it.

An AnimateDiff motion module attends across frames at one latent pixel: frame f at pixel p
sees only pixel p of the other frames. To move an object the network must carry it across
pixels some other way, which the built-in video model did not learn on a CPU budget (its
objects stayed still or jumped to where the motion ends). Here each query at (p, f) attends
to every frame at p, as before, and also to the **first frame at the pixels within
``radius`` of p**; each of those keys carries a learned embedding of its offset from p, so a
query can ask for "frame 0, two pixels to the left" (relative positions, which video
transformers get from 3D RoPE; the first frame as the anchor, as in Tune-A-Video's sparse
attention). A learned bias per head and offset starts the neighbours at ``-INITIAL_BIAS``,
so a model trained without reach behaves almost as before (about 5 % change in its output)
when reach is added. Only the coarse motion modules get it (8x8 and 4x4 latents for the
built-in model): at full resolution it would triple a training step.

The extra parameters live in the processors (``nn.Module``), so they are part of the UNet's
``state_dict`` and train with it. They are saved apart from the diffusers folder's own
weights (``REACH_FILE``, beside ``diffusion_pytorch_model.safetensors``), so a plain
``UNetMotionModel.from_pretrained`` still loads the folder (as plain per-pixel attention);
cinedraft's model loader installs reach where the file is.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

REACH_FILE = "motion_reach.safetensors"
INITIAL_BIAS = 3.0


class ReachAttnProcessor(nn.Module):
    """Self-attention over the frames at a pixel plus the first frame's (2r+1)^2 neighbourhood
    of it."""

    def __init__(self, dim: int, heads: int, radius: int):
        super().__init__()
        self.radius, self.heads = radius, heads
        k = (2 * radius + 1) ** 2
        self.offset_key = nn.Parameter(torch.zeros(k, dim))
        self.offset_bias = nn.Parameter(torch.full((heads, k), -INITIAL_BIAS))
        self.size: tuple[int, int] | None = None  # (H, W), set by the module's pre-hook

    def _neighbours(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """(B*H*W, D) -> (B*H*W, K, D): each pixel's neighbourhood, zeros outside."""
        r = self.radius
        grid = x.reshape(-1, height, width, x.shape[-1]).permute(0, 3, 1, 2)  # (B, D, H, W)
        grid = F.pad(grid, (r, r, r, r))
        cols = [grid[:, :, dy : dy + height, dx : dx + width]
                for dy in range(2 * r + 1) for dx in range(2 * r + 1)]
        return torch.stack(cols, -1).permute(0, 2, 3, 4, 1).reshape(x.shape[0], len(cols), -1)

    def _bias(self, height: int, width: int, frames: int, device, dtype) -> torch.Tensor:
        """(H*W, heads, 1, F + K): 0 for the pixel's own frames, the learned offset bias for
        the first frame's neighbours, and -1e4 where a neighbour falls outside the frame."""
        r = self.radius
        ys = torch.arange(height, device=device).view(-1, 1, 1, 1)
        xs = torch.arange(width, device=device).view(1, -1, 1, 1)
        dy = torch.arange(-r, r + 1, device=device).view(1, 1, -1, 1)
        dx = torch.arange(-r, r + 1, device=device).view(1, 1, 1, -1)
        outside = ((ys + dy < 0) | (ys + dy >= height) | (xs + dx < 0) | (xs + dx >= width))
        outside = outside.reshape(height * width, 1, -1)
        anchor = self.offset_bias[None].masked_fill(outside, -1e4)  # (HW, heads, K)
        own = anchor.new_zeros(height * width, self.heads, frames)
        return torch.cat([own, anchor], -1)[:, :, None, :].to(dtype)

    def forward(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                temb=None, *args, **kwargs):
        assert self.size is not None, "ReachAttnProcessor needs its module's pre-hook"
        height, width = self.size
        bhw, frames, _ = hidden_states.shape
        q, key, value = attn.to_q(hidden_states), attn.to_k(hidden_states), attn.to_v(hidden_states)
        anchor_key = self._neighbours(key[:, 0], height, width) + self.offset_key.to(key.dtype)
        key = torch.cat([key, anchor_key], 1)  # (BHW, F + K, D)
        value = torch.cat([value, self._neighbours(value[:, 0], height, width)], 1)
        dim = q.shape[-1]
        heads, dh = self.heads, dim // self.heads
        q = q.view(bhw, frames, heads, dh).transpose(1, 2)  # (BHW, h, F, dh)
        key = key.view(bhw, -1, heads, dh).transpose(1, 2)
        value = value.view(bhw, -1, heads, dh).transpose(1, 2)
        bias = self._bias(height, width, frames, q.device, q.dtype)
        out = F.scaled_dot_product_attention(
            q.view(-1, height * width, heads, frames, dh), key.view(-1, height * width, *key.shape[1:]),
            value.view(-1, height * width, *value.shape[1:]), attn_mask=bias)
        out = out.reshape(bhw, heads, frames, dh).transpose(1, 2).reshape(bhw, frames, dim)
        return attn.to_out[1](attn.to_out[0](out))


def _record_size(module, args, kwargs):
    hidden = args[0] if args else kwargs["hidden_states"]
    for proc in module._reach_processors:
        proc.size = tuple(hidden.shape[-2:])


def _coarse_motion_modules(unet: nn.Module):
    """The motion modules below the UNet's full resolution (the outermost down and up blocks
    work at full latent resolution, where per-pixel attention suffices and reach is costly)."""
    outer = {id(unet.down_blocks[0]), id(unet.up_blocks[-1])}
    for part in (*unet.down_blocks, unet.mid_block, *unet.up_blocks):
        if id(part) in outer:
            continue
        for module in part.modules():
            if isinstance(module, AnimateDiffTransformer3D):
                yield module


def install(unet: nn.Module, radius: int) -> int:
    """Give the coarse motion modules of ``unet`` neighbourhood attention of ``radius`` latent
    pixels; returns how many attention layers changed."""
    changed = 0
    for module in _coarse_motion_modules(unet):
        module._reach_processors = []
        for block in module.transformer_blocks:
            for attn in (block.attn1, block.attn2):
                if attn is None:
                    continue
                proc = ReachAttnProcessor(attn.inner_dim, attn.heads, radius)
                proc.to(device=attn.to_q.weight.device, dtype=attn.to_q.weight.dtype)
                attn.set_processor(proc)
                module._reach_processors.append(proc)
                changed += 1
        module.register_forward_pre_hook(_record_size, with_kwargs=True)
    return changed


def reach_state(unet: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in unet.state_dict().items() if ".processor." in k}


def save(unet: nn.Module, folder: Path, radius: int) -> None:
    """Write the reach parameters beside the UNet's own weights (fp16)."""
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in reach_state(unet).items()}
    save_file(state, str(Path(folder) / REACH_FILE), metadata={"radius": json.dumps(radius)})


def load(unet: nn.Module, folder: Path) -> bool:
    """Install and load reach if ``folder`` (a UNet folder) has it; False if it has none."""
    path = Path(folder) / REACH_FILE
    if not path.is_file():
        return False
    try:
        with safe_open(str(path), "pt") as f:
            radius = json.loads(f.metadata()["radius"])
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error type for a damaged file
        raise ValueError(f"{path} is not a motion reach file: {exc}") from None
    install(unet, radius)
    dtype = next(unet.parameters()).dtype
    missing, unexpected = unet.load_state_dict({k: v.to(dtype) for k, v in state.items()},
                                               strict=False)
    missing = [k for k in missing if ".processor." in k]
    if missing or unexpected:
        raise ValueError(f"{path} does not fit the UNet: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return True


@contextmanager
def set_aside(unet: nn.Module):
    """Plain attention while the block runs (so ``save_pretrained`` writes a standard
    diffusers UNet), the reach processors back after it."""
    held = {}
    for module in unet.modules():
        if isinstance(module, Attention) and isinstance(module.processor, ReachAttnProcessor):
            held[module] = module.processor
            module.set_processor(AttnProcessor2_0())
    try:
        yield
    finally:
        for module, proc in held.items():
            module.set_processor(proc)


def radius(unet: nn.Module) -> int:
    """The reach installed in ``unet``: its radius, or 0 for plain motion modules."""
    for module in unet.modules():
        if isinstance(module, ReachAttnProcessor):
            return module.radius
    return 0
