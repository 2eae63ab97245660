"""Viewable images of the depth, sketch and mask conditions.

Every function returns ``uint8`` RGB images ``[..., H, W, 3]`` on the CPU (the layout PIL, PyAV and
imageio write), for inputs in the channel-first layout the pipeline uses (``[..., C, H, W]``, any
number of leading frame/batch dims). The motion-field colour wheel lives with the motion annotator.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np
import torch

from .depth import DEPTH_CLAMP

MASK_COLOR = (255, 64, 64)


@lru_cache(maxsize=1)
def _inferno_lut() -> torch.Tensor:
    """``[256, 3]`` uint8 RGB lookup table of the perceptually uniform 'inferno' colour map.

    Its brightness increases strictly from black (0) through purple and orange to pale yellow (255).
    """
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[None], cv2.COLORMAP_INFERNO)[0]
    return torch.from_numpy(np.ascontiguousarray(bgr[:, ::-1]))


def _check_channels(x: torch.Tensor, name: str, channels: int) -> None:
    if not isinstance(x, torch.Tensor) or x.ndim < 3 or x.shape[-3] != channels:
        shape = list(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"{name} must have shape [..., {channels}, H, W], got {shape}")


def _to_uint8_hwc(images01: torch.Tensor) -> torch.Tensor:
    """``[..., C, H, W]`` in [0, 1] → ``[..., H, W, C]`` uint8 (rounded) on the CPU."""
    return (images01.detach().float().cpu().clamp(0, 1) * 255).round().to(torch.uint8).movedim(-3, -1)


def depth_to_rgb(depth: torch.Tensor, max_depth: float = DEPTH_CLAMP) -> torch.Tensor:
    """Colour-map a depth condition: ``[..., 1, H, W]`` in ``[0, max_depth]`` → ``[..., H, W, 3]`` uint8.

    The depth condition is MiDaS *inverse* depth, so near = large = bright (inferno colour map);
    values outside ``[0, max_depth]`` are clipped.
    """
    _check_channels(depth, "depth", 1)
    if max_depth <= 0:
        raise ValueError(f"max_depth must be positive, got {max_depth}")
    levels = (depth.detach().float().cpu() / max_depth).clamp(0, 1).mul(255).round().long()
    return _inferno_lut()[levels.squeeze(-3)]


def sketch_to_rgb(sketch: torch.Tensor) -> torch.Tensor:
    """Grey image of a sketch condition: ``[..., 1, H, W]`` in [0, 1] → ``[..., H, W, 3]`` uint8 (white lines)."""
    _check_channels(sketch, "sketch", 1)
    return _to_uint8_hwc(sketch).expand(*sketch.shape[:-3], *sketch.shape[-2:], 3).contiguous()


def mask_overlay(
    frames: torch.Tensor, mask: torch.Tensor, color: tuple[int, int, int] = MASK_COLOR, alpha: float = 0.5
) -> torch.Tensor:
    """Tint the masked region of frames: ``frames`` ``[..., 3, H, W]`` in [0, 1], ``mask`` ``[..., 1, H, W]``.

    ``mask`` is 1 where the inpainting hole is (the region VideoComposer generates) and 0 where the
    frame is kept; it broadcasts against ``frames`` (e.g. one mask for all frames). Masked pixels
    become ``(1 − alpha)·pixel + alpha·color``; the rest are unchanged. → ``[..., H, W, 3]`` uint8.
    """
    _check_channels(frames, "frames", 3)
    _check_channels(mask, "mask", 1)
    if not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
    frames = frames.detach().float().cpu()
    weight = alpha * mask.detach().float().cpu().clamp(0, 1)
    tint = torch.tensor(color, dtype=torch.float32).view(3, 1, 1) / 255
    return _to_uint8_hwc(frames * (1 - weight) + tint * weight)


__all__ = ["depth_to_rgb", "mask_overlay", "sketch_to_rgb"]
