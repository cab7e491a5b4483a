"""Neighbourhood motion attention: AnimateDiff's temporal attention, widened to see round it.

An AnimateDiff motion module attends across frames at one latent pixel: frame f at pixel p
sees only pixel p of the other frames. To move an object the network must carry it across
pixels some other way (a small model trained on a CPU budget left its objects still, or
jumped them to where the motion ends). Here each query at (p, f) attends
to every frame at p, as before, and also to the **first frame at the pixels within
``radius`` of p**; each of those keys carries a learned embedding of its offset from p, so a
query can ask for "frame 0, two pixels to the left" (relative positions, which video
transformers get from 3D RoPE; the first frame as the anchor, as in Tune-A-Video's sparse
attention). A learned bias per head and offset starts the neighbours at ``-INITIAL_BIAS``,
so a model trained without reach behaves almost as before (about 5 % change in its output)
when reach is added. Only the coarse motion modules get it (8x8 and 4x4 latents for the
built-in model): at full resolution it would triple a training step.

With ``text_dim`` the reach layers also **read the prompt**: a parallel cross-attention from
each (pixel, frame) query to the text encoder's tokens, added to the temporal attention's
output before its projection. AnimateDiff's motion modules never see the text, so a motion
word can steer them only through the spatial layers' features, which stay frozen while the
motion modules learn; the query already carries the frame's position, so this branch lets a
motion word turn into a change that depends on the frame. Its value projection starts at
zero (as adapters and ControlNet do), so installing it changes nothing until it learns. The
UNet's pre-hook hands the processors the prompt of each clip.

With ``steer`` the prompt also **chooses the offsets**: the text branch's read is added to the
query (scaled by a learned gain per head, ``offset_steer``, starting at zero) before the query
meets the first frame's neighbourhood, so which pixel a frame copies from can depend on the
motion words directly, not only through the features of earlier layers. It adds one number
per head and no cost beyond an addition.

With ``route`` the prompt **biases each frame's offsets directly**: a low-rank map from the
prompt to one bias per frame, head and offset, added to the learned offset bias
(``offset_route``, starting at zero; frames past ``ROUTE_FRAMES`` take the last frame's bias).
A slide is exactly such a pattern (frame f copies from the first frame f steps of travel away,
on the side the direction word names), and this path needs no feature of the pixel to carry
it. The prompt enters pooled by a learned query over its tokens (``route_query``, starting at
zero: the plain mean), because a direction word is one token among many in a caption. Why
each of these paths exists, and what each measured, is in ``docs/builtin-video-training.md``.

The extra parameters live in the processors (``nn.Module``), so they are part of the UNet's
``state_dict`` and train with it. They are saved apart from the diffusers folder's own
weights (``REACH_FILE``, beside ``diffusion_pytorch_model.safetensors``), so a plain
``UNetMotionModel.from_pretrained`` still loads the folder (as plain per-pixel attention);
cinedraft's model loader installs reach where the file is.
"""

from __future__ import annotations

import json
import weakref
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers.models.attention_processor import Attention, AttnProcessor2_0
from diffusers.models.unets.unet_motion_model import AnimateDiffTransformer3D
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

REACH_FILE = "motion_reach.safetensors"
QUANTISED, SCALE = ".int8", ".scale"  # suffixes of a text projection stored as int8 rows
INITIAL_BIAS = 3.0
ROUTE_FRAMES = 8  # per-frame route biases (the built-in model's chunk); later frames share the last


