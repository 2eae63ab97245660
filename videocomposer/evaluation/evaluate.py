"""One generated video against what it was given: every metric that its inputs allow, as one result.

:func:`evaluate_run` gathers the conditions (the record written by ``generate --save-conditions``
beside the MP4, else re-extracted from the source video with generate's clip sampling), checks that
the generated video matches them in frame count and size (or resamples it when asked), and runs the
model-free metrics (:mod:`.motion`, :mod:`.image`) and those whose models are loaded
(:mod:`.clip_metrics`, :mod:`.annotator_metrics`). A metric whose input or model is missing is listed
in ``skipped`` with what would enable it. FVD is a metric of sets of videos (:mod:`.fvd`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from ..annotators.midas import MiDaS
from ..annotators.pidinet import PiDiNet
from ..annotators.sketch import SketchCleaner
from ..conditions import evaluated_condition
from ..models.clip import OpenCLIP
from ..models.tokenizer import CLIPTokenizer
from ..video.clip import VideoClip
from .frames import ImageInput, VideoInput, is_path, read_video_frames
from .image import first_frame_metrics
from .motion import MOTION_BLOCK, MotionField, condition_field, flow_error, motion_error, reference_motion
from .records import ConditionRecord, find_record

#: The recorded conditions each metric family compares with (from the condition registry's ``evaluated_by``).
MOTION_CONDITION = evaluated_condition("motion_error")
FIRST_FRAME_CONDITION = evaluated_condition("first_frame_metrics")
DEPTH_CONDITION = evaluated_condition("depth_error")
SKETCH_CONDITION = evaluated_condition("sketch_error")

#: generate's default seed (the reference's 8888): the clip start drawn when re-extracting conditions.
DEFAULT_SEED = 8888
#: Metrics per input, in report order, and what enables each when it is missing.
MOTION_METRICS = ("motion_epe", "motion_epe_dense", "flow_epe", "motion_epe_moving", "motion_epe_static",
                  "motion_cosine_moving", "flow_cosine_moving", "motion_gain_moving", "flow_gain_moving")
FIRST_FRAME_METRICS = ("first_frame_psnr", "first_frame_ssim")
CLIP_METRICS = ("clip_frame_consistency", "clipsim")
ANNOTATOR_METRICS = ("depth_si_log", "sketch_mae")
_SOURCE = "--input_video SOURCE (or a <run>_conditions.safetensors from generate --save-conditions)"
ENABLE = {
    **{m: _SOURCE for m in MOTION_METRICS},
    **{m: f"--image_path FIRST_FRAME (or a recorded {FIRST_FRAME_CONDITION})" for m in FIRST_FRAME_METRICS},
    "clip_frame_consistency": "--clip-weights open_clip_pytorch_model.bin (or --weights-dir)",
    "clipsim": "--clip-weights open_clip_pytorch_model.bin (or --weights-dir) and --caption (or a CSV caption)",
    "depth_si_log": "--midas-weights midas_v3_dpt_large.pth (or --weights-dir) and " + _SOURCE,
    "sketch_mae": "--pidinet-weights table5_pidinet.pth and --sketch-cleaner-weights sketch_simplification_gan.pth "
                  "(or --weights-dir) and " + _SOURCE,
}
#: Every per-video metric, in report order.
RUN_METRICS = MOTION_METRICS + FIRST_FRAME_METRICS + CLIP_METRICS + ANNOTATOR_METRICS


@dataclass
class EvaluationModels:
    """The frozen models the model-based metrics use; any may be None (its metrics are then skipped)."""

    clip: OpenCLIP | None = None
    tokenizer: CLIPTokenizer | None = None
    midas: MiDaS | None = None
    pidinet: PiDiNet | None = None
    sketch_cleaner: SketchCleaner | None = None


@dataclass
class RunResult:
    """One video's evaluation: ``metrics`` (floats; ``nan`` when nothing could be compared),
    ``per_frame`` lists (``None`` = skipped frame), ``skipped`` {metric: how to enable it}, ``notes``."""

    generated: str
    metrics: dict[str, float] = field(default_factory=dict)
    per_frame: dict[str, list] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def resample_frames(frames: np.ndarray, num_frames: int, height: int, width: int) -> np.ndarray:
    """``uint8 [F, H, W, 3]`` → ``[num_frames, height, width, 3]``: nearest frames in time, area resize in space."""
    indices = np.round(np.linspace(0, len(frames) - 1, num_frames)).astype(int)
    picked = frames[indices]
    if picked.shape[1:3] == (height, width):
        return picked
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in picked])


def _recorded(record: ConditionRecord | None, name: str | None) -> torch.Tensor | None:
    """A recorded condition ``[1, C, F, H, W]`` (None without a record, or when it was not recorded)."""
    return record.conditions.get(name) if record is not None and name is not None else None


def _record_motion(recorded: torch.Tensor, record: ConditionRecord, source: str | None, notes: list[str]) -> MotionField:
    """The recorded motion with its vector sites (from the source video when it is there)."""
    motion = recorded[0].transpose(0, 1).float()  # [F, 2, R, R]
    meta = record.metadata
    scale = float(meta.get("source_pixels_per_pixel", 1.0))
    source = source or meta.get("source_video")
    if source and os.path.isfile(source) and "seed" in meta:
        sites = reference_motion(source, motion.shape[0], motion.shape[-1], seed=int(meta["seed"]))
        if sites.motion.shape == motion.shape and torch.equal(sites.motion, motion):
            return MotionField(motion, sites.weight, scale)
        notes.append(f"the recorded motion differs from {source}'s: vector sites taken from non-zero pixels")
    else:
        notes.append("source video not available: motion vector sites taken from the record's non-zero pixels")
    return condition_field(motion, scale)


def evaluate_run(generated: VideoInput, *, source: str | os.PathLike | None = None, image: ImageInput | None = None,
                 caption: str | None = None, record: ConditionRecord | None = None, seed: int | None = None,
                 resample: bool = False, block: int = MOTION_BLOCK, models: EvaluationModels | None = None) -> RunResult:
    """Evaluate one generated video (file or frames).

    Args:
        generated: the generated video.
        source: the source video the motion condition came from (``--input_video``).
        image: the first-frame image (``--image_path``).
        caption: the prompt (CLIPSIM; default: the record's).
        record: the recorded conditions (default: the record beside a generated file, if any).
        seed: generate's seed, for re-extraction (default: the record's, else :data:`DEFAULT_SEED`).
        resample: resample the generated video to the conditions' frame count and size instead of failing.
        block: motion cell side (generated pixels).
        models: loaded models for the CLIP and annotator metrics (None: those are skipped).
    """
    name = os.fspath(generated) if is_path(generated) else "<frames>"
    if record is None and is_path(generated):
        record = find_record(generated)
    result = RunResult(name)
    frames = read_video_frames(generated)
    if record is not None:
        result.notes.append(f"conditions: {record.path}")
    source = os.fspath(source) if source is not None else None

    seed = seed if seed is not None else int((record.metadata if record else {}).get("seed", DEFAULT_SEED))
    condition = _motion_condition(record, source, frames, seed, result.notes)
    if condition is not None:
        resampled = _fit_to_condition(frames, condition, resample, name, result.notes)
        if resampled is not None:
            frames = generated = resampled  # the file no longer is what is compared
        _motion_metrics(result, generated, frames, condition, block)
    else:
        result.skipped.update({m: ENABLE[m] for m in MOTION_METRICS})

    first = image if image is not None else _recorded_first_frame(record, frames, result.notes)
    if first is not None:
        result.metrics.update(first_frame_metrics(frames, first))
    else:
        result.skipped.update({m: ENABLE[m] for m in FIRST_FRAME_METRICS})
    _model_metrics(result, frames, models or EvaluationModels(), record, source, seed,
                   caption or (record.metadata.get("prompt") if record else None))
    return result


def _motion_condition(record: ConditionRecord | None, source: str | None, frames: np.ndarray, seed: int,
                      notes: list[str]) -> MotionField | None:
    """The motion the video was generated under: the recorded one, else re-extracted from ``source`` at the
    generated video's frame count and size (``frames`` ``uint8 [F, H, W, 3]``); None without either."""
    recorded_motion = _recorded(record, MOTION_CONDITION)
    if record is not None and recorded_motion is not None:
        return _record_motion(recorded_motion, record, source, notes)
    if source is None:
        return None
    side = min(frames.shape[1:3])
    condition = reference_motion(source, len(frames), side, seed=seed)
    notes.append(f"motion re-extracted from {source} ({len(frames)} frames, {side} px, seed {seed})")
    return condition


