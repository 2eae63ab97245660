"""Flow-warped initial noise: each frame's noise carried along a motion field, still standard normal.

After Go-with-the-Flow (Burgert et al., arXiv 2501.08331): the noise of frame ``f`` is the noise of frame
``f - 1`` moved along the field, so the sampler starts from noise that already moves as the motion asks.
This is the discrete form of their real-time warp, without the sub-pixel weights: every pixel of frame
``f`` looks up the pixel of frame ``f - 1`` it came from (``round(p - flow(p))``, nearest neighbour);
pixels that share one source share its value through the split identity of ``regaussianize``
(``x / √N + (uᵢ − ū)`` with fresh ``uᵢ ~ N(0, 1)``), which leaves each of them standard normal and the
pixels of a frame independent; a pixel whose source lies outside the frame gets fresh noise. The
``degradation`` ``γ`` then mixes in fresh noise, ``(γ ε + (1 − γ) q) / √(γ² + (1 − γ)²)``: ``γ = 1``
gives plain noise, ``γ = 0`` the pure warp. Written here rather than taken from the authors' code,
which is a research script (RAFT flow, CogVideoX latents) and not a package.
"""

from __future__ import annotations

import math

import torch


def _split_shared(values: torch.Tensor, source: torch.Tensor, size: int, generator: torch.Generator | None):
    """``values`` ``[N, C]`` gathered from ``source`` ``[N]`` indices (of ``size`` sources) → each group of equal
    source made independent standard normal again (``x / √count + (u − ū)``)."""
    count = torch.zeros(size, dtype=values.dtype, device=values.device).index_add_(
        0, source, torch.ones_like(source, dtype=values.dtype)
    )
    fresh = torch.randn(values.shape, generator=generator, device=values.device, dtype=values.dtype)
    fresh_sum = torch.zeros(size, values.shape[1], dtype=values.dtype, device=values.device).index_add_(
        0, source, fresh
    )
    n = count[source].unsqueeze(1)
    return values / n.sqrt() + fresh - fresh_sum[source] / n


def warp_frame(previous: torch.Tensor, flow: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """One frame's noise moved along ``flow``.

    Args:
        previous: ``[C, H, W]`` standard-normal noise of the previous frame.
        flow: ``[2, H, W]`` (dx, dy) in pixels: how far the content at each pixel moved since the previous frame.
        generator: source of the fresh noise.

    Returns:
        ``[C, H, W]`` noise whose pixels are independent standard normal.
    """
    channels, height, width = previous.shape
    ys, xs = torch.meshgrid(
        torch.arange(height, device=flow.device), torch.arange(width, device=flow.device), indexing="ij"
    )
    src_x = torch.round(xs - flow[0]).long()
    src_y = torch.round(ys - flow[1]).long()
    inside = ((src_x >= 0) & (src_x < width) & (src_y >= 0) & (src_y < height)).reshape(-1)
    source = (src_y.clamp(0, height - 1) * width + src_x.clamp(0, width - 1)).reshape(-1)
    flat = previous.reshape(channels, -1).T  # [H*W, C]
    out = torch.randn(flat.shape, generator=generator, device=flat.device, dtype=flat.dtype)
    if inside.any():
        out[inside] = _split_shared(flat[source[inside]], source[inside], height * width, generator)
    return out.T.reshape(channels, height, width)


def warped_noise(
    noise: torch.Tensor, flow: torch.Tensor, degradation: float = 0.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Noise whose frames follow ``flow`` (module docstring).

    Args:
        noise: ``[B, C, F, H, W]`` standard normal; frame 0 of each sample is kept.
        flow: ``[B, 2, F, H, W]`` (dx, dy) in pixels of ``noise``'s grid, frame ``f``'s motion since frame ``f - 1``
            (frame 0's is not read); a batch of 1 serves every sample.
        degradation: ``γ`` in [0, 1], the share of fresh noise mixed into each warped frame.
        generator: source of the fresh noise (on ``noise``'s device).

    Returns:
        ``[B, C, F, H, W]`` float, every value standard normal.
    """
    if not 0.0 <= degradation <= 1.0 or math.isnan(degradation):
        raise ValueError(f"degradation must be in [0, 1] (1: plain noise), got {degradation!r}")
    if noise.ndim != 5 or flow.ndim != 5 or flow.shape[1] != 2 or flow.shape[2:] != noise.shape[2:]:
        raise ValueError(
            f"noise [B, C, F, H, W] and flow [B, 2, F, H, W] must share F, H, W: got {tuple(noise.shape)} and "
            f"{tuple(flow.shape)}"
        )
    if flow.shape[0] not in (1, noise.shape[0]):
        raise ValueError(f"flow has batch {flow.shape[0]}, the noise {noise.shape[0]}")
    flow = flow.to(noise.device, noise.dtype).expand(noise.shape[0], *flow.shape[1:])
    norm = math.sqrt(degradation**2 + (1.0 - degradation) ** 2)
    out = noise.clone()
    for b in range(noise.shape[0]):
        for f in range(1, noise.shape[2]):
            warped = warp_frame(out[b, :, f - 1], flow[b, :, f], generator)
            fresh = noise[b, :, f]  # the frame's own draw serves as the fresh part
            out[b, :, f] = (degradation * fresh + (1.0 - degradation) * warped) / norm
    return out
