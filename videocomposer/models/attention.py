"""Attention layers of the VideoComposer UNet: spatial (per frame) and temporal (per pixel) transformers.

Every attention is exact softmax attention computed by
:func:`torch.nn.functional.scaled_dot_product_attention` (the reference uses xformers'
``memory_efficient_attention``, which computes the same function). Module and parameter names
follow the official checkpoint (``proj_in``, ``transformer_blocks.0.attn1.to_q``, ...), so
``non_ema_228000.pth`` loads unchanged.

Shapes: ``B`` batch, ``F`` frames, ``C`` channels, ``(B·F)`` batch and frames folded sample-major.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

# The reference uses eps 1e-6 in the transformer GroupNorms (1e-5 everywhere else).
TRANSFORMER_NORM_EPS = 1e-6


def multihead_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Exact multi-head attention ``softmax(q kᵀ / √d) v`` over the second-to-last axis.

    ``q`` is ``[N, Lq, heads·d]``, ``k`` and ``v`` are ``[N, Lk, heads·d]``; returns ``[N, Lq, heads·d]``
    with the heads concatenated in order (head ``i`` owns channels ``i·d … (i+1)·d - 1``).
    """
    q, k, v = (t.unflatten(-1, (heads, -1)).transpose(1, 2) for t in (q, k, v))  # [N, heads, L, d]
    out = F.scaled_dot_product_attention(q, k, v)
    return out.transpose(1, 2).flatten(2)


class CrossAttention(nn.Module):
    """Multi-head attention with bias-free ``to_q/to_k/to_v`` and a biased ``to_out.0``.

    ``context=None`` makes it self-attention. Input ``[N, L, query_dim]``, context ``[N, Lc, context_dim]``.
    """

    def __init__(self, query_dim: int, heads: int, head_dim: int, context_dim: int | None = None):
        super().__init__()
        inner = heads * head_dim
        context_dim = query_dim if context_dim is None else context_dim
        self.heads = heads
        self.to_q = nn.Linear(query_dim, inner, bias=False)
        self.to_k = nn.Linear(context_dim, inner, bias=False)
        self.to_v = nn.Linear(context_dim, inner, bias=False)
        self.to_out = nn.Sequential(nn.Linear(inner, query_dim), nn.Dropout(0.0))

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        out = multihead_attention(self.to_q(x), self.to_k(context), self.to_v(context), self.heads)
        return self.to_out(out)


class GEGLU(nn.Module):
    """``proj`` to twice the width, split into (value, gate), return ``value · gelu(gate)`` (exact erf GELU)."""

    def __init__(self, dim_in: int, dim_out: int):
        super().__init__()
        self.proj = nn.Linear(dim_in, dim_out * 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        value, gate = self.proj(x).chunk(2, dim=-1)
        return value * F.gelu(gate)


class GEGLUFeedForward(nn.Module):
    """``net`` = [GEGLU(d → 4d), Dropout(0), Linear(4d → d)] (keys ``net.0.proj``, ``net.2``)."""

    def __init__(self, dim: int, mult: int = 4):
        super().__init__()
        self.net = nn.Sequential(GEGLU(dim, dim * mult), nn.Dropout(0.0), nn.Linear(dim * mult, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class TransformerBlock(nn.Module):
    """Pre-norm block: self-attention, then ``attn2`` over ``context``, then the GEGLU feed-forward.

    ``context_dim=None`` builds ``attn2`` as a second self-attention (the temporal transformers).
    Sub-modules are declared in the official order ``attn1, ff, attn2, norm1..3``.
    """

    def __init__(self, dim: int, heads: int, head_dim: int, context_dim: int | None = None):
        super().__init__()
        self.attn1 = CrossAttention(dim, heads, head_dim)
        self.ff = GEGLUFeedForward(dim)
        self.attn2 = CrossAttention(dim, heads, head_dim, context_dim=context_dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        """``x`` ``[N, L, dim]``, ``context`` ``[N, Lc, context_dim]`` or None -> ``[N, L, dim]``."""
        x = self.attn1(self.norm1(x)) + x
        x = self.attn2(self.norm2(x), context) + x
        return self.ff(self.norm3(x)) + x


class SpatialTransformer(nn.Module):
    """Per-frame transformer over the ``H·W`` positions, cross-attending to the text/image context.

    GroupNorm(32, eps 1e-6) → ``proj_in`` Linear → one :class:`TransformerBlock` → ``proj_out`` Linear,
    added to the input. Requires ``heads·head_dim == channels`` (true for every official block).
    """

    def __init__(self, channels: int, heads: int, head_dim: int, context_dim: int):
        super().__init__()
        inner = heads * head_dim
        if inner != channels:
            raise ValueError(
                f"SpatialTransformer needs heads*head_dim == channels, got {heads}*{head_dim} != {channels}"
            )
        self.norm = nn.GroupNorm(32, channels, eps=TRANSFORMER_NORM_EPS)
        self.proj_in = nn.Linear(channels, inner)
        self.transformer_blocks = nn.ModuleList([TransformerBlock(inner, heads, head_dim, context_dim)])
        self.proj_out = nn.Linear(inner, channels)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        """``x`` ``[(B·F), C, H, W]``, ``context`` ``[(B·F), L, context_dim]`` -> ``[(B·F), C, H, W]``."""
        height, width = x.shape[-2:]
        h = rearrange(self.norm(x), "n c h w -> n (h w) c")
        h = self.proj_in(h)
        for block in self.transformer_blocks:
            h = block(h, context)
        h = self.proj_out(h)
        return rearrange(h, "n (h w) c -> n c h w", h=height, w=width) + x


class TemporalTransformer(nn.Module):
    """Transformer over the ``F`` frames at every pixel; both attentions are self-attention.

    GroupNorm(32, eps 1e-6) over the whole clip (statistics over frames jointly) → ``proj_in``
    (Conv1d, kernel 1) → one :class:`TransformerBlock` → ``proj_out`` (Conv1d, kernel 1), added to the
    input. There is no positional encoding over time. ``heads·head_dim`` may differ from ``channels``
    (the first block of the official model: 320 channels, 8×64 = 512 inner).
    """

    def __init__(self, channels: int, heads: int, head_dim: int):
        super().__init__()
        inner = heads * head_dim
        self.norm = nn.GroupNorm(32, channels, eps=TRANSFORMER_NORM_EPS)
        self.proj_in = nn.Conv1d(channels, inner, kernel_size=1)
        self.transformer_blocks = nn.ModuleList([TransformerBlock(inner, heads, head_dim)])
        self.proj_out = nn.Conv1d(inner, channels, kernel_size=1)

    def forward(self, x: torch.Tensor, num_frames: int) -> torch.Tensor:
        """``x`` ``[(B·F), C, H, W]`` (frames folded sample-major) -> same shape."""
        height, width = x.shape[-2:]
        video = rearrange(x, "(b f) c h w -> b c f h w", f=num_frames)
        h = rearrange(self.norm(video), "b c f h w -> (b h w) f c")
        # The kernel-1 Conv1d projections are applied as linear maps on the channel axis.
        h = F.linear(h, self.proj_in.weight.squeeze(-1), self.proj_in.bias)
        for block in self.transformer_blocks:
            h = block(h)
        h = F.linear(h, self.proj_out.weight.squeeze(-1), self.proj_out.bias)
        h = rearrange(h, "(b h w) f c -> (b f) c h w", h=height, w=width)
        return h + x
