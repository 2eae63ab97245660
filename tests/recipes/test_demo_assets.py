"""The demo's packaged inputs are what the recipe's demo stage writes: the same scene, drawn the same way."""

from __future__ import annotations

import json

import av
import numpy as np

from recipes.toy import world_v1
from recipes.toy.demo_assets import SOURCE_FRAMES, demo_description, demo_scene, write_demo_assets
from videocomposer.pipelines.toy_demo import DEMO_ASSETS, load_demo_inputs


def _decoded(path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


def test_the_scene_moves_the_same_shape_path_with_other_looks():
    source, new = demo_scene()
    a, b = source.shapes[0], new.shapes[0]
    track = a.positions(source.num_frames, source.size)
    assert source.num_frames == SOURCE_FRAMES and a.path != "bounce"
    assert np.linalg.norm(track[-1] - track[0]) > source.size / 3  # it crosses the frame
    np.testing.assert_array_equal(track, b.positions(new.num_frames, new.size))
    assert (a.colour, a.shape, source.background) != (b.colour, b.shape, new.background)
    assert a.colour != b.colour and a.shape != b.shape and source.background != new.background


def test_the_packaged_inputs_are_the_recipes_scene():
    source, new = demo_scene()
    assert json.loads((DEMO_ASSETS / "demo.json").read_text()) == demo_description(source, new)
    inputs = load_demo_inputs()
    first = world_v1.render_clip(new.__class__(**{**new.__dict__, "num_frames": 1}))[0]
    np.testing.assert_array_equal(np.asarray(inputs.first_frame), first)  # PNG: lossless
    frames, drawn = _decoded(inputs.source_video).astype(int), world_v1.render_clip(source).astype(int)
    assert frames.shape == drawn.shape
    assert np.abs(frames - drawn).mean() < 2.0  # H.264 at crf 18 of flat shapes


def test_write_demo_assets_writes_a_loadable_folder(tmp_path):
    folder = write_demo_assets(tmp_path / "demo")
    inputs = load_demo_inputs(folder)
    assert inputs.motion_transfer_prompt == demo_scene()[1].caption
    assert sorted(p.name for p in folder.iterdir()) == ["demo.json", "new_first_frame.png", "source.mp4"]
    np.testing.assert_array_equal(_decoded(inputs.source_video), _decoded(DEMO_ASSETS / "source.mp4"))
