"""Convolutional building blocks of the VideoComposer UNet: timestep embedding, ResBlock with its
temporal convolutions, and the 2× down/up samplers.

Parameter names follow the official checkpoint, including its misspelt ``temopral_conv``.
GroupNorms use 32 groups and PyTorch's default eps 1e-5. Shapes: ``(B·F)`` is batch and frames
folded sample-major (row ``b·F + f``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding ``[cos(t·ω), sin(t·ω)]`` (cos first), ``ω_i = 10000^(-i/half)``.

    ``t`` ``[B]`` (int or float timesteps, not rescaled) -> ``[B, dim]`` float32; odd ``dim`` gets a zero column.
    """
    half = dim // 2
    t = t.float()
    freqs = torch.pow(10000, -torch.arange(half, device=t.device).to(t).div(half))
    angles = torch.outer(t, freqs)
    emb = torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=1)
    return emb


def _temporal_stage(channels: int, dropout: float | None) -> nn.Sequential:
    """GroupNorm → SiLU → [Dropout] → Conv3d kernel (3,1,1): a convolution over frames only."""
    layers: list[nn.Module] = [nn.GroupNorm(32, channels), nn.SiLU()]
    if dropout is not None:
        layers.append(nn.Dropout(dropout))
    layers.append(nn.Conv3d(channels, channels, (3, 1, 1), padding=(1, 0, 0)))
    return nn.Sequential(*layers)


class TemporalConvBlock(nn.Module):
    """Four residual-summed temporal conv stages (the reference's ``TemporalConvBlock_v2``).

    ``out = x + conv4(conv3(conv2(conv1(x))))``; ``conv1`` has no dropout (keys ``conv1.2``,
    ``conv2..4.3``). GroupNorm statistics are taken over all frames of a sample jointly.
    """

    def __init__(self, channels: int, dropout: float):
        super().__init__()
        self.conv1 = _temporal_stage(channels, None)
        self.conv2 = _temporal_stage(channels, dropout)
        self.conv3 = _temporal_stage(channels, dropout)
        self.conv4 = _temporal_stage(channels, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` ``[B, C, F, H, W]`` -> same shape."""
        return x + self.conv4(self.conv3(self.conv2(self.conv1(x))))


class ResBlock(nn.Module):
    """Per-frame residual block conditioned on the timestep, followed by a :class:`TemporalConvBlock`.

    ``h = in_layers(x) + emb_layers(emb)`` per channel, ``h = out_layers(h)``, ``out = skip(x) + h``,
    then the temporal convolutions on the ``[B, C, F, H, W]`` view. ``skip`` is a 1×1 conv when the
    channel count changes.
    """

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, dropout: float, temporal_dropout: float):
        super().__init__()
        self.in_layers = nn.Sequential(
            nn.GroupNorm(32, in_channels), nn.SiLU(), nn.Conv2d(in_channels, out_channels, 3, padding=1)
        )
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, out_channels))
        self.out_layers = nn.Sequential(
            nn.GroupNorm(32, out_channels),
            nn.SiLU(),
            nn.Dropout(dropout),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip_connection = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)
        self.temopral_conv = TemporalConvBlock(out_channels, temporal_dropout)  # official (misspelt) name

    def forward(self, x: torch.Tensor, emb: torch.Tensor, num_frames: int) -> torch.Tensor:
        """``x`` ``[(B·F), C_in, H, W]``, ``emb`` ``[(B·F), emb_dim]`` -> ``[(B·F), C_out, H, W]``."""
        h = self.in_layers(x) + self.emb_layers(emb).to(x.dtype)[..., None, None]
        h = self.skip_connection(x) + self.out_layers(h)
        h = self.temopral_conv(rearrange(h, "(b f) c h w -> b c f h w", f=num_frames))
        return rearrange(h, "b c f h w -> (b f) c h w")


class Downsample(nn.Module):
    """Conv2d 3×3, stride 2, padding 1 (key ``op``): ``[N, C, H, W]`` -> ``[N, C, ⌈H/2⌉, ⌈W/2⌉]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.op = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Upsample(nn.Module):
    """Nearest-neighbour 2× then Conv2d 3×3 (key ``conv``): ``[N, C, H, W]`` -> ``[N, C, 2H, 2W]``."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))
