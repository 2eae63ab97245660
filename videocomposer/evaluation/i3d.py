"""Kinetics-400 Inception-I3D (Carreira & Zisserman 2017) in plain torch, for FVD features.

Written here because the published PyTorch ports either import torchvision at the top level
(``cd-fvd``) or ship as TorchScript only. The module tree and parameter names follow the
``pytorch-i3d`` state dict (``Conv3d_1a_7x7.conv3d.weight``, ``Mixed_3b.b1b.bn.running_mean``,
``logits.conv3d.bias`` …), so ``i3d_pretrained_400.pt`` (the file ``cd-fvd`` and TATS use) loads
strictly. Every convolution and pooling pads "same" as TensorFlow does (more after than before
when odd), computed from the input size at run time.

Input ``[B, 3, T, 224, 224]`` in [-1, 1]; :meth:`InceptionI3D.forward` returns the 400 Kinetics logits
averaged over the remaining time steps (one for 16 frames) → ``[B, 400]``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "SAME" padding (before, after) of one axis."""
    total = max(kernel - stride, 0) if size % stride == 0 else max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def _pad_same(x: torch.Tensor, kernel: tuple[int, int, int], stride: tuple[int, int, int]) -> torch.Tensor:
    t, h, w = (same_padding(s, k, st) for s, k, st in zip(x.shape[-3:], kernel, stride))
    return F.pad(x, (*w, *h, *t))


class SamePool3d(nn.Module):
    """Max pooling with "same" zero padding (as the TensorFlow original; inputs after ReLU are ≥ 0)."""

    def __init__(self, kernel: tuple[int, int, int], stride: tuple[int, int, int]):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool3d(_pad_same(x, self.kernel, self.stride), self.kernel, self.stride)


class Unit3D(nn.Module):
    """Conv3d ("same" padding, no bias) + BatchNorm3d (eps 1e-3) + ReLU; the logits unit has a bias and neither."""

    def __init__(self, in_ch: int, out_ch: int, kernel=(1, 1, 1), stride=(1, 1, 1), *, logits: bool = False):
        super().__init__()
        self.kernel, self.stride, self.is_logits = tuple(kernel), tuple(stride), logits
        self.conv3d = nn.Conv3d(in_ch, out_ch, self.kernel, self.stride, bias=logits)
        if not logits:
            self.bn = nn.BatchNorm3d(out_ch, eps=1e-3, momentum=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv3d(_pad_same(x, self.kernel, self.stride))
        return x if self.is_logits else F.relu(self.bn(x))


class Inception(nn.Module):
    """Four branches: 1×1; 1×1 → 3×3×3; 1×1 → 3×3×3; 3×3×3 max pool → 1×1; concatenated on channels."""

    def __init__(self, in_ch: int, widths: tuple[int, int, int, int, int, int]):
        super().__init__()
        self.b0 = Unit3D(in_ch, widths[0])
        self.b1a, self.b1b = Unit3D(in_ch, widths[1]), Unit3D(widths[1], widths[2], (3, 3, 3))
        self.b2a, self.b2b = Unit3D(in_ch, widths[3]), Unit3D(widths[3], widths[4], (3, 3, 3))
        self.b3a, self.b3b = SamePool3d((3, 3, 3), (1, 1, 1)), Unit3D(in_ch, widths[5])

    @property
    def out_channels(self) -> int:
        return sum(unit.conv3d.out_channels for unit in (self.b0, self.b1b, self.b2b, self.b3b))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1)


#: Branch widths of the Inception blocks (Kinetics I3D), in order.
INCEPTION_WIDTHS = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


@dataclass(frozen=True)
class I3DConfig:
    """Architecture: ``width`` scales every channel count (1 = the published model; small values give
    the random-init test models); ``num_classes`` logits (400 for Kinetics-400)."""

    width: float = 1.0
    num_classes: int = 400

    def channels(self, n: int) -> int:
        return max(1, int(math.ceil(n * self.width)))


class InceptionI3D(nn.Module):
    """Inception-v1 I3D; parameter names as ``pytorch-i3d``'s ``InceptionI3d`` (see the module docstring)."""

    def __init__(self, config: I3DConfig | None = None):
        super().__init__()
        self.config = config = config or I3DConfig()
        c = config.channels
        self.Conv3d_1a_7x7 = Unit3D(3, c(64), (7, 7, 7), (2, 2, 2))
        self.MaxPool3d_2a_3x3 = SamePool3d((1, 3, 3), (1, 2, 2))
        self.Conv3d_2b_1x1 = Unit3D(c(64), c(64))
        self.Conv3d_2c_3x3 = Unit3D(c(64), c(192), (3, 3, 3))
        self.MaxPool3d_3a_3x3 = SamePool3d((1, 3, 3), (1, 2, 2))
        channels = c(192)
        pools = {"Mixed_4b": ("MaxPool3d_4a_3x3", (3, 3, 3)), "Mixed_5b": ("MaxPool3d_5a_2x2", (2, 2, 2))}
        for name, widths in INCEPTION_WIDTHS.items():
            if name in pools:
                pool_name, size = pools[name]
                setattr(self, pool_name, SamePool3d(size, (2, 2, 2)))
            block = Inception(channels, tuple(c(w) for w in widths))
            setattr(self, name, block)
            channels = block.out_channels
        self.logits = Unit3D(channels, config.num_classes, logits=True)

    def forward(self, videos: torch.Tensor) -> torch.Tensor:
        """``[B, 3, T, H, W]`` in [-1, 1] (224×224, T ≥ 9 for the published model) → logits ``[B, num_classes]``."""
        if videos.ndim != 5 or videos.shape[1] != 3:
            raise ValueError(f"I3D input must be [B, 3, T, H, W], got {list(videos.shape)}")
        x = videos
        for name, module in self.named_children():
            if name == "logits":
                break
            x = module(x)
        kernel = (min(2, x.shape[2]), min(7, x.shape[3]), min(7, x.shape[4]))  # the original's 2×7×7 average pool
        x = F.avg_pool3d(x, kernel, stride=1)
        return self.logits(x).mean(dim=(2, 3, 4))
