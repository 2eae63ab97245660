"""Parity of video reading, clip sampling and motion vectors with the reference fixtures (``video/``).

Everything (file names, seed, sizes, frame count, fps branch) comes from ``video/config.json`` and
the tensor keys. Bounds are the fixture README's: uint8 images and raw vectors exact, ``mv_data``
as in ``bounds.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import load_family
from PIL import Image

from videocomposer.video.motion import dense_motion_field, motion_condition
from videocomposer.video.reader import decode_motion_stream, probe_video, reencode_mpeg4, sampling_fps
from videocomposer.video.sampling import load_video_clip, misc_frames_uint8, video_frames_uint8, vit_frame_uint8

from .bounds import BOUNDS

MV_BOUND = BOUNDS["video.mv_data"]


@pytest.fixture(scope="module")
def family():
    return load_family("video")


@pytest.fixture(scope="module")
def tensors(family):
    return family.tensors("tensors.safetensors")


@pytest.fixture(scope="module")
def stored_stream(family):
    """The reference's re-encoded stream decoded by us, all frames as RGB."""
    return decode_motion_stream(family.file(family.config["reencoded_file"]))


def _params(family) -> dict:
    return family.config["parameters"]


def _split_raw_vectors(tensors) -> list[np.ndarray]:
    counts = tensors["raw_motion_vector_counts"].tolist()
    return np.split(tensors["raw_motion_vectors"].numpy(), np.cumsum(counts)[:-1])


def _clip_indices(tensors) -> list[int]:
    return tensors["frame_indices"].tolist()


def test_probe_reads_opencv_frame_count_and_fps(family):
    probe = probe_video(family.file(family.config["input_video"]))
    assert probe.num_frames == family.config["source"]["frames"]
    assert probe.fps == family.config["source"]["fps"]


def test_sampling_fps_branch(family):
    source, params = family.config["source"], _params(family)
    assert sampling_fps(source["frames"], source["fps"], params["feature_framerate"]) == params["fps_used"]


def test_stored_stream_types_and_vectors(family, tensors, stored_stream):
    config = family.config
    assert stored_stream.frame_types == config["frame_types"]
    assert stored_stream.num_frames == config["num_decoded_frames"]
    assert list(stored_stream.frames[0].shape) == config["decoded_frame_shape"]
    indices = _clip_indices(tensors)
    ours = [stored_stream.motion_vectors[i] for i in indices]
    assert [len(v) for v in ours] == tensors["raw_motion_vector_counts"].tolist()
    assert all(v.dtype == np.int32 and v.shape[1] == 10 for v in ours)
    assert np.array_equal(np.concatenate(ours), tensors["raw_motion_vectors"].numpy())


def test_in_memory_reencode_equals_stored_stream(family, stored_stream):
    """Our PyAV re-encode of the source gives the reference ffmpeg stream's vectors, types and pixels."""
    data = reencode_mpeg4(family.file(family.config["input_video"]), _params(family)["fps_used"])
    ours = decode_motion_stream(data)
    assert ours.frame_types == stored_stream.frame_types
    for index, (mine, theirs) in enumerate(zip(ours.motion_vectors, stored_stream.motion_vectors)):
        assert np.array_equal(mine, theirs), f"motion vectors of frame {index} differ"
        assert np.array_equal(ours.frames[index], stored_stream.frames[index]), f"pixels of frame {index} differ"


def test_mv_data_from_raw_vectors(family, tensors):
    height, width = family.config["decoded_frame_shape"][:2]
    fields = [dense_motion_field(v, height, width) for v in _split_raw_vectors(tensors)]
    ours = motion_condition(fields, _params(family)["resolution"])
    expected = tensors["mv_data"]
    assert ours.shape == expected.shape and ours.dtype == torch.float32
    assert (ours - expected).abs().max().item() <= MV_BOUND
    assert expected.abs().max().item() > 0  # the check is not vacuous


def _recorded_misc_interpolations(family) -> list[Image.Resampling]:
    """The interpolations the reference drew for the clip's frames (its last ``max_frames`` image resizes)."""
    calls = [call for call in family.config["resize_calls"] if call["input"] == "Image"]
    return [Image.Resampling[call["kwargs"]["interpolation"]] for call in calls[-_params(family)["max_frames"] :]]


def test_frame_transforms_from_stored_stream(family, tensors, stored_stream):
    params = _params(family)
    images = [Image.fromarray(stored_stream.frames[i]) for i in _clip_indices(tensors)]
    assert torch.equal(video_frames_uint8(images, params["resolution"]), tensors["video_data_uint8"])
    misc = misc_frames_uint8(images, params["misc_size"], _recorded_misc_interpolations(family))
    assert torch.equal(misc, tensors["misc_data_uint8"])
    middle = len(images) // 2  # the reference's frames[int(len(frames) / 2)]
    assert family.config["middle_frame_for_vit"] in (middle, _clip_indices(tensors)[middle])  # clip- or stream-relative
    vit = vit_frame_uint8(images[middle], params["vit_image_size"])
    assert torch.equal(vit, tensors["vit_image_uint8"])


def _float(u8: torch.Tensor, mean, std) -> torch.Tensor:
    """The README's conversion: ToTensor (/255) then Normalize(mean, std) per channel."""
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (u8.float() / 255 - mean_t) / std_t


def test_load_video_clip_reproduces_reference(family, tensors):
    """The whole dataset path with the fixture's seed: start frame, per-frame interpolations, mask, tensors."""
    config, params = family.config, _params(family)
    clip = load_video_clip(
        family.file(config["input_video"]),
        num_frames=params["max_frames"],
        resolution=params["resolution"],
        misc_size=params["misc_size"],
        feature_framerate=params["feature_framerate"],
        vit_image_size=params["vit_image_size"],
        seed=params["seed"],
    )
    assert clip.frame_indices.tolist() == config["frame_indices"] == tensors["frame_indices"].tolist()
    assert clip.frame_indices[0].item() == config["start_index"]
    assert clip.frame_types == config["frame_types"]
    assert clip.fps == params["fps_used"]
    assert torch.equal(clip.video, _float(tensors["video_data_uint8"], params["mean"], params["std"]))
    assert torch.equal(clip.misc, tensors["misc_data_uint8"].float() / 255)
    assert torch.equal(clip.vit_image, _float(tensors["vit_image_uint8"], params["vit_mean"], params["vit_std"]))
    expected_mask = tensors["mask_uint8"].float().expand(params["max_frames"], -1, -1, -1)
    assert torch.equal(clip.mask, expected_mask)
    assert (clip.motion - tensors["mv_data"]).abs().max().item() <= MV_BOUND
