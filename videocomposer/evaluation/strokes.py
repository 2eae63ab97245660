"""Does a generated video follow the strokes drawn for it (``generate --trajectory``)?

A stroke (:class:`~videocomposer.video.trajectory.Stroke`) is drawn on the first frame's canvas: a region of
``radius`` pixels around its first point, and a path. The generated video shows the model's view of that canvas
(its centre square, resized to the video's side: :func:`~.truth.model_view`), so the stroke is brought there first.
The object under the stroke's start is the one that differs from the background inside the stroke's region of a
reference frame (the first-frame image given to ``generate``, fitted as the pipeline fits it; else generated frame
0), found by colour in every generated frame with the tracker of :mod:`.tracks` (:func:`~.tracks.colour_model`,
:func:`~.tracks.track_object`). Per stroke, in pixels of the generated frames:

* ``gain``: the object's displacement from the first to the last frame along the stroke (its first point to its
  last), divided by that length (1: followed; 0: no motion along it; negative: backwards);
* ``cosine``: the cosine between that displacement and the stroke (1: its direction, −1: the opposite one; 0 for an
  object that does not move);
* ``path_error``: mean over frames ``t ≥ 1`` of the distance between the object's displacement and the stroke's
  region's (its path as ``generate`` timed it), as a fraction of the frame side;
* ``found``: the share of frames in which the object was found (a lost object keeps its last position).

A score that cannot be given is ``nan`` with the reason in ``reasons``.

:func:`drawn_motion` rebuilds, from the strokes, the motion condition a run was given at the scale it was drawn at
(the source the strokes stand for), so that the motion metrics of :mod:`.motion` compare one 16-px cell with one
macroblock of that source, as they do for a source video.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from ..video.motion import motion_condition
from ..video.trajectory import Stroke, Trajectory, TrajectoryError
from .motion import MotionField, motion_field_from_vectors
from .tracks import (
    colour_model,
    fit_to_view,
    largest_region,
    mask_centroid,
    stroke_following,
    track_error,
    track_object,
)
from .truth import ModelView, model_view

#: The scores of one stroke, in report order.
STROKE_SCORES = ("gain", "cosine", "path_error", "found")


@dataclass
class StrokeScore:
    """How the object under stroke ``index`` moved (module docstring); ``reasons``: why a score is ``nan``."""

    index: int
    gain: float = math.nan
    cosine: float = math.nan
    path_error: float = math.nan
    found: float = math.nan
    reasons: dict[str, str] = field(default_factory=dict)

    def scores(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in STROKE_SCORES}


def region_mask(centre: np.ndarray, radius: float, side: int) -> np.ndarray:
    """The pixels of a ``side × side`` frame whose centre lies within ``radius`` of ``centre`` ``(x, y)``, and the pixel
    under ``centre`` itself when it is in the frame → bool ``[side, side]``."""
    xs = np.arange(side) + 0.5
    mask = (xs[None, :] - centre[0]) ** 2 + (xs[:, None] - centre[1]) ** 2 <= radius**2
    col, row = int(math.floor(centre[0])), int(math.floor(centre[1]))
    if 0 <= col < side and 0 <= row < side:
        mask[row, col] = True
    return mask


def score_stroke(
    frames: np.ndarray, stroke: Stroke, index: int, view: ModelView, reference: np.ndarray | None = None
) -> StrokeScore:
    """The :class:`StrokeScore` of one stroke (canvas pixels, brought into ``view``) in square frames uint8
    ``[F, S, S, 3]``; ``reference``: the first-frame image (any size) the object's colour is read from."""
    score = StrokeScore(index)
    side = frames.shape[1]
    points = view.points(np.asarray(stroke.points, dtype=np.float64))
    if not ((0 <= points[0]) & (points[0] < side)).all():
        x, y = stroke.points[0]
        why = f"the stroke starts at ({x:g}, {y:g}) on the canvas, outside the model's view (its centre square)"
        score.reasons = dict.fromkeys(STROKE_SCORES, why)
        return score
    ref = fit_to_view(np.asarray(reference, dtype=np.uint8), side) if reference is not None else frames[0]
    try:
        model = colour_model(ref, region_mask(points[0], stroke.radius * view.scale, side))
    except ValueError as exc:
        where = "the first-frame image" if reference is not None else "generated frame 0"
        why = f"no object under the stroke's start in {where}: {exc}"
        score.reasons = dict.fromkeys(STROKE_SCORES, why)
        return score
    start = mask_centroid(largest_region(model.object_pixels(ref))) if reference is not None else None
    track = track_object(frames, model, start)
    score.found = float(track.found.mean())
    if not track.found.any():
        why = "the object under the stroke's start is not found (by its colour) in any generated frame"
        score.reasons = dict.fromkeys(("gain", "cosine", "path_error"), why)
        return score
    _follow(score, track.centroids, stroke, points, view, len(frames))
    return score


