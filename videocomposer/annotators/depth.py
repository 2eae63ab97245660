"""Depth condition: MiDaS inverse depth, scaled and clamped as the VideoComposer pipeline does."""

from __future__ import annotations

import torch

from .frames import check_images, module_device, run_in_chunks
from .midas import MiDaS

DEPTH_STD = 20.0  # cfg.depth_std: MiDaS output is divided by this ...
DEPTH_CLAMP = 10.0  # cfg.depth_clamp: ... and clamped to [0, this]


def midas_to_depth(
    midas_output: torch.Tensor, depth_std: float = DEPTH_STD, depth_clamp: float = DEPTH_CLAMP
) -> torch.Tensor:
    """``(midas_output / depth_std).clamp(0, depth_clamp)``; any shape, same shape and dtype out."""
    return (midas_output / depth_std).clamp(0, depth_clamp)


def extract_depth(
    midas: MiDaS,
    frames: torch.Tensor,
    chunk_size: int = 1,
    depth_std: float = DEPTH_STD,
    depth_clamp: float = DEPTH_CLAMP,
) -> torch.Tensor:
    """The ``depth`` condition of every frame.

    ``frames``: RGB ``[F, 3, H, W]`` float in ``[0, 1]`` (any device; ``H, W`` multiples of
    ``2·patch_size``). Runs ``chunk_size`` frames at a time on MiDaS's device and returns
    ``[F, 1, H, W]`` in ``[0, depth_clamp]`` on that device in MiDaS's dtype (the official pipeline:
    float16). ``chunk_size`` does not change the result.
    """
    check_images(frames, "frames", channels=3)  # size constraints are checked (and explained) by MiDaS
    return run_in_chunks(
        lambda x: midas_to_depth(midas(x), depth_std, depth_clamp), frames, chunk_size, module_device(midas)
    )


__all__ = ["DEPTH_CLAMP", "DEPTH_STD", "extract_depth", "midas_to_depth"]
