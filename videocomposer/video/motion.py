"""The motion condition: dense fields from raw motion vectors, the reference's resize and crop, a preview.

The reference (DS:150-153, IS:401-403) turns every frame's vectors into a sparse float64 field in
source pixels, resizes the ``[F, 2, H, W]`` stack with torchvision ``Resize(R)`` on a tensor
(bilinear, ``align_corners=False``, **no** antialias in its torchvision) and ``CenterCrop(R)``,
then casts to float32. Magnitudes stay in source-resolution pixels.

Motion modes (:data:`MOTION_MODES`, recorded per model in :class:`MotionSettings`):

* ``"reference"``: the vectors of the source at its own size, as above. The field holds one vector per
  16×16 macroblock, written at the block's centre pixel, so a source much larger than ``R`` loses most of
  them in the resize (bilinear without antialias reads two pixels per output pixel and skips the rest:
  at ``R = 64`` every vector of a 256-px source falls between the pixels read; at ``R = 256`` a 1080-px
  source keeps about a quarter), and the magnitudes that survive are in that source's pixels.
  :func:`surviving_block_fraction` gives the share kept.
* ``"rescaled"``: the centre square of the source is area-resized to ``source_size × source_size`` (the
  short side of the videos the model's motion condition was trained on) *before* the MPEG-4 re-encode
  that produces the vectors; the field is then made and resized exactly as in the reference mode. The
  model gets, for a source of any size or shape, what its training clips gave it: one vector per
  macroblock of a ``source_size`` frame, at the same sites, with magnitudes in that frame's pixels.
  On one moving disc rendered at 128 to 1080 px (square, landscape and portrait) the condition agrees with
  the 128-px clip's (correlation ≥ 0.96, mean vector length within 1 %) at ``R`` = 64 and 256; the
  reference mode gives none at 256 px and uncorrelated, mostly lost ones above (``benchmarks/motion_sizes.py``).
  The other way to make the field independent of the source size (fill every block with its vector,
  area-resize the field to the training size, scale the magnitudes to its pixels, keep one vector per
  block at the training block centres) was measured and not taken: a large source's macroblocks are
  small against the object, so the codec leaves many of them inside it with zero or stray vectors, and
  the block averages of the training scale then fall to 62 % (256 px) down to 42 % (1080 px) of the
  128-px clip's mean length, with correlations of 0.80 down to 0.66. Bringing the source to the training
  scale first gives the codec the same picture as in training, so the vectors come out as they did there.

Each model records its settings (``model_index.json``: ``pipeline_config.motion_condition``, see
:class:`MotionSettings`). The built-in toy model uses ``rescaled`` with its 128-px training clips: on 12
held-out clips (``benchmarks/motion_sizes.py``, its sampler at 20 steps) the generated object's path error
with the motion condition is 0.12-0.13 of the error without it for 128-, 256- and 720-px sources, where
the reference mode gives 0.12, 0.96 (no vector left) and 0.63; a drawn 100-px stroke moves the object
0.74 of its length, against 0.55 in the reference mode and 0.23 with no stroke. The
official weights (a folder of the original files, or a converted folder without the entry) keep
``reference``: that is how they were trained and are reproduced, on WebVid sources (596 × 336) whose
macroblocks all survive the resize to 256 px; ``rescaled`` with ``source_size`` 336 is their
resolution-independent counterpart, not measured against the original weights.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: The motion-condition modes (module docstring).
MOTION_MODES = ("reference", "rescaled")
#: Short side of the official model's training sources: WebVid-10M clips are 596 × 336.
OFFICIAL_SOURCE_SIZE = 336
#: The MPEG-4 macroblock side: one motion vector per block.
MACROBLOCK = 16


@dataclass(frozen=True)
class MotionSettings:
    """How a model's motion condition is made: ``mode`` (one of :data:`MOTION_MODES`) and ``source_size``, the
    short side in pixels of the videos its motion condition was trained on (a multiple of 16). The default is
    the official model's: the reference's behaviour, WebVid-sized sources."""

    mode: str = "reference"
    source_size: int = OFFICIAL_SOURCE_SIZE

    def __post_init__(self) -> None:
        if self.mode not in MOTION_MODES:
            raise ValueError(f"mode must be one of {', '.join(MOTION_MODES)}, got {self.mode!r}")
        size = self.source_size
        if isinstance(size, bool) or not isinstance(size, int) or size < MACROBLOCK or size % MACROBLOCK:
            raise ValueError(
                f"source_size must be a positive multiple of {MACROBLOCK} (pixels, whole macroblocks), got {size!r}"
            )

    @classmethod
    def from_dict(cls, data: Any, where: str) -> MotionSettings:
        """Read ``{"mode": ..., "source_size": ...}``; a ``ValueError`` naming ``where`` and the bad field."""
        if not isinstance(data, dict):
            raise ValueError(f'{where} must be an object {{"mode": ..., "source_size": ...}}, got {data!r}')
        unknown = sorted(set(data) - {"mode", "source_size"})
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {unknown}; expected mode, source_size")
        try:
            return cls(**data)
        except ValueError as error:
            raise ValueError(f"{where}.{error}") from None

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "source_size": self.source_size}

    def with_mode(self, mode: str | None) -> MotionSettings:
        """These settings with another ``mode`` (None keeps this one); a ``ValueError`` naming ``motion_mode``."""
        if mode is None:
            return self
        if mode not in MOTION_MODES:
            raise ValueError(f"motion_mode must be one of {', '.join(MOTION_MODES)}, got {mode!r}")
        return replace(self, mode=mode)

    @property
    def encode_square(self) -> int | None:
        """The side the source is brought to before the re-encode (``rescaled``), or None (its own size)."""
        return self.source_size if self.mode == "rescaled" else None

    def vector_frame_shape(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` of the frames the vectors of a ``height × width`` source are taken from (their
        magnitudes are in these frames' pixels): the source's own, or the ``rescaled`` mode's square."""
        square = self.encode_square
        return (height, width) if square is None else (square, square)