def _follow(
    score: StrokeScore, centroids: np.ndarray, stroke: Stroke, points: np.ndarray, view: ModelView, num_frames: int
) -> None:
    """Gain, cosine and path error of a track ``[F, 2]`` against the stroke (``points``: its points in the view)."""
    if np.isnan(centroids[0]).any():
        why = "the object is not in generated frame 0 and no first-frame image was given to say where it starts"
        score.reasons = dict.fromkeys(("gain", "cosine", "path_error"), why)
        return
    try:
        score.gain, score.cosine = stroke_following(centroids, points[0], points[-1])
    except ValueError:
        why = "the stroke ends where it starts: it has no direction (a region held still)"
        score.reasons.update(gain=why, cosine=why)
    try:
        path = view.points(stroke.frame_points(num_frames))
    except TrajectoryError as exc:
        score.reasons["path_error"] = f"the stroke's path does not fit the video's {num_frames} frames: {exc}"
        return
    score.path_error = track_error(centroids, path, view.side)
    if math.isnan(score.path_error):
        score.reasons["path_error"] = "a path needs at least 2 frames"


def score_strokes(frames: np.ndarray, trajectory: Trajectory, reference: np.ndarray | None = None) -> list[StrokeScore]:
    """Every stroke of ``trajectory`` (canvas: the first frame) scored in square generated frames uint8
    ``[F, S, S, 3]`` (module docstring); ``reference``: the first-frame image given to ``generate``, any size.

    Raises:
        ValueError: the frames are not square (the model's view of a canvas is a square), or there is no stroke.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[1] != frames.shape[2]:
        raise ValueError(f"scoring strokes needs square frames [F, S, S, 3]; got {list(frames.shape)}")
    if not trajectory.strokes:
        raise ValueError("the trajectory has no stroke to score")
    view = model_view(trajectory.width, trajectory.height, frames.shape[1])
    return [score_stroke(frames, stroke, i, view, reference) for i, stroke in enumerate(trajectory.strokes)]


def drawn_motion(trajectory: Trajectory, recorded: torch.Tensor, source_pixels_per_pixel: float) -> MotionField | None:
    """The motion condition of ``trajectory`` at the scale of the source its strokes were drawn for, with its vector
    sites (``[F, 2, S, S]``, source pixels, ``source_pixels_per_pixel`` 1), when the strokes give exactly the
    ``recorded`` condition ``[F, 2, R, R]`` (the UNet's, from ``generate --save-conditions``; ``source_pixels_per_pixel``:
    the record's, S / R); None when they do not (another drawing, or another size).
    """
    num_frames, resolution = int(recorded.shape[0]), int(recorded.shape[-1])
    side = round(source_pixels_per_pixel * resolution)
    if side < 1 or not trajectory.strokes:
        return None
    for source in (trajectory.centre_square().scaled(side), trajectory.scaled(side)):  # the motion modes' sources
        try:
            vectors = source.block_vectors(num_frames)
        except TrajectoryError:
            return None
        if torch.equal(motion_condition(source.dense_fields(num_frames), resolution), recorded):
            return motion_field_from_vectors(vectors, source.height, source.width)
    return None
