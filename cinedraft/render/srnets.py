"""Super-resolution networks with the Real-ESRGAN / BasicSR state-dict key layouts.

- :class:`RRDBNet`: ESRGAN's Residual-in-Residual Dense Block network (Wang et al., 2018,
  "ESRGAN"); keys ``conv_first``, ``body.N.rdb{1,2,3}.conv{1..5}``, ``conv_body``,
  ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``. For 2x and 1x the input is
  pixel-unshuffled first (``conv_first`` then takes 12 or 48 channels), as in Real-ESRGAN.
- :class:`SRVGGNetCompact`: Real-ESRGAN's compact VGG-style net (Wang et al., 2021,
  "Real-ESRGAN"); keys ``body.{2i}`` (conv) and ``body.{2i+1}`` (PReLU), the last conv
  emitting ``3 * scale**2`` channels for a pixel shuffle, plus the nearest-upsampled input.

:func:`build_from_state_dict` recognises the layout and infers the sizes from the shapes.
"""

from __future__ import annotations

import math
import re

import torch
from torch import nn
from torch.nn import functional as F


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        self.conv1 = nn.Conv2d(num_feat, num_grow_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(num_feat + num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv3 = nn.Conv2d(num_feat + 2 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv4 = nn.Conv2d(num_feat + 3 * num_grow_ch, num_grow_ch, 3, 1, 1)
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.lrelu(self.conv1(x))
        x2 = self.lrelu(self.conv2(torch.cat((x, x1), 1)))
        x3 = self.lrelu(self.conv3(torch.cat((x, x1, x2), 1)))
        x4 = self.lrelu(self.conv4(torch.cat((x, x1, x2, x3), 1)))
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * 0.2 + x  # residual scaling 0.2 (ESRGAN, sec. 3.2)


class RRDB(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * 0.2 + x


class RRDBNet(nn.Module):
    def __init__(
        self, scale: int = 4, num_feat: int = 64, num_block: int = 23, num_grow_ch: int = 32
    ):
        super().__init__()
        self.scale = scale
        in_ch = 3 * {4: 1, 2: 4, 1: 16}[scale]
        self.conv_first = nn.Conv2d(in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, 3, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(0.2, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, H, W) -> (B, 3, sH, sW)
        if self.scale in (1, 2):
            x = F.pixel_unshuffle(x, 4 // self.scale)
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


class SRVGGNetCompact(nn.Module):
    def __init__(self, scale: int = 4, num_feat: int = 64, num_conv: int = 16):
        super().__init__()
        self.scale = scale
        layers: list[nn.Module] = [nn.Conv2d(3, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, 3 * scale * scale, 3, 1, 1))
        self.body = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = F.pixel_shuffle(out, self.scale)
        return out + F.interpolate(x, scale_factor=self.scale, mode="nearest")


def _strip_prefix(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Real-ESRGAN releases nest weights under ``params_ema`` / ``params``; flattened
    safetensors keep that as a key prefix."""
    for prefix in ("params_ema.", "params.", "module."):
        if all(k.startswith(prefix) for k in state):
            return {k[len(prefix) :]: v for k, v in state.items()}
    return state


def build_from_state_dict(state: dict[str, torch.Tensor]) -> nn.Module:
    """The network whose keys and shapes match ``state``, with ``state`` loaded (strict)."""
    state = _strip_prefix(state)
    if "conv_first.weight" in state:
        num_feat, in_ch = state["conv_first.weight"].shape[:2]
        scale = {3: 4, 12: 2, 48: 1}.get(in_ch)
        if scale is None:
            raise ValueError(f"RRDBNet with {in_ch} input channels is not a known scale")
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.rdb1", k))}
        net = RRDBNet(scale, num_feat, len(blocks), state["body.0.rdb1.conv1.weight"].shape[0])
    elif "body.0.weight" in state and "body.1.weight" in state:
        convs = sorted(int(m.group(1)) for k in state if (m := re.match(r"body\.(\d+)\.bias$", k)))
        last = state[f"body.{convs[-1]}.weight"]
        scale = math.isqrt(last.shape[0] // 3)
        if 3 * scale * scale != last.shape[0]:
            raise ValueError(f"SRVGG last layer has {last.shape[0]} channels, not 3*scale^2")
        net = SRVGGNetCompact(scale, state["body.0.weight"].shape[0], len(convs) - 2)
    else:
        raise ValueError("not an RRDBNet or SRVGGNetCompact state dict (unknown key layout)")
    net.load_state_dict(state, strict=True)
    return net.eval()
