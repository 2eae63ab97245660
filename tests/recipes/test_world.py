"""The synthetic world v2 and the worlds' front (:mod:`recipes.toy.synthetic`): deterministic by seed, every attribute
reachable, captions with the common colour names, what is drawn is what the truth file says, and the clips are
written at the size, rate and codec their spec names, with the steps the trainer samples evenly spaced."""

from __future__ import annotations

import collections
import dataclasses

import av
import numpy as np
import pytest

from recipes.toy import synthetic, world, world_v1
from recipes.toy.backgrounds import BACKGROUNDS, BackgroundSpec, mix_weights
from recipes.toy.benchmark import new_look, stroke_cases
from recipes.toy.encoders import CODECS
from recipes.toy.paths import PATHS, PathSpec, path_phrase
from recipes.toy.shapes import SHAPES
from videocomposer.evaluation.colours import COLOUR_NAMES, caption_colour, colour_name, delta_e, naming_margin
from videocomposer.evaluation.tracks import background_mixes
from videocomposer.evaluation.truth import read_truth, sampled_truth_frames, truth_path
from videocomposer.training.data import read_annotations
from videocomposer.video.reader import probe_video
from videocomposer.video.sampling import load_video_clip

SPECS = [world.sample_clip_spec(5, i) for i in range(400)]


def test_clips_are_a_pure_function_of_seed_and_index():
    a, b = world.sample_clip_spec(7, 3), world.sample_clip_spec(7, 3)
    assert a == b and a.caption == b.caption
    small = world.sample_clip_spec(7, 3, max_side=176)
    np.testing.assert_array_equal(
        world.render_clip(small), world.render_clip(world.sample_clip_spec(7, 3, max_side=176))
    )
    assert a not in {world.sample_clip_spec(8, 3), world.sample_clip_spec(7, 4)}
    assert synthetic.sample_clip_spec(7, 3) == a  # v2 is the default world
    assert synthetic.sample_clip_spec(7, 3, "v1") == world_v1.sample_clip_spec(7, 3)
    with pytest.raises(ValueError, match="unknown synthetic world 'v3'; choose from v1, v2"):
        synthetic.sample_clip_spec(7, 3, "v3")


