"""Object-track metrics from ground truth on frames where the answer is known: a moved object, half the motion, a
still video, a mirrored one, a changed shape, a lost object, textured backgrounds, the model's centre crop."""

from __future__ import annotations

import math

import numpy as np
import pytest

from videocomposer.evaluation.colours import COLOUR_NAMES
from videocomposer.evaluation.tracks import (
    background_mixes,
    dominant_colour_name,
    shape_iou,
    shift_mask,
    stroke_following,
    track_error,
    truth_metrics,
)
from videocomposer.evaluation.truth import ClipTruth, ObjectTruth, mask_geometry, polygon_mask

SIDE, FRAMES = 64, 8
RED, GRAY, BLUE = (210, 35, 35), (128, 128, 128), (45, 80, 215)
SQUARE = np.array([[-5.0, -5.0], [5.0, -5.0], [5.0, 5.0], [-5.0, 5.0]])  # 10 x 10 px around the position


def make_truth(positions: np.ndarray, width: int = SIDE, height: int = SIDE, outline: np.ndarray = SQUARE) -> ClipTruth:
    """A one-object truth (a red square) at ``positions`` ``[F, 2]``."""
    masks = [polygon_mask(width, height, p + outline) for p in positions]
    geometry = [mask_geometry(m) for m in masks]
    obj = ObjectTruth(
        "square",
        RED,
        "red",
        "line",
        outline,
        [],
        np.asarray(positions, dtype=np.float64),
        np.stack([g[0] for g in geometry]),
        np.stack([g[1] for g in geometry]),
        np.ones(len(positions)),
    )
    background = {"kind": "solid", "colours": [list(GRAY), list(GRAY)], "names": ["gray", "gray"]}
    return ClipTruth("clip.mp4", width, height, 8.0, len(positions), "a red square moves right", background, [obj])


def draw(
    positions: np.ndarray,
    outline: np.ndarray = SQUARE,
    background: np.ndarray | None = None,
    size: tuple[int, int] = (SIDE, SIDE),
) -> np.ndarray:
    """Frames uint8 ``[F, H, W, 3]``: the red polygon at each position over ``background`` (default plain gray)."""
    width, height = size
    base = np.full((height, width, 3), GRAY, np.uint8) if background is None else background
    frames = np.repeat(base[None], len(positions), axis=0)
    for frame, p in zip(frames, positions):
        frame[polygon_mask(width, height, p + outline)] = RED
    return frames


def line(step: tuple[float, float], start=(20.0, 32.0)) -> np.ndarray:
    return np.array(start) + np.arange(FRAMES)[:, None] * np.array(step)


def test_an_object_that_moves_as_the_truth_scores_zero():
    truth = make_truth(line((4, 0)))
    metrics = truth_metrics(draw(line((4, 0))), truth, range(FRAMES))
    assert metrics["track_error"] == pytest.approx(0.0, abs=1e-9)
    assert metrics["track_found"] == 1.0 and metrics["shape_iou"] == pytest.approx(1.0)


def test_the_object_must_be_where_the_truth_says_in_the_first_frame():
    truth = make_truth(line((4, 0)))
    with pytest.raises(ValueError, match="does not show the object"):
        truth_metrics(draw(line((4, 0))), truth, range(FRAMES), reference=np.full((SIDE, SIDE, 3), 128, np.uint8))
    outside = make_truth(line((4, 0), start=(-30.0, 32.0)))
    with pytest.raises(ValueError, match="not in the reference frame"):
        truth_metrics(draw(line((4, 0))), outside, range(FRAMES))


def test_half_the_motion_gives_half_the_displacement_as_error():
    truth = make_truth(line((4, 0)))
    metrics = truth_metrics(draw(line((2, 0))), truth, range(FRAMES))
    expected = np.mean([2 * t for t in range(1, FRAMES)]) / SIDE  # |2t - 4t| px at frame t, over the side
    assert metrics["track_error"] == pytest.approx(expected, rel=1e-6)
    still = truth_metrics(draw(line((0, 0))), truth, range(FRAMES))
    assert still["track_error"] == pytest.approx(2 * expected, rel=1e-6)


