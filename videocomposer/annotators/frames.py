"""Plumbing shared by the annotator networks: input checks and chunked runs.

Every annotator takes images in ``[0, 1]`` (``[N, C, H, W]``, floating point) and normalises them
itself; these helpers give the same errors for bad input everywhere and run a network over the
frames of a clip a few at a time.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# Images from resamplers may overshoot [0, 1] by rounding; anything beyond this is a wrong range.
_RANGE_TOLERANCE = 1e-3


def check_images(
    images: torch.Tensor, name: str, *, channels: int, multiple_of: int = 1, why_multiple: str = ""
) -> None:
    """Raise ``ValueError`` unless ``images`` is a float ``[N, channels, H, W]`` tensor in ``[0, 1]``.

    ``multiple_of`` constrains ``H`` and ``W``; ``why_multiple`` explains the constraint in the error.
    """
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape [N, {channels}, H, W], got {type(images).__name__}")
    if not images.is_floating_point():
        raise ValueError(
            f"{name} must be a floating-point tensor with values in [0, 1], got dtype {images.dtype}"
            " (for uint8 pixels use images.float() / 255)"
        )
    if images.ndim != 4 or images.shape[1] != channels:
        raise ValueError(f"{name} must have shape [N, {channels}, H, W], got {list(images.shape)}")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty (shape {list(images.shape)}); give at least one image")
    height, width = images.shape[-2:]
    if height % multiple_of or width % multiple_of:
        reason = f" ({why_multiple})" if why_multiple else ""
        raise ValueError(f"{name} height and width must be multiples of {multiple_of}{reason}, got {height}x{width}")
    low, high = torch.aminmax(images.detach())
    if low < -_RANGE_TOLERANCE or high > 1 + _RANGE_TOLERANCE:
        raise ValueError(
            f"{name} values must lie in [0, 1], got [{low.item():.4g}, {high.item():.4g}]"
            " (images scaled to [-1, 1] or [0, 255] must be converted first)"
        )


def module_device(module: nn.Module) -> torch.device:
    """Device of ``module``'s parameters (where its inputs must go)."""
    return next(module.parameters()).device


def run_in_chunks(
    fn: Callable[[torch.Tensor], torch.Tensor], frames: torch.Tensor, chunk_size: int, device: torch.device
) -> torch.Tensor:
    """``cat([fn(frames[i : i + chunk_size].to(device)) for each chunk])`` without autograd.

    ``frames`` is ``[F, ...]``; the result is ``[F, ...]`` on ``device``. ``chunk_size`` only bounds
    memory: per-frame networks give the same result for every chunk size.
    """
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer (frames per forward pass), got {chunk_size!r}")
    with torch.no_grad():
        return torch.cat([fn(frames[i : i + chunk_size].to(device)) for i in range(0, frames.shape[0], chunk_size)])
