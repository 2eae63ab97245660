"""Loss weights on the moving regions of a clip (the ``moving_region_weight`` training key).

A video model spends most of its loss on the still background; what a motion condition controls is the small part
that moves. The weight of a latent pixel is ``1 + λ · m``, where ``m`` in [0, 1] is how much the clean latents change
there between neighbouring frames (the mean absolute change over channels, against the sample's largest), so the
loss is a weighted mean that leans on the moving object and its trail. It reads the latents alone, so it serves any
clip, cached or not, with or without a motion condition.
"""

from __future__ import annotations

import torch


def moving_region_weights(latents: torch.Tensor, strength: float) -> torch.Tensor:
    """Per-pixel loss weights of the module docstring.

    Args:
        latents: clean latents ``[B, C, F, H, W]`` (``F ≥ 2``).
        strength: ``λ ≥ 0`` (0: uniform weights).

    Returns:
        ``[B, 1, F, H, W]`` float32 weights in ``[1, 1 + λ]``.
    """
    if latents.ndim != 5 or latents.shape[2] < 2:
        raise ValueError(f"latents must have shape [B, C, F, H, W] with F >= 2, got {tuple(latents.shape)}")
    change = (latents[:, :, 1:] - latents[:, :, :-1]).abs().float().mean(dim=1, keepdim=True)  # [B, 1, F-1, H, W]
    # a pixel's change is the larger of its changes to the previous and to the next frame
    padded = torch.nn.functional.pad(change, (0, 0, 0, 0, 1, 1))
    per_frame = torch.maximum(padded[:, :, :-1], padded[:, :, 1:])  # [B, 1, F, H, W]
    peak = per_frame.flatten(1).amax(dim=1).clamp_min(1e-6).view(-1, 1, 1, 1, 1)
    return 1.0 + strength * (per_frame / peak)
