"""MP4/GIF writers, the side-by-side grid and atomic output."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest
import torch
from PIL import Image

from videocomposer import files
from videocomposer.files import atomic_path, ensure_writable_dir
from videocomposer.video import writer
from videocomposer.video.writer import Panel, compose_grid, to_uint8_frames, write_gif, write_mp4


def _decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames


def _gradient(frames=5, height=32, width=48):
    y, x = np.mgrid[0:height, 0:width]
    video = np.stack([np.stack([x * 5 + 10 * i, y * 7, (x + y) * 2], -1) for i in range(frames)])
    return np.clip(video, 0, 255).astype(np.uint8)


def test_mp4_is_h264_yuv420p_with_all_frames(tmp_path):
    video = _gradient()
    path = write_mp4(tmp_path / "out.mp4", video, fps=8)
    codec, pix_fmt, frames = _decode(path)
    assert (codec, pix_fmt) == ("h264", "yuv420p")
    assert len(frames) == 5 and frames[0].shape == (32, 48, 3)
    assert np.abs(frames[2].astype(int) - video[2]).mean() < 4  # visually lossless (crf 18)


def test_mp4_odd_size_is_padded_to_even(tmp_path):
    _, _, frames = _decode(write_mp4(tmp_path / "odd.mp4", _gradient(3, 33, 47)))
    assert frames[0].shape == (34, 48, 3)


def test_float_channels_first_and_uint8_layouts_agree():
    video = _gradient(2)
    as_float = torch.from_numpy(video).permute(0, 3, 1, 2).float() / 255
    assert np.array_equal(to_uint8_frames(as_float), video)
    assert np.array_equal(to_uint8_frames([Image.fromarray(f) for f in video]), video)
    assert to_uint8_frames(np.full((1, 1, 4, 4), 2.0, np.float32)).max() == 255  # clamped, grey → RGB
    with pytest.raises(ValueError, match="frames must"):
        to_uint8_frames(np.zeros((4, 4)))


def test_gif_frames_and_rate(tmp_path):
    path = write_gif(tmp_path / "out.gif", _gradient(4), fps=8)
    with Image.open(path) as gif:
        assert gif.n_frames == 4 and gif.size == (48, 32)
        assert gif.info["duration"] in (120, 130)  # 125 ms in the format's 10 ms units


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    target = tmp_path / "result.mp4"
    target.write_bytes(b"previous result")
    calls = []

    class FailingFrames:  # av.VideoFrame whose second frame fails, as a full disk would mid-file
        @staticmethod
        def from_ndarray(frame, format):
            calls.append(1)
            if len(calls) == 2:
                raise RuntimeError("disk full")
            return av.VideoFrame.from_ndarray(frame, format=format)

    monkeypatch.setattr(writer, "av", type("AvShim", (), {"open": staticmethod(av.open), "VideoFrame": FailingFrames}))
    with pytest.raises(RuntimeError, match="disk full"):
        write_mp4(target, _gradient(3))
    assert target.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.mp4"]  # no temporary left behind


def test_atomic_path_gives_normal_permissions(tmp_path):
    with atomic_path(tmp_path / "a.txt") as tmp:
        assert tmp.parent == tmp_path and tmp.name != "a.txt"
        tmp.write_text("x")
    mask = files._umask()
    assert os.stat(tmp_path / "a.txt").st_mode & 0o777 == 0o666 & ~mask


def test_unwritable_output_dir_is_reported(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match="file"):
        ensure_writable_dir(blocker)
    with pytest.raises(PermissionError, match="cannot write to output folder"):
        ensure_writable_dir(blocker / "sub")
    assert ensure_writable_dir(tmp_path / "new" / "dir").is_dir()


def test_grid_layout_labels_and_title():
    video = _gradient(3, 32, 32)
    grid = compose_grid(
        [Panel("source", video), Panel("style", video[:1]), Panel("wide", _gradient(3, 16, 64))], height=32
    )
    assert grid.shape[0] == 3 and grid.shape[2] == 32 + 32 + 128
    label_rows = grid.shape[1] - 32
    assert label_rows > 0
    assert np.array_equal(grid[:, label_rows:, :32], video)  # panels are not altered
    assert np.array_equal(grid[1, label_rows:, 32:64], video[0])  # a still panel repeats on every frame
    titled = compose_grid([Panel("source", video)], height=32, title=["line one", "line two"])
    assert titled.shape[1] > grid.shape[1] and titled.shape[2] == 32
    with pytest.raises(ValueError, match="frames"):
        compose_grid([Panel("a", video), Panel("b", _gradient(2, 32, 32))])
