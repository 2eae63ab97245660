"""User masks for the ``masked`` condition: PIL (white = hidden), arrays or tensors (1 = hidden) → a binary video."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .context import video_tensor


def mask_tensor(mask: Image.Image | np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A mask (PIL: white = hidden; array/tensor: 1 = hidden; ``[H, W]``, ``[F, 1, H, W]`` or
    ``[B, 1, F, H, W]``) → ``[B, 1, F, H, W]`` in {0, 1} at ``size`` (nearest-neighbour resize)."""
    if isinstance(mask, Image.Image):
        mask = torch.from_numpy(np.asarray(mask.convert("L"), dtype=np.float32) / 255.0)
    mask = torch.as_tensor(mask, dtype=torch.float32)
    if mask.ndim == 2:
        mask = mask[None, None]  # [1, 1, H, W]
    elif mask.ndim == 3:
        mask = mask[None]
    mask = video_tensor(mask, "mask", 1)
    if tuple(mask.shape[-2:]) != size:
        b, _, f = mask.shape[:3]
        flat = mask.reshape(b * f, 1, *mask.shape[-2:])
        mask = torch.nn.functional.interpolate(flat, size=size, mode="nearest").reshape(b, 1, f, *size)
    return (mask > 0.5).float()
