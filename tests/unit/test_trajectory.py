"""Hand-drawn motion: strokes → the block motion field, against hand-computed fields and against the vectors
our extractor reads from a video of an object moving the same way."""

from __future__ import annotations

import json

import av
import numpy as np
import pytest
import torch

from videocomposer.video.motion import MotionSettings
from videocomposer.video.sampling import load_video_clip
from videocomposer.video.trajectory import Stroke, Trajectory, TrajectoryError, draw_trajectory, read_trajectory

FRAMES = 8


def expected_field(width, height, centres, radius, frames):
    """Independent expectation: [F, 2, H, W] zeros, and at each 16x16 block centre (8 + 16k) within
    ``radius`` of frame f's point (or holding it) the displacement centres[f] - centres[f-1]."""
    field = torch.zeros(frames, 2, height, width)
    for f in range(1, frames):
        (x, y), (px, py) = centres[f], centres[f - 1]
        for cy in range(8, height, 16):
            for cx in range(8, width, 16):
                inside = (cx - x) ** 2 + (cy - y) ** 2 <= radius**2 or (
                    cx // 16 == int(x // 16) and cy // 16 == int(y // 16)
                )
                if inside:
                    field[f, 0, cy, cx], field[f, 1, cy, cx] = x - px, y - py
    return field


def test_straight_stroke_moves_the_covered_blocks_by_its_step_each_frame():
    centres = [(40.0 + 12 * f, 120.0) for f in range(FRAMES)]  # 12 px right per frame
    trajectory = Trajectory(256, 256, (Stroke(tuple(centres), radius=20),))
    motion = trajectory.motion_condition(FRAMES, 256)
    assert motion.shape == (FRAMES, 2, 256, 256) and motion.dtype == torch.float32
    assert torch.equal(motion, expected_field(256, 256, centres, 20, FRAMES))
    assert torch.equal(motion[0], torch.zeros_like(motion[0]))  # the clip's first frame is an I-frame
    for f in range(1, FRAMES):
        nonzero = motion[f].abs().sum(0) > 0
        assert nonzero.sum() >= 4  # the region covers several blocks
        assert torch.all(motion[f, 0][nonzero] == 12) and torch.all(motion[f, 1][nonzero] == 0)


def test_drawn_path_is_resampled_to_constant_speed_along_its_direction():
    # a diagonal path drawn with unevenly spaced points: 3-4-5 direction, length 140 over 7 steps → 20 px per frame
    stroke = Stroke(((50, 40), (62, 56), (134, 152)), radius=10)
    motion = Trajectory(200, 200, (stroke,)).motion_condition(FRAMES, 200)
    for f in range(1, FRAMES):
        nonzero = motion[f].abs().sum(0) > 0
        assert nonzero.any()
        assert torch.all(motion[f, 0][nonzero] == 12) and torch.all(motion[f, 1][nonzero] == 16)  # half-pel exact here
    centres = stroke.frame_points(FRAMES)
    np.testing.assert_allclose(np.diff(centres, axis=0), [[12, 16]] * (FRAMES - 1), atol=1e-9)


def test_vectors_are_half_pel_like_mpeg4_and_later_strokes_win():
    a = Stroke(((100, 100), (110.3, 100)), radius=30)  # 10.3/7 px per frame → 1.5 (half-pel)
    b = Stroke(((100, 100), (100, 100 - 7 * 3)), radius=8)  # 3 px up per frame, over a's centre blocks
    motion = Trajectory(256, 256, (a, b)).motion_condition(FRAMES, 256)
    assert set(motion[1, 0].unique().tolist()) <= {0.0, 1.5}
    y, x = int(b.frame_points(FRAMES)[1][1]) // 16 * 16 + 8, 100 // 16 * 16 + 8
    assert motion[1, :, y, x].tolist() == [0.0, -3.0]  # b is later: its vector wins where both cover a block


