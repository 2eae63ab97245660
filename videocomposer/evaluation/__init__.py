"""Evaluation: does a generated video follow its conditions? (``videocomposer evaluate`` and this API.)

Every function takes a video as an MP4 path or as frames (``uint8 [F, H, W, 3]``, float
``[F, 3, H, W]`` in [0, 1], a list of PIL images) and an image as a path, PIL image or array::

    from videocomposer.evaluation import (extract_motion, reference_motion, motion_error, flow_error,
                                          first_frame_metrics, psnr, ssim)

    # the condition generate used (same clip: frames, resolution, seed), with its vector sites
    cond = reference_motion("source.mp4", num_frames=16, resolution=256, seed=8888)
    err = motion_error("generated.mp4", cond)     # codec vectors of the re-encoded output
    err.epe, err.epe_dense, err.per_frame          # px of the source video; None = intra frame, skipped
    flow_error(frames, cond).epe                   # OpenCV Farneback instead of codec vectors
    motion_error(frames, clip.motion)              # a condition tensor [F, 2, R, R] works too
    first_frame_metrics("generated.mp4", "first.png")  # {'first_frame_psnr': dB (inf if exact), 'first_frame_ssim'}

Modules: :mod:`.frames` (reading inputs), :mod:`.motion` (motion EPE, Farneback EPE), :mod:`.image`
(PSNR/SSIM). Definitions, units and what is skipped are in each module's docstring.
"""
from .frames import read_image, read_video_frames
from .image import PSNR_CAP_DB, first_frame_metrics, psnr, ssim
from .motion import (
    MotionError,
    MotionField,
    condition_field,
    extract_motion,
    farneback_motion,
    flow_error,
    motion_error,
    reference_motion,
)

__all__ = [
    "MotionError", "MotionField", "PSNR_CAP_DB", "condition_field", "extract_motion", "farneback_motion",
    "first_frame_metrics", "flow_error", "motion_error", "psnr", "read_image", "read_video_frames",
    "reference_motion", "ssim",
]