def surviving_block_fraction(source_side: int, resolution: int) -> float:
    """The share of macroblock centres (pixels ``8 + 16k`` of an axis of ``source_side`` pixels) that the
    reference's resize of that axis to ``resolution`` reads with a non-zero weight (bilinear, no antialias).

    Per axis; the share of a frame's vectors is about its square. 1.0 whenever ``source_side ≤ 2·resolution``
    (e.g. 128 → 64); 0.0 for 256 → 64.
    """
    samples = np.clip((np.arange(resolution) + 0.5) * source_side / resolution - 0.5, 0, None)
    centres = np.arange(MACROBLOCK // 2, source_side, MACROBLOCK)
    if not len(centres):
        return 1.0
    nearest = np.abs(samples[None, :] - centres[:, None]).min(axis=1)
    return float((nearest < 1).mean())


def warn_if_motion_is_lost(source_side: int, resolution: int, mode: str) -> None:
    """One warning when the resize to ``resolution`` keeps under half of the vectors of a source whose short side
    (as the motion condition is made from it) is ``source_side`` pixels, with the fix."""
    kept = surviving_block_fraction(source_side, resolution) ** 2
    if kept >= 0.5:
        return
    fix = (
        "use the 'rescaled' motion mode (motion_mode='rescaled' in Python, --motion-mode rescaled on the command "
        "line), which brings the source to the model's training scale before its vectors are taken"
        if mode == "reference"
        else "record a smaller motion_condition.source_size for this model"
    )
    warnings.warn(
        f"motion: a {source_side}-px source resized to {resolution} px keeps {kept:.0%} of its motion "
        f"vectors in the '{mode}' motion mode, so the model gets little or no motion; {fix}",
        stacklevel=3,
    )


def short_side_resize_shape(height: int, width: int, size: int) -> tuple[int, int]:
    """``(new_h, new_w)`` of torchvision ``resize(x, size)`` with an int size: short side → ``size``,
    long side ``int(size · long / short)`` (truncated)."""
    if height <= width:
        return size, int(size * width / height)
    return int(size * height / width), size


def dense_motion_field(vectors: np.ndarray, height: int, width: int) -> np.ndarray:
    """One frame's motion vectors → float64 ``[H, W, 2]`` field of (dx, dy) in source pixels.

    Args:
        vectors: ``int32 [N, 10]`` rows (source, w, h, src_x, src_y, dst_x, dst_y, motion_x,
            motion_y, motion_scale) as :func:`videocomposer.video.reader.decode_motion_stream` gives.

    Each vector writes ``source · (motion_x, motion_y) / motion_scale`` at the single pixel
    ``(clip(dst_y), clip(dst_x))`` (one pixel per block, not the block); a later vector overwrites an
    earlier one at the same pixel. No vectors (I-frames) → all zeros.
    """
    field = np.zeros((height, width, 2), dtype=np.float64)
    if len(vectors):
        x = np.clip(vectors[:, 5], 0, width - 1)
        y = np.clip(vectors[:, 6], 0, height - 1)
        field[y, x] = vectors[:, 0:1] * vectors[:, 7:9] / vectors[:, 9:10]
    return field


def center_crop_offset(length: int, size: int, *, align_with_frames: bool = False) -> int:
    """Crop offset along one axis: torchvision ``CenterCrop``'s ``int(round((L − size) / 2))``
    (round half to even, as the reference's motion), or the frames' ``(L − size) // 2`` when
    ``align_with_frames`` (fixes the reference's one-pixel shift between motion and frames)."""
    if align_with_frames:
        return (length - size) // 2
    return int(round((length - size) / 2.0))


def motion_condition(
    fields: Sequence[np.ndarray] | np.ndarray, resolution: int, *, align_with_frames: bool = False
) -> torch.Tensor:
    """Per-frame dense fields → the UNet's ``motion`` input for one clip.

    Args:
        fields: ``F`` float64 ``[H, W, 2]`` fields (see :func:`dense_motion_field`).
        resolution: output side ``R`` (256 officially).
        align_with_frames: crop like the frames (floor) instead of the reference's round.

    Returns:
        ``[F, 2, R, R]`` float32, (dx, dy) in source pixels: bilinear resize of the short side to
        ``R`` (align_corners False, no antialias, in float64), centre crop, cast.
    """
    stack = torch.from_numpy(np.ascontiguousarray(np.stack(list(fields)))).permute(0, 3, 1, 2)
    height, width = stack.shape[-2:]
    new_h, new_w = short_side_resize_shape(height, width, resolution)
    resized = F.interpolate(stack, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=False)
    top = center_crop_offset(new_h, resolution, align_with_frames=align_with_frames)
    left = center_crop_offset(new_w, resolution, align_with_frames=align_with_frames)
    return resized[:, :, top : top + resolution, left : left + resolution].float().contiguous()


def fill_motion_blocks(motion: torch.Tensor, block: int) -> torch.Tensor:
    """Display aid for the sparse motion field: every ``block × block`` cell takes the mean of its
    non-zero vectors (cells without any stay zero). ``[..., 2, H, W]`` → float32, same shape.

    The model is fed the sparse field (one vector per macroblock); this only makes previews readable.
    """
    if motion.ndim < 3 or motion.shape[-3] != 2 or block < 1:
        raise ValueError(
            f"motion must have shape [..., 2, H, W] and block >= 1, got {tuple(motion.shape)}, block={block}"
        )
    height, width = motion.shape[-2:]
    field = motion.reshape(-1, 2, height, width).float()
    present = (field.abs().sum(dim=1, keepdim=True) > 0).float()
    sums = F.avg_pool2d(field, block, ceil_mode=True)  # same divisor for both: the ratio is the mean
    counts = F.avg_pool2d(present, block, ceil_mode=True)
    means = torch.where(counts > 0, sums / counts.clamp_min(1e-12), torch.zeros_like(sums))
    filled = means.repeat_interleave(block, dim=-2).repeat_interleave(block, dim=-1)[..., :height, :width]
    return filled.reshape(motion.shape)


@functools.lru_cache(maxsize=16)
def site_weights(resolution: int, vector_side: int) -> torch.Tensor:
    """``[R, R]`` float32: the weight the condition's resize (:func:`motion_condition`) gives a unit vector at every
    macroblock centre of a ``vector_side`` square (0 away from those sites). Cached: callers must not modify it."""
    sites = np.zeros((vector_side, vector_side, 2))
    sites[MACROBLOCK // 2 :: MACROBLOCK, MACROBLOCK // 2 :: MACROBLOCK] = 1.0
    return motion_condition([sites], resolution)[0, 0]


def nearest_block_vectors(motion: torch.Tensor, vector_side: int) -> torch.Tensor:
    """The sparse condition made dense at its own size: each pixel takes the mean of the macroblock vectors within
    half a block of it (a normalised box filter of one block's width over the condition, divided by the same filter
    over :func:`site_weights`, so the resize's down-weighting of the sites cancels).

    Args:
        motion: ``[N, 2, R, R]`` (dx, dy) in pixels of ``vector_side`` squares, one vector per macroblock.
        vector_side: side of those squares in pixels.

    Returns:
        ``[N, 2, R, R]`` float32, (dx, dy) in the same units; 0 where no block is near.
    """
    side = motion.shape[-1]
    weights = site_weights(side, vector_side).to(motion.device)[None, None]
    kernel = 2 * int(MACROBLOCK * side / vector_side / 2) + 1
    sums = F.avg_pool2d(motion.float(), kernel, stride=1, padding=kernel // 2)
    norm = F.avg_pool2d(weights, kernel, stride=1, padding=kernel // 2)
    return torch.where(norm > 1e-6, sums / norm.clamp_min(1e-6), torch.zeros_like(sums))


def block_flow(motion: torch.Tensor, vector_side: int, size: int) -> torch.Tensor:
    """The sparse motion condition → a dense flow on a ``size × size`` grid over the same square, in its pixels:
    :func:`nearest_block_vectors`, area resizing to ``size``, magnitudes from the vector frames' pixels to the grid's.

    Args:
        motion: ``[B, 2, F, R, R]`` (dx, dy) in pixels of ``vector_side × vector_side`` frames (the ``rescaled`` mode's
            :attr:`MotionSettings.source_size`), one vector per macroblock as :func:`motion_condition` makes it.
        vector_side: side of those frames in pixels.
        size: side of the output grid (e.g. the latent side).

    Returns:
        ``[B, 2, F, size, size]`` float32, (dx, dy) in pixels of the output grid.
    """
    if motion.ndim != 5 or motion.shape[1] != 2 or motion.shape[-1] != motion.shape[-2]:
        raise ValueError(f"motion must have shape [B, 2, F, R, R], got {tuple(motion.shape)}")
    batch, frames, side = motion.shape[0], motion.shape[2], motion.shape[-1]
    dense = nearest_block_vectors(motion.permute(0, 2, 1, 3, 4).reshape(-1, 2, side, side), vector_side)
    flow = F.interpolate(dense, size=(size, size), mode="area") * (size / vector_side)
    return flow.reshape(batch, frames, 2, size, size).permute(0, 2, 1, 3, 4).contiguous()


def motion_to_rgb(motion: torch.Tensor | np.ndarray, max_magnitude: float | None = None) -> np.ndarray:
    """Colour-wheel preview of a motion field: hue = direction, saturation = speed, white = still.

    Args:
        motion: ``[2, H, W]`` (dx, dy) in pixels.
        max_magnitude: speed shown fully saturated (default: the field's largest speed).

    Returns:
        ``uint8 [H, W, 3]`` RGB image.
    """
    motion = motion.detach().cpu().numpy() if isinstance(motion, torch.Tensor) else np.asarray(motion)
    if motion.ndim != 3 or motion.shape[0] != 2:
        raise ValueError(f"motion must have shape [2, H, W], got {tuple(motion.shape)}")
    dx, dy = motion[0].astype(np.float32), motion[1].astype(np.float32)
    magnitude, angle = cv2.cartToPolar(dx, dy, angleInDegrees=True)
    scale = float(magnitude.max()) if max_magnitude is None else float(max_magnitude)
    hsv = np.empty(dx.shape + (3,), dtype=np.uint8)
    hsv[..., 0] = np.round(angle / 2.0).astype(np.uint8) % 180
    hsv[..., 1] = np.clip(magnitude / scale * 255.0 if scale > 0 else 0.0, 0, 255).astype(np.uint8)
    hsv[..., 2] = 255
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
