"""What ``evaluate`` measures of one video: the metric names in report order, what enables each, and the result.

:class:`RunResult` holds a video's metrics (``nan`` where undefined, with the reason), per-frame values, the
metrics skipped with what would enable them, and notes; :class:`EvaluationModels` the frozen models the
model-based metrics use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from ..annotators.midas import MiDaS
from ..annotators.pidinet import PiDiNet
from ..annotators.sketch import SketchCleaner
from ..conditions import evaluated_condition
from ..models.clip import OpenCLIP
from ..models.tokenizer import CLIPTokenizer

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
STROKE_METRICS = ("stroke_gain", "stroke_cosine", "stroke_path_error")
CLIP_METRICS = ("clip_frame_consistency", "clipsim")
ANNOTATOR_METRICS = ("depth_si_log", "sketch_mae")
_SOURCE = "--input_video SOURCE (or a <run>_conditions.safetensors from generate --save-conditions)"
ENABLE = {
    **{m: _SOURCE for m in MOTION_METRICS},
    **{m: f"--image_path FIRST_FRAME (or a recorded {FIRST_FRAME_CONDITION})" for m in FIRST_FRAME_METRICS},
    **{m: "--truth CLIP.truth.json (the source clip's ground truth)" for m in TRUTH_METRICS},
    "caption_colour_match": "--truth CLIP.truth.json and --caption naming a colour (or a recorded prompt)",
    **{m: "--trajectory STROKES.json (the strokes given to generate --trajectory)" for m in STROKE_METRICS},
    "clip_frame_consistency": "--clip-weights open_clip_pytorch_model.bin (or --weights-dir)",
    "clipsim": "--clip-weights open_clip_pytorch_model.bin (or --weights-dir) and --caption (or a CSV caption)",
    "depth_si_log": "--midas-weights midas_v3_dpt_large.pth (or --weights-dir) and " + _SOURCE,
    "sketch_mae": "--pidinet-weights table5_pidinet.pth and --sketch-cleaner-weights sketch_simplification_gan.pth "
    "(or --weights-dir) and " + _SOURCE,
}
#: Every per-video metric, in report order.
RUN_METRICS = MOTION_METRICS + FIRST_FRAME_METRICS + TRUTH_METRICS + STROKE_METRICS + CLIP_METRICS + ANNOTATOR_METRICS
#: Why a metric can be undefined (``nan``) for a video, where its computation gives no more specific reason.
UNDEFINED = {
    "track_error": "the object's start is unknown: it is not in generated frame 0 and no first-frame image shows it",
    "shape_iou": "the object is in neither the first-frame image (or generated frame 0) nor the last frame",
    "depth_si_log": "no pixel has a depth above 1e-3 in both the generated frames and the condition",
}


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
    """One video's evaluation: ``metrics`` (floats; ``nan`` when nothing could be compared, with the reason in
    ``reasons``), ``per_frame`` lists (``None`` = skipped frame), ``skipped`` {metric: how to enable it}, ``notes``,
    and with strokes, ``strokes``: per stroke its scores and reasons (:class:`~.strokes.StrokeScore`)."""

    generated: str
    metrics: dict[str, float] = field(default_factory=dict)
    per_frame: dict[str, list] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)
    strokes: list = field(default_factory=list)

    def explain_undefined(self) -> None:
        """Give every ``nan`` metric a reason (:data:`UNDEFINED`, else a pointer to the protocol) if it has none."""
        for metric, value in self.metrics.items():
            if math.isnan(value) and metric not in self.reasons:
                self.reasons[metric] = UNDEFINED.get(metric, "undefined for this video (see the protocol)")
