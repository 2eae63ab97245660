"""Spatio-temporal condition (STC) encoders and the classifier-free-guidance condition dropout.

Each spatial condition (depth, sketch, motion, ...) has its own encoder: a per-frame conv stem that
brings any ``H×W`` to the latent size, followed by a one-layer transformer over the frames at every
latent position. The encoded conditions are summed into the ``concat_dim`` channels concatenated to
the UNet input. Which encoders exist, their input channels and their state-dict names (the official
ones: ``depth_embedding``, ``depth_embedding_after``, and the odd ``masked_embedding`` /
``mask_embedding_after`` pair) come from each condition's record in :mod:`videocomposer.conditions`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .attention import multihead_attention


def pool_to(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """The stem's adaptive average pool of ``frames`` ``[N, C, H, W]`` to ``size`` ``(P_h, P_w)``.

    Where ``H, W`` are whole multiples of ``size`` (always, for the official 256 → 128 and the toy model's
    64 → 64) the adaptive pool's windows are the plain ``k × k`` ones, so ``avg_pool2d`` gives the same values;
    we call it, or nothing for ``k = 1``, because torch's CPU adaptive pool is slow: 34 ms forward and 26 ms
    backward for the toy model's identity pool of 64 frames x 128 channels, 14 % of a training step.
    """
    (h, w), (ph, pw) = frames.shape[-2:], size
    if h % ph or w % pw or h // ph != w // pw:
        return F.adaptive_avg_pool2d(frames, size)
    factor = h // ph
    return frames if factor == 1 else F.avg_pool2d(frames, factor)


def encoded_size(pooled: int) -> int:
    """Side length after the stem's two stride-2 convs (3×3, padding 1) applied to ``pooled`` pixels."""
    return (pooled + 3) // 4


class ConditionStem(nn.Sequential):
    """Per-frame conv stem: Conv3×3(C_in→4c) → SiLU → adaptive average pool → Conv3×3/2(4c→4c) → SiLU
    → Conv3×3/2(4c→c), with ``c = concat_dim`` (official keys ``.0``, ``.3``, ``.5``).

    The reference pools to a fixed 128×128 (so 32×32 latents); here the pooled size is an argument,
    normally 4× the latent size, so any latent resolution can be reached.
    """

    def __init__(self, in_channels: int, concat_dim: int):
        hidden = 4 * concat_dim
        super().__init__(
            nn.Conv2d(in_channels, hidden, 3, padding=1),
            nn.SiLU(),
            nn.Identity(),  # the adaptive pool: its size comes with each call (see forward)
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1),
            nn.SiLU(),
            nn.Conv2d(hidden, concat_dim, 3, stride=2, padding=1),
        )

    def forward(self, video: torch.Tensor, pooled_size: tuple[int, int]) -> torch.Tensor:
        """``video`` ``[B, C_in, F, H, W]`` -> ``[B, concat_dim, F, ⌈P_h/4⌉, ⌈P_w/4⌉]`` for ``pooled_size`` ``(P_h, P_w)``.

        The stem sees each frame alone, so a video whose frames are all the same image (``local_image`` and
        ``single_sketch`` are one image repeated over F) is encoded once and its features repeated: the same
        values, F times less work (a toy-model training step 0.70 → 0.59 s, 30 steps alone at 2 threads).
        """
        conv_in, act_in, _, down1, act1, down2 = self
        num_frames = video.shape[2]
        if num_frames > 1 and torch.equal(video, video[:, :, :1].expand_as(video)):
            video = video[:, :, :1]
        frames = rearrange(video, "b c f h w -> (b f) c h w")
        h = pool_to(act_in(conv_in(frames)), pooled_size)
        h = down2(act1(down1(h)))
        return rearrange(h, "(b f) c h w -> b c f h w", b=video.shape[0]).expand(-1, -1, num_frames, -1, -1)


