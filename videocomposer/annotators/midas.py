"""MiDaS v3 DPT-Large monocular depth (Ranftl et al. 2021), as VideoComposer ships it.

A plain ViT-L/16 at 384 (no hybrid backbone) whose tokens are read out after each quarter of the
blocks, reassembled into a 4-level feature pyramid (1/4 ... 1/32 of the image) and fused top-down
into a relative inverse depth map. Parameter names follow VideoComposer's own re-implementation
(``patch_embedding``, ``blocks.<i>.attn.to_qkv``, ``fc1``, ``conv1``, ``fusion1``, ``head``, ...),
which is the layout of ``midas_v3_dpt_large.pth`` — not isl-org's names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_official
from ..config import ArchitectureConfig
from .frames import check_images

HEAD_CHANNELS = 32  # width of the last hidden layer of the depth head (fixed in the official model)


@dataclass
class MidasConfig(ArchitectureConfig):
    """Architecture of :class:`MiDaS`. The defaults (:meth:`official`) are DPT-Large as in
    ``midas_v3_dpt_large.pth`` (343,028,417 parameters).

    ``neck_dims`` are the channels of the four reassembled feature maps (1/4, 1/8, 1/16, 1/32 of the
    image); ``fusion_dim`` is the width of the fusion path.
    """

    image_size: int = 384  # size the position embedding was trained at (other sizes interpolate it)
    patch_size: int = 16
    dim: int = 1024
    neck_dims: tuple[int, int, int, int] = (256, 512, 1024, 1024)
    fusion_dim: int = 256
    num_heads: int = 16
    num_layers: int = 24  # split into 4 equal stages, one readout after each

    def __post_init__(self) -> None:
        self.neck_dims = tuple(self.neck_dims)
        problems = []
        if len(self.neck_dims) != 4:
            problems.append(f"neck_dims needs 4 entries, got {list(self.neck_dims)}")
        if self.image_size % self.patch_size:
            problems.append(f"image_size {self.image_size} is not a multiple of patch_size {self.patch_size}")
        if self.dim % self.num_heads:
            problems.append(f"dim {self.dim} is not divisible by num_heads {self.num_heads}")
        if self.num_layers % 4:
            problems.append(f"num_layers {self.num_layers} is not a multiple of 4 (four readout stages)")
        if self.fusion_dim < 2:
            problems.append(
                f"fusion_dim {self.fusion_dim} must be >= 2 (the head's first conv has fusion_dim // 2 channels)"
            )
        if problems:
            raise ValueError("invalid MidasConfig: " + "; ".join(problems))

    @classmethod
    def tiny(cls) -> MidasConfig:
        """A few-hundred-thousand-parameter model with the same structure, for tests (no weights exist)."""
        return cls(dim=64, neck_dims=(32, 64, 64, 64), fusion_dim=32, num_heads=4, num_layers=4)


# ---------------------------------------------------------------------------------------------
# Transformer
# ---------------------------------------------------------------------------------------------


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection. ``[B, L, dim]`` → ``[B, L, dim]``."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.to_qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        # to_qkv output is [q | k | v], each split into heads of dim // num_heads
        q, k, v = self.to_qkv(x).view(batch, length, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)  # 3×[B, n, L, d]
        out = F.scaled_dot_product_attention(q, k, v)  # [B, n, L, d]
        return self.proj(out.transpose(1, 2).reshape(batch, length, dim))


class TransformerBlock(nn.Module):
    """Pre-norm ViT block (LayerNorm eps 1e-5, MLP ×4 with exact GELU). ``[B, L, dim]`` → same."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = SelfAttention(dim, num_heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU(), nn.Linear(4 * dim, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


# ---------------------------------------------------------------------------------------------
# Fusion decoder
# ---------------------------------------------------------------------------------------------


class ResidualConvUnit(nn.Module):
    """``x + conv(ReLU(conv(ReLU(x))))`` with 3x3 convs. ``[B, C, H, W]`` → same."""

    def __init__(self, channels: int):
        super().__init__()
        self.residual = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.residual(x)


class FusionBlock(nn.Module):
    """``conv_out(up2(layer2(x + layer1(skip))))``, or without the skip at the coarsest level.

    ``x``, ``skip``: ``[B, C, h, w]`` → ``[B, C, 2h, 2w]`` (bilinear, align_corners=True). The
    coarsest block still owns an (unused) ``layer1``, as in the official checkpoint.
    """

    def __init__(self, channels: int):
        super().__init__()
        self.layer1 = ResidualConvUnit(channels)
        self.layer2 = ResidualConvUnit(channels)
        self.conv_out = nn.Conv2d(channels, channels, 1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        if skip is not None:
            x = x + self.layer1(skip)
        x = F.interpolate(self.layer2(x), scale_factor=2, mode="bilinear", align_corners=True)
        return self.conv_out(x)


def _readout_projection(dim: int) -> nn.Sequential:
    """``fc_k``: patch token ⊕ cls token (``2·dim``) → ``dim``, GELU."""
    return nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU())


