"""``evaluate --trajectory``: how the object under each drawn stroke follows it, and the motion of drawn strokes
compared at the scale they were drawn at."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from videocomposer.cli import main
from videocomposer.evaluation import evaluate_run, score_strokes
from videocomposer.evaluation.records import ConditionRecord
from videocomposer.evaluation.strokes import drawn_motion
from videocomposer.evaluation.truth import model_view
from videocomposer.video.motion import motion_condition
from videocomposer.video.trajectory import Stroke, Trajectory
from videocomposer.video.writer import write_mp4

from .test_evaluation_metrics import translating

SIDE, FRAMES, DISC_RADIUS = 64, 8, 6
BACKGROUND, DISC = (30, 120, 120), (250, 220, 0)


def disc_video(centres: np.ndarray, frames: np.ndarray | None = None, colour=DISC) -> np.ndarray:
    """A disc at each of ``centres`` ``[F, 2]`` (pixels), drawn over ``frames`` (default: the background) →
    uint8 ``[F, SIDE, SIDE, 3]``."""
    ys, xs = np.mgrid[:SIDE, :SIDE] + 0.5
    if frames is None:
        frames = np.empty((len(centres), SIDE, SIDE, 3), np.uint8)
        frames[:] = BACKGROUND
    for frame, (x, y) in zip(frames, centres):
        frame[(xs - x) ** 2 + (ys - y) ** 2 <= DISC_RADIUS**2] = colour
    return frames


def moved(start, end, fraction: float = 1.0) -> np.ndarray:
    """``FRAMES`` positions from ``start`` towards ``end``, covering ``fraction`` of the way (negative: backwards)."""
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    return start + np.linspace(0, fraction, FRAMES)[:, None] * (end - start)


def stroke_video(
    trajectory: Trajectory, fraction: float, index: int = 0, frames: np.ndarray | None = None, colour=DISC
) -> np.ndarray:
    """A disc that starts under stroke ``index`` and moves ``fraction`` of it (in the model's view of the canvas)."""
    view = model_view(trajectory.width, trajectory.height, SIDE)
    points = view.points(np.asarray(trajectory.strokes[index].points))
    return disc_video(moved(points[0], points[-1], fraction), frames, colour)


# in the model's view (64 px): from (26, 32) to (44, 32); backwards, the disc stays in the frame
SQUARE = Trajectory(128, 128, (Stroke(((52, 64), (88, 64)), 16),))
# the view is the canvas's centre 128 x 128, halved: from (34, 30) to (49, 40)
WIDE = Trajectory(192, 128, (Stroke(((100, 60), (130, 80)), 16),))


@pytest.mark.parametrize("trajectory", [SQUARE, WIDE], ids=["square", "wide canvas"])
@pytest.mark.parametrize(
    "fraction, gain, cosine",
    [(1.0, 1.0, 1.0), (-1.0, -1.0, -1.0), (0.5, 0.5, 1.0)],
    ids=["followed", "opposite", "half"],
)
def test_a_disc_moved_along_the_stroke_scores_its_gain_and_direction(trajectory, fraction, gain, cosine):
    (score,) = score_strokes(stroke_video(trajectory, fraction), trajectory)
    assert score.gain == pytest.approx(gain, abs=0.05) and score.cosine == pytest.approx(cosine, abs=0.02)
    assert score.found == 1.0 and not score.reasons
    followed = fraction == 1.0  # the path error: 0 only when the object is where the stroke's region is, every frame
    assert (score.path_error < 0.02) if followed else (score.path_error > 0.05)


def test_a_still_disc_has_no_gain_and_no_direction():
    (score,) = score_strokes(stroke_video(SQUARE, 0.0), SQUARE)
    assert score.gain == pytest.approx(0.0, abs=0.02) and score.cosine == 0.0


def test_each_stroke_follows_its_own_object():
    strokes = (Stroke(((20, 20), (70, 20)), 12), Stroke(((100, 70), (100, 100)), 12))
    trajectory = Trajectory(128, 128, strokes)
    frames = stroke_video(trajectory, -1.0, 1, stroke_video(trajectory, 1.0, 0), colour=(220, 40, 60))
    scores = score_strokes(frames, trajectory)
    assert [round(s.cosine) for s in scores] == [1, -1] and [round(s.gain) for s in scores] == [1, -1]


def test_a_stroke_that_cannot_be_scored_says_why():
    still_stroke = Trajectory(128, 128, (Stroke(((64, 64), (64, 64)), 16),))
    (score,) = score_strokes(stroke_video(still_stroke, 1.0), still_stroke)
    assert math.isnan(score.gain) and "no direction" in score.reasons["gain"] and score.path_error < 0.02
    outside = Trajectory(256, 128, (Stroke(((10, 64), (60, 64)), 8),))  # the view is the centre 128 x 128
    (score,) = score_strokes(disc_video(moved((20, 32), (40, 32))), outside)
    assert math.isnan(score.gain) and "outside the model's view" in score.reasons["gain"]
    empty = np.empty((FRAMES, SIDE, SIDE, 3), np.uint8)
    empty[:] = BACKGROUND
    (score,) = score_strokes(empty, SQUARE)
    assert math.isnan(score.cosine) and "no object under the stroke's start" in score.reasons["cosine"]
    first_frame = stroke_video(SQUARE, 0.0)[0]  # the first frame shows the object; the video never does
    (score,) = score_strokes(empty, SQUARE, reference=first_frame)
    assert score.found == 0.0 and "not found" in score.reasons["gain"]


def test_evaluate_trajectory_reports_each_stroke(tmp_path, capsys):
    video = write_mp4(tmp_path / "generated.mp4", stroke_video(SQUARE, -1.0), fps=8)
    (tmp_path / "strokes.json").write_text(SQUARE.to_json())
    args = ["evaluate", str(video), "--trajectory", str(tmp_path / "strokes.json"), "--quiet"]
    assert main([*args, "--json", str(tmp_path / "report.json")]) == 0
    assert "generated.mp4 #0" in capsys.readouterr().out
    report = json.loads((tmp_path / "report.json").read_text())
    (stroke,) = report["runs"][0]["strokes"]
    assert stroke["cosine"] == pytest.approx(-1.0, abs=0.02) and stroke["gain"] == pytest.approx(-1.0, abs=0.05)
    assert report["stroke_cosine"] == stroke["cosine"] and "stroke_gain" in report["protocol"]
    (tmp_path / "bad.json").write_text('{"width": 128, "height": 128, "strokes": [{"points": [[1, 2]]}]}')
    assert main(["evaluate", str(video), "--trajectory", str(tmp_path / "bad.json")]) == 2
    err = capsys.readouterr().err
    assert "--trajectory" in err and "radius" in err and "Traceback" not in err


DRAWN = Trajectory(128, 128, (Stroke(((36, 64), (64, 64)), 300),))  # 4 px per frame over the whole canvas


def _drawn_record(trajectory: Trajectory) -> ConditionRecord:
    """What ``generate --trajectory --save-conditions`` records for a 64-px model of 128-px training sources."""
    recorded = trajectory.motion_condition(FRAMES, SIDE, source_size=128)
    return ConditionRecord(
        Path("drawn_conditions.safetensors"),
        {"motion": recorded[None].transpose(1, 2)},
        {"source_pixels_per_pixel": "2.0"},
    )


def test_drawn_motion_rebuilds_the_recorded_condition_at_the_strokes_scale():
    recorded = DRAWN.motion_condition(FRAMES, SIDE, source_size=128)
    field = drawn_motion(DRAWN, recorded, 2.0)
    assert field.motion.shape == (FRAMES, 2, 128, 128)
    assert torch.equal(field.motion, motion_condition(DRAWN.dense_fields(FRAMES), 128))
    assert float(field.weight[1:].sum()) > 0 and float(field.weight[0].sum()) == 0  # frame 0 has no vectors
    other = Trajectory(128, 128, (Stroke(((36, 64), (64, 80)), 300),))
    assert drawn_motion(other, recorded, 2.0) is None  # strokes that did not give the record are not used


@pytest.mark.parametrize("speed, gain", [(2, 1.0), (1, 0.5)])
def test_the_motion_of_drawn_strokes_is_compared_at_their_scale(speed, gain):
    frames = translating(SIDE, step=(-speed, 0), num_frames=FRAMES)  # content moves right by `speed` px per frame
    result = evaluate_run(frames, record=_drawn_record(DRAWN), trajectory=DRAWN, seed=0)
    assert any("strokes' scale" in note for note in result.notes)
    assert result.metrics["motion_gain_moving"] == pytest.approx(gain, abs=0.2)
    assert result.metrics["motion_cosine_moving"] > 0.8
