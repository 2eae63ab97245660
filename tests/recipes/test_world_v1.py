"""The first synthetic world (v1): deterministic by seed, captions that match what is drawn, motion the real
extractor sees, the text metric's colour reading, and its truth files."""

from __future__ import annotations

import numpy as np
import pytest

from recipes.toy import world_v1
from recipes.toy.codec_benchmark import frame_change
from recipes.toy.heldout import dominant_object_colour
from videocomposer.evaluation.truth import read_truth, truth_path
from videocomposer.video.sampling import load_video_clip
from videocomposer.video.writer import write_mp4


def test_clips_are_a_pure_function_of_seed_and_index():
    a, b = world_v1.sample_clip_spec(7, 3), world_v1.sample_clip_spec(7, 3)
    assert a == b and a.caption == b.caption
    np.testing.assert_array_equal(world_v1.render_clip(a), world_v1.render_clip(b))
    others = {world_v1.sample_clip_spec(8, 3), world_v1.sample_clip_spec(7, 4)}
    assert a not in others


@pytest.mark.parametrize("index", range(12))
def test_caption_names_every_drawn_shape_colour_and_the_background(index):
    spec = world_v1.sample_clip_spec(5, index)
    caption = spec.caption
    frames = world_v1.render_clip(spec)
    assert frames.shape == (spec.num_frames, spec.size, spec.size, 3) and frames.dtype == np.uint8
    assert caption.endswith(f"over a {spec.background} background")
    for i, shape in enumerate(spec.shapes):
        assert f"{shape.colour} {shape.shape}" in caption
        visible = world_v1.object_mask(spec, 0, i)
        if visible.sum() > 20:  # drawn in its colour where it is visible (the rendering, not the spec, is checked)
            colours = frames[0][visible].astype(int)
            assert (np.abs(colours - world_v1.OBJECT_COLOURS[shape.colour]).max(axis=1) <= 1).mean() > 0.9
    background = ~np.any([world_v1.object_mask(spec, 0, i) for i in range(len(spec.shapes))], axis=0)
    offsets = frames[0][background].astype(int) - world_v1.BACKGROUND_COLOURS[spec.background]
    assert np.abs(offsets).mean() <= 11 and (np.abs(offsets).max() <= 11 or spec.texture == "noise")  # mild texture


@pytest.mark.parametrize(
    "vx, vy, words",
    [
        (-4, 0, "moves left"),
        (4, 0, "moves right"),
        (0, -4, "moves up"),
        (0, 4, "moves down"),
        (3, -3, "moves up and right"),
    ],
)
def test_direction_words_follow_the_drawn_motion(vx, vy, words):
    shape = world_v1.ShapeSpec("circle", "red", 16, "line", 64, 64, vx, vy)
    spec = world_v1.ClipSpec(0, 0, "gray", "plain", (shape,), num_frames=8)
    assert spec.caption == f"a red circle {words} over a gray background"
    frames = world_v1.render_clip(spec)
    centroids = [
        np.argwhere(np.abs(f.astype(int) - world_v1.OBJECT_COLOURS["red"]).max(axis=-1) < 3).mean(0) for f in frames
    ]
    dy, dx = centroids[-1] - centroids[0]
    assert np.sign(round(dx)) == np.sign(vx) and np.sign(round(dy)) == np.sign(vy)


def test_clip_file_writes_the_clip_and_its_truth_once(tmp_path):
    path, spec = world_v1.clip_file(tmp_path, 3, 1)
    truth = read_truth(truth_path(path))
    assert truth.video == str(path.resolve()) and truth.caption == spec.caption and truth.fps == world_v1.CLIP_FPS
    for i, shape in enumerate(spec.shapes):
        drawn = world_v1.object_mask(spec, 5, i)
        assert truth.objects[i].visible[5] == pytest.approx(drawn.sum() / world_v1.silhouette(spec, 5, i).sum())
        rows, cols = np.nonzero(world_v1.silhouette(spec, 5, i))
        np.testing.assert_allclose(truth.objects[i].centroid[5], [cols.mean() + 0.5, rows.mean() + 0.5], atol=1e-4)
        np.testing.assert_allclose(
            truth.objects[i].position[5], shape.positions(spec.num_frames, spec.size)[5] + 0.5, atol=1e-4
        )
    stamp = path.stat().st_mtime_ns
    assert world_v1.clip_file(tmp_path, 3, 1)[0] == path and path.stat().st_mtime_ns == stamp  # not rewritten
    with pytest.raises(FileExistsError, match="other options"):
        world_v1.clip_file(tmp_path, 3, 1, num_frames=17)


def test_the_motion_condition_of_a_clip_points_the_way_its_shape_moves(tmp_path):
    shape = world_v1.ShapeSpec("square", "yellow", 20, "line", 30, 64, 5, 0)
    spec = world_v1.ClipSpec(0, 0, "navy", "plain", (shape,))
    write_mp4(tmp_path / "clip.mp4", world_v1.render_clip(spec), fps=world_v1.CLIP_FPS)
    clip = load_video_clip(tmp_path / "clip.mp4", 8, 128, 128, seed=0, with_mask=False)
    assert clip.frame_indices.tolist() == list(range(clip.frame_indices[0], clip.frame_indices[0] + 8))
    dx, dy = clip.motion[1:, 0], clip.motion[1:, 1]  # frame 0 is intra-coded
    moving = dx.abs() > 1
    assert moving.any() and (dx[moving] > 0).float().mean() > 0.8  # rightwards, as drawn
    assert dy.abs().mean() < dx.abs().mean()


@pytest.mark.parametrize("index", range(6))
def test_dominant_colour_reads_the_drawn_shape(index):
    spec = world_v1.sample_clip_spec(11, index, max_shapes=1)
    assert dominant_object_colour(world_v1.render_clip(spec)) == spec.shapes[0].colour
    plain = world_v1.ClipSpec(0, 0, spec.background, "plain", ())
    assert dominant_object_colour(world_v1.render_clip(plain)) is None


def test_frame_change_is_the_mean_absolute_step_between_frames():
    frame = np.full((8, 8, 3), 100, dtype=np.uint8)
    assert frame_change(np.stack([frame] * 4)) == 0.0
    ramp = np.stack([frame, frame + 10, frame + 30])  # steps of 10 and 20 levels
    assert frame_change(ramp) == pytest.approx(15.0)
    spec = world_v1.sample_clip_spec(4242, 3)
    video = world_v1.render_clip(spec)
    shuffled = video[np.random.default_rng(0).permutation(len(video))]
    assert 0 < frame_change(video) < frame_change(shuffled)  # a moving shape changes less than jumbled frames
    with pytest.raises(ValueError, match="at least 2 frames"):
        frame_change(frame[None])
