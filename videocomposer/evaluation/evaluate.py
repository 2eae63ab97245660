"""One generated video against what it was given: every metric that its inputs allow, as one result.

:func:`evaluate_run` gathers the conditions (the record written by ``generate --save-conditions``
beside the MP4, else re-extracted from the source video with generate's clip sampling), checks that
the generated video matches them in frame count and size (or resamples it when asked), and runs the
model-free metrics (:mod:`.motion`, :mod:`.image`, :mod:`.tracks` with the source clip's truth
file, :mod:`.strokes` with the strokes drawn for ``generate --trajectory``) and those whose models are loaded
(:mod:`.clip_metrics`, :mod:`.annotator_metrics`). A metric whose input or model is missing is listed
in ``skipped`` with what would enable it; a metric computed but undefined for this video (``nan``: e.g. the
speed along the condition where the condition has no moving cell) has its reason in ``reasons``. FVD is a
metric of sets of videos (:mod:`.fvd`).
"""

from __future__ import annotations

import math
import os

import cv2
import numpy as np
import torch

from ..video.reader import probe_video
from ..video.trajectory import Trajectory, read_trajectory
from .frames import ImageInput, VideoInput, is_path, read_image, read_video_frames
from .image import first_frame_metrics
from .metrics import (
    DEFAULT_SEED,
    ENABLE,
    FIRST_FRAME_CONDITION,
    FIRST_FRAME_METRICS,
    MOTION_CONDITION,
    MOTION_METRICS,
    STROKE_METRICS,
    TRUTH_METRICS,
    EvaluationModels,
    RunResult,
)
from .model_metrics import model_metrics
from .motion import MOTION_BLOCK, MotionField, condition_field, flow_error, motion_error, reference_motion
from .records import ConditionRecord, find_record
from .strokes import drawn_motion, score_strokes
from .tracks import truth_metrics
from .truth import ClipTruth, TruthError, read_truth, sampled_truth_frames


def resample_frames(frames: np.ndarray, num_frames: int, height: int, width: int) -> np.ndarray:
    """``uint8 [F, H, W, 3]`` → ``[num_frames, height, width, 3]``: nearest frames in time, area resize in space."""
    indices = np.round(np.linspace(0, len(frames) - 1, num_frames)).astype(int)
    picked = frames[indices]
    if picked.shape[1:3] == (height, width):
        return picked
    return np.stack([cv2.resize(f, (width, height), interpolation=cv2.INTER_AREA) for f in picked])


def upsample_frames(frames: np.ndarray, side: int) -> np.ndarray:
    """uint8 ``[F, S, S, 3]`` → ``[F, side, side, 3]``: bicubic (PyTorch, ``align_corners=False``), rounded."""
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
    resized = torch.nn.functional.interpolate(video, size=(side, side), mode="bicubic", align_corners=False)
    return resized.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()


def _source_scale_motion(source: str, frames: np.ndarray, seed: int, notes: list[str]) -> tuple[MotionField, bool]:
    """The source's motion, at the source's own scale when it is larger than the (square) generated frames; and
    whether the frames are to be upsampled to it.

    Cells are compared at the scale the vectors were made at (one 16-px cell = one macroblock of the source):
    on a smaller grid a cell holds several source macroblocks, its condition mean mixes moving and still ones
    while the generated video's macroblock follows the object, and the gain reads about twice too high at half
    the source's size.
    """
    side = min(frames.shape[1:3])
    probe = probe_video(source)
    source_side = min(probe.width, probe.height)
    if source_side <= side or frames.shape[1] != frames.shape[2]:
        return reference_motion(source, len(frames), side, seed=seed), False
    notes.append(f"motion compared at the source's scale: the generated video upsampled {side} -> {source_side} px")
    return reference_motion(source, len(frames), source_side, seed=seed), True


def _drawn_scale_motion(
    trajectory: Trajectory, motion: torch.Tensor, scale: float, frames: np.ndarray, notes: list[str]
) -> tuple[MotionField, bool] | None:
    """The recorded ``motion`` rebuilt from the strokes it was drawn with, at the scale they were drawn at when that is
    larger than the (square) generated frames (see :func:`_source_scale_motion`), and whether to upsample to it."""
    drawn = drawn_motion(trajectory, motion, scale) if frames.shape[1] == frames.shape[2] else None
    if drawn is None or drawn.motion.shape[-1] <= frames.shape[1]:
        return None
    side = drawn.motion.shape[-1]
    notes.append(f"motion compared at the strokes' scale: the generated video upsampled {frames.shape[1]} -> {side} px")
    return drawn, True