def test_canvas_is_scaled_to_the_source_size_then_resized_and_cropped_like_extracted_motion():
    # 16 px per frame on a 640x360 canvas; by default the source is the video's side (256): 16 * 256 / 360 = 11.4,
    # half-pel 11.5, at the block centres of the 455x256 source, centre-cropped like extracted motion
    trajectory = Trajectory(640, 360, (Stroke(tuple((300.0 + 16 * f, 180.0) for f in range(4)), radius=40),))
    motion = trajectory.motion_condition(4, 256)
    assert motion.shape == (4, 2, 256, 256)
    nonzero = motion[1:, 0] != 0
    assert nonzero.any() and torch.all(motion[1:, 0][nonzero] == 11.5) and motion[1:, 1].abs().max() == 0
    # as a 360-px source: the bilinear resize to 256 lowers the sparse peaks, units stay source pixels
    native = trajectory.motion_condition(4, 256, source_size=360)
    assert native[1:, 0].max() <= 16 and native[1:, 0].max() > 16 * 256 / 360 and native[1:, 0].min() >= 0


def test_the_same_drawing_gives_the_same_field_on_any_canvas_size():
    small = Trajectory(128, 128, (Stroke(((32, 64), (96, 64)), radius=16),))
    large = Trajectory(512, 512, (Stroke(((128, 256), (384, 256)), radius=64),))
    assert torch.equal(small.motion_condition(8, 64), large.motion_condition(8, 64))
    # drawn at the canvas's own size, a 1024-px source loses every vector in the resize to 256 (as a 1024-px
    # video does in the reference): the default source size keeps them
    big = Trajectory(1024, 1024, (Stroke(((200, 500), (800, 500)), radius=120),))
    assert big.motion_condition(8, 256, source_size=1024).abs().max() == 0
    assert big.motion_condition(8, 256).abs().max() > 0


def test_json_round_trip_gives_the_same_field(tmp_path):
    trajectory = Trajectory(
        320,
        192,
        (
            Stroke(((30, 40), (90.5, 60), (200, 150)), radius=24.5),
            Stroke(tuple((250.0, 20.0 + 9 * f) for f in range(FRAMES)), 12, "per_frame"),
        ),
        source_size=160,
    )
    path = tmp_path / "strokes.json"
    path.write_text(trajectory.to_json())
    again = read_trajectory(path)
    assert again == trajectory
    assert torch.equal(again.motion_condition(FRAMES, 128), trajectory.motion_condition(FRAMES, 128))
    assert json.loads(path.read_text())["format"] == "videocomposer-trajectory"


def test_minimal_hand_written_json_is_accepted():
    text = '{"width": 64, "height": 64, "strokes": [{"points": [[8, 8], [40, 8]], "radius": 6}]}'
    motion = Trajectory.from_json(text).motion_condition(3, 64)
    assert motion[1, 0, 8, 24] == 16 and motion[2, 0, 8, 40] == 16 and motion[1].abs().sum() == 16


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "not valid JSON"),
        ('{"width": 64, "height": 64}', "missing key(s) ['strokes']"),
        ('{"width": 0, "height": 64, "strokes": []}', "width must be a positive integer"),
        (
            '{"width": 64, "height": 64, "strokes": [{"points": [[1, 2]]}]}',
            "strokes[0] must be an object with 'points'",
        ),
        ('{"width": 64, "height": 64, "strokes": [{"points": [[1]], "radius": 3}]}', "strokes[0].points must be"),
        ('{"width": 64, "height": 64, "strokes": [{"points": [[1, 2]], "radius": -3}]}', "radius must be a positive"),
        ('{"width": 64, "height": 64, "strokes": [{"points": [], "radius": 3}]}', "at least one point"),
        (
            '{"width": 64, "height": 64, "strokes": [{"points": [[1, 2]], "radius": 3, "speed": 2}]}',
            "unknown key(s) ['speed']",
        ),
        ('{"format": "other", "width": 64, "height": 64, "strokes": []}', "'format' must be"),
        ('{"width": 64, "height": 64, "strokes": [], "source_size": 0}', "source_size must be a positive integer"),
        # numbers far outside their range
        (
            '{"width": 64, "height": 64, "strokes": [{"points": [[1e30, 8], [40, 8]], "radius": 6}]}',
            "strokes[0].points[0] = [1e+30, 8] lies far outside the 64x64 canvas: x must be within [-64, 128]",
        ),
        (
            '{"width": 64, "height": 64, "strokes": [{"points": [[8, 8], [8, -129]], "radius": 6}]}',
            "strokes[0].points[1] = [8, -129] lies far outside",
        ),
        (
            '{"width": 64, "height": 64, "strokes": [{"points": [[8, 8]], "radius": 1e30}]}',
            "strokes[0].radius must be at most 192 pixels",
        ),
        ('{"width": 64, "height": 64, "strokes": [{"points": [[NaN, 8]], "radius": 6}]}', "must be finite numbers"),
        ('{"width": 64, "height": 64, "strokes": [{"points": [[8, 8]], "radius": Infinity}]}', "radius must be a"),
        (
            '{"width": 64, "height": 64, "strokes": [{"points": [[1' + "0" * 400 + ', 8]], "radius": 6}]}',
            "points and radius must be finite numbers",
        ),
        ('{"width": 1000000000, "height": 64, "strokes": []}', "width must be at most 16384 pixels, got 1000000000"),
        ('{"width": -64, "height": 64, "strokes": []}', "width must be a positive integer (pixels), got -64"),
        ('{"width": 64, "height": 64, "strokes": [], "source_size": 10000000}', "source_size must be at most 16384"),
    ],
)
def test_bad_json_names_the_file_and_field(tmp_path, text, message):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(TrajectoryError) as info:
        read_trajectory(path)
    assert message in str(info.value) and str(path) in str(info.value) and "--trajectory" in str(info.value)