def _fit_to_condition(frames: np.ndarray, condition: MotionField, resample: bool, name: str,
                      notes: list[str]) -> np.ndarray | None:
    """None when ``frames`` ``uint8 [F, H, W, 3]`` have the condition's frame count and size; else, with
    ``resample``, the frames resampled to them.

    Raises:
        ValueError: they differ and ``resample`` is false (names the video and both shapes).
    """
    target = (condition.num_frames, *condition.motion.shape[-2:])
    if (len(frames), *frames.shape[1:3]) == target:
        return None
    what = (f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} vs the condition's {target[0]} frames "
            f"of {target[2]}x{target[1]}")
    if not resample:
        raise ValueError(f"{name}: the generated video and its motion condition differ: {what}; pass --resample "
                         "(resample=True) to resample the generated video")
    notes.append(f"resampled the generated video: {what}")
    return resample_frames(frames, *target)


def _motion_metrics(result: RunResult, generated: VideoInput, frames: np.ndarray, condition: MotionField,
                    block: int) -> None:
    """The codec-motion errors (of ``generated``, a file or its frames) and the optical-flow errors (of
    ``frames`` ``uint8 [F, H, W, 3]``) against the motion condition, per ``block``-pixel cell."""
    codec = motion_error(generated, condition, block)
    flow = flow_error(frames, condition, block)
    result.metrics.update(motion_epe=codec.epe, motion_epe_dense=codec.epe_dense, flow_epe=flow.epe,
                          motion_epe_moving=codec.epe_moving, motion_epe_static=codec.epe_static,
                          motion_cosine_moving=codec.cosine_moving, flow_cosine_moving=flow.cosine_moving,
                          motion_gain_moving=codec.gain_moving, flow_gain_moving=flow.gain_moving)
    result.per_frame.update(motion_epe=codec.per_frame, motion_epe_dense=codec.per_frame_dense,
                            flow_epe=flow.per_frame)


