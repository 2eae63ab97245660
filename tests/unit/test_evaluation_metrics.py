"""Model-free evaluation metrics: motion EPE (codec vectors, Farneback flow), first-frame PSNR/SSIM."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from videocomposer.evaluation import (
    extract_motion,
    first_frame_metrics,
    flow_error,
    motion_error,
    psnr,
    reference_motion,
    ssim,
)
from videocomposer.evaluation.motion import cell_means
from videocomposer.video.reader import VideoReadError
from videocomposer.video.writer import write_mp4

# 17 frames at 9 fps: the reference's sampling rate is then 9 fps (int(16 / duration) + 1), i.e. the
# condition is extracted from the video's own frames, and a 17-frame clip can only start at frame 0.
FRAMES, FPS = 17, 9
STEP = (2, 1)  # content moves by (dx, dy) = -STEP px per frame (the window moves by +STEP)


def texture(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.RandomState(seed)
    noise = cv2.GaussianBlur((rng.rand(size, size, 3) * 255).astype(np.uint8), (5, 5), 1.5)
    return np.clip((noise.astype(np.float64) - 128) * 3 + 128, 0, 255).astype(np.uint8)


def translating(side: int, step=STEP, scale: int = 1, num_frames: int = FRAMES) -> np.ndarray:
    """Frames ``[F, side, side, 3]`` cut from a fixed texture with a window moving by ``scale·step`` px per frame."""
    big = texture(side + 64 * scale)
    x0 = y0 = 16 * scale
    return np.stack(
        [
            big[
                y0 + scale * step[1] * t : y0 + scale * step[1] * t + side,
                x0 + scale * step[0] * t : x0 + scale * step[0] * t + side,
            ]
            for t in range(num_frames)
        ]
    )


@pytest.fixture(scope="module")
def moving(tmp_path_factory):
    frames = translating(96)
    path = write_mp4(tmp_path_factory.mktemp("eval") / "moving.mp4", frames, fps=FPS)
    return path, frames


def test_motion_error_of_a_video_against_its_own_condition_is_zero(moving):
    path, _ = moving
    condition = reference_motion(path, FRAMES, 96, seed=0)  # load_video_clip's own motion condition
    error = motion_error(path, condition)
    assert error.frames_compared == FRAMES - 2  # frames 0 and 12 are intra-coded
    assert error.per_frame[0] is None and error.per_frame[12] is None
    assert error.epe == 0.0 and error.epe_dense == 0.0
    assert motion_error(path, condition.motion).epe == 0.0  # the bare condition tensor (no resize: same sites)


def test_known_translation_is_recovered_within_half_pel_on_moving_blocks(moving):
    path, frames = moving
    for video in (path, frames):  # a file and frames as an array
        field = extract_motion(video)
        means, present = cell_means(field.motion, field.weight)
        inner = means[:, :, 1:-1, 1:-1].permute(0, 2, 3, 1)[present[:, 1:-1, 1:-1]]  # border cells see new content
        assert len(inner) > 100
        assert (inner - torch.tensor([-STEP[0], -STEP[1]], dtype=inner.dtype)).abs().max() <= 0.5


def test_wrong_motion_gives_its_error():
    """A condition of twice the true motion: error = |true motion| on every compared cell."""
    frames = translating(64)
    field = extract_motion(frames)
    doubled = type(field)(field.motion * 2, field.weight)
    error = motion_error(field, doubled)
    true_cells = cell_means(field.motion, field.weight)[0].norm(dim=1)
    expected = float(true_cells[cell_means(doubled.motion, doubled.weight)[1]].mean())
    assert error.epe == pytest.approx(expected, rel=1e-6) and error.epe > 1.5


def test_error_is_split_into_moving_and_static_cells_with_the_direction_agreement_and_speed():
    """Condition: the left 16-px cells move by (3, 0) px, the right ones not. A generated field that matches on
    the left and moves by (0, 1) on the right: all its error is static, cosine and gain 1; standing still or
    moving backwards on the left gives the moving error, a cosine of 0 or −1 and a gain of 0 or −1/3; half the
    speed, a gain of 0.5 (cosine 1); a sideways vector, a gain of 0."""
    from videocomposer.evaluation.motion import MOVING_SPEED, MotionField

    def field(left, right) -> MotionField:
        motion = torch.zeros(3, 2, 32, 32)
        motion[:, :, :, :16] = torch.tensor(left, dtype=torch.float32).view(1, 2, 1, 1)
        motion[:, :, :, 16:] = torch.tensor(right, dtype=torch.float32).view(1, 2, 1, 1)
        return MotionField(motion, torch.ones(3, 1, 32, 32))

    condition = field((3.0, 0.0), (0.0, 0.0))
    assert MOVING_SPEED <= 3.0
    error = motion_error(field((3.0, 0.0), (0.0, 1.0)), condition)
    assert (error.epe_moving, error.epe_static, error.cosine_moving, error.gain_moving) == pytest.approx(
        (0.0, 1.0, 1.0, 1.0)
    )
    assert error.epe == pytest.approx(0.5)  # half the cells of each frame are static
    still = motion_error(field((0.0, 0.0), (0.0, 0.0)), condition)
    assert (still.epe_moving, still.epe_static, still.cosine_moving, still.gain_moving) == pytest.approx(
        (3.0, 0.0, 0.0, 0.0)
    )
    backwards = motion_error(field((-1.0, 0.0), (0.0, 0.0)), condition)
    assert (backwards.epe_moving, backwards.cosine_moving, backwards.gain_moving) == pytest.approx((4.0, -1.0, -1 / 3))
    half = motion_error(field((1.5, 0.0), (0.0, 0.0)), condition)
    assert (half.epe_moving, half.cosine_moving, half.gain_moving) == pytest.approx((1.5, 1.0, 0.5))
    sideways = motion_error(field((0.0, 3.0), (0.0, 0.0)), condition)
    assert (sideways.cosine_moving, sideways.gain_moving) == pytest.approx((0.0, 0.0), abs=1e-9)
    nothing_moves = motion_error(field((0.0, 0.0), (0.0, 1.0)), field((0.0, 0.0), (0.0, 0.0)))
    assert math.isnan(nothing_moves.epe_moving) and math.isnan(nothing_moves.cosine_moving)
    assert math.isnan(nothing_moves.gain_moving)
    assert nothing_moves.epe_static == pytest.approx(0.5)
    assert set(nothing_moves.reasons) == {"epe_moving", "cosine_moving", "gain_moving"}
    assert "no cell of the condition moves" in nothing_moves.reasons["gain_moving"]
    all_move = motion_error(field((3.0, 0.0), (3.0, 0.0)), field((3.0, 0.0), (3.0, 0.0)))
    assert math.isnan(all_move.epe_static) and set(all_move.reasons) == {"epe_static"}
    assert "no still cell" in all_move.reasons["epe_static"] and not error.reasons


def test_a_motion_error_that_compares_no_frame_says_why():
    """Every undefined value of a :class:`MotionError` has a reason: no vectors in the condition, or none in the
    generated video."""
    from videocomposer.evaluation.motion import SPLIT_FIELDS, MotionField

    moving = MotionField(torch.ones(3, 2, 32, 32), torch.ones(3, 1, 32, 32))
    empty = MotionField(torch.zeros(3, 2, 32, 32), torch.zeros(3, 1, 32, 32))
    no_condition = motion_error(moving, empty)
    no_generated = motion_error(empty, moving)
    for error, why in ((no_condition, "the motion condition has no vectors"), (no_generated, "no motion vectors")):
        assert all(math.isnan(getattr(error, name)) for name in SPLIT_FIELDS)
        assert set(error.reasons) == set(SPLIT_FIELDS) and all(why in r for r in error.reasons.values())
    assert "generated video" in no_generated.reasons["epe"] and "generated video" not in no_condition.reasons["epe"]


def test_evaluate_run_gives_every_undefined_metric_a_reason(tmp_path):
    """A still source: no condition cell moves, so the speed and direction along it are undefined, each with why."""
    from videocomposer.evaluation import evaluate_run

    still = write_mp4(tmp_path / "still.mp4", np.repeat(translating(96)[:1], FRAMES, axis=0), fps=FPS)
    result = evaluate_run(translating(96), source=still, seed=0)
    undefined = [m for m, v in result.metrics.items() if math.isnan(v)]
    assert {"motion_gain_moving", "motion_cosine_moving", "flow_gain_moving", "motion_epe_moving"} <= set(undefined)
    assert set(undefined) == set(result.reasons)
    assert result.reasons["motion_gain_moving"].startswith("codec vectors: no cell of the condition moves")
    assert result.reasons["flow_gain_moving"].startswith("optical flow: no cell of the condition moves")
    assert not math.isnan(result.metrics["motion_epe"])


def test_downscaled_source_is_compared_in_source_pixels(tmp_path):
    """Source 192 px moving 2·STEP, generated at 96 px moving STEP: same motion once in source pixels."""
    source = write_mp4(tmp_path / "source.mp4", translating(192, scale=2), fps=FPS)
    condition = reference_motion(source, FRAMES, 96, seed=0)
    assert condition.source_pixels_per_pixel == 2.0
    generated = np.stack([cv2.resize(f, (96, 96), interpolation=cv2.INTER_AREA) for f in translating(192, scale=2)])
    error = motion_error(generated, condition)
    assert error.epe < 0.5 and flow_error(generated, condition).epe < 0.5
    # the bare tensor (sites guessed from non-zero pixels) is biased by the resize's blending with empty pixels
    assert motion_error(generated, condition.motion).epe > 1.0
    static = np.repeat(generated[:1], FRAMES, axis=0)
    assert motion_error(static, condition).epe_dense > 3  # |(4, 2)| ≈ 4.5 source px per frame


def test_farneback_flow_matches_the_translation(moving):
    path, frames = moving
    condition = reference_motion(path, FRAMES, 96, seed=0)
    assert flow_error(path, condition).epe < 0.25
    still = np.repeat(frames[:1], FRAMES, axis=0)
    assert flow_error(still, condition).epe == pytest.approx(math.hypot(*STEP), abs=0.25)


def test_frame_count_and_size_mismatch_are_named(moving):
    path, frames = moving
    condition = reference_motion(path, FRAMES, 96, seed=0)
    with pytest.raises(ValueError, match="frame count: 16 vs 17.*--resample"):
        motion_error(frames[:16], condition)
    with pytest.raises(ValueError, match=r"size \(H, W\): \(64, 64\) vs \(96, 96\)"):
        flow_error(frames[:, :64, :64], condition)


def test_unreadable_generated_file(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(VideoReadError, match="bad.mp4"):
        motion_error(bad, torch.zeros(17, 2, 96, 96))
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        extract_motion(tmp_path / "missing.mp4")


def test_psnr_of_identical_images_is_infinite_and_of_a_known_error_exact():
    image = texture(32)
    assert psnr(image, image) == math.inf
    shifted = np.clip(image.astype(int) + 5, 0, 255).astype(np.uint8)
    mse = np.mean((shifted.astype(float) - image) ** 2)
    assert psnr(image, shifted) == pytest.approx(10 * math.log10(255**2 / mse))


def test_ssim_of_constant_images_follows_the_closed_form():
    """Constant images a, b: SSIM = (2ab + C1) / (a² + b² + C1) (no variance, covariance)."""
    a, b = np.full((24, 24, 3), 100, np.uint8), np.full((24, 24, 3), 140, np.uint8)
    c1 = (0.01 * 255) ** 2
    assert ssim(a, b) == pytest.approx((2 * 100 * 140 + c1) / (100**2 + 140**2 + c1), rel=1e-9)
    image = texture(48)
    assert ssim(image, image) == pytest.approx(1.0)
    noisy = np.clip(image + np.random.RandomState(1).normal(0, 25, image.shape), 0, 255).astype(np.uint8)
    assert 0 < ssim(image, noisy) < 0.9


def test_first_frame_round_trip_through_our_mp4_is_within_codec_error(tmp_path):
    smooth = cv2.GaussianBlur(texture(96), (0, 0), 3)
    frames = np.stack([smooth[8:72, 8 + t : 72 + t] for t in range(4)])
    path = write_mp4(tmp_path / "v.mp4", frames, fps=8)
    exact = first_frame_metrics(frames, frames[0])
    assert exact == {"first_frame_psnr": math.inf, "first_frame_ssim": pytest.approx(1.0)}
    coded = first_frame_metrics(path, frames[0])
    capture = cv2.VideoCapture(str(path))  # an independent decoder for the codec's error
    ok, bgr = capture.read()
    capture.release()
    assert ok
    mse = np.mean((cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB).astype(float) - frames[0]) ** 2)
    assert coded["first_frame_psnr"] == pytest.approx(10 * math.log10(255**2 / mse), abs=0.5)
    assert 30 < coded["first_frame_psnr"] < math.inf and coded["first_frame_ssim"] > 0.9
    other = first_frame_metrics(path, texture(64, seed=5))
    assert other["first_frame_psnr"] < 15 and other["first_frame_ssim"] < 0.2


def test_first_frame_image_is_fitted_like_video_frames():
    frame = cv2.GaussianBlur(texture(64), (0, 0), 2)
    big = cv2.resize(frame, (128, 128), interpolation=cv2.INTER_CUBIC)
    wide = np.concatenate([big[:, -16:], big, big[:, :16]], axis=1)  # 160x128: CenterCropV2 drops the 16 px sides
    assert first_frame_metrics(frame[None], wide)["first_frame_psnr"] > 30
    shifted = np.concatenate([big, big[:, :32]], axis=1)  # same size, content 8 output px off
    assert first_frame_metrics(frame[None], shifted)["first_frame_psnr"] < 20


def _object_clip(width: int, height: int, num_frames: int = FRAMES) -> np.ndarray:
    """A textured square of a fifth of the short side crossing a plain background at 1/40 of the side per frame."""
    side = min(width, height)
    size, step = side // 5, side / 40
    patch = cv2.resize(texture(32, seed=3), (size, size), interpolation=cv2.INTER_LINEAR)
    frames = np.full((num_frames, height, width, 3), 90, np.uint8)
    top, left = (height - size) // 2, (width - side) // 2 + side // 6
    for t in range(num_frames):
        x = left + int(round(t * step))
        frames[t, top : top + size, x : x + size] = patch
    return frames


@pytest.mark.parametrize("width, height, side", [(128, 128, 64), (256, 256, 64), (192, 128, 64), (128, 128, 128)])
def test_the_source_against_its_own_condition_has_a_gain_of_one_at_any_size(tmp_path, width, height, side):
    """The source clip brought to the generated size (the model's view) moves at its condition's speed: the gain is
    compared at the source's scale, so a 16-px cell is one source macroblock whatever the generated size."""
    from videocomposer.evaluation import evaluate_run
    from videocomposer.video.sampling import load_video_clip
    from videocomposer.video.writer import to_uint8_frames

    source = write_mp4(tmp_path / "source.mp4", _object_clip(width, height), fps=FPS)
    view = to_uint8_frames(load_video_clip(source, FRAMES, side, side, seed=0, with_mask=False).misc)
    metrics = evaluate_run(view, source=source, seed=0).metrics
    assert 0.8 <= metrics["motion_gain_moving"] <= 1.2, metrics["motion_gain_moving"]
    assert metrics["motion_cosine_moving"] > 0.8
    still = evaluate_run(np.repeat(view[:1], FRAMES, axis=0), source=source, seed=0).metrics
    assert abs(still["motion_gain_moving"]) < 0.1
