"""Truth files (round trip, errors naming the field), their geometry (masks, the model's view, the frames the
clip sampling keeps) and the common colour names."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from videocomposer.evaluation.colours import COLOUR_NAMES, caption_colour, colour_name, naming_margin, rgb_to_lab
from videocomposer.evaluation.truth import (
    TruthError,
    mask_geometry,
    model_view,
    polygon_mask,
    read_truth,
    sampled_truth_frames,
    truth_path,
    write_truth,
)
from videocomposer.video.reader import decode_motion_stream, probe_video, reencode_mpeg4, sampling_fps
from videocomposer.video.transforms import center_crop_v2
from videocomposer.video.writer import write_mp4

from .test_tracks import SQUARE, line, make_truth


def test_a_truth_file_round_trips_and_finds_its_clip(tmp_path):
    truth = make_truth(line((3, 1)))
    truth.video = str(tmp_path / "clips" / "a.mp4")
    path = write_truth(tmp_path / "clips" / "a.truth.json", truth)
    assert path == truth_path(tmp_path / "clips" / "a.mp4")
    data = json.loads(path.read_text())
    assert data["format"] == "videocomposer-truth" and data["version"] == 1 and data["video"] == "a.mp4"
    back = read_truth(path)
    assert back.video == str((tmp_path / "clips" / "a.mp4").resolve())
    assert (back.width, back.height, back.fps, back.num_frames, back.caption) == (64, 64, 8.0, 8, truth.caption)
    for name in ("position", "centroid", "bbox", "visible", "outline"):
        np.testing.assert_allclose(getattr(back.objects[0], name), getattr(truth.objects[0], name), atol=1e-4)
    assert back.objects[0].colour == (210, 35, 35) and back.background == truth.background
    np.testing.assert_array_equal(back.object_mask(0, 3), truth.object_mask(0, 3))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d.pop("objects"), "missing 'objects'"),
        (lambda d: d.update(version=9), "version 9 is not supported"),
        (lambda d: d.update(format="other"), "'format' must be"),
        (lambda d: d["objects"][0].update(centroid=[[1, 2]]), r"'centroid' must hold one value per frame, \[8, 2\]"),
        (lambda d: d["objects"][0].update(colour=[1, 2]), r"objects\[0\]: 'colour' must be \[r, g, b\]"),
        (lambda d: d.update(width=True), "'width' must be int"),
    ],
)
def test_a_malformed_truth_file_is_refused_naming_the_field(tmp_path, edit, message):
    data = make_truth(line((3, 1))).to_dict()
    edit(data)
    (tmp_path / "t.truth.json").write_text(json.dumps(data))
    with pytest.raises(TruthError, match=message):
        read_truth(tmp_path / "t.truth.json")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(TruthError, match="not valid JSON"):
        read_truth(tmp_path / "bad.json")
    with pytest.raises(FileNotFoundError, match="truth file not found"):
        read_truth(tmp_path / "none.json")


def test_polygon_masks_hold_the_pixels_whose_centres_are_inside():
    mask = polygon_mask(32, 32, np.array([16.0, 16.0]) + SQUARE)  # [11, 21) on both axes
    assert mask.sum() == 100 and mask[11:21, 11:21].all()
    centroid, box = mask_geometry(mask)
    np.testing.assert_allclose(centroid, [16.0, 16.0]) and np.testing.assert_allclose(box, [11, 11, 21, 21])
    ring = polygon_mask(32, 32, np.array([16.0, 16.0]) + 2 * SQUARE, [np.array([16.0, 16.0]) + SQUARE])
    assert ring.sum() == 400 - 100 and not ring[16, 16]
    assert not polygon_mask(32, 32, np.array([-40.0, 5.0]) + SQUARE).any()  # outside the frame
    assert np.isnan(mask_geometry(np.zeros((4, 4), bool))[0]).all()


@pytest.mark.parametrize("width, height", [(96, 64), (64, 96), (64, 64), (300, 200)])
def test_the_model_view_is_where_center_crop_v2_puts_the_pixels(width, height):
    """A single marked pixel of the clip lands where the view says in the centre-cropped image."""
    image = np.zeros((height, width, 3), np.uint8)
    x, y = width // 2 + 7, height // 2 - 5
    image[y - 1 : y + 2, x - 1 : x + 2] = 255
    side = 32
    cropped = np.asarray(center_crop_v2(Image.fromarray(image), side)).astype(float).sum(-1)
    rows, cols = np.mgrid[0:side, 0:side]
    found = np.array([(cols * cropped).sum(), (rows * cropped).sum()]) / cropped.sum() + 0.5
    np.testing.assert_allclose(model_view(width, height, side).points([x + 0.5, y + 0.5]), found, atol=0.35)


@pytest.mark.parametrize("fps, frames", [(16, 17), (24, 34), (24, 50), (25, 85), (30, 50)])
def test_sampled_truth_frames_are_the_frames_the_clip_sampling_keeps(tmp_path, fps, frames):
    """Frames written with their index in binary; the re-encode at the sampling rate keeps exactly the frames named."""
    video = np.zeros((frames, 32, 128, 3), np.uint8)
    for i in range(frames):
        for bit in range(8):
            if (i >> bit) & 1:
                video[i, 8:24, bit * 16 : (bit + 1) * 16] = 255
    path = write_mp4(tmp_path / "count.mp4", video, fps=fps)
    rate = sampling_fps(probe_video(path).num_frames, probe_video(path).fps)
    data = reencode_mpeg4(path, rate)
    count = decode_motion_stream(data, (), name="count").num_frames
    stream = decode_motion_stream(data, list(range(count)), name="count")
    kept = [sum(int(stream.frames[j][16, bit * 16 + 8].mean() > 128) << bit for bit in range(8)) for j in range(count)]
    assert kept == sampled_truth_frames(range(count), rate, fps).tolist()
    assert len(set(np.diff(kept))) == 1  # evenly spaced: every stride-th written frame


def test_colour_names_are_the_nearest_common_name_in_cielab():
    np.testing.assert_allclose(rgb_to_lab((255, 255, 255)), [100, 0, 0], atol=0.01)
    np.testing.assert_allclose(rgb_to_lab((0, 0, 0)), [0, 0, 0], atol=1e-9)
    assert all(colour_name(rgb) == name for name, rgb in COLOUR_NAMES.items())
    assert all(naming_margin(rgb) > 10 for rgb in COLOUR_NAMES.values())
    samples = {
        (200, 30, 40): "red",
        (90, 90, 95): "gray",
        (255, 165, 0): "orange",
        (0, 255, 255): "cyan",
        (128, 0, 128): "purple",
        (255, 192, 203): "pink",
        (100, 65, 35): "brown",
        (250, 250, 245): "white",
        (10, 10, 15): "black",
        (0, 128, 0): "green",
        (30, 60, 250): "blue",
        (255, 255, 0): "yellow",
    }
    assert {rgb: colour_name(rgb) for rgb in samples} == samples
    assert caption_colour("A Grey star moves left over a red background") == "gray"
    assert caption_colour("an object moves") is None
