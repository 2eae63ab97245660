"""Motion adherence: does a generated video move as its motion condition says?

Two estimates of the generated video's motion, compared with the field the model was given:

* **codec vectors** (``motion_epe``, ``motion_epe_dense``): the generated video is re-encoded and its
  motion vectors extracted with exactly the condition's extractor and parameters
  (:func:`~videocomposer.video.reader.reencode_mpeg4` at its own frame rate, so frames stay 1:1;
  MPEG-4 Part 2, GOP 12, 200 kb/s, :data:`~videocomposer.video.reader.REFERENCE_ENCODER_THREADS`
  slices; :func:`~videocomposer.video.motion.dense_motion_field` and
  :func:`~videocomposer.video.motion.motion_condition`);
* **optical flow** (``flow_epe``): OpenCV Farneback between consecutive generated frames.

Both fields are sparse (one pixel per macroblock, spread by the condition's bilinear resize), so they
are compared per ``block × block`` cell of the generated video (16 px, the macroblock): a cell's
vector is the weighted mean of the field in it, the weights being the same resize applied to an
indicator of where vectors lie (this undoes the resize's blending of vectors with empty pixels).

* ``motion_epe``: mean end-point error over the cells where the condition has vectors;
* ``motion_epe_dense``: over every cell, a cell without vectors counting as no motion;
* per frame as well; frames where either side is intra-coded (no vectors: frame 0, every 12th) are
  skipped (``None``);
* ``motion_epe`` split by where the condition moves: ``moving`` cells (the condition's cell vector at least
  :data:`MOVING_SPEED` long) and ``static`` ones; on the moving cells also ``cosine``, the mean cosine between
  the generated and the condition vectors (1: same direction; 0 for a generated cell that does not move), and
  ``gain``, the generated vector's component along the condition's as a fraction of its length (1: the
  condition's speed; 0: no motion along it; 0.5: half the speed; negative: backwards). A video can score a
  large EPE from change on a still background while following the motion's direction, or follow the
  direction at a fraction of the speed.

Units: pixels of the condition (source-video pixels, as the model was given them); the generated
motion is multiplied by ``source_pixels_per_pixel`` of the condition (source short side / R).

Scale: compare at the source's scale (``source_pixels_per_pixel`` 1: the condition from
:func:`reference_motion` at the source's short side, the generated video upsampled to it), as
:func:`~videocomposer.evaluation.evaluate.evaluate_run` does. On a grid smaller than the source a 16-px
cell holds several source macroblocks: its condition mean mixes the moving ones with the still ones
(an object smaller than the cell moves at a fraction of its speed there), while the generated video's
macroblock follows the object, so ``gain`` reads too high (about 3.4 for a 128-px source at 64 px) and
``epe`` mixes the two.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..video.motion import dense_motion_field, motion_condition
from ..video.reader import REFERENCE_ENCODER_THREADS, VideoReadError, decode_motion_stream, probe_video, reencode_mpeg4
from ..video.sampling import load_video_clip
from ..video.writer import to_uint8_frames
from .frames import VideoInput, is_path, read_video_frames

#: Cell side (generated pixels) over which vectors are compared: the MPEG-4 macroblock.
MOTION_BLOCK = 16
#: Condition speed (source pixels per frame) from which a cell counts as moving in the moving / static split.
MOVING_SPEED = 0.5
#: Frame rate at which frames given as arrays are re-encoded (any rate keeps frames 1:1; 8 = generate's default).
ARRAY_FPS = 8
#: Farneback parameters (OpenCV's documented example): pyr_scale, levels, winsize, iterations, poly_n, poly_sigma, flags.
FARNEBACK_PARAMS = (0.5, 3, 15, 3, 5, 1.2, 0)


@dataclass
class MotionField:
    """A motion field with where its vectors lie.

    Attributes:
        motion: ``[F, 2, H, W]`` float32 (dx, dy) in source pixels of the video it came from.
        weight: ``[F, 1, H, W]`` float32 ≥ 0: the same resize applied to an indicator of vector sites
            (1 at each vector pixel when there is no resize); all zero on intra frames.
        source_pixels_per_pixel: source-video pixels per pixel of this field (1 without resize).
        frame_types: picture types of the frames (``"IPPP..."``), "" when unknown.
    """

    motion: torch.Tensor
    weight: torch.Tensor
    source_pixels_per_pixel: float = 1.0
    frame_types: str = ""

    @property
    def num_frames(self) -> int:
        return int(self.motion.shape[0])


@dataclass
class MotionError:
    """End-point errors (condition pixels) of a generated video's motion against its condition.

    ``epe``: on cells where the condition has vectors; ``epe_dense``: on every cell. ``per_frame`` /
    ``per_frame_dense``: one value per frame, ``None`` where the frame was skipped (intra-coded).
    ``epe_moving`` / ``epe_static``: ``epe`` over the condition's moving / static cells (:data:`MOVING_SPEED`);
    ``cosine_moving``: mean cosine of the generated and the condition vectors over the moving cells;
    ``gain_moving``: mean over the moving cells of ``<generated, condition> / |condition|²``, the speed along the
    condition as a fraction of the condition's. ``nan`` overall (or for a split without cells) when no frame could be compared;
    ``reasons`` then says why, by field name (``{"gain_moving": "no cell of the condition moves ..."}``).
    """

    epe: float
    epe_dense: float
    per_frame: list[float | None] = field(default_factory=list)
    per_frame_dense: list[float | None] = field(default_factory=list)
    epe_moving: float = math.nan
    epe_static: float = math.nan
    cosine_moving: float = math.nan
    gain_moving: float = math.nan
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def frames_compared(self) -> int:
        return sum(v is not None for v in self.per_frame)


def motion_field_from_vectors(
    vectors: Sequence[np.ndarray],
    height: int,
    width: int,
    resolution: int | None = None,
    *,
    align_with_frames: bool = False,
    frame_types: str = "",
) -> MotionField:
    """Per-frame raw vectors (``int32 [N, 10]``, see :func:`~videocomposer.video.reader.decode_motion_stream`)
    of ``height × width`` frames → :class:`MotionField` through the condition's own
    :func:`dense_motion_field` + :func:`motion_condition` (``resolution`` default: the short side, no resize)."""
    resolution = resolution or min(height, width)
    fields = [dense_motion_field(v, height, width) for v in vectors]
    sites = []
    for v in vectors:
        indicator = np.zeros((height, width, 2), dtype=np.float64)
        if len(v):
            indicator[np.clip(v[:, 6], 0, height - 1), np.clip(v[:, 5], 0, width - 1)] = 1.0
        sites.append(indicator)
    motion = motion_condition(fields, resolution, align_with_frames=align_with_frames)
    weight = motion_condition(sites, resolution, align_with_frames=align_with_frames)[:, :1]
    return MotionField(motion, weight, min(height, width) / resolution, frame_types)


def _write_lossless(frames: np.ndarray, path: Path, fps: int) -> None:
    """Frames → FFV1 (lossless RGB) file, the input of the re-encode for frames given as arrays."""
    with av.open(str(path), mode="w", format="matroska") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "bgr0"
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        container.mux(stream.encode(None))


def extract_motion(video: VideoInput, *, threads: int = REFERENCE_ENCODER_THREADS) -> MotionField:
    """The motion vectors of a (generated) video, extracted as the motion condition is, frames 1:1.

    Args:
        video: a file (re-encoded at its own frame rate, rounded) or frames (written losslessly at
            :data:`ARRAY_FPS`, then re-encoded).
        threads: encoder slices; keep the condition's (:data:`REFERENCE_ENCODER_THREADS`).
    Returns:
        :class:`MotionField` at the video's own size (square: ``[F, 2, S, S]``, S the short side,
        centre-cropped otherwise), in the video's pixels.
    Raises:
        VideoReadError: the file is unreadable, or its frame rate is not constant (frames not 1:1).
    """
    if is_path(video):
        name = os.fspath(video)
        fps = max(1, round(probe_video(video).fps))
        frames = read_video_frames(video)
        stream = decode_motion_stream(reencode_mpeg4(video, fps, threads=threads), (), name=name)
    else:
        name = "<frames>"
        frames = to_uint8_frames(video)
        with tempfile.TemporaryDirectory(prefix="vc-eval-") as folder:
            lossless = Path(folder) / "frames.mkv"
            _write_lossless(frames, lossless, ARRAY_FPS)
            stream = decode_motion_stream(reencode_mpeg4(lossless, ARRAY_FPS, threads=threads), (), name=name)
    if stream.num_frames != len(frames):
        raise VideoReadError(
            f"re-encoding '{name}' at its frame rate gave {stream.num_frames} frames instead of "
            f"{len(frames)}; the frame rate is not constant"
        )
    height, width = frames.shape[1:3]
    return motion_field_from_vectors(stream.motion_vectors, height, width, frame_types=stream.frame_types)


def reference_motion(
    source: str | os.PathLike,
    num_frames: int,
    resolution: int,
    *,
    seed: int | None = None,
    feature_framerate: int = 4,
    align_with_frames: bool = False,
    threads: int = REFERENCE_ENCODER_THREADS,
) -> MotionField:
    """The motion condition ``generate`` derives from ``source`` (same clip sampling: ``num_frames``,
    ``resolution``, ``seed``), with the weights of its vector sites.

    ``motion`` is :attr:`VideoClip.motion <videocomposer.video.clip.VideoClip>` of
    :func:`~videocomposer.video.sampling.load_video_clip` itself; the sites are read from the same stream.
    """
    clip = load_video_clip(
        source,
        num_frames=num_frames,
        resolution=resolution,
        feature_framerate=feature_framerate,
        seed=seed,
        with_mask=False,
        align_motion_with_frames=align_with_frames,
        encoder_threads=threads,
    )
    indices = clip.frame_indices.tolist()
    stream = decode_motion_stream(
        reencode_mpeg4(source, int(clip.fps), threads=threads), indices[:1], name=os.fspath(source)
    )
    sites = motion_field_from_vectors(
        [stream.motion_vectors[i] for i in indices],
        *stream.frames[indices[0]].shape[:2],
        resolution,
        align_with_frames=align_with_frames,
        frame_types="".join(stream.frame_types[i] for i in indices),
    )
    return MotionField(clip.motion, sites.weight, sites.source_pixels_per_pixel, sites.frame_types)


def condition_field(motion: torch.Tensor, source_pixels_per_pixel: float = 1.0) -> MotionField:
    """A motion condition tensor alone (``[F, 2, H, W]``, ``[B, 2, F, H, W]`` / ``[2, F, H, W]`` take
    sample 0) → :class:`MotionField`, weights = where it is non-zero (exact without resize; with a
    resize, prefer :func:`reference_motion`, which knows the vector sites)."""
    if motion.ndim == 5:
        motion = motion[0]
    if motion.ndim == 4 and motion.shape[0] == 2 and motion.shape[1] != 2:
        motion = motion.transpose(0, 1)
    if motion.ndim != 4 or motion.shape[1] != 2:
        raise ValueError(f"a motion condition must be [F, 2, H, W] or [B, 2, F, H, W], got {list(motion.shape)}")
    motion = motion.float()
    weight = (motion.abs().sum(dim=1, keepdim=True) > 0).float()
    return MotionField(motion, weight, source_pixels_per_pixel)


def cell_means(
    motion: torch.Tensor, weight: torch.Tensor, block: int = MOTION_BLOCK
) -> tuple[torch.Tensor, torch.Tensor]:
    """Weighted mean vector per ``block × block`` cell: ``[F, 2, H, W]``, ``[F, 1, H, W]`` →
    (``[F, 2, h, w]`` means, zero where empty; ``[F, h, w]`` bool: the cell has vectors)."""
    sums = F.avg_pool2d(motion.double(), block, ceil_mode=True)  # same divisor for both: the ratio is the mean
    weights = F.avg_pool2d(weight.double(), block, ceil_mode=True)
    present = weights[:, 0] > 1e-9
    means = torch.where(present[:, None], sums / weights.clamp_min(1e-12), torch.zeros_like(sums))
    return means, present


def _check_pair(generated: int | tuple, condition: int | tuple, what: str) -> None:
    if generated != condition:
        raise ValueError(
            f"the generated video and the condition differ in {what}: {generated} vs {condition}; "
            "pass resample=True (CLI: --resample) to resample the generated video to the condition"
        )


def _errors(
    generated: torch.Tensor,
    gen_present: torch.Tensor,
    condition: torch.Tensor,
    cond_present: torch.Tensor,
    usable: Sequence[bool],
) -> MotionError:
    """EPE per frame (on condition cells, and dense) from cell means ``[F, 2, h, w]``, and its moving / static split."""
    epe = (generated - condition).norm(dim=1)  # [F, h, w]
    moving = condition.norm(dim=1) >= MOVING_SPEED
    cosine = F.cosine_similarity(generated, condition, dim=1)  # 0 where either vector is zero
    gain = (generated * condition).sum(dim=1) / condition.pow(2).sum(dim=1).clamp_min(
        MOVING_SPEED**2
    )  # read on moving cells
    per_frame, per_frame_dense, sparse_values, dense_values = [], [], [], []
    split: dict[str, list[torch.Tensor]] = {"moving": [], "static": [], "cosine": [], "gain": []}
    for t, ok in enumerate(usable):
        mask = cond_present[t]
        if not ok or not bool(mask.any()):
            per_frame.append(None)
            per_frame_dense.append(None)
            continue
        sparse_values.append(epe[t][mask])
        dense_values.append(epe[t].flatten())
        per_frame.append(float(sparse_values[-1].mean()))
        per_frame_dense.append(float(dense_values[-1].mean()))
        split["moving"].append(epe[t][mask & moving[t]])
        split["static"].append(epe[t][mask & ~moving[t]])
        split["cosine"].append(cosine[t][mask & moving[t]])
        split["gain"].append(gain[t][mask & moving[t]])
    if not sparse_values:
        why = _no_frame_reason(usable, cond_present)
        return MotionError(math.nan, math.nan, per_frame, per_frame_dense, reasons=dict.fromkeys(SPLIT_FIELDS, why))
    means = {k: float(torch.cat(v).mean()) if sum(map(len, v)) else math.nan for k, v in split.items()}
    return MotionError(
        float(torch.cat(sparse_values).mean()),
        float(torch.cat(dense_values).mean()),
        per_frame,
        per_frame_dense,
        means["moving"],
        means["static"],
        means["cosine"],
        means["gain"],
        _split_reasons(means),
    )


#: The fields of a :class:`MotionError` that can be ``nan``, and the split each of the last four is read on.
SPLIT_FIELDS = ("epe", "epe_dense", "epe_moving", "epe_static", "cosine_moving", "gain_moving")
_SPLIT_OF = {"moving": "epe_moving", "static": "epe_static", "cosine": "cosine_moving", "gain": "gain_moving"}


def _no_frame_reason(usable: Sequence[bool], cond_present: torch.Tensor) -> str:
    """Why no frame could be compared: the generated side has no vectors, or the condition has none where it has."""
    if not any(usable):
        return f"the generated video has no motion vectors in any of its {len(usable)} frames (each one intra-coded)"
    return (
        f"the motion condition has no vectors in any compared frame ({sum(usable)} of {len(usable)}; frame 0 and "
        "intra-coded frames have none): a still source, or a source whose vectors the resize to this size lost"
    )


def _split_reasons(means: dict[str, float]) -> dict[str, str]:
    """Why a split of the cells is empty (its mean ``nan``), by :class:`MotionError` field."""
    moving = (
        f"no cell of the condition moves (none has a cell vector of {MOVING_SPEED} source px per frame or more): "
        "the direction and the speed along it are undefined"
    )
    static = "every cell where the condition has vectors moves: there is no still cell to measure"
    return {
        _SPLIT_OF[split]: static if split == "static" else moving for split, value in means.items() if math.isnan(value)
    }


def motion_error(
    generated: VideoInput | MotionField, condition: MotionField | torch.Tensor, block: int = MOTION_BLOCK
) -> MotionError:
    """End-point error of the generated video's codec motion vectors against the condition.

    Args:
        generated: the generated video (file or frames; extracted with :func:`extract_motion`) or its field.
        condition: the field the model was given (:func:`reference_motion`, :func:`condition_field`,
            or a tensor ``[F, 2, R, R]``); must have the generated video's frame count and size.
        block: cell side in generated pixels.
    """
    gen = generated if isinstance(generated, MotionField) else extract_motion(generated)
    cond = condition if isinstance(condition, MotionField) else condition_field(condition)
    _check_pair(gen.num_frames, cond.num_frames, "frame count")
    _check_pair(tuple(gen.motion.shape[-2:]), tuple(cond.motion.shape[-2:]), "size (H, W)")
    scale = cond.source_pixels_per_pixel / gen.source_pixels_per_pixel
    gen_means, gen_present = cell_means(gen.motion * scale, gen.weight, block)
    cond_means, cond_present = cell_means(cond.motion, cond.weight, block)
    usable = [bool(gen_present[t].any()) for t in range(gen.num_frames)]  # intra-coded generated frames: no vectors
    return _errors(gen_means, gen_present, cond_means, cond_present, usable)


def farneback_motion(video: VideoInput) -> torch.Tensor:
    """Dense optical flow of consecutive frames, laid out as the condition: frame ``t`` holds the
    displacement from ``t − 1`` to ``t`` at frame-``t`` positions (the negated backward flow, OpenCV
    Farneback with :data:`FARNEBACK_PARAMS` on grey frames); frame 0 is zero. → ``[F, 2, H, W]`` float32 px."""
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in read_video_frames(video)]
    flows = [np.zeros(grey[0].shape + (2,), dtype=np.float32)]
    for previous, current in zip(grey[:-1], grey[1:]):
        flows.append(-cv2.calcOpticalFlowFarneback(current, previous, None, *FARNEBACK_PARAMS))
    return torch.from_numpy(np.stack(flows)).permute(0, 3, 1, 2).contiguous()


def flow_error(generated: VideoInput, condition: MotionField | torch.Tensor, block: int = MOTION_BLOCK) -> MotionError:
    """End-point error of the generated video's Farneback flow against the condition (see
    :func:`farneback_motion`; same cells, frames and units as :func:`motion_error`; flow exists on
    every cell, so frames are skipped only where the condition has no vectors)."""
    cond = condition if isinstance(condition, MotionField) else condition_field(condition)
    flow = farneback_motion(generated)
    height, width = flow.shape[-2:]
    side = min(height, width)
    top, left = (height - side) // 2, (width - side) // 2  # centre crop to the square field, as extract_motion
    flow = flow[..., top : top + side, left : left + side]
    _check_pair(int(flow.shape[0]), cond.num_frames, "frame count")
    _check_pair(tuple(flow.shape[-2:]), tuple(cond.motion.shape[-2:]), "size (H, W)")
    flow_means, flow_present = cell_means(flow * cond.source_pixels_per_pixel, torch.ones_like(flow[:, :1]), block)
    cond_means, cond_present = cell_means(cond.motion, cond.weight, block)
    usable = [t > 0 for t in range(cond.num_frames)]
    return _errors(flow_means, flow_present, cond_means, cond_present, usable)
