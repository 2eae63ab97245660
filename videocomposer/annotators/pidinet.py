"""PiDiNet edge detector (Su et al., ICCV 2021), the "table5" model VideoComposer's sketch uses.

The network is PiDiNet(60 channels, "carv4" pixel-difference convolutions, CDCM width 24, CSAM
attention) in its *converted* form: every pixel-difference convolution is rewritten once, when the
weights are loaded, as an ordinary convolution that computes the same function, so the network
below is a plain CNN.

Official weights: ``table5_pidinet.pth`` = ``{'state_dict': ...}`` with a ``module.`` prefix and
the 3x3 pixel-difference kernels; :meth:`PiDiNet.from_official` strips the prefix and converts the
kernels with :func:`convert_pixel_difference_state_dict`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from videocomposer.checkpoints import WeightFileError

from ..checkpoints import load_official
from .frames import check_images

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

BASE_CHANNELS = 60
SIDE_CHANNELS = 24  # width of the dilated context module ("dil=24")
ATTENTION_CHANNELS = 4
CONTEXT_DILATIONS = (5, 7, 9, 11)
BLOCKS_PER_STAGE = (3, 4, 4, 4)
STAGE_CHANNELS = (BASE_CHANNELS, 2 * BASE_CHANNELS, 4 * BASE_CHANNELS, 4 * BASE_CHANNELS)

# "carv4": the type of pixel-difference convolution of layers 0..15, where layer 0 is `init_block`
# and layers 1..15 are the depthwise `conv1` of block1_1 ... block4_4 in order.
#   cd = central difference, ad = angular difference, rd = radial difference, cv = vanilla.
PIXEL_DIFFERENCE_TYPES = ("cd", "ad", "rd", "cv") * 4

# ad: each 3x3 tap minus the tap one step round the ring (flat 3x3 indices; the centre maps to itself).
_ANGULAR_NEIGHBOUR = [3, 0, 1, 6, 4, 2, 7, 8, 5]
# rd: the 8 parameters w[1:] (flat 3x3 indices 1..8; index 0 is unused) go to the outer ring of a
# 5x5 kernel with sign + and to the inner ring with sign -; OUTER[k] and INNER[k] lie on one ray.
_RADIAL_OUTER = [0, 2, 4, 10, 14, 20, 22, 24]
_RADIAL_INNER = [6, 7, 8, 11, 13, 16, 17, 18]


def _block_names() -> list[list[str]]:
    """``[["block1_1", "block1_2", "block1_3"], ["block2_1", ...], ...]``, one list per stage."""
    return [[f"block{s + 1}_{i + 1}" for i in range(n)] for s, n in enumerate(BLOCKS_PER_STAGE)]


def _pixel_difference_layers() -> list[tuple[str, str]]:
    """``(state-dict key, pdc type)`` of the 16 pixel-difference kernels, in layer order."""
    keys = ["init_block.weight"] + [f"{b}.conv1.weight" for stage in _block_names() for b in stage]
    return list(zip(keys, PIXEL_DIFFERENCE_TYPES))


# ---------------------------------------------------------------------------------------------
# Kernel conversion
# ---------------------------------------------------------------------------------------------


def convert_pixel_difference_kernel(weight: torch.Tensor, kind: str) -> torch.Tensor:
    """Rewrite a ``[O, I, 3, 3]`` pixel-difference kernel as an equivalent vanilla kernel.

    * ``cd`` (central difference, Σ wᵢ·(xᵢ − x_c)): centre tap minus the sum of all 9 taps; 3x3.
    * ``ad`` (angular difference, Σ wᵢ·(xᵢ − x_next(i)) round the ring): ``w − w[:, :, perm]``; 3x3.
    * ``rd`` (radial difference, outer-ring pixel minus the inner-ring pixel on the same ray):
      a ``[O, I, 5, 5]`` kernel with the 8 parameters ``w[1:]`` (flat order; ``w[0]`` is unused)
      as ``+`` on the outer ring and ``−`` on the inner ring, one ray each, and 0 in the centre.
    * ``cv``: unchanged.
    """
    if tuple(weight.shape[-2:]) != (3, 3):
        raise ValueError(f"pixel-difference kernels are 3x3, got shape {list(weight.shape)}")
    flat = weight.flatten(2)  # [O, I, 9]
    if kind == "cv":
        return weight
    if kind == "cd":
        centred = flat.clone()
        centred[:, :, 4] = flat[:, :, 4] - weight.sum(dim=(2, 3))
        return centred.view_as(weight)
    if kind == "ad":
        return (flat - flat[:, :, _ANGULAR_NEIGHBOUR]).view_as(weight)
    if kind == "rd":
        radial = flat.new_zeros(*flat.shape[:2], 25)
        radial[:, :, _RADIAL_OUTER] = flat[:, :, 1:]
        radial[:, :, _RADIAL_INNER] = -flat[:, :, 1:]
        return radial.view(*flat.shape[:2], 5, 5)
    raise ValueError(f"unknown pixel-difference type {kind!r}; expected one of 'cd', 'ad', 'rd', 'cv'")


def convert_pixel_difference_state_dict(
    state_dict: Mapping[str, torch.Tensor], source: str | os.PathLike = "state dict"
) -> dict[str, torch.Tensor]:
    """Convert the (prefix-stripped) ``table5_pidinet.pth`` state dict to :class:`PiDiNet`'s layout.

    Floating tensors are cast to float32 first so the conversion is exact. Keys that are absent are
    left for :func:`~videocomposer.checkpoints.load_strict` to report.
    """
    state = {k: v.float() if v.is_floating_point() else v for k, v in state_dict.items()}
    for key, kind in _pixel_difference_layers():
        if key not in state:
            continue
        if tuple(state[key].shape[-2:]) != (3, 3):
            raise WeightFileError(
                f"{source}: {key} has shape {list(state[key].shape)}, expected a 3x3 pixel-difference kernel "
                "as stored in table5_pidinet.pth (is this file already converted, or not a PiDiNet table5 file?)"
            )
        state[key] = convert_pixel_difference_kernel(state[key], kind)
    return state


# ---------------------------------------------------------------------------------------------
# Network (converted form)
# ---------------------------------------------------------------------------------------------


class PixelDifferenceBlock(nn.Module):
    """Residual block: [max-pool 2 + 1x1 shortcut] → depthwise conv → ReLU → 1x1 conv → + skip.

    ``[B, in_channels, H, W]`` → ``[B, out_channels, H/stride, W/stride]``. ``kernel_size`` is 5
    for converted radial-difference layers, 3 otherwise.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1):
        super().__init__()
        self.downsample = stride == 2
        if self.downsample:
            self.pool = nn.MaxPool2d(kernel_size=2, stride=2)
            self.shortcut = nn.Conv2d(in_channels, out_channels, kernel_size=1)
        self.conv1 = nn.Conv2d(
            in_channels, in_channels, kernel_size, padding=kernel_size // 2, groups=in_channels, bias=False
        )
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(in_channels, out_channels, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample:
            x = self.pool(x)
        y = self.conv2(self.relu(self.conv1(x)))
        return y + (self.shortcut(x) if self.downsample else x)


class DilatedContext(nn.Module):
    """CDCM: ReLU → 1x1 conv → sum of four dilated 3x3 convs. ``[B, C, H, W]`` → ``[B, 24, H, W]``."""

    def __init__(self, in_channels: int, channels: int = SIDE_CHANNELS):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(in_channels, channels, kernel_size=1)
        for i, dilation in enumerate(CONTEXT_DILATIONS, start=1):
            conv = nn.Conv2d(channels, channels, 3, padding=dilation, dilation=dilation, bias=False)
            self.add_module(f"conv2_{i}", conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.relu(x))
        return sum(getattr(self, f"conv2_{i}")(x) for i in range(1, len(CONTEXT_DILATIONS) + 1))


class SpatialAttention(nn.Module):
    """CSAM: ``x · sigmoid(conv3x3(conv1x1(ReLU(x))))``, one attention map shared by all channels."""

    def __init__(self, channels: int = SIDE_CHANNELS):
        super().__init__()
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(channels, ATTENTION_CHANNELS, kernel_size=1)
        self.conv2 = nn.Conv2d(ATTENTION_CHANNELS, 1, kernel_size=3, padding=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.conv2(self.conv1(self.relu(x))))


class MapReduce(nn.Module):
    """1x1 conv to a single-channel side edge map (logits)."""

    def __init__(self, channels: int = SIDE_CHANNELS):
        super().__init__()
        self.conv = nn.Conv2d(channels, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class PiDiNet(nn.Module):
    """PiDiNet "table5" edge detector, converted (vanilla CNN) form; 710,149 parameters.

    ``forward(images)``: RGB ``[B, 3, H, W]`` float in ``[0, 1]`` (ImageNet normalisation is applied
    inside) → edge probability ``[B, 1, H, W]`` in ``[0, 1]`` (sigmoid of the fused side outputs),
    in the module's dtype. Any ``H, W`` ≥ 8 works; the official pipeline uses 384x384.
    """

    def __init__(self):
        super().__init__()
        first_type = PIXEL_DIFFERENCE_TYPES[0]
        init_kernel = 5 if first_type == "rd" else 3
        self.init_block = nn.Conv2d(3, BASE_CHANNELS, init_kernel, padding=init_kernel // 2, bias=False)
        types = iter(PIXEL_DIFFERENCE_TYPES[1:])
        in_channels = BASE_CHANNELS
        for stage, (names, channels) in enumerate(zip(_block_names(), STAGE_CHANNELS)):
            for i, name in enumerate(names):
                stride = 2 if stage > 0 and i == 0 else 1
                kernel = 5 if next(types) == "rd" else 3
                self.add_module(name, PixelDifferenceBlock(in_channels, channels, kernel, stride))
                in_channels = channels
        self.conv_reduces = nn.ModuleList(MapReduce() for _ in STAGE_CHANNELS)
        self.attentions = nn.ModuleList(SpatialAttention() for _ in STAGE_CHANNELS)
        self.dilations = nn.ModuleList(DilatedContext(c) for c in STAGE_CHANNELS)
        self.classifier = nn.Conv2d(len(STAGE_CHANNELS), 1, kernel_size=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        check_images(images, "images", channels=3)
        mean = images.new_tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = images.new_tensor(IMAGENET_STD).view(1, 3, 1, 1)
        x = ((images - mean) / std).to(self.init_block.weight.dtype)
        height, width = x.shape[-2:]

        x = self.init_block(x)
        features = []  # stage outputs at 1, 1/2, 1/4, 1/8 resolution
        for names in _block_names():
            for name in names:
                x = getattr(self, name)(x)
            features.append(x)

        side_logits = [
            F.interpolate(
                reduce(attention(context(feature))), size=(height, width), mode="bilinear", align_corners=False
            )
            for feature, context, attention, reduce in zip(features, self.dilations, self.attentions, self.conv_reduces)
        ]
        return torch.sigmoid(self.classifier(torch.cat(side_logits, dim=1)))

    @classmethod
    def from_official(
        cls, path: str | os.PathLike, *, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32
    ) -> PiDiNet:
        """Load ``table5_pidinet.pth`` (the file, or the folder holding it), converting its kernels.

        Raises :class:`~videocomposer.checkpoints.WeightFileError` naming the expected path when the
        file is missing, and listing the mismatching keys when it is not a table5 PiDiNet file.
        """
        return load_official(
            cls, path, "pidinet", device=device, dtype=dtype, convert=convert_pixel_difference_state_dict
        )


__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PIXEL_DIFFERENCE_TYPES",
    "PiDiNet",
    "convert_pixel_difference_kernel",
    "convert_pixel_difference_state_dict",
]