def test_stroke_gain_and_cosine_of_still_followed_mirrored_and_half_videos():
    start, end = (20.0, 32.0), (48.0, 32.0)  # a 28-px stroke to the right; the object moves 4 px a frame
    assert stroke_following(line((4, 0)), start, end) == pytest.approx((1.0, 1.0))
    assert stroke_following(line((0, 0)), start, end) == (0.0, 0.0)
    assert stroke_following(line((-4, 0)), start, end) == pytest.approx((-1.0, -1.0))
    assert stroke_following(line((2, 0)), start, end) == pytest.approx((0.5, 1.0))
    gain, cosine = stroke_following(line((0, 4)), start, end)  # sideways
    assert gain == pytest.approx(0.0) and cosine == pytest.approx(0.0)
    gain, cosine = stroke_following(line((4, 4)), start, end)  # diagonal: along the stroke at its speed
    assert gain == pytest.approx(1.0) and cosine == pytest.approx(1 / math.sqrt(2))
    with pytest.raises(ValueError, match="no direction"):
        stroke_following(line((4, 0)), start, start)


def test_a_changed_shape_lowers_the_iou_by_the_area_it_lost():
    positions = line((3, 0))
    frames = draw(positions)
    thinner = np.array([[-5.0, -3.0], [5.0, -3.0], [5.0, 3.0], [-5.0, 3.0]])  # 10 x 6 px, same centroid
    frames[-1] = draw(positions[-1:], outline=thinner)[0]
    metrics = truth_metrics(frames, make_truth(positions), range(FRAMES))
    assert metrics["shape_iou"] == pytest.approx(60 / 100)
    assert metrics["track_error"] == pytest.approx(0.0, abs=1e-9)


def test_shape_iou_and_shift_on_masks():
    square = np.zeros((20, 20), bool)
    square[5:10, 5:10] = True
    moved = shift_mask(square, 3, -2)
    assert moved[3:8, 8:13].all() and moved.sum() == 25
    assert shape_iou(square, moved, (3, -2)) == 1.0
    assert shape_iou(square, moved, (0, 0)) == pytest.approx(2 * 3 / (50 - 2 * 3))  # 2x3 overlap
    assert shift_mask(square, 30, 0).sum() == 0  # out of the frame
    assert math.isnan(shape_iou(np.zeros_like(square), np.zeros_like(square), (0, 0)))


def test_a_lost_object_keeps_its_last_position_and_counts_as_not_found():
    positions = line((4, 0))
    frames = draw(positions)
    frames[-2:] = GRAY
    metrics = truth_metrics(frames, make_truth(positions), range(FRAMES))
    assert metrics["track_found"] == pytest.approx(6 / 8)
    assert metrics["track_error"] == pytest.approx((4 + 8) / (FRAMES - 1) / SIDE)  # frames 6, 7 stuck at frame 5's
    assert metrics["shape_iou"] == 0.0


def test_an_object_missing_from_generated_frame_0_starts_where_the_first_frame_has_it():
    positions = line((4, 0))
    frames = draw(positions)
    reference = frames[0].copy()
    frames[:2] = GRAY  # frames 0 and 1 lost: both at the first frame's place
    metrics = truth_metrics(frames, make_truth(positions), range(FRAMES), reference=reference)
    assert metrics["track_found"] == pytest.approx(6 / 8)
    assert metrics["track_error"] == pytest.approx(4 / (FRAMES - 1) / SIDE)  # only frame 1 is off, by 4 px


