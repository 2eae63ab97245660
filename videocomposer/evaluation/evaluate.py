"""One generated video against what it was given: every metric that its inputs allow, as one result.

:func:`evaluate_run` gathers the conditions (the record written by ``generate --save-conditions``
beside the MP4, else re-extracted from the source video with generate's clip sampling), checks that
the generated video matches them in frame count and size (or resamples it when asked), and runs the
model-free metrics (:mod:`.motion`, :mod:`.image`, and :mod:`.tracks` with the source clip's truth
file) and those whose models are loaded
(:mod:`.clip_metrics`, :mod:`.annotator_metrics`). A metric whose input or model is missing is listed
in ``skipped`` with what would enable it. FVD is a metric of sets of videos (:mod:`.fvd`).
"""

from __future__ import annotations

import math
import os
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
from ..video.reader import probe_video
from .frames import ImageInput, VideoInput, is_path, read_image, read_video_frames
from .image import first_frame_metrics
from .motion import MOTION_BLOCK, MotionField, condition_field, flow_error, motion_error, reference_motion
from .records import ConditionRecord, find_record
from .tracks import truth_metrics
from .truth import ClipTruth, TruthError, read_truth, sampled_truth_frames

#: The recorded conditions each metric family compares with (from the condition registry's ``evaluated_by``).
MOTION_CONDITION = evaluated_condition("motion_error")
FIRST_FRAME_CONDITION = evaluated_condition("first_frame_metrics")
DEPTH_CONDITION = evaluated_condition("depth_error")
SKETCH_CONDITION = evaluated_condition("sketch_error")

#: generate's default seed (the reference's 8888): the clip start drawn when re-extracting conditions.
DEFAULT_SEED = 8888
#: Metrics per input, in report order, and what enables each when it is missing.
MOTION_METRICS = (
    "motion_epe",
    "motion_epe_dense",
    "flow_epe",
    "motion_epe_moving",
    "motion_epe_static",
    "motion_cosine_moving",
    "flow_cosine_moving",
    "motion_gain_moving",
    "flow_gain_moving",
)
FIRST_FRAME_METRICS = ("first_frame_psnr", "first_frame_ssim")
TRUTH_METRICS = ("track_error", "track_found", "shape_iou", "caption_colour_match")
CLIP_METRICS = ("clip_frame_consistency", "clipsim")
ANNOTATOR_METRICS = ("depth_si_log", "sketch_mae")
_SOURCE = "--input_video SOURCE (or a <run>_conditions.safetensors from generate --save-conditions)"
ENABLE = {
    **{m: _SOURCE for m in MOTION_METRICS},
    **{m: f"--image_path FIRST_FRAME (or a recorded {FIRST_FRAME_CONDITION})" for m in FIRST_FRAME_METRICS},
    **{m: "--truth CLIP.truth.json (the source clip's ground truth)" for m in TRUTH_METRICS},
    "caption_colour_match": "--truth CLIP.truth.json and --caption naming a colour (or a recorded prompt)",
    "clip_frame_consistency": "--clip-weights open_clip_pytorch_model.bin (or --weights-dir)",
    "clipsim": "--clip-weights open_clip_pytorch_model.bin (or --weights-dir) and --caption (or a CSV caption)",
    "depth_si_log": "--midas-weights midas_v3_dpt_large.pth (or --weights-dir) and " + _SOURCE,
    "sketch_mae": "--pidinet-weights table5_pidinet.pth and --sketch-cleaner-weights sketch_simplification_gan.pth "
    "(or --weights-dir) and " + _SOURCE,
}
#: Every per-video metric, in report order.
RUN_METRICS = MOTION_METRICS + FIRST_FRAME_METRICS + TRUTH_METRICS + CLIP_METRICS + ANNOTATOR_METRICS


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


def _condition(
    record: ConditionRecord | None, source: str | None, frames: np.ndarray, seed: int, notes: list[str]
) -> tuple[MotionField | None, bool]:
    """The motion condition to compare with (see :func:`_source_scale_motion`), or None, and whether the frames are
    to be upsampled to it."""
    if record is not None and MOTION_CONDITION in record.conditions:
        motion = record.conditions[MOTION_CONDITION][0].transpose(0, 1).float()  # [F, 2, R, R]
        meta = record.metadata
        source = source or meta.get("source_video")
        if source and os.path.isfile(source) and "seed" in meta:
            if torch.equal(
                reference_motion(source, motion.shape[0], motion.shape[-1], seed=int(meta["seed"])).motion, motion
            ):
                return _source_scale_motion(source, frames, int(meta["seed"]), notes)
            notes.append(f"the recorded motion differs from {source}'s: vector sites taken from non-zero pixels")
        else:
            notes.append(
                "source video not available: motion vector sites taken from the record's non-zero pixels, "
                "compared on 16-px cells of the generated video (pass --input_video to compare at the source's scale)"
            )
        return condition_field(motion, float(meta.get("source_pixels_per_pixel", 1.0))), False
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
) -> None:
    """Codec-vector and flow metrics against the motion condition (module docstring), or listed as skipped."""
    condition, upsample = _condition(record, source, frames, seed, result.notes)
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
    seed = seed if seed is not None else int((record.metadata if record else {}).get("seed", DEFAULT_SEED))
    caption = caption or (record.metadata.get("prompt") if record else None)
    _motion_metrics(result, frames, generated, record, source, seed, resample, block)
    first = _first_frame(image, record, frames, result.notes)
    if first is not None:
        result.metrics.update(first_frame_metrics(frames, first))
    else:
        result.skipped.update({m: ENABLE[m] for m in FIRST_FRAME_METRICS})
    if truth is not None:
        result.metrics.update(_truth_metrics(frames, truth, source, seed, first, caption, result.notes))
    result.skipped.update({m: ENABLE[m] for m in TRUTH_METRICS if m not in result.metrics})
    _model_metrics(result, frames, models or EvaluationModels(), record, source, seed, caption)
    return result


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


def _model_metrics(
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


def json_number(value: float | None) -> float | None:
    """JSON-safe: ``nan`` → None, ``inf`` → the PSNR cap (100 dB; only PSNR can be infinite)."""
    from .image import PSNR_CAP_DB

    if value is None or math.isnan(value):
        return None
    return PSNR_CAP_DB if math.isinf(value) else float(value)