def _condition(
    record: ConditionRecord | None,
    source: str | None,
    frames: np.ndarray,
    seed: int,
    notes: list[str],
    trajectory: Trajectory | None = None,
) -> tuple[MotionField | None, bool]:
    """The motion condition to compare with (see :func:`_source_scale_motion`), or None, and whether the frames are
    to be upsampled to it."""
    if record is not None and MOTION_CONDITION in record.conditions:
        motion = record.conditions[MOTION_CONDITION][0].transpose(0, 1).float()  # [F, 2, R, R]
        meta = record.metadata
        scale = float(meta.get("source_pixels_per_pixel", 1.0))
        source = source or meta.get("source_video")
        if source and os.path.isfile(source) and "seed" in meta:
            if torch.equal(
                reference_motion(source, motion.shape[0], motion.shape[-1], seed=int(meta["seed"])).motion, motion
            ):
                return _source_scale_motion(source, frames, int(meta["seed"]), notes)
            notes.append(f"the recorded motion differs from {source}'s: vector sites taken from non-zero pixels")
        elif trajectory is not None and (drawn := _drawn_scale_motion(trajectory, motion, scale, frames, notes)):
            return drawn
        else:
            notes.append(
                "no source video to compare at its scale (none recorded, or not there; strokes that gave the "
                "recorded motion would do too): motion vector sites taken from the record's non-zero pixels, compared "
                f"at the generated video's size on {MOTION_BLOCK}-px cells, where a cell can hold still and moving "
                "source macroblocks (the gain then reads high)"
            )
        return condition_field(motion, scale), False
    if source is None:
        return None, False
    notes.append(f"motion re-extracted from {source} ({len(frames)} frames, seed {seed})")
    return _source_scale_motion(source, frames, seed, notes)


def _motion_metrics(
    result: RunResult,
    frames: np.ndarray,
    generated: VideoInput,
    record: ConditionRecord | None,
    source: str | None,
    seed: int,
    resample: bool,
    block: int,
    trajectory: Trajectory | None = None,
) -> None:
    """Codec-vector and flow metrics against the motion condition (module docstring), or listed as skipped."""
    condition, upsample = _condition(record, source, frames, seed, result.notes, trajectory)
    if condition is None:
        result.skipped.update({m: ENABLE[m] for m in MOTION_METRICS})
        return
    side = frames.shape[1] if upsample else condition.motion.shape[-1]
    target = (condition.num_frames, side, side)
    if (len(frames), *frames.shape[1:3]) != target:
        what = (
            f"{len(frames)} frames of {frames.shape[2]}x{frames.shape[1]} vs the condition's {target[0]} frames "
            f"of {target[2]}x{target[1]}"
        )
        if not resample:
            raise ValueError(
                f"{result.generated}: the generated video and its motion condition differ: {what}; pass "
                "--resample (resample=True) to resample the generated video"
            )
        frames = generated = resample_frames(frames, *target)  # the file no longer is what is compared
        result.notes.append(f"resampled the generated video: {what}")
    if upsample:
        frames = generated = upsample_frames(frames, condition.motion.shape[-1])
    codec = motion_error(generated, condition, block)
    flow = flow_error(frames, condition, block)
    result.metrics.update(
        motion_epe=codec.epe,
        motion_epe_dense=codec.epe_dense,
        flow_epe=flow.epe,
        motion_epe_moving=codec.epe_moving,
        motion_epe_static=codec.epe_static,
        motion_cosine_moving=codec.cosine_moving,
        flow_cosine_moving=flow.cosine_moving,
        motion_gain_moving=codec.gain_moving,
        flow_gain_moving=flow.gain_moving,
    )
    result.per_frame.update(motion_epe=codec.per_frame, motion_epe_dense=codec.per_frame_dense, flow_epe=flow.per_frame)
    for prefix, error in (("motion", codec), ("flow", flow)):
        for name, why in error.reasons.items():
            metric = f"{prefix}_{name}"
            if metric in result.metrics:
                result.reasons[metric] = f"{'codec vectors' if prefix == 'motion' else 'optical flow'}: {why}"


