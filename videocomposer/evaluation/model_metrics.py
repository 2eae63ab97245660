"""The metrics of one video that need model weights: CLIP frame consistency and CLIPSIM (:mod:`.clip_metrics`),
depth and sketch errors against their conditions (:mod:`.annotator_metrics`), the reference conditions taken from
the record, else re-extracted from the source video."""

from __future__ import annotations

import numpy as np
import torch

from ..video.clip import VideoClip
from .metrics import (
    ANNOTATOR_METRICS,
    CLIP_METRICS,
    DEPTH_CONDITION,
    ENABLE,
    SKETCH_CONDITION,
    EvaluationModels,
    RunResult,
)
from .records import ConditionRecord


def model_metrics(
    result: RunResult,
    frames: np.ndarray,
    models: EvaluationModels,
    record: ConditionRecord | None,
    source: str | None,
    seed: int,
    caption: str | None,
) -> None:
    """CLIP and annotator metrics, where their models (and reference conditions) are there."""
    from .annotator_metrics import depth_error, sketch_error

    _clip_metrics(result, frames, models, caption)
    clip: VideoClip | None = None

    def reference(name: str, extract) -> torch.Tensor | None:
        nonlocal clip
        if record is not None and name in record.conditions:
            return record.conditions[name]
        if source is None:
            return None
        if clip is None:
            clip = _source_clip(source, frames, seed)
            result.notes.append(f"{name} re-extracted from {source} (misc-transform draws may differ from generate's)")
        return extract(clip.misc)

    if models.midas is not None:
        from ..annotators.depth import extract_depth

        depth = reference(DEPTH_CONDITION, lambda misc: extract_depth(models.midas, misc).float())
        if depth is not None:
            result.metrics["depth_si_log"] = depth_error(models.midas, frames, depth)
    if models.pidinet is not None and models.sketch_cleaner is not None:
        from ..annotators.sketch import extract_sketch

        sketch = reference(
            SKETCH_CONDITION, lambda misc: extract_sketch(models.pidinet, models.sketch_cleaner, misc).float()
        )
        if sketch is not None:
            result.metrics["sketch_mae"] = sketch_error(models.pidinet, models.sketch_cleaner, frames, sketch)
    for metric in ANNOTATOR_METRICS:
        if metric not in result.metrics:
            result.skipped[metric] = ENABLE[metric]


def _clip_metrics(result: RunResult, frames: np.ndarray, models: EvaluationModels, caption: str | None) -> None:
    """Frame consistency of ``frames`` ``[F, H, W, 3]`` uint8 and, given a caption, CLIPSIM, when CLIP is there;
    the CLIP metrics not computed are listed in ``result.skipped`` with how to enable them."""
    from .clip_metrics import clipsim, frame_consistency

    if models.clip is not None:
        result.metrics["clip_frame_consistency"] = frame_consistency(models.clip, frames)
        if caption:
            result.metrics["clipsim"] = clipsim(models.clip, frames, caption, models.tokenizer)
    for metric in CLIP_METRICS:
        if metric not in result.metrics:
            result.skipped[metric] = ENABLE[metric]


def _source_clip(source: str, frames: np.ndarray, seed: int) -> VideoClip:
    """The source video sampled like ``generate`` samples it for ``frames`` ``[F, H, W, 3]`` (F frames at
    resolution H, misc images at the default misc size for H), to re-extract reference conditions from."""
    from ..pipelines.inputs import default_misc_size
    from ..video.sampling import load_video_clip

    side = frames.shape[1]
    return load_video_clip(
        source,
        num_frames=len(frames),
        resolution=side,
        misc_size=default_misc_size(side, side),
        seed=seed,
        with_mask=False,
    )
