"""Depth and sketch adherence with the condition annotators (MiDaS; PiDiNet + sketch cleaner).

The generated frames are brought to the annotator size ``M`` of the condition (bicubic) and go
through the same extractors as the condition (:func:`~videocomposer.annotators.depth.extract_depth`,
:func:`~videocomposer.annotators.sketch.extract_sketch`); the result is compared with the condition
the model was given (``[F, 1, M, M]``):

* ``depth_si_log``: scale-invariant log error (Eigen et al. 2014), ``sqrt(mean(d²) − mean(d)²)`` with
  ``d = log(generated) − log(condition)`` over the pixels where both depths exceed 1e-3 (MiDaS gives
  relative inverse depth, so a global scale is not penalised); 0 = same depth up to scale;
* ``sketch_mae``: mean absolute difference of the sketches (values in [0, 1]; 0 = identical).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from ..annotators.depth import extract_depth
from ..annotators.midas import MiDaS
from ..annotators.pidinet import PiDiNet
from ..annotators.sketch import SketchCleaner, extract_sketch
from .frames import VideoInput, read_video_frames

DEPTH_FLOOR = 1e-3


def frames_at(video: VideoInput, size: int) -> torch.Tensor:
    """Frames → ``float32 [F, 3, size, size]`` in [0, 1] (bicubic resize of square frames)."""
    frames = read_video_frames(video)
    if frames.shape[1] != frames.shape[2]:
        raise ValueError(f"annotator metrics need square frames, got {frames.shape[2]}x{frames.shape[1]}")
    if frames.shape[1] != size:
        frames = np.stack([np.asarray(Image.fromarray(f).resize((size, size), Image.BICUBIC)) for f in frames])
    return torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255


def _reference(condition: torch.Tensor, num_frames: int, name: str) -> torch.Tensor:
    """``[F, 1, M, M]`` or ``[B, 1, F, M, M]`` (sample 0) → ``[F, 1, M, M]`` with the video's frame count."""
    if condition.ndim == 5:
        condition = condition[0].transpose(0, 1)
    if condition.ndim != 4 or condition.shape[1] != 1:
        raise ValueError(f"the {name} condition must be [F, 1, M, M] or [B, 1, F, M, M], got {list(condition.shape)}")
    if condition.shape[0] != num_frames:
        raise ValueError(f"the {name} condition has {condition.shape[0]} frames, the video {num_frames}")
    return condition.float().cpu()


def scale_invariant_log_error(predicted: torch.Tensor, target: torch.Tensor, floor: float = DEPTH_FLOOR) -> float:
    """Eigen et al.'s scale-invariant log RMSE over pixels where both exceed ``floor``; ``nan`` if none."""
    valid = (predicted > floor) & (target > floor)
    if not bool(valid.any()):
        return math.nan
    d = predicted[valid].double().log() - target[valid].double().log()
    return float((d.pow(2).mean() - d.mean().pow(2)).clamp_min(0).sqrt())


@torch.no_grad()
def depth_error(midas: MiDaS, video: VideoInput, condition: torch.Tensor) -> float:
    """``depth_si_log`` of the generated video's MiDaS depth against the depth condition (see the module docstring)."""
    reference = _reference(condition, len(read_video_frames(video)), "depth")
    depth = extract_depth(midas, frames_at(video, reference.shape[-1])).float().cpu()
    return scale_invariant_log_error(depth, reference)


@torch.no_grad()
def sketch_error(pidinet: PiDiNet, cleaner: SketchCleaner, video: VideoInput, condition: torch.Tensor) -> float:
    """``sketch_mae`` of the generated video's sketch against the sketch condition."""
    reference = _reference(condition, len(read_video_frames(video)), "sketch")
    sketch = extract_sketch(pidinet, cleaner, frames_at(video, reference.shape[-1])).float().cpu()
    return float((sketch - reference).abs().mean())
