"""Viewable frames of a condition (for the result grid and ``extract``): one sample ``[F, C, H, W]`` →
``uint8 [F, H, W, 3]``. A condition's record names its preview; without one, 3 channels show as RGB
in [0, 1] and 1 channel as grey."""

from __future__ import annotations

import numpy as np
import torch

from ..annotators.visualize import depth_to_rgb, sketch_to_rgb
from ..video.motion import fill_motion_blocks, motion_to_rgb
from ..video.writer import to_uint8_frames


def depth_preview(frames: torch.Tensor) -> np.ndarray:
    """Depth colour-mapped to its own range."""
    return depth_to_rgb(frames, max_depth=max(float(frames.max()), 1e-6)).numpy()


def grey_preview(frames: torch.Tensor) -> np.ndarray:
    """One channel in [0, 1] as grey (sketches)."""
    return sketch_to_rgb(frames).numpy()


def motion_preview(frames: torch.Tensor) -> np.ndarray:
    """Motion as a colour wheel; sparse (one vector per macroblock), so spread over cells to be seen."""
    frames = fill_motion_blocks(frames, block=max(1, frames.shape[-1] // 16))
    scale = float(frames.norm(dim=1).max()) or 1.0
    return np.stack([motion_to_rgb(f, max_magnitude=scale) for f in frames])


def masked_preview(frames: torch.Tensor) -> np.ndarray:
    """``((rgb + 1) / 2)·keep + white·(1 − keep)``, as the reference shows the inpainting input."""
    rgb, keep = frames[:, :3], frames[:, 3:4]
    return to_uint8_frames((rgb + 1) / 2 * keep + (1 - keep))


def default_preview(frames: torch.Tensor) -> np.ndarray | None:
    """RGB in [0, 1] for 3 channels, grey for 1, nothing otherwise."""
    if frames.shape[1] == 3:
        return to_uint8_frames(frames)
    return grey_preview(frames) if frames.shape[1] == 1 else None