def test_every_attribute_of_the_world_is_reached():
    objects = [o for s in SPECS for o in s.objects]
    assert {o.shape for o in objects} == set(SHAPES) and {o.path.kind for o in objects} == set(PATHS)
    assert {o.colour_name for o in objects} == set(COLOUR_NAMES)
    assert {s.background.kind for s in SPECS} == set(BACKGROUNDS)
    assert {len(s.objects) for s in SPECS} == {1, 2, 3}
    assert {s.codec for s in SPECS} == set(CODECS) and {s.fps for s in SPECS} == set(world.FRAME_PLANS)
    assert {s.side for s in SPECS} == set(world.SHORT_SIDES)
    assert {(s.fps, s.num_frames, s.stride) for s in SPECS} == {
        (f, n, k) for f, p in world.FRAME_PLANS.items() for n, k in p
    }
    shapes = collections.Counter(
        "square" if s.width == s.height else "landscape" if s.width > s.height else "portrait" for s in SPECS
    )
    assert set(shapes) == {"square", "landscape", "portrait"} and all(s.width % 2 == 0 == s.height % 2 for s in SPECS)
    headings = {round(np.degrees(np.arctan2(o.path.vy, o.path.vx)) // 90) for o in objects if o.path.kind == "line"}
    assert headings == {-2, -1, 0, 1}  # lines in every quadrant
    assert min(s.side for s in (world.sample_clip_spec(5, i, min_side=256) for i in range(30))) >= 256


def test_colours_are_named_clearly_and_stand_out():
    for spec in SPECS:
        mixes = background_mixes(spec.background.colours)
        names = [o.colour_name for o in spec.objects]
        assert len(set(names)) == len(names) and not set(names) & {colour_name(m) for m in mixes}
        for i, obj in enumerate(spec.objects):
            assert naming_margin(obj.colour) >= world.NAME_MARGIN
            assert delta_e(mixes, obj.colour).min() >= world.BACKGROUND_CONTRAST
            assert all(delta_e(obj.colour, other.colour) >= world.OBJECT_CONTRAST for other in spec.objects[i + 1 :])


def test_captions_name_each_object_its_path_and_the_background():
    for spec in SPECS[:60]:
        caption = spec.caption
        assert caption_colour(caption) == spec.objects[0].colour_name
        for obj in spec.objects:
            assert f"{obj.colour_name} {obj.shape} {path_phrase(obj.path, spec.steps)}" in caption
        assert caption.endswith(world.background_phrase(spec.background))
    spec = dataclasses.replace(
        SPECS[0],
        objects=(world.ObjectSpec("star", (240, 135, 25), 0.1, PathSpec("line", 0.5, 0.5, -0.02)),),
        background=BackgroundSpec("linear", ((128, 128, 128), (45, 80, 215))),
    )
    assert spec.caption == "an orange star moves left over a gray to blue gradient"


def test_objects_stay_inside_the_centre_square_and_paths_move_as_named():
    for spec in SPECS[:100]:
        corner = np.array([(spec.width - spec.side) / 2, (spec.height - spec.side) / 2])
        for i, obj in enumerate(spec.objects):
            inside = (spec.centres(i) - corner) / spec.side
            assert inside.min() >= obj.radius - 1e-9 and inside.max() <= 1 - obj.radius + 1e-9
    steps = np.arange(17.0)
    line = PathSpec("line", 0.2, 0.5, 0.03, -0.01).positions(steps)
    np.testing.assert_allclose(np.diff(line, axis=0), [[0.03, -0.01]] * 16)
    pauses = np.linalg.norm(
        np.diff(PathSpec("stop_and_go", 0.1, 0.5, 0.04, 0.0, move=2, pause=2).positions(steps), axis=0), axis=1
    )
    assert np.isclose(pauses, 0).sum() == 8 and np.isclose(pauses, 0.04).sum() == 8
    zigzag = PathSpec("zigzag", 0.1, 0.5, 0.03, 0.0, amplitude=0.1, period=4).positions(steps)
    assert set(np.sign(np.round(np.diff(zigzag[:, 1]), 9))) == {-1.0, 1.0} and np.allclose(np.diff(zigzag[:, 0]), 0.03)
    bounce = PathSpec("bounce", 0.5, 0.5, 0.11, 0.07, low=0.2, high=0.8).positions(steps)
    assert bounce.min() >= 0.2 - 1e-9 and bounce.max() <= 0.8 + 1e-9
    arc = PathSpec("arc", 0.5, 0.5, arc_radius=0.2, omega=0.3).positions(steps)
    np.testing.assert_allclose(np.linalg.norm(arc - 0.5, axis=1), 0.2)


def test_backgrounds_mix_their_two_colours_the_same_way_at_every_size():
    for kind in BACKGROUNDS:
        spec = BackgroundSpec(kind, ((200, 40, 40), (40, 40, 200)), angle=0.4, scale=0.2, seed=3)
        small, large = mix_weights(spec, 64, 64), mix_weights(spec, 256, 256)
        assert small.min() >= 0 and small.max() <= 1 and (kind == "solid") == (small.max() == 0)
        assert np.abs(large[2::4, 2::4] - small).mean() < 0.08, kind  # the same picture, finer
    wide = mix_weights(BackgroundSpec("checker", ((0, 0, 0), (255, 255, 255)), scale=0.25), 96, 64)
    np.testing.assert_array_equal(
        wide[:, 16:80], mix_weights(BackgroundSpec("checker", ((0, 0, 0), (255, 255, 255)), scale=0.25), 64, 64)
    )


def test_what_is_drawn_is_what_the_truth_says(tmp_path):
    spec = next(s for s in (world.sample_clip_spec(9, i, max_side=176) for i in range(50)) if len(s.objects) == 3)
    frames, truth = world.render_clip(spec), world.clip_truth(spec, tmp_path / "x.mp4")
    background = world.render_background(spec.background, spec.width, spec.height)
    for f in (0, spec.num_frames - 1):
        drawn = np.zeros(frames.shape[1:3], bool)
        for i, obj in enumerate(truth.objects):
            mask = truth.object_mask(i, f)
            visible = mask & ~drawn
            assert (frames[f][visible] == spec.objects[i].colour).all()
            assert truth.objects[i].visible[f] == pytest.approx(visible.sum() / mask.sum())
            rows, cols = np.nonzero(mask)
            np.testing.assert_allclose(obj.centroid[f], [cols.mean() + 0.5, rows.mean() + 0.5])
            drawn |= mask
        np.testing.assert_array_equal(frames[f][~drawn], background[~drawn])
    a, b = (np.array(c, float) for c in spec.background.colours)  # every background pixel mixes the two colours
    t = np.clip(((background - a) @ (b - a)) / max((b - a) @ (b - a), 1e-9), 0, 1)
    assert np.abs(a + t[..., None] * (b - a) - background).max() <= 1.0
    assert truth.caption == spec.caption and truth.generator["world"] == "v2"


def _one_per_codec() -> dict[str, world.ClipSpec]:
    found: dict[str, world.ClipSpec] = {}
    for i in range(200):
        spec = world.sample_clip_spec(21, i, max_side=128)
        found.setdefault(spec.codec, spec)
        if len(found) == len(CODECS):
            return found
    raise AssertionError(f"codecs reached: {sorted(found)}")


@pytest.mark.parametrize("codec", list(CODECS))
def test_clips_are_written_with_their_size_rate_codec_and_truth(tmp_path, codec):
    spec = _one_per_codec()[codec]
    path, written = world.clip_file(tmp_path, spec.seed, spec.index, max_side=128)
    assert written == spec and path.suffix == f".{CODECS[codec].extension}"
    probe = probe_video(path)
    assert (probe.width, probe.height, probe.num_frames, probe.fps) == (
        spec.width,
        spec.height,
        spec.num_frames,
        spec.fps,
    )
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        decoded = next(container.decode(stream)).to_ndarray(format="rgb24")
        assert (
            stream.codec_context.name
            == {"h264": "h264", "hevc": "hevc", "mpeg4": "mpeg4", "vp9": "vp9", "prores": "prores"}[codec]
        )
    error = np.abs(decoded.astype(float) - world.render_clip(spec, frames=[0])[0]).mean()
    assert error < 4, error  # the drawn frame, up to the codec's error
    truth = read_truth(truth_path(path))
    assert truth.video == str(path.resolve()) and truth.fps == spec.fps and truth.num_frames == spec.num_frames
    expected = world.clip_truth(spec, path)
    for ours, theirs in zip(truth.objects, expected.objects):
        np.testing.assert_allclose(ours.centroid, theirs.centroid, atol=1e-4)
        np.testing.assert_allclose(ours.bbox, theirs.bbox)
        assert (ours.colour, ours.colour_name, ours.shape) == (theirs.colour, theirs.colour_name, theirs.shape)


def test_a_clip_drawn_with_other_options_is_never_taken_for_another(tmp_path):
    index = next(
        i
        for i in range(100)
        if world.sample_clip_spec(4, i, max_side=128).codec
        == "h264"
        == world.sample_clip_spec(4, i, max_side=176, min_side=176).codec
    )
    path, _ = world.clip_file(tmp_path, 4, index, max_side=128)
    with pytest.raises(FileExistsError, match="other options"):
        world.clip_file(tmp_path, 4, index, max_side=176, min_side=176)
    assert world.clip_file(tmp_path, 4, index, max_side=128)[0] == path


@pytest.mark.parametrize("fps", [12, 24, 25])
def test_the_trainer_samples_evenly_spaced_steps(tmp_path, fps):
    """The clip sampling keeps every stride-th written frame, so a line moves by its speed per sampled frame."""
    spec = next(
        s
        for s in (world.sample_clip_spec(31, i, max_side=128) for i in range(300))
        if s.fps == fps and s.stride > 1 and s.objects[0].path.kind == "line"
    )
    path, _ = world.clip_file(tmp_path, spec.seed, spec.index, max_side=128)
    clip = load_video_clip(path, 8, 64, 64, seed=0, with_mask=False)
    assert clip.fps * spec.stride == fps
    kept = sampled_truth_frames(clip.frame_indices.tolist(), clip.fps, fps)
    assert set(np.diff(kept)) == {spec.stride}
    steps = np.diff(read_truth(truth_path(path)).objects[0].position[kept], axis=0)
    velocity = np.array([spec.objects[0].path.vx, spec.objects[0].path.vy]) * spec.side
    np.testing.assert_allclose(steps, np.repeat(velocity[None], 7, axis=0), atol=1e-3)


@pytest.mark.parametrize("world_name", ["v1", "v2"])
def test_a_dataset_is_read_by_the_trainer_and_never_overwritten(tmp_path, world_name):
    options = {"max_side": 128} if world_name == "v2" else {}
    csv_path = synthetic.write_dataset(tmp_path, 3, seed=2, world=world_name, **options)
    rows = read_annotations(tmp_path)
    assert [r.caption for r in rows] == [
        synthetic.sample_clip_spec(2, i, world_name, **options).caption for i in range(3)
    ]
    assert all(truth_path(tmp_path / r.video).is_file() for r in rows)
    with pytest.raises(FileExistsError):
        synthetic.write_dataset(tmp_path, 3, seed=2, world=world_name, **options)
    assert csv_path.read_text().startswith("video,caption\n")


def test_the_benchmarks_new_look_and_strokes():
    for spec in SPECS[:40]:
        new = new_look(spec)
        assert new.objects[0].shape != spec.objects[0].shape and new.objects[0].path == spec.objects[0].path
        assert new.objects[0].colour_name not in {o.colour_name for o in spec.objects}
        assert (
            delta_e(background_mixes(spec.background.colours), new.objects[0].colour).min() >= world.BACKGROUND_CONTRAST
        )
    cases = stroke_cases(8, min_side=256)
    assert len({c.caption.split(" moves ")[1].split(" over ")[0] for c in cases}) == 8  # the eight compass points
    for case in cases:
        (x0, y0), (x1, y1) = case.trajectory.strokes[0].points
        side = min(case.truth.width, case.truth.height)
        assert 0.2 * side - 1e-6 <= np.hypot(x1 - x0, y1 - y0) <= 0.4 * side + 1e-6 and side >= 256
        np.testing.assert_allclose((x0, y0), case.truth.objects[0].position[0])
