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

    # with weights (local files only)
    clip = load_clip("model_weights/open_clip_pytorch_model.bin")
    frame_consistency(clip, "generated.mp4"), clipsim(clip, "generated.mp4", "a red ball")
    i3d = load_i3d("i3d_pretrained_400.pt")                # or StyleGAN-V's i3d_torchscript.pt
    fvd(real_videos, generated_videos, i3d, cache=FeatureCache("fvd_cache")), i3d.protocol(None)

    # ground truth of the source clip's objects (a <clip>.truth.json beside it)
    truth = read_truth("clip.truth.json")
    truth_metrics(frames, truth, truth_frames, reference=first_frame, caption="a red star moves left")
    # {'track_error': fraction of the side, 'track_found', 'shape_iou', 'caption_colour_match'}
    colour_name((200, 30, 40)), dominant_colour_name(frames)   # 'red', the objects' most frequent name

    # strokes drawn for generate --trajectory (read_trajectory: videocomposer.video.trajectory): per stroke, the
    # object under its start tracked by colour
    [(s.gain, s.cosine) for s in score_strokes(frames, read_trajectory("strokes.json"), reference=first_frame)]

    # everything `videocomposer evaluate` reports for one video
    evaluate_run("generated.mp4", source="source.mp4", image="first.png", truth="clip.truth.json").metrics

Modules: :mod:`.frames` (reading inputs), :mod:`.motion` (motion EPE, Farneback EPE), :mod:`.image`
(PSNR/SSIM), :mod:`.truth` (truth files), :mod:`.tracks` (object tracks from ground truth), :mod:`.strokes`
(drawn strokes followed), :mod:`.colours`
(common colour names), :mod:`.clip_metrics`, :mod:`.annotator_metrics` (depth, sketch), :mod:`.i3d` + :mod:`.fvd`,
:mod:`.records` (``generate --save-conditions``), :mod:`.metrics` (the metric names and a video's result),
:mod:`.evaluate` (one video), :mod:`.protocol` (what each metric is).
Definitions, units and what is skipped are in each module's docstring.
"""

from .annotator_metrics import depth_error, scale_invariant_log_error, sketch_error
from .clip_metrics import clipsim, frame_consistency, load_clip
from .colours import COLOUR_NAMES, caption_colour, colour_name
from .evaluate import EvaluationModels, RunResult, evaluate_run
from .frames import read_image, read_video_frames
from .fvd import FeatureCache, frechet_distance, fvd, load_i3d, video_set_features
from .i3d import I3DConfig, InceptionI3D
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
from .records import find_record, load_conditions, save_conditions
from .strokes import StrokeScore, score_strokes
from .tracks import dominant_colour_name, shape_iou, stroke_following, track_error, track_object, truth_metrics
from .truth import ClipTruth, ObjectTruth, TruthError, model_view, read_truth, sampled_truth_frames, write_truth

__all__ = [
    "COLOUR_NAMES",
    "ClipTruth",
    "EvaluationModels",
    "FeatureCache",
    "I3DConfig",
    "InceptionI3D",
    "MotionError",
    "MotionField",
    "ObjectTruth",
    "PSNR_CAP_DB",
    "RunResult",
    "StrokeScore",
    "TruthError",
    "caption_colour",
    "clipsim",
    "colour_name",
    "condition_field",
    "depth_error",
    "dominant_colour_name",
    "evaluate_run",
    "extract_motion",
    "farneback_motion",
    "find_record",
    "first_frame_metrics",
    "flow_error",
    "frame_consistency",
    "frechet_distance",
    "fvd",
    "load_clip",
    "load_conditions",
    "load_i3d",
    "model_view",
    "motion_error",
    "psnr",
    "read_image",
    "read_truth",
    "read_video_frames",
    "reference_motion",
    "sampled_truth_frames",
    "save_conditions",
    "scale_invariant_log_error",
    "score_strokes",
    "shape_iou",
    "sketch_error",
    "ssim",
    "stroke_following",
    "track_error",
    "track_object",
    "truth_metrics",
    "video_set_features",
    "write_truth",
]