def evaluate_run(
    generated: VideoInput,
    *,
    source: str | os.PathLike | None = None,
    image: ImageInput | None = None,
    caption: str | None = None,
    record: ConditionRecord | None = None,
    seed: int | None = None,
    resample: bool = False,
    block: int = MOTION_BLOCK,
    models: EvaluationModels | None = None,
    truth: ClipTruth | str | os.PathLike | None = None,
    trajectory: Trajectory | str | os.PathLike | None = None,
) -> RunResult:
    """Evaluate one generated video (file or frames).

    Args:
        generated: the generated video.
        source: the source video the motion condition came from (``--input_video``; default with ``truth``: its clip).
        image: the first-frame image (``--image_path``).
        caption: the prompt (CLIPSIM, caption colour; default: the record's).
        record: the recorded conditions (default: the record beside a generated file, if any).
        seed: generate's seed, for re-extraction (default: the record's, else :data:`DEFAULT_SEED`).
        resample: resample the generated video to the conditions' frame count and size instead of failing.
        block: motion cell side (generated pixels).
        models: loaded models for the CLIP and annotator metrics (None: those are skipped).
        truth: the source clip's truth file (:mod:`.truth`) or its content: adds the :mod:`.tracks` metrics.
        trajectory: the strokes drawn for ``generate --trajectory`` (a file or a :class:`Trajectory`): adds the
            :mod:`.strokes` metrics.
    """
    name = os.fspath(generated) if is_path(generated) else "<frames>"
    if record is None and is_path(generated):
        record = find_record(generated)
    result = RunResult(name)
    frames = read_video_frames(generated)
    if record is not None:
        result.notes.append(f"conditions: {record.path}")
    if truth is not None and not isinstance(truth, ClipTruth):
        truth = read_truth(truth)
    source = os.fspath(source) if source is not None else (truth.video if truth is not None else None)
    source = source or _recorded_source(record, result.notes)
    seed = seed if seed is not None else int((record.metadata if record else {}).get("seed", DEFAULT_SEED))
    caption = caption or (record.metadata.get("prompt") if record else None)
    if trajectory is not None and not isinstance(trajectory, Trajectory):
        trajectory = read_trajectory(trajectory)
    _motion_metrics(result, frames, generated, record, source, seed, resample, block, trajectory)
    first = _first_frame(image, record, frames, result.notes)
    if first is not None:
        result.metrics.update(first_frame_metrics(frames, first))
    else:
        result.skipped.update({m: ENABLE[m] for m in FIRST_FRAME_METRICS})
    if truth is not None:
        result.metrics.update(_truth_metrics(frames, truth, source, seed, first, caption, result.notes))
    result.skipped.update({m: ENABLE[m] for m in TRUTH_METRICS if m not in result.metrics})
    _stroke_metrics(result, frames, trajectory, first)
    model_metrics(result, frames, models or EvaluationModels(), record, source, seed, caption)
    result.explain_undefined()
    return result


def _recorded_source(record: ConditionRecord | None, notes: list[str]) -> str | None:
    """The source video a record names, when the file is still there."""
    recorded = (record.metadata if record is not None else {}).get("source_video")
    if not recorded:
        return None
    if os.path.isfile(recorded):
        return recorded
    notes.append(f"the recorded source video {recorded} is not there (pass --input_video SOURCE)")
    return None


def _stroke_metrics(
    result: RunResult, frames: np.ndarray, trajectory: Trajectory | None, first: ImageInput | None
) -> None:
    """The :mod:`.strokes` scores per stroke, their means over the strokes as the run's metrics, or skipped."""
    if trajectory is None:
        result.skipped.update({m: ENABLE[m] for m in STROKE_METRICS})
        return
    scores = score_strokes(frames, trajectory, read_image(first) if first is not None else None)
    result.strokes = scores
    for metric in STROKE_METRICS:
        score = metric.removeprefix("stroke_")
        values = [s.scores()[score] for s in scores if not math.isnan(s.scores()[score])]
        result.metrics[metric] = sum(values) / len(values) if values else math.nan
        if not values:
            result.reasons[metric] = "; ".join(f"stroke {s.index}: {s.reasons[score]}" for s in scores)


def _first_frame(
    image: ImageInput | None, record: ConditionRecord | None, frames: np.ndarray, notes: list[str]
) -> ImageInput | None:
    """The first-frame image: the given one, else the record's ``local_image`` (area-resized to the frames)."""
    if image is not None or record is None or FIRST_FRAME_CONDITION not in record.conditions:
        return image
    local = record.conditions[FIRST_FRAME_CONDITION][0, :, 0]  # [3, M, M] in [0, 1]
    side = frames.shape[1:3]
    notes.append(f"first frame compared with the recorded {FIRST_FRAME_CONDITION} (area-resized)")
    return cv2.resize(
        np.round(local.permute(1, 2, 0).clamp(0, 1).numpy() * 255).astype(np.uint8),
        (side[1], side[0]),
        interpolation=cv2.INTER_AREA,
    )


def _truth_metrics(
    frames: np.ndarray,
    truth: ClipTruth,
    source: str | None,
    seed: int,
    first: ImageInput | None,
    caption: str | None,
    notes: list[str],
) -> dict[str, float]:
    """The :mod:`.tracks` metrics: the generated frames matched to the truth's through generate's clip sampling."""
    from ..video.sampling import load_video_clip

    if source is None or not os.path.isfile(source):
        raise TruthError(
            f"the truth's clip {truth.video} is not there: pass --input_video SOURCE (the clip the truth "
            "file describes)"
        )
    clip = load_video_clip(source, num_frames=len(frames), resolution=16, misc_size=16, seed=seed, with_mask=False)
    indices = sampled_truth_frames(clip.frame_indices.tolist(), clip.fps, truth.fps)
    notes.append(f"truth frames {indices.tolist()} (clip sampled at {clip.fps:g} fps, seed {seed})")
    reference = read_image(first) if first is not None else None
    return truth_metrics(frames, truth, indices, reference=reference, caption=caption)


def json_number(value: float | None) -> float | None:
    """JSON-safe: ``nan`` → None, ``inf`` → the PSNR cap (100 dB; only PSNR can be infinite)."""
    from .image import PSNR_CAP_DB

    if value is None or math.isnan(value):
        return None
    return PSNR_CAP_DB if math.isinf(value) else float(value)
