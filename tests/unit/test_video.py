"""Unit tests of video reading, motion fields, clip sampling and masks, on tiny procedural videos."""

from __future__ import annotations

import random
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from PIL import Image

from videocomposer.annotators.masks import draw_dataset_mask, masked_condition
from videocomposer.video.motion import (
    center_crop_offset,
    dense_motion_field,
    fill_motion_blocks,
    motion_condition,
    motion_to_rgb,
    short_side_resize_shape,
)
from videocomposer.video.reader import (
    REFERENCE_ENCODER_THREADS,
    VideoReadError,
    decode_motion_stream,
    probe_video,
    reencode_mpeg4,
    sampling_fps,
)
from videocomposer.video.sampling import choose_start_index, draw_misc_interpolations, load_video_clip

SIZE = (96, 64)  # width, height
STEP = 3  # px per source frame the red square moves right


def moving_square(index: int, size=SIZE) -> np.ndarray:
    """RGB frame: a red square moving right by STEP px per frame, a still green square, grey background."""
    width, height = size
    image = np.full((height, width, 3), 90, dtype=np.uint8)
    x = (STEP * index) % (width - 20)
    image[10:30, x : x + 20] = (230, 20, 20)
    image[40:60, 60:80] = (20, 200, 40)
    return image


def write_video(
    path: Path,
    num_frames: int = 30,
    fps=10,
    codec: str = "libx264",
    size=SIZE,
    fmt=None,
    rotation: float | None = None,
    gop: int | None = None,
) -> Path:
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for index in range(num_frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(moving_square(index, size), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """3 s at 10 fps (30 frames), H.264 in mp4."""
    return write_video(tmp_path_factory.mktemp("video") / "squares.mp4")


# --- probe and sampling fps ---------------------------------------------------------------------


def test_probe_mp4(video):
    probe = probe_video(video)
    assert (probe.num_frames, probe.fps, probe.width, probe.height) == (30, 10.0, 96, 64)


def test_probe_counts_frames_from_duration_when_container_has_no_count(tmp_path):
    path = write_video(tmp_path / "v.mkv", num_frames=37, fps=Fraction(30000, 1001))
    assert av.open(str(path)).streams.video[0].frames == 0  # the branch under test
    probe = probe_video(path)
    assert probe.num_frames == 37
    assert probe.fps == pytest.approx(29.97002997002997, abs=1e-12)


@pytest.mark.parametrize(
    "frames, fps, expected", [(79, 15.702434822695896, 4), (30, 10.0, 6), (64, 16.0, 5), (65, 16.0, 4), (8, 16.0, 33)]
)
def test_sampling_fps_rule(frames, fps, expected):
    # > 16 frames at feature_framerate 4 → 4; otherwise int(16 / duration) + 1
    assert sampling_fps(frames, fps, 4) == expected


@pytest.mark.parametrize("frames, fps, rate", [(0, 10.0, 4), (10, 0.0, 4), (10, 10.0, 0)])
def test_sampling_fps_rejects_bad_values(frames, fps, rate):
    with pytest.raises(ValueError, match="positive"):
        sampling_fps(frames, fps, rate)


# --- re-encode and decode -----------------------------------------------------------------------


def test_reencode_gives_mpeg4_stream_with_gop_12(video):
    data = reencode_mpeg4(video, 6)
    assert data[:4] == b"\x00\x00\x01\xb0"  # MPEG-4 Part 2 visual object sequence start code
    stream = decode_motion_stream(data)
    assert stream.frame_types == "IPPPPPPPPPPPIPPPPP"  # 3 s at 6 fps, GOP 12, no B-frames
    assert stream.frames[0].shape == (64, 96, 3) and stream.frames[0].dtype == np.uint8


def test_reencode_ignores_source_keyframes(tmp_path):
    """Source I-frames must not force I-frames in the re-encode (the CLI resets picture types)."""
    source = write_video(tmp_path / "gop5.avi", codec="mpeg4", fmt="avi", gop=5)
    assert decode_motion_stream(source).frame_types.count("I") == 6
    assert decode_motion_stream(reencode_mpeg4(source, 6)).frame_types == "IPPPPPPPPPPPIPPPPP"


def test_motion_vectors_follow_the_moving_square(video):
    stream = decode_motion_stream(reencode_mpeg4(video, 6), frame_indices=())
    assert stream.frames == {}
    for kind, vectors in zip(stream.frame_types, stream.motion_vectors):
        assert vectors.dtype == np.int32 and vectors.shape[1] == 10
        if kind == "I":
            assert len(vectors) == 0
    second = stream.motion_vectors[1]
    field = dense_motion_field(second, 64, 96)
    moving = field[:32, :, 0]  # rows of the red square
    # the square moves STEP px per source frame = STEP·10/6 px per re-encoded frame, to the right
    assert moving.max() == pytest.approx(STEP * 10 / 6, abs=1.5)
    assert np.abs(field[32:]).max() <= 1.0  # the still square and background barely move


def test_display_rotation_is_applied(tmp_path):
    path = write_video(tmp_path / "rotated.mp4", rotation=90)
    frame = decode_motion_stream(reencode_mpeg4(path, 6), frame_indices=[0]).frames[0]
    assert frame.shape == (96, 64, 3)
    expected = np.rot90(moving_square(0), 1)  # 90° counter-clockwise display rotation
    assert np.abs(frame.astype(int) - expected).mean() < 6


def test_reencode_matches_ffmpeg_cli(video, tmp_path):
    """Same vectors as the reference's ffmpeg command (needs the optional imageio-ffmpeg binary)."""
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    out = tmp_path / "cli.m4v"
    command = [
        imageio_ffmpeg.get_ffmpeg_exe(),
        "-y",
        "-loglevel",
        "error",
        "-i",
        str(video),
        "-filter:v",
        "fps=6",
        "-c:v",
        "mpeg4",
        "-threads",
        str(REFERENCE_ENCODER_THREADS),
        "-f",
        "rawvideo",
        str(out),
    ]
    subprocess.run(command, check=True, timeout=120)
    cli, ours = decode_motion_stream(out), decode_motion_stream(reencode_mpeg4(video, 6))
    # Exact pixels hold because the source is limited-range yuv420p, which reaches the encoder without a
    # conversion. For a full-range (yuvj420p) source, FFmpeg versions differ in the range conversion
    # before the encoder (fixture README): compare only vectors and picture types there.
    assert ours.frame_types == cli.frame_types
    assert all(np.array_equal(a, b) for a, b in zip(ours.motion_vectors, cli.motion_vectors))
    assert all(np.array_equal(ours.frames[i], cli.frames[i]) for i in cli.frames)


# --- bad input ----------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.mp4"
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        probe_video(missing)
    with pytest.raises(FileNotFoundError, match="nope.mp4"):
        load_video_clip(missing, seed=0)


def test_directory(tmp_path):
    with pytest.raises(VideoReadError, match="directory"):
        probe_video(tmp_path)


def test_corrupt_file(tmp_path):
    path = tmp_path / "noise.mp4"
    path.write_bytes(np.random.RandomState(0).bytes(4000))
    with pytest.raises(VideoReadError, match="noise.mp4"):
        load_video_clip(path, seed=0)


def test_truncated_file(video, tmp_path):
    path = tmp_path / "half.mp4"
    data = video.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VideoReadError, match="half.mp4"):
        load_video_clip(path, seed=0)


@pytest.mark.parametrize("suffix", ["png", "jpg"])
def test_image_is_not_a_video(tmp_path, suffix):
    path = tmp_path / f"still.{suffix}"
    Image.fromarray(moving_square(0)).save(path)
    with pytest.raises(VideoReadError, match="still image"):
        load_video_clip(path, seed=0)


def test_no_video_stream(tmp_path):
    path = tmp_path / "sound.wav"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in list(stream.encode(frame)) + list(stream.encode(None)):
            container.mux(packet)
    with pytest.raises(VideoReadError, match="no video stream"):
        load_video_clip(path, seed=0)


def test_zero_frame_video(tmp_path):
    path = tmp_path / "empty.avi"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        container.start_encoding()
    with pytest.raises(VideoReadError, match="no video frames"):
        load_video_clip(path, seed=0)


def test_too_short_after_resampling(video, monkeypatch):
    # 3 s → 6 fps → 18 frames; a 17-frame clip must start at an I-frame (0 or 12): only 0 fits
    assert load_video_clip(video, num_frames=17, seed=0, with_mask=False).frame_indices[0].item() == 0
    # asking for more frames raises the rate (int(19 / 3 s) + 1 = 7 fps → 21 frames) ...
    assert load_video_clip(video, num_frames=19, seed=0, with_mask=False).fps == 7
    # ... and a stream that still holds too few frames is a clear error naming both counts
    monkeypatch.setattr("videocomposer.video.sampling.sampling_fps", lambda *args, **kwargs: 6)
    with pytest.raises(VideoReadError, match=r"too short.*19.*18 frames"):
        load_video_clip(video, num_frames=19, seed=0)


@pytest.mark.parametrize("argument", ["num_frames", "resolution", "misc_size", "feature_framerate", "vit_image_size"])
def test_load_video_clip_rejects_bad_sizes(video, argument):
    with pytest.raises(ValueError, match=argument):
        load_video_clip(video, **{argument: 0})


def test_seed_and_rngs_are_exclusive(video):
    with pytest.raises(ValueError, match="seed"):
        load_video_clip(video, seed=1, py_rng=random.Random(1))


# --- sampling -----------------------------------------------------------------------------------


def test_choose_start_index_only_valid_i_frames():
    types = "IPPPIPPPIPP"  # I at 0, 4, 8; 4 frames needed → 8 has only 3 left
    draws = {choose_start_index(types, 4, np.random.RandomState(s)) for s in range(40)}
    assert draws == {0, 4}
    with pytest.raises(ValueError, match="no I-frame"):
        choose_start_index(types, 12)


def test_choose_start_index_uses_numpy_choice():
    candidates = [0, 12, 24]
    assert choose_start_index(
        "I" + "P" * 11 + "I" + "P" * 11 + "I" + "P" * 15, 16, np.random.RandomState(5)
    ) == np.random.RandomState(5).choice(candidates)


def test_misc_interpolations_follow_python_random():
    expected_rng = random.Random(3)
    options = [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS]
    expected = [expected_rng.choice(options) for _ in range(16)]
    assert draw_misc_interpolations(16, random.Random(3)) == expected


def test_load_video_clip_shapes_ranges_and_determinism(video):
    clip = load_video_clip(video, num_frames=8, resolution=32, misc_size=48, vit_image_size=24, seed=7)
    assert clip.video.shape == (8, 3, 32, 32) and clip.video.min() >= -1 and clip.video.max() <= 1
    assert clip.misc.shape == (8, 3, 48, 48) and clip.misc.min() >= 0 and clip.misc.max() <= 1
    assert clip.motion.shape == (8, 2, 32, 32) and clip.motion.dtype == torch.float32
    assert clip.vit_image.shape == (3, 24, 24)
    assert clip.mask.shape == (8, 1, 48, 48) and set(clip.mask.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(clip.mask, clip.mask[:1].expand_as(clip.mask))
    start = clip.frame_indices[0].item()
    assert clip.frame_types[start] == "I" and clip.frame_indices.tolist() == list(range(start, start + 8))
    assert clip.fps == 6.0 and clip.num_frames == 8
    assert torch.equal(clip.motion[0], torch.zeros_like(clip.motion[0]))  # clip starts at an I-frame
    assert clip.motion[1:].abs().max() > 0

    explicit = load_video_clip(
        video,
        num_frames=8,
        resolution=32,
        misc_size=48,
        vit_image_size=24,
        py_rng=random.Random(7),
        np_rng=np.random.RandomState(7),
    )
    random.seed(7)
    np.random.seed(7)
    global_state = load_video_clip(video, num_frames=8, resolution=32, misc_size=48, vit_image_size=24)
    for other in (explicit, global_state):
        for name in ("video", "misc", "motion", "vit_image", "mask", "frame_indices"):
            assert torch.equal(getattr(clip, name), getattr(other, name)), name


def test_without_mask_draws_no_mask_numbers(video):
    py_rng, np_rng = random.Random(1), np.random.RandomState(1)
    clip = load_video_clip(
        video, num_frames=4, resolution=32, misc_size=48, py_rng=py_rng, np_rng=np_rng, with_mask=False
    )
    assert clip.mask is None
    reference_py, reference_np = random.Random(1), np.random.RandomState(1)
    reference_np.choice([0, 12])  # the start draw
    [reference_py.choice([0, 1, 2]) for _ in range(4)]  # the interpolation draws
    assert py_rng.random() == reference_py.random() and np_rng.randint(1000) == reference_np.randint(1000)


def test_motion_can_be_aligned_with_frames(video):
    # 64x96 at resolution 30 → 30x45, margin 15: motion crops at round(7.5) = 8, frames at 15 // 2 = 7
    kwargs = dict(num_frames=4, resolution=30, misc_size=48, seed=2, with_mask=False)
    reference = load_video_clip(video, **kwargs).motion
    aligned = load_video_clip(video, align_motion_with_frames=True, **kwargs).motion
    assert torch.equal(reference[..., :-1], aligned[..., 1:])
    assert not torch.equal(reference, aligned)


# --- motion fields ------------------------------------------------------------------------------


def test_dense_motion_field_one_pixel_per_block_last_wins_and_clipped():
    vectors = np.array(
        [
            [-1, 16, 16, 0, 0, 8, 8, -6, 4, 2],  # (dx, dy) = (3, -2) at (y=8, x=8)
            [1, 16, 16, 0, 0, 8, 8, 4, 4, 4],  # same pixel, later: (1, 1) wins
            [-1, 16, 16, 0, 0, 200, -5, 3, 0, 2],  # clipped to (y=0, x=W-1): (-1.5, 0)
        ],
        dtype=np.int32,
    )
    field = dense_motion_field(vectors, 20, 30)
    assert field.dtype == np.float64 and field.shape == (20, 30, 2)
    assert field[8, 8].tolist() == [1.0, 1.0]
    assert field[0, 29].tolist() == [-1.5, 0.0]
    assert np.count_nonzero(field.any(axis=2)) == 2
    assert not dense_motion_field(np.zeros((0, 10), np.int32), 20, 30).any()


@pytest.mark.parametrize(
    "height, width, expected", [(360, 640, (256, 455)), (640, 360, (455, 256)), (64, 64, (256, 256))]
)
def test_short_side_resize_shape(height, width, expected):
    assert short_side_resize_shape(height, width, 256) == expected


@pytest.mark.parametrize(
    "length, size, rounded, floored", [(455, 256, 100, 99), (257, 256, 0, 0), (259, 256, 2, 1), (256, 256, 0, 0)]
)
def test_center_crop_offset(length, size, rounded, floored):
    assert center_crop_offset(length, size) == rounded  # Python round: half to even
    assert center_crop_offset(length, size, align_with_frames=True) == floored


def test_motion_condition_keeps_pixel_magnitudes():
    fields = [np.broadcast_to(np.array([3.0, -2.0]), (36, 64, 2)).copy() for _ in range(2)]
    out = motion_condition(fields, 16)
    assert out.shape == (2, 2, 16, 16) and out.dtype == torch.float32
    assert torch.equal(out[:, 0], torch.full((2, 16, 16), 3.0)) and torch.equal(
        out[:, 1], torch.full((2, 16, 16), -2.0)
    )


def test_motion_condition_one_pixel_offset_versus_frames():
    field = np.zeros((36, 70, 2))  # → 16x31, margin 15: round(7.5) = 8 (half to even), floor 7
    field[:, :, 0] = np.arange(70)[None, :]
    reference = motion_condition([field], 16)
    aligned = motion_condition([field], 16, align_with_frames=True)
    assert torch.equal(reference[..., :-1], aligned[..., 1:])
    assert not torch.equal(reference, aligned)


def test_motion_to_rgb():
    motion = torch.zeros(2, 4, 5)
    motion[0, 1, 1] = 2.0  # right → red
    motion[1, 2, 2] = 1.0  # half speed, down (image y) → hue 90° (yellow-green), half saturation
    image = motion_to_rgb(motion)
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == [255, 255, 255]  # still = white
    assert image[1, 1].tolist() == [255, 0, 0]
    r, g, b = image[2, 2].tolist()
    assert g == 255 and b < 160 and 120 < r < 200
    with pytest.raises(ValueError, match="shape"):
        motion_to_rgb(torch.zeros(3, 4, 5))


def test_fill_motion_blocks_spreads_each_cells_mean_and_keeps_empty_cells_still():
    motion = torch.zeros(3, 2, 8, 6)
    motion[1, 0, 1, 1], motion[1, 0, 2, 2] = 2.0, 4.0  # two vectors in cell (0, 0): mean 3
    motion[1, 1, 5, 4] = -1.0  # one vector in the partial cell (1, 1)
    filled = fill_motion_blocks(motion, block=4)
    assert filled.shape == motion.shape
    assert torch.equal(filled[1, 0, :4, :4], torch.full((4, 4), 3.0))
    assert torch.equal(filled[1, 1, 4:, 4:], torch.full((4, 2), -1.0))
    assert filled[1, :, :4, 4:].abs().sum() == 0 and filled[0].abs().sum() == 0 and filled[2].abs().sum() == 0
    with pytest.raises(ValueError, match="shape"):
        fill_motion_blocks(torch.zeros(3, 8, 6), block=4)


# --- masks --------------------------------------------------------------------------------------


class _FixedRandom:
    def __init__(self, value: float):
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    "p, kind", [(0.0, "irregular"), (0.69, "irregular"), (0.7, "rectangle"), (0.89, "rectangle"), (0.9, "uncrop")]
)
def test_dataset_mask_choice(p, kind):
    mask, drawn = draw_dataset_mask(48, py_rng=_FixedRandom(p), np_rng=np.random.RandomState(0))
    assert drawn == kind
    assert mask.shape == (48, 48) and mask.dtype == np.float32 and set(np.unique(mask)) <= {0.0, 1.0}


def test_dataset_mask_is_nearest_resized_raw_mask():
    import cv2

    from videocomposer.annotators.masks import make_uncrop

    mask, _ = draw_dataset_mask(384, raw_size=512, py_rng=_FixedRandom(0.95), np_rng=np.random.RandomState(4))
    raw = make_uncrop(512, 512, rng=np.random.RandomState(4))
    assert np.array_equal(mask, cv2.resize(raw, (384, 384), interpolation=cv2.INTER_NEAREST))
    assert mask.mean() == 0.5


def test_masked_condition():
    misc = torch.rand(3, 3, 8, 8)
    mask = torch.zeros(3, 1, 8, 8)
    mask[:, :, :4] = 1
    out = masked_condition(misc, mask)
    assert out.shape == (3, 4, 8, 8)
    assert torch.equal(out[:, :3, :4], torch.zeros(3, 3, 4, 8))  # hidden → 0
    assert torch.allclose(out[:, :3, 4:], misc[:, :, 4:] * 2 - 1)
    assert torch.equal(out[:, 3:], 1 - mask)
    assert torch.equal(masked_condition(misc, mask[:1]), out)  # one mask for all frames
    with pytest.raises(ValueError, match="mask"):
        masked_condition(misc, torch.zeros(3, 1, 4, 4))
    with pytest.raises(ValueError, match="misc"):
        masked_condition(misc[:, :2], mask)


def test_long_clips_raise_the_sampling_rate_to_reach_the_requested_frames(tmp_path):
    """A 2 s clip at 4 fps gives 8 frames; asking for 24 must raise the rate (the reference's rule targets 16)."""
    path = write_video(tmp_path / "two_seconds.mp4", num_frames=48, fps=24)
    assert sampling_fps(48, 24.0, 4, min_frames=16) == 9  # int(16 / 2) + 1: too few for 24 frames
    clip = load_video_clip(path, num_frames=24, resolution=32, misc_size=48, vit_image_size=32, seed=0, with_mask=False)
    assert clip.num_frames == 24 and clip.fps == int(24 / 2) + 1