@pytest.mark.parametrize("background", ["stripes", "gradient", "noise"])
def test_the_object_is_found_over_textured_backgrounds(background):
    yy, xx = np.mgrid[0:SIDE, 0:SIDE]
    t = {"stripes": (xx // 6) % 2, "gradient": xx / (SIDE - 1), "noise": np.random.default_rng(0).random((SIDE, SIDE))}[
        background
    ][..., None]
    base = np.round(np.array(BLUE) + t * (np.array(GRAY) - BLUE)).astype(np.uint8)
    positions = line((4, 1))
    metrics = truth_metrics(
        draw(positions, background=base), make_truth(positions), range(FRAMES), caption="a red square"
    )
    assert metrics["track_error"] == pytest.approx(0.0, abs=1e-9) and metrics["shape_iou"] == pytest.approx(1.0)
    assert metrics["caption_colour_match"] == 1.0


def test_a_landscape_clip_is_compared_in_the_models_centre_crop():
    """A 96 x 64 clip seen through the pipeline's centre crop at 32 px: the truth maps into that view."""
    from PIL import Image

    from videocomposer.video.transforms import center_crop_v2

    positions = line((4, 0), start=(30.0, 32.0))
    truth = make_truth(positions, width=96, height=64)
    clip = draw(positions, size=(96, 64))
    view = np.stack([np.asarray(center_crop_v2(Image.fromarray(f), 32)) for f in clip])
    assert truth_metrics(view, truth, range(FRAMES))["track_error"] < 0.01
    wrong = make_truth(line((-4, 0), start=(30.0, 32.0)), width=96, height=64)
    assert truth_metrics(view, wrong, range(FRAMES))["track_error"] > 0.2


def test_the_given_first_frame_sets_the_colour_to_follow():
    """The new object is blue in the given first frame (and in the video): it is followed, not the truth's red one."""
    positions = line((4, 0))
    frames = draw(positions)
    frames[np.all(frames == RED, axis=-1)] = BLUE
    metrics = truth_metrics(frames, make_truth(positions), range(FRAMES), reference=frames[0], caption="a blue square")
    assert metrics["track_error"] == pytest.approx(0.0, abs=1e-9) and metrics["caption_colour_match"] == 1.0
    assert (
        truth_metrics(frames, make_truth(positions), range(FRAMES), reference=frames[0], caption="a red square")[
            "caption_colour_match"
        ]
        == 0.0
    )


def test_dominant_colour_reads_the_objects_name_against_the_background():
    frames = draw(line((4, 0)))
    assert dominant_colour_name(frames) == "red"
    assert dominant_colour_name(np.full_like(frames, 128)) is None  # nothing but background
    for name, rgb in COLOUR_NAMES.items():  # every name is readable on a background far from it
        ground = (20, 20, 20) if sum(rgb) > 300 else (235, 235, 235)
        video = draw(line((2, 0)), background=np.full((SIDE, SIDE, 3), ground, np.uint8))
        video[np.all(video == RED, axis=-1)] = rgb
        assert dominant_colour_name(video, background_mixes([ground, ground])) == name


def test_track_error_checks_its_inputs():
    with pytest.raises(ValueError, match=r"\[F, 2\]"):
        track_error(np.zeros((4, 2)), np.zeros((3, 2)), 64)
    assert math.isnan(track_error(np.zeros((1, 2)), np.zeros((1, 2)), 64))


def test_a_new_object_of_another_shape_and_size_at_the_truths_place_is_followed():
    """Motion transfer: the first frame shows a larger blue star where the truth's red square is."""
    from videocomposer.evaluation.truth import polygon_mask as mask_of

    angle = -np.pi / 2 + np.arange(10) * np.pi / 5
    star = np.stack([np.cos(angle), np.sin(angle)], -1) * np.where(np.arange(10) % 2, 4.0, 9.0)[:, None]
    positions = line((3, 1))
    frames = np.repeat(np.full((1, SIDE, SIDE, 3), GRAY, np.uint8), FRAMES, axis=0)
    for frame, p in zip(frames, positions):
        frame[mask_of(SIDE, SIDE, p + star)] = BLUE
    metrics = truth_metrics(frames, make_truth(positions), range(FRAMES), reference=frames[0], caption="a blue star")
    assert metrics["track_error"] == pytest.approx(0.0, abs=1e-9) and metrics["shape_iou"] == pytest.approx(1.0)
    assert metrics["caption_colour_match"] == 1.0
