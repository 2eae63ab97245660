"""The motion condition: dense fields from raw motion vectors, the reference's resize and crop, a preview.

The reference (DS:150-153, IS:401-403) turns every frame's vectors into a sparse float64 field in
source pixels, resizes the ``[F, 2, H, W]`` stack with torchvision ``Resize(R)`` on a tensor
(bilinear, ``align_corners=False``, **no** antialias in its torchvision) and ``CenterCrop(R)``,
then casts to float32. Magnitudes stay in source-resolution pixels.
"""
from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F


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


def motion_condition(fields: Sequence[np.ndarray] | np.ndarray, resolution: int, *, align_with_frames: bool = False) -> torch.Tensor:
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
        raise ValueError(f"motion must have shape [..., 2, H, W] and block >= 1, got {tuple(motion.shape)}, block={block}")
    height, width = motion.shape[-2:]
    field = motion.reshape(-1, 2, height, width).float()
    present = (field.abs().sum(dim=1, keepdim=True) > 0).float()
    sums = F.avg_pool2d(field, block, ceil_mode=True)  # same divisor for both: the ratio is the mean
    counts = F.avg_pool2d(present, block, ceil_mode=True)
    means = torch.where(counts > 0, sums / counts.clamp_min(1e-12), torch.zeros_like(sums))
    filled = means.repeat_interleave(block, dim=-2).repeat_interleave(block, dim=-1)[..., :height, :width]
    return filled.reshape(motion.shape)


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