def _reassemble(level: int, dim: int, neck: int, fusion_dim: int) -> nn.Sequential:
    """``conv_k``: the ``[B, dim, h, w]`` token grid (h = H/patch) → ``[B, fusion_dim, ·, ·]`` at level k.

    Level 1 upsamples ×4 (transposed conv), level 2 ×2, level 3 keeps the grid, level 4 halves it.
    """
    resample = {
        1: [nn.ConvTranspose2d(neck, neck, 4, stride=4)],
        2: [nn.ConvTranspose2d(neck, neck, 2, stride=2)],
        3: [],
        4: [nn.Conv2d(neck, neck, 3, stride=2, padding=1)],
    }[level]
    return nn.Sequential(nn.Conv2d(dim, neck, 1), *resample, nn.Conv2d(neck, fusion_dim, 3, padding=1, bias=False))


# ---------------------------------------------------------------------------------------------
# Model
# ---------------------------------------------------------------------------------------------


class MiDaS(nn.Module):
    """MiDaS v3 DPT-Large in VideoComposer's layout.

    ``forward(images)``: RGB ``[B, 3, H, W]`` float in ``[0, 1]`` (normalised to ``(x − 0.5)/0.5``
    inside), ``H`` and ``W`` multiples of ``2·patch_size`` → relative inverse depth ``[B, 1, H, W]``,
    non-negative and unnormalised (larger = nearer), in the module's dtype. The pipeline's depth
    condition is :func:`videocomposer.annotators.depth.midas_to_depth` of it.
    """

    def __init__(self, config: MidasConfig | None = None):
        super().__init__()
        self.config = config = config or MidasConfig()
        dim, grid = config.dim, config.image_size // config.patch_size
        gain = dim**-0.5
        self.patch_embedding = nn.Conv2d(3, dim, config.patch_size, stride=config.patch_size)
        self.cls_embedding = nn.Parameter(gain * torch.randn(1, 1, dim))
        self.pos_embedding = nn.Parameter(gain * torch.randn(1, grid * grid + 1, dim))
        self.blocks = nn.Sequential(*(TransformerBlock(dim, config.num_heads) for _ in range(config.num_layers)))
        for level, neck in enumerate(config.neck_dims, start=1):
            self.add_module(f"fc{level}", _readout_projection(dim))
            self.add_module(f"conv{level}", _reassemble(level, dim, neck, config.fusion_dim))
            self.add_module(f"fusion{level}", FusionBlock(config.fusion_dim))
        self.head = nn.Sequential(
            nn.Conv2d(config.fusion_dim, config.fusion_dim // 2, 3, padding=1),
            nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
            nn.Conv2d(config.fusion_dim // 2, HEAD_CHANNELS, 3, padding=1),
            nn.ReLU(),
            nn.ConvTranspose2d(HEAD_CHANNELS, 1, 1),
            nn.ReLU(),
        )

    def _position_embedding(self, grid_h: int, grid_w: int) -> torch.Tensor:
        """``[1, 1 + grid_h·grid_w, dim]``: the patch part bilinearly resized from the trained grid."""
        grid = self.config.image_size // self.config.patch_size
        if (grid_h, grid_w) == (grid, grid):
            return self.pos_embedding
        patches = self.pos_embedding[:, 1:].reshape(1, grid, grid, -1).permute(0, 3, 1, 2)
        patches = F.interpolate(patches, size=(grid_h, grid_w), mode="bilinear", align_corners=False)
        return torch.cat([self.pos_embedding[:, :1], patches.flatten(2).transpose(1, 2)], dim=1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        patch = self.config.patch_size
        check_images(
            images, "images", channels=3, multiple_of=2 * patch,
            why_multiple=f"an even number of {patch}-pixel patches: the coarsest level halves the patch grid",
        )  # fmt: skip
        x = ((images - 0.5) / 0.5).to(self.patch_embedding.weight.dtype)
        grid_h, grid_w = x.shape[-2] // patch, x.shape[-1] // patch

        # 1. tokens: [B, 1 + h·w, dim], cls first
        tokens = self.patch_embedding(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls_embedding.expand(len(tokens), -1, -1), tokens], dim=1)
        tokens = tokens + self._position_embedding(grid_h, grid_w)

        # 2. four stages of blocks, each read out into a feature map ([B, fusion_dim, ...] at 1/4 ... 1/32)
        per_stage = self.config.num_layers // 4
        pyramid = []
        for level in range(1, 5):
            tokens = self.blocks[(level - 1) * per_stage : level * per_stage](tokens)
            patches, cls = tokens[:, 1:], tokens[:, :1]
            readout = getattr(self, f"fc{level}")(torch.cat([patches, cls.expand_as(patches)], dim=-1))
            grid_map = readout.transpose(1, 2).unflatten(2, (grid_h, grid_w))  # [B, dim, h, w]
            pyramid.append(getattr(self, f"conv{level}")(grid_map))

        # 3. top-down fusion: 1/32 → 1/2 of the image
        x = self.fusion4(pyramid[3])
        x = self.fusion3(x, pyramid[2])
        x = self.fusion2(x, pyramid[1])
        x = self.fusion1(x, pyramid[0])

        # 4. head: [B, 1, H, W]
        return self.head(x)

    @classmethod
    def from_official(
        cls,
        path: str | os.PathLike,
        config: MidasConfig | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> MiDaS:
        """Load ``midas_v3_dpt_large.pth`` (the file, or the folder holding it) strictly.

        ``config`` defaults to the official DPT-Large; any flat state dict in this layout
        (``.pth`` or ``.safetensors``) loads with its matching config. The official pipeline runs
        MiDaS in float16 on the GPU (``dtype=torch.float16``).
        """
        return load_official(lambda: cls(config), path, "midas", device=device, dtype=dtype)


__all__ = ["MiDaS", "MidasConfig"]