class FrameAttention(nn.Module):
    """Self-attention over frames with a fused, bias-free ``to_qkv`` and ``to_out`` = [Linear, Dropout]."""

    def __init__(self, dim: int, heads: int, head_dim: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.to_qkv = nn.Linear(dim, 3 * heads * head_dim, bias=False)
        self.to_out = nn.Sequential(nn.Linear(heads * head_dim, dim), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        return self.to_out(multihead_attention(q, k, v, self.heads))


class PreNormResidual(nn.Module):
    """``x + fn(LayerNorm(x))`` (keys ``norm``, ``fn``)."""

    def __init__(self, dim: int, fn: nn.Module):
        super().__init__()
        self.norm = nn.LayerNorm(dim)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(self.norm(x)) + x


class FrameFeedForward(nn.Module):
    """``net`` = [[Linear(d→4d), GELU], Dropout, Linear(4d→d)] (keys ``net.0.0``, ``net.2``)."""

    def __init__(self, dim: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(
            nn.Sequential(nn.Linear(dim, 4 * dim), nn.GELU()), nn.Dropout(dropout), nn.Linear(4 * dim, dim)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FrameTransformer(nn.Module):
    """The reference's ``Transformer_v2`` over the frames at each position: per layer
    ``x = x + Attn(LayerNorm(x))`` (2 heads of width ``dim``) then ``x = x + FF(x)`` with **no** norm
    before the feed-forward. Keys ``layers.<i>.0.*`` (attention) and ``layers.<i>.1.*`` (feed-forward).
    """

    def __init__(self, dim: int, depth: int = 1, heads: int = 2, dropout: float = 0.05):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.ModuleList(
                [PreNormResidual(dim, FrameAttention(dim, heads, dim, dropout)), FrameFeedForward(dim, dropout)]
            )
            for _ in range(depth)
        )

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """``video`` ``[B, C, F, H, W]`` -> same shape; attention runs over ``F`` at each ``(h, w)``."""
        height, width = video.shape[-2:]
        x = rearrange(video, "b c f h w -> (b h w) f c")
        for attend, feed_forward in self.layers:
            x = attend(x)
            x = feed_forward(x) + x
        return rearrange(x, "(b h w) f c -> b c f h w", h=height, w=width)


class ConditionDropout(nn.Module):
    """Classifier-free-guidance dropout of the conditions (the reference's ``misc_dropout``); identity in eval.

    Per batch, :meth:`sample_groups` marks samples "all-zero" (lose every condition, text included)
    or "all-keep" (lose none). Each call of :meth:`forward` then zeroes a fresh random subset of the
    remaining samples (``#(rand(B) < p)`` of them) plus every all-zero sample, multiplying by 0 without
    rescaling. Random draws use ``generator`` (default: the global CPU generator, as the reference).
    """

    def __init__(self, p: float, p_all_zero: float, p_all_keep: float):
        super().__init__()
        self.p, self.p_all_zero, self.p_all_keep = p, p_all_zero, p_all_keep

    @torch.compiler.disable  # seeded draws from a torch.Generator: not traceable, and cheap
    def sample_groups(
        self, batch: int, device: torch.device, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Boolean ``zero`` and ``keep`` masks ``[batch]`` (disjoint); all False in eval mode."""
        zero = torch.zeros(batch, dtype=torch.bool, device=device)
        keep = torch.zeros(batch, dtype=torch.bool, device=device)
        if self.training:
            n_zero = int((torch.rand(batch, generator=generator) < self.p_all_zero).sum())
            n_keep = int((torch.rand(batch, generator=generator) < self.p_all_keep).sum())
            order = torch.randperm(batch, generator=generator).to(device)
            zero[order[:n_zero]] = True
            keep[order[n_zero : n_zero + n_keep]] = True
        return zero, keep

    def forward(
        self, x: torch.Tensor, zero: torch.Tensor, keep: torch.Tensor, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """``x`` ``[B, ...]`` -> ``x`` with the dropped samples zeroed."""
        if not self.training:
            return x
        multiplier = self._multiplier(x, zero, keep, generator)
        return x * multiplier.view(x.shape[0], *([1] * (x.ndim - 1)))

    @torch.compiler.disable  # seeded draws from a torch.Generator: not traceable, and cheap
    def _multiplier(
        self, x: torch.Tensor, zero: torch.Tensor, keep: torch.Tensor, generator: torch.Generator | None
    ) -> torch.Tensor:
        """``[B]`` of x's dtype: 0 for the samples this call drops, 1 for the others."""
        batch = x.shape[0]
        n_drop = int((torch.rand(batch, generator=generator) < self.p).sum())
        candidates = torch.where(~(zero | keep))[0]
        chosen = torch.randperm(len(candidates), generator=generator)[:n_drop].to(candidates.device)
        multiplier = x.new_ones(batch)
        multiplier[candidates[chosen]] = 0.0
        multiplier[zero] = 0.0
        return multiplier
