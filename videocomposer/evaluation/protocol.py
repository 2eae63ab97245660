"""What each evaluation metric is, stated in every report (``videocomposer evaluate --json``)."""

from __future__ import annotations

from .motion import ARRAY_FPS, FARNEBACK_PARAMS, MOTION_BLOCK, MOVING_SPEED


def protocol() -> dict[str, str]:
    """What each metric is, stated in every report."""
    return {
        "motion_epe": f"codec motion vectors of the generated video (re-encoded at its own rate as the condition is: "
        f"MPEG-4 Part 2, GOP 12, 200 kb/s; arrays at {ARRAY_FPS} fps) vs the motion condition; mean "
        f"end-point error in source-video pixels over {MOTION_BLOCK}x{MOTION_BLOCK}-px cells where the "
        "condition has vectors; intra-coded frames skipped",
        "motion_epe_dense": "as motion_epe over every cell (a cell without vectors = no motion)",
        "flow_epe": f"OpenCV Farneback flow {FARNEBACK_PARAMS} of consecutive generated frames vs the condition, "
        "cells as motion_epe",
        "motion_epe_moving": f"motion_epe over the cells where the condition moves (its cell vector >= {MOVING_SPEED} "
        "source px per frame)",
        "motion_epe_static": "motion_epe over the other cells (where any generated vector is an error)",
        "motion_cosine_moving": "mean cosine of the generated codec vector and the condition's over the moving cells "
        "(1: same direction; 0 where the generated cell does not move)",
        "flow_cosine_moving": "as motion_cosine_moving with the Farneback flow",
        "motion_gain_moving": "mean over the moving cells of <generated, condition> / |condition|^2: the generated "
        "speed along the condition's direction as a fraction of its speed (1: the condition's; "
        "0: none; negative: backwards)",
        "flow_gain_moving": "as motion_gain_moving with the Farneback flow",
        "first_frame_psnr": "PSNR (dB, 8-bit RGB) of generated frame 0 vs the first-frame image (CenterCropV2 to the "
        "frame size); identical = 100 (capped)",
        "first_frame_ssim": "SSIM (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03), mean over RGB channels",
        "track_error": "the truth file's first object found by colour in every generated frame (its colour read where "
        "the truth puts it in the first-frame image, else in generated frame 0); mean over frames "
        "t >= 1 of |generated centroid displacement - truth displacement| / frame side, frames matched "
        "through generate's clip sampling",
        "track_found": "share of the generated frames in which the object was found (a lost object keeps its last "
        "position)",
        "shape_iou": "IoU of the object's mask in the last generated frame and its mask in the first-frame image "
        "moved by the generated displacement",
        "caption_colour_match": "1 when the most frequent common colour name (nearest in CIELAB) among the pixels "
        "that differ from the first frame's background is the caption's first colour word",
        "stroke_gain": "per stroke of --trajectory (canvas: the first frame, brought to the model's view, its centre "
        "square): the object under the stroke's start (found by colour where the stroke's region is in the first-frame "
        "image, else in generated frame 0) tracked in every generated frame; its displacement from the first to the "
        "last frame along the stroke (first point to last) over the stroke's length (1: followed; 0: no motion along "
        "it; negative: backwards); the run's value is the mean over the strokes, per stroke under 'strokes'",
        "stroke_cosine": "per stroke, the cosine between the object's displacement and the stroke (1: its direction, "
        "-1: the opposite; 0 for an object that does not move); mean over the strokes",
        "stroke_path_error": "per stroke, mean over frames t >= 1 of |object displacement - the stroke region's "
        "displacement as generate timed it| / frame side; mean over the strokes",
        "clip_frame_consistency": "mean cosine of consecutive frames' CLIP image embeddings (open_clip validation "
        "transform, 224 px)",
        "clipsim": "mean cosine of the caption's CLIP text embedding and each frame's image embedding (not x100)",
        "depth_si_log": "scale-invariant log error (Eigen 2014) of MiDaS depth of the generated frames (bicubic to the "
        "condition size) vs the depth condition, pixels with depth > 1e-3",
        "sketch_mae": "mean absolute difference of the PiDiNet + cleaner sketch of the generated frames vs the sketch "
        "condition (values in [0, 1])",
    }