class ReachAttnProcessor(nn.Module):
    """Self-attention over the frames at a pixel plus the first frame's (2r+1)^2 neighbourhood
    of it."""

    def __init__(
        self,
        dim: int,
        heads: int,
        radius: int,
        text_dim: int = 0,
        steer: bool = False,
        route: int = 0,
    ):
        super().__init__()
        if (steer or route) and not text_dim:
            raise ValueError("steering or routing the offsets needs the text branch (text_dim)")
        self.radius, self.heads, self.text_dim, self.steer = radius, heads, text_dim, steer
        self.route = route
        k = (2 * radius + 1) ** 2
        self.offset_key = nn.Parameter(torch.zeros(k, dim))
        self.offset_bias = nn.Parameter(torch.full((heads, k), -INITIAL_BIAS))
        if text_dim:
            self.text_key = nn.Linear(text_dim, dim, bias=False)
            self.text_value = nn.Linear(text_dim, dim, bias=False)
            nn.init.zeros_(self.text_value.weight)
        if steer:
            self.offset_steer = nn.Parameter(torch.zeros(heads))
        if route:  # prompt -> rank ``route`` -> a bias per (frame, head, offset), zero at first
            self.route_query = nn.Parameter(torch.zeros(text_dim))  # pooling, the mean at first
            self.route_down = nn.Linear(text_dim, route, bias=False)
            self.offset_route = nn.Parameter(torch.zeros(route, ROUTE_FRAMES, heads, k))
        self.size: tuple[int, int] | None = None  # (H, W), set by the module's pre-hook
        self.text: torch.Tensor | None = None  # (B, L, text_dim), set by the UNet's pre-hook
        self._outside: dict[tuple, torch.Tensor] = {}  # (H, W, device) -> (HW, 1, K) bool
        self._index: dict[tuple, torch.Tensor] = {}  # (H, W, device) -> (HW*K,) long

    def _neighbours(self, x: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """(B*H*W, D) -> (B*H*W, K, D): each pixel's neighbourhood, zeros outside; one
        gather from the zero-padded grid (25 slices stacked took 7x as long, a tenth of a
        video step)."""
        r, dim = self.radius, x.shape[-1]
        grid = F.pad(x.reshape(-1, height, width, dim), (0, 0, r, r, r, r))  # (B, H+2r, W+2r, D)
        flat = grid.reshape(grid.shape[0], -1, dim)[:, self._gather_index(height, width, x.device)]
        return flat.reshape(x.shape[0], -1, dim)

    def _gather_index(self, height: int, width: int, device) -> torch.Tensor:
        """(H*W*K,): for each pixel and offset (dy, dx), row-major, its place in the padded
        grid flattened; made once per latent size."""
        key = (height, width, str(device))
        if key not in self._index:
            r = self.radius
            ys = torch.arange(height, device=device).view(-1, 1, 1, 1)
            xs = torch.arange(width, device=device).view(1, -1, 1, 1)
            dy = torch.arange(2 * r + 1, device=device).view(1, 1, -1, 1)
            dx = torch.arange(2 * r + 1, device=device).view(1, 1, 1, -1)
            self._index[key] = ((ys + dy) * (width + 2 * r) + xs + dx).reshape(-1)
        return self._index[key]

    def _bias(self, height: int, width: int, frames: int, device, dtype) -> torch.Tensor:
        """(H*W, heads, 1, F + K): 0 for the pixel's own frames, the learned offset bias for
        the first frame's neighbours, and -1e4 where a neighbour falls outside the frame; with
        ``route``, (B, H*W, heads, F, F + K), each clip's frames biased by its prompt."""
        anchor = self.offset_bias[None].masked_fill(self._outside_mask(height, width, device), -1e4)
        own = anchor.new_zeros(height * width, self.heads, frames)  # anchor: (HW, heads, K)
        if not self.route:
            return torch.cat([own, anchor], -1)[:, :, None, :].to(dtype)
        assert self.text is not None, "ReachAttnProcessor with route needs the UNet's pre-hook"
        text = self.text.to(anchor.dtype)  # (B, L, text_dim)
        pooled = (torch.softmax(text @ self.route_query, dim=1)[..., None] * text).sum(1)
        per_frame = self.offset_route[
            :, torch.arange(frames, device=device).clamp(max=ROUTE_FRAMES - 1)
        ]
        routed = torch.einsum(
            "br,rfhk->bhfk", self.route_down(pooled), per_frame
        )  # (B, heads, F, K)
        anchor = anchor[None, :, :, None, :] + routed[:, None]  # (B, HW, heads, F, K)
        own = own[None, :, :, :, None].expand(*anchor.shape[:3], frames, frames)
        return torch.cat([own, anchor], -1).to(dtype)

    def _outside_mask(self, height: int, width: int, device) -> torch.Tensor:
        """(H*W, 1, K) bool, True where a pixel's neighbour falls outside the frame; made once
        per latent size (every denoising step asks for the same few)."""
        key = (height, width, str(device))
        if key not in self._outside:
            r = self.radius
            ys = torch.arange(height, device=device).view(-1, 1, 1, 1)
            xs = torch.arange(width, device=device).view(1, -1, 1, 1)
            dy = torch.arange(-r, r + 1, device=device).view(1, 1, -1, 1)
            dx = torch.arange(-r, r + 1, device=device).view(1, 1, 1, -1)
            outside = (ys + dy < 0) | (ys + dy >= height) | (xs + dx < 0) | (xs + dx >= width)
            self._outside[key] = outside.reshape(height * width, 1, -1)
        return self._outside[key]

    def forward(
        self,
        attn,
        hidden_states,
        encoder_hidden_states=None,
        attention_mask=None,
        temb=None,
        *args,
        **kwargs,
    ):
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
        read = self._read_text(q, height * width) if self.text_dim else None
        if self.steer:
            q = q + self.offset_steer.to(q.dtype).view(1, heads, 1, 1) * read
        key = key.view(bhw, -1, heads, dh).transpose(1, 2)
        value = value.view(bhw, -1, heads, dh).transpose(1, 2)
        bias = self._bias(height, width, frames, q.device, q.dtype)
        out = F.scaled_dot_product_attention(
            q.view(-1, height * width, heads, frames, dh),
            key.view(-1, height * width, *key.shape[1:]),
            value.view(-1, height * width, *value.shape[1:]),
            attn_mask=bias,
        )
        out = out.reshape(bhw, heads, frames, dh)
        if read is not None:
            out = out + read
        out = out.transpose(1, 2).reshape(bhw, frames, dim)
        return attn.to_out[1](attn.to_out[0](out))

    def _read_text(self, q: torch.Tensor, pixels: int) -> torch.Tensor:
        """Cross-attention of every (pixel, frame) query (B*HW, h, F, dh) to its clip's
        prompt tokens; same shape out."""
        assert self.text is not None, "ReachAttnProcessor with text needs the UNet's pre-hook"
        bhw, heads, frames, dh = q.shape
        text = self.text.to(q.dtype)
        clips, length = text.shape[0], text.shape[1]
        assert clips * pixels == bhw, f"{clips} prompts for {bhw // pixels} clips"
        key = self.text_key(text).view(clips, length, heads, dh).transpose(1, 2)  # (B, h, L, dh)
        value = self.text_value(text).view(clips, length, heads, dh).transpose(1, 2)
        queries = q.view(clips, pixels, heads, frames, dh).permute(0, 2, 1, 3, 4)
        read = F.scaled_dot_product_attention(
            queries.reshape(clips, heads, pixels * frames, dh), key, value
        )
        read = read.view(clips, heads, pixels, frames, dh).permute(0, 2, 1, 3, 4)
        return read.reshape(bhw, heads, frames, dh)


def _hand_size(processors: list[ReachAttnProcessor], module, args, kwargs) -> None:
    """Pre-hook of a motion module: its processors learn the latent size of this call."""
    hidden = args[0] if args else kwargs["hidden_states"]
    for proc in processors:
        proc.size = tuple(hidden.shape[-2:])


def _hand_text(processors: list[ReachAttnProcessor], unet, args, kwargs) -> None:
    """Pre-hook of the UNet: the text processors get one prompt per clip (UNetMotionModel takes
    the prompt once per frame, (B*F, L, D), for a sample (B, C, F, H, W))."""
    sample = args[0] if args else kwargs["sample"]
    text = kwargs.get("encoder_hidden_states", args[2] if len(args) > 2 else None)
    clips, frames = sample.shape[0], sample.shape[2]
    if text is not None and text.shape[0] == clips * frames:
        text = text[::frames]
    for proc in processors:
        proc.text = text


# The pre-hooks each installed UNet holds (removed when reach is installed again). Kept here,
# not as attributes on diffusers' modules; the hooks themselves live in torch's hook lists.
_HOOKS: weakref.WeakKeyDictionary[nn.Module, list] = weakref.WeakKeyDictionary()


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


def install(
    unet: nn.Module, radius: int, text_dim: int = 0, steer: bool = False, route: int = 0
) -> int:
    """Give the coarse motion modules of ``unet`` neighbourhood attention of ``radius`` latent
    pixels (reading the prompt too if ``text_dim``, the text encoder's width, letting it
    choose the offsets if ``steer`` and bias each frame's offsets through a rank-``route`` map
    if ``route``); returns how many attention layers changed. Installing again replaces the
    processors and their hooks (each pre-hook runs once a call, however often reach was
    installed)."""
    for handle in _HOOKS.pop(unet, []):
        handle.remove()
    hooks, readers, changed = [], [], 0
    for module in _coarse_motion_modules(unet):
        processors = []
        for block in module.transformer_blocks:
            for attn in (block.attn1, block.attn2):
                if attn is None:
                    continue
                proc = ReachAttnProcessor(
                    attn.inner_dim, attn.heads, radius, text_dim, steer, route
                )
                proc.to(device=attn.to_q.weight.device, dtype=attn.to_q.weight.dtype)
                attn.set_processor(proc)
                processors.append(proc)
        changed += len(processors)
        readers += processors if text_dim else []
        hooks.append(
            module.register_forward_pre_hook(partial(_hand_size, processors), with_kwargs=True)
        )
    if text_dim:
        hooks.append(unet.register_forward_pre_hook(partial(_hand_text, readers), with_kwargs=True))
    _HOOKS[unet] = hooks
    return changed


def extend(unet: nn.Module, *, steer: bool = False, route: int = 0) -> None:
    """Add steering (``steer``) or a rank-``route`` routing map to an installed text-reading
    reach, keeping everything it has learned and what it already has; the output is
    unchanged until the new gains and biases move from zero."""
    now = config(unet)
    if not now.text_dim:
        raise ValueError("steering or routing the offsets needs reach with the text branch")
    if route and now.route and route != now.route:
        raise ValueError(f"reach already routes at rank {now.route}; its rank cannot change")
    learned = reach_state(unet)
    install(unet, now.radius, now.text_dim, steer=steer or now.steer, route=route or now.route)
    unet.load_state_dict(learned, strict=False)


def reach_state(unet: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v for k, v in unet.state_dict().items() if ".processor." in k}


def _pack(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """fp16, except the text projections: int8 with one fp16 scale per row (they are most of
    the file, and the built-in models share a 40 MB budget); :func:`_unpack` undoes it."""
    packed = {}
    for key, value in state.items():
        value = value.detach().float()
        if ".text_" in key:
            scale = value.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127
            packed[key + QUANTISED] = torch.round(value / scale).to(torch.int8).contiguous()
            packed[key + SCALE] = scale.to(torch.float16).contiguous()
        else:
            packed[key] = value.to(torch.float16).contiguous()
    return packed


def _unpack(packed: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    state = {}
    for key, value in packed.items():
        if key.endswith(SCALE):
            continue
        if key.endswith(QUANTISED):
            key = key[: -len(QUANTISED)]
            value = value.float() * packed[key + SCALE].float()
        state[key] = value
    return state


def save(unet: nn.Module, folder: Path) -> None:
    """Write the reach parameters beside the UNet's own weights (see :func:`_pack`)."""
    state = _pack(reach_state(unet))
    metadata = {name: json.dumps(value) for name, value in asdict(config(unet)).items()}
    save_file(state, str(Path(folder) / REACH_FILE), metadata=metadata)


def load(unet: nn.Module, folder: Path) -> bool:
    """Install and load reach if ``folder`` (a UNet folder) has it; False if it has none."""
    path = Path(folder) / REACH_FILE
    if not path.is_file():
        return False
    try:
        with safe_open(str(path), "pt") as f:
            metadata = f.metadata()
            # Older files have only a radius: they read no text, nor steer or route with it.
            saved = Config(**{k: json.loads(v) for k, v in metadata.items() if k in _FIELDS})
            if not saved.radius:
                raise ValueError("no radius")
        state = _unpack(load_file(str(path)))
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error type for a damaged file
        raise ValueError(f"{path} is not a motion reach file: {exc}") from None
    install(unet, saved.radius, saved.text_dim, saved.steer, saved.route)
    dtype = next(unet.parameters()).dtype
    missing, unexpected = unet.load_state_dict(
        {k: v.to(dtype) for k, v in state.items()}, strict=False
    )
    missing = [k for k in missing if ".processor." in k]
    if missing or unexpected:
        raise ValueError(
            f"{path} does not fit the UNet: missing {missing[:3]}, unexpected {unexpected[:3]}"
        )
    return True


@contextmanager
def set_aside(unet: nn.Module):
    """Plain attention while the block runs (so ``save_pretrained`` writes a standard
    diffusers UNet), the reach processors back after it."""
    held = {m: m.processor for m in _reach_attention(unet)}
    for module in held:
        module.set_processor(AttnProcessor2_0())
    try:
        yield
    finally:
        for module, proc in held.items():
            module.set_processor(proc)


@dataclass(frozen=True)
class Config:
    """How reach is installed in a UNet (all zero / False for plain motion modules)."""

    radius: int = 0
    text_dim: int = 0
    steer: bool = False
    route: int = 0


_FIELDS = {f.name for f in fields(Config)}


def _reach_attention(unet: nn.Module) -> list[Attention]:
    return [
        m
        for m in unet.modules()
        if isinstance(m, Attention) and isinstance(m.processor, ReachAttnProcessor)
    ]


def config(unet: nn.Module) -> Config:
    """The reach installed in ``unet``, read from its processors (one walk of the UNet)."""
    attention = _reach_attention(unet)
    if not attention:
        return Config()
    proc = attention[0].processor
    return Config(proc.radius, proc.text_dim, bool(proc.steer), proc.route)