def _recorded_first_frame(record: ConditionRecord | None, frames: np.ndarray, notes: list[str]) -> np.ndarray | None:
    """The recorded first-frame condition as ``uint8 [H, W, 3]``, area-resized to the size of ``frames``
    ``[F, H, W, 3]``; None when it was not recorded."""
    recorded_first = _recorded(record, FIRST_FRAME_CONDITION)
    if recorded_first is None:
        return None
    local = recorded_first[0, :, 0]  # [3, M, M] in [0, 1]
    side = frames.shape[1:3]
    first = cv2.resize(np.round(local.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8),
                       (side[1], side[0]), interpolation=cv2.INTER_AREA)
    notes.append(f"first frame compared with the recorded {FIRST_FRAME_CONDITION} (area-resized)")
    return first


def _model_metrics(result: RunResult, frames: np.ndarray, models: EvaluationModels, record: ConditionRecord | None,
                   source: str | None, seed: int, caption: str | None) -> None:
    """CLIP and annotator metrics, where their models (and reference conditions) are there."""
    from .annotator_metrics import depth_error, sketch_error
    from .clip_metrics import clipsim, frame_consistency

    if models.clip is not None:
        result.metrics["clip_frame_consistency"] = frame_consistency(models.clip, frames)
        if caption:
            result.metrics["clipsim"] = clipsim(models.clip, frames, caption, models.tokenizer)
    for metric in CLIP_METRICS:
        if metric not in result.metrics:
            result.skipped[metric] = ENABLE[metric]

    clip: VideoClip | None = None

    def reference(name: str | None, extract: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor | None:
        nonlocal clip
        recorded = _recorded(record, name)
        if recorded is not None:
            return recorded
        if name is None or source is None:
            return None
        if clip is None:
            from ..pipelines.inputs import default_misc_size
            from ..video.sampling import load_video_clip

            side = frames.shape[1]
            clip = load_video_clip(source, num_frames=len(frames), resolution=side, misc_size=default_misc_size(side, side),
                                   seed=seed, with_mask=False)
            result.notes.append(f"{name} re-extracted from {source} (misc-transform draws may differ from generate's)")
        return extract(clip.misc)

    if models.midas is not None:
        from ..annotators.depth import extract_depth

        depth = reference(DEPTH_CONDITION, lambda misc: extract_depth(models.midas, misc).float())
        if depth is not None:
            result.metrics["depth_si_log"] = depth_error(models.midas, frames, depth)
    if models.pidinet is not None and models.sketch_cleaner is not None:
        from ..annotators.sketch import extract_sketch

        sketch = reference(SKETCH_CONDITION,
                           lambda misc: extract_sketch(models.pidinet, models.sketch_cleaner, misc).float())
        if sketch is not None:
            result.metrics["sketch_mae"] = sketch_error(models.pidinet, models.sketch_cleaner, frames, sketch)
    for metric in ANNOTATOR_METRICS:
        if metric not in result.metrics:
            result.skipped[metric] = ENABLE[metric]


def json_number(value: float | None) -> float | None:
    """JSON-safe: ``nan`` → None, ``inf`` → the PSNR cap (100 dB; only PSNR can be infinite)."""
    from .image import PSNR_CAP_DB

    if value is None or math.isnan(value):
        return None
    return PSNR_CAP_DB if math.isinf(value) else float(value)