def test_per_frame_stroke_needs_one_point_per_frame_and_missing_file_is_named(tmp_path):
    stroke = Stroke(((0, 0), (1, 1), (2, 2)), 5, "per_frame")
    with pytest.raises(TrajectoryError, match="one point per frame: 3 points, 8 frames"):
        Trajectory(32, 32, (stroke,)).motion_condition(FRAMES, 32)
    with pytest.raises(FileNotFoundError, match="--trajectory: file not found"):
        read_trajectory(tmp_path / "nope.json")


def test_drawing_marks_the_path_on_the_canvas():
    trajectory = Trajectory(64, 48, (Stroke(((10, 24), (50, 24)), 6),))
    image = np.asarray(draw_trajectory(trajectory, 4))
    assert image.shape == (48, 64, 3)
    assert (image[24, 20:40] != [96, 96, 96]).any(axis=-1).all()  # the path is drawn across the middle
    assert (image[5, 30] == [96, 96, 96]).all()  # away from it the canvas is untouched


def moving_block_video(path, size, start, step, frames=32, fps=4):
    """A textured 48x48 block starting at ``start`` and moving ``step`` = (dx, dy) px per frame over a still
    textured background."""
    width, height = size
    rng = np.random.RandomState(0)
    background = (rng.rand(height // 8 + 1, width // 8 + 1, 3) * 80 + 60).astype(np.uint8)
    background = np.repeat(np.repeat(background, 8, 0), 8, 1)[:height, :width]
    block = (rng.rand(6, 6, 3) * 255).astype(np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "10"}
        for f in range(frames):
            image = background.copy()
            x, y = start[0] + step[0] * f, start[1] + step[1] * f
            image[y : y + 48, x : x + 48] = block
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.mark.parametrize("step", [(4, 0), (0, 3), (-4, 2)])
def test_same_sign_and_size_as_the_vectors_extracted_from_a_video_moving_that_way(tmp_path, step):
    # an 8 s clip at 4 fps is re-encoded at 4 fps: one video frame per clip frame
    path = tmp_path / "moving.mp4"
    size = (224, 160)
    begin = (16 if step[0] >= 0 else size[0] - 64, 16)
    moving_block_video(path, size, begin, step)
    clip = load_video_clip(path, num_frames=FRAMES, resolution=160, misc_size=160, seed=0, with_mask=False)
    first = int(clip.frame_indices[0])
    centres = tuple(
        (begin[0] + 24 + step[0] * (first + f), begin[1] + 24 + step[1] * (first + f)) for f in range(FRAMES)
    )
    drawn = Trajectory(*size, (Stroke(centres, radius=12, timing="per_frame"),)).motion_condition(FRAMES, 160)
    extracted = clip.motion
    for f in range(1, FRAMES):
        if clip.frame_types[first + f] == "I":
            continue
        covered = drawn[f].abs().sum(0) > 0
        got = extracted[f][:, covered]  # the extractor's vectors on the blocks the stroke moves
        assert got.abs().sum() > 0
        median = got.median(dim=1).values
        assert median.tolist() == pytest.approx(list(step), abs=0.5), f"frame {f}: {median.tolist()} vs {step}"
        assert torch.all(drawn[f][:, covered] == torch.tensor(step, dtype=torch.float32)[:, None])


def test_pipeline_and_generate_command_feed_the_drawn_field_to_the_unet(tmp_path):
    from videocomposer.app.generation import prepare_generation
    from videocomposer.cli import parse_command_line
    from videocomposer.cli.generate import to_request
    from videocomposer.pipelines import VideoComposerPipeline
    from videocomposer.pipelines.tiny import tiny_configs, tiny_model_config, write_tiny_official_weights

    write_tiny_official_weights(tmp_path / "w", components=["unet", "vae", "clip"])
    pipe = VideoComposerPipeline.from_official(tmp_path / "w", conditions=["y", "motion"], config=tiny_configs())
    trajectory = Trajectory(48, 32, (Stroke(((8, 8), (40, 24)), radius=10),))
    (tmp_path / "t.json").write_text(trajectory.to_json())
    (tmp_path / "tiny.json").write_text(json.dumps(tiny_model_config()))
    expected = trajectory.motion_condition(4, 32).permute(1, 0, 2, 3)[None]  # [1, 2, F, R, R]

    built = pipe.prepare_conditions(["y", "motion"], prompt="x", motion=trajectory, num_frames=4, height=32, width=32)
    assert torch.equal(built.conditions["motion"], expected)
    args = parse_command_line(
        [
            "generate",
            "compose",
            "--conditions",
            "y,motion",
            "--trajectory",
            str(tmp_path / "t.json"),
            "--weights-dir",
            str(tmp_path / "w"),
            "--model-config",
            str(tmp_path / "tiny.json"),
            "--frames",
            "4",
            "--height",
            "32",
            "--width",
            "32",
            "--output-dir",
            str(tmp_path / "o"),
        ]
    )
    assert torch.equal(prepare_generation(to_request(args), pipe).prepared.conditions["motion"], expected)


def test_a_field_that_cannot_fit_in_memory_is_refused_with_the_estimate_and_the_limit(monkeypatch):
    from videocomposer import memory

    monkeypatch.setattr(memory, "available_ram", lambda: memory.FreeMemory(1 << 30, "available RAM"))
    giant = Trajectory(64, 64, (Stroke(((8, 8), (40, 8)), 6),), source_size=16384)
    # 16 frames of float64 (dx, dy) fields and their stack on a 16384 x 16384 source: 32 bytes a pixel, 128 GiB
    with pytest.raises(memory.InsufficientMemoryError) as info:
        giant.motion_condition(16, 256)
    assert info.value.needed >= 16 * 32 * 16384**2 and info.value.available == 1 << 30
    assert "16 frames on a 16384x16384 source" in str(info.value) and "128 GiB" in str(info.value)
    assert "more than the 1 GiB of available RAM" in str(info.value) and "smaller source_size" in str(info.value)
    wide = Trajectory(16384, 1, (Stroke(((8, 0), (40, 0)), 6),))  # scaled to a 256-px short side: 4194304 x 256
    with pytest.raises(memory.InsufficientMemoryError, match="4194304x256 source"):
        wide.check_field_memory(4, 256)
    Trajectory(64, 64, (Stroke(((8, 8), (40, 8)), 6),)).check_field_memory(16, 256)  # 16 x 256 x 256: 32 MiB fits


def test_out_of_range_numbers_are_refused_when_the_field_is_made_from_python_too():
    far = Trajectory(64, 64, (Stroke(((1e30, 8), (40, 8)), 6),))
    with pytest.raises(TrajectoryError, match="lies far outside the 64x64 canvas"):
        far.motion_condition(4, 32)
    with pytest.raises(TrajectoryError, match="lies far outside the 64x64 canvas"):
        far.motion_condition_for(4, 32, MotionSettings())
