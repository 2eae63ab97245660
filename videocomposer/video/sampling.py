"""Clip sampling and the per-stream transforms of the reference dataset (DS:253-325, IS:391-403).

:func:`load_video_clip` turns a user's video into a :class:`~videocomposer.video.clip.VideoClip`
exactly as the reference's ``VideoDataset.__getitem__`` does, drawing random numbers in its order:

1. ``np.random.choice`` — the start I-frame (numpy legacy RNG);
2. ``random.choice`` per frame — the misc resize interpolation (python RNG);
3. ``random.random()`` — the mask type (python RNG), then the mask geometry (numpy legacy RNG).

Randomness: pass ``seed`` (equivalent to the reference's ``setup_seed(seed)`` right before the
dataset call), or explicit ``py_rng`` (``random.Random``) / ``np_rng`` (``np.random.RandomState``;
the legacy stream, since ``np.random.Generator`` draws other numbers), or nothing to use the global
``random`` / ``np.random`` states as the reference does.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from videocomposer.annotators.masks import draw_dataset_mask
from videocomposer.video.clip import VideoClip
from videocomposer.video.motion import (
    MotionSettings,
    dense_motion_field,
    motion_condition,
    short_side_resize_shape,
    warn_if_motion_is_lost,
)
from videocomposer.video.reader import (
    MOTION_VECTOR_COLUMNS,
    REFERENCE_ENCODER_THREADS,
    MotionStream,
    VideoReadError,
    decode_motion_stream,
    probe_video,
    reencode_mpeg4,
    sampling_fps,
)
from videocomposer.video.transforms import center_crop_v2, normalize_pixels, pil_to_uint8_tensor

#: The misc transform's interpolation choices, in the reference's list order.
MISC_INTERPOLATIONS = (Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS)


def start_candidates(frame_types: str, num_frames: int) -> list[int]:
    """The I-frame indices ``i`` with ``len(frame_types) − i ≥ num_frames`` (where a clip may start)."""
    return [i for i, kind in enumerate(frame_types) if kind == "I" and len(frame_types) - i >= num_frames]


def choose_start_index(frame_types: str, num_frames: int, rng: np.random.RandomState | None = None) -> int:
    """Random I-frame ``i`` with ``len(frame_types) − i ≥ num_frames`` (one ``choice`` draw).

    Raises:
        ValueError: no I-frame leaves ``num_frames`` frames.
    """
    candidates = start_candidates(frame_types, num_frames)
    if not candidates:
        raise ValueError(
            f"no I-frame start leaves {num_frames} frames in a stream of {len(frame_types)} frames ({frame_types!r})"
        )
    return int((np.random if rng is None else rng).choice(candidates))


def draw_misc_interpolations(num_frames: int, rng: random.Random | None = None) -> list[Image.Resampling]:
    """``random.choice([BILINEAR, BICUBIC, LANCZOS])`` once per frame, in frame order."""
    choose = rng.choice if rng is not None else random.choice
    return [choose(MISC_INTERPOLATIONS) for _ in range(num_frames)]


def resize_short_side(image: Image.Image, size: int, resample: Image.Resampling) -> Image.Image:
    """torchvision ``resize(PIL image, size)``: short side → ``size``, long side ``int(size·long/short)``."""
    height, width = short_side_resize_shape(image.height, image.width, size)
    return image.resize((width, height), resample=resample)


def video_frames_uint8(images: Sequence[Image.Image], resolution: int) -> torch.Tensor:
    """``video_data`` pixels: ``CenterCropV2(resolution)`` per frame → ``uint8 [F, 3, R, R]``."""
    return torch.stack([pil_to_uint8_tensor(center_crop_v2(image, resolution)) for image in images])


def misc_frames_uint8(
    images: Sequence[Image.Image], size: int, interpolations: Sequence[Image.Resampling]
) -> torch.Tensor:
    """``misc_data`` pixels: short-side resize with each frame's interpolation, then
    ``CenterCropV2(size)`` → ``uint8 [F, 3, M, M]``."""
    if len(interpolations) != len(images):
        raise ValueError(
            f"need one interpolation per frame: {len(images)} frames, {len(interpolations)} interpolations"
        )
    return torch.stack(
        [
            pil_to_uint8_tensor(center_crop_v2(resize_short_side(image, size, how), size))
            for image, how in zip(images, interpolations)
        ]
    )


def vit_frame_uint8(image: Image.Image, size: int = 224) -> torch.Tensor:
    """CLIP reference-frame pixels: ``CenterCropV2(size)`` → ``uint8 [3, S, S]``."""
    return pil_to_uint8_tensor(center_crop_v2(image, size))


def to_unit_range(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 → float32 in [0, 1] (torchvision ``ToTensor``)."""
    return pixels.float().div(255)


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _rngs(seed: int | None, py_rng: random.Random | None, np_rng: np.random.RandomState | None):
    if seed is None:
        return py_rng, np_rng
    if py_rng is not None or np_rng is not None:
        raise ValueError("pass either seed or py_rng/np_rng, not both")
    return random.Random(seed), np.random.RandomState(seed)


def motion_fields(
    path: str | os.PathLike,
    fps: int,
    stream: MotionStream,
    indices: Sequence[int],
    frame_size: tuple[int, int],
    settings: MotionSettings | None,
    resolution: int,
    threads: int = REFERENCE_ENCODER_THREADS,
) -> list[np.ndarray]:
    """The dense fields (:func:`dense_motion_field`) of frames ``indices`` as ``settings`` makes them (None: as
    the ``reference`` mode, without the check below).

    ``reference``: from ``stream`` (the re-encode at the source's own ``frame_size`` ``(height, width)``);
    ``rescaled``: from a second re-encode at the same ``fps`` of the source's centre square brought to
    ``settings.source_size`` pixels. Warns once when the resize to ``resolution`` would keep under half of
    the vectors (:func:`~videocomposer.video.motion.warn_if_motion_is_lost`).
    """
    if settings is None:
        return [dense_motion_field(stream.motion_vectors[i], *frame_size) for i in indices]
    square = settings.encode_square
    warn_if_motion_is_lost(min(frame_size) if square is None else square, resolution, settings.mode)
    if square is None:
        return [dense_motion_field(stream.motion_vectors[i], *frame_size) for i in indices]
    scaled = decode_motion_stream(reencode_mpeg4(path, fps, threads=threads, square=square), (), name=os.fspath(path))
    none = np.zeros((0, len(MOTION_VECTOR_COLUMNS)), dtype=np.int32)  # a frame the scaled stream lacks: no motion
    return [
        dense_motion_field(scaled.motion_vectors[i] if i < scaled.num_frames else none, square, square) for i in indices
    ]


def _clip_mask(
    num_frames: int, misc_size: int, py_rng: random.Random | None, np_rng: np.random.RandomState | None
) -> torch.Tensor:
    """One dataset mask draw shared by every frame: ``[F, 1, M, M]`` float32 in {0, 1}."""
    mask_2d, _ = draw_dataset_mask(misc_size, py_rng=py_rng, np_rng=np_rng)
    return torch.from_numpy(mask_2d).float().expand(num_frames, 1, misc_size, misc_size).contiguous()


def _clip_start(
    path: str | os.PathLike, stream: MotionStream, num_frames: int, fps: int, np_rng: np.random.RandomState | None
) -> int:
    """The drawn start I-frame of a ``num_frames`` clip (:func:`choose_start_index`); a ``VideoReadError`` naming
    the video when it is too short."""
    try:
        return choose_start_index(stream.frame_types, num_frames, np_rng)
    except ValueError as exc:
        raise VideoReadError(
            f"video '{os.fspath(path)}' is too short for a {num_frames}-frame clip at {fps} fps: {exc}"
        ) from exc


def _sampling_stream(
    path: str | os.PathLike, num_frames: int, feature_framerate: int, encoder_threads: int
) -> tuple[int, bytes, MotionStream]:
    """The in-memory MPEG-4 re-encode a clip is sampled from: ``(fps, stream bytes, its picture types and vectors)``.

    The rate is :func:`~videocomposer.video.reader.sampling_fps` (the reference's 16-frame rule); only when that
    stream has no start for ``num_frames`` (> 16) is the rate that yields ``num_frames`` used instead."""
    probe = probe_video(path)
    name = os.fspath(path)
    fps = sampling_fps(probe.num_frames, probe.fps, feature_framerate)
    stream_bytes = reencode_mpeg4(path, fps, threads=encoder_threads)
    types_and_vectors = decode_motion_stream(stream_bytes, frame_indices=(), name=name)
    longer_clip_fps = sampling_fps(probe.num_frames, probe.fps, feature_framerate, min_frames=num_frames)
    if longer_clip_fps > fps and not start_candidates(types_and_vectors.frame_types, num_frames):
        fps = longer_clip_fps
        stream_bytes = reencode_mpeg4(path, fps, threads=encoder_threads)
        types_and_vectors = decode_motion_stream(stream_bytes, frame_indices=(), name=name)
    return fps, stream_bytes, types_and_vectors


def load_video_clip(
    path: str | os.PathLike,
    num_frames: int = 16,
    resolution: int = 256,
    misc_size: int = 384,
    feature_framerate: int = 4,
    vit_image_size: int = 224,
    *,
    seed: int | None = None,
    py_rng: random.Random | None = None,
    np_rng: np.random.RandomState | None = None,
    with_mask: bool = True,
    align_motion_with_frames: bool = False,
    encoder_threads: int = REFERENCE_ENCODER_THREADS,
    motion_settings: MotionSettings | None = None,
) -> VideoClip:
    """Sample a clip of ``num_frames`` consecutive frames and all its per-frame conditions.

    The video is re-encoded in memory to MPEG-4 Part 2 (rate: :func:`_sampling_stream`), a start I-frame is
    drawn, and the clip's frames give ``video`` (``[F, 3, R, R]`` in [−1, 1]), ``misc`` (``[F, 3, M, M]`` in
    [0, 1]), ``motion`` (``[F, 2, R, R]`` px), ``vit_image`` (middle frame, ``[3, S, S]`` CLIP-normalised) and,
    when ``with_mask``, ``mask`` (``[F, 1, M, M]``, one draw for all frames; none drawn otherwise).
    ``align_motion_with_frames`` crops the motion like the frames (the reference is 1 px off).
    ``motion_settings``: how the motion is made (:class:`~videocomposer.video.motion.MotionSettings`, with a
    warning when the source loses most of its vectors); None: the reference's way, unchecked.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        VideoReadError: unreadable, not a video, or fewer than ``num_frames`` frames after re-sampling.
    """
    _check_positive(
        num_frames=num_frames,
        resolution=resolution,
        misc_size=misc_size,
        feature_framerate=feature_framerate,
        vit_image_size=vit_image_size,
    )
    py_rng, np_rng = _rngs(seed, py_rng, np_rng)
    fps, stream_bytes, types_and_vectors = _sampling_stream(path, num_frames, feature_framerate, encoder_threads)
    start = _clip_start(path, types_and_vectors, num_frames, fps, np_rng)
    indices = list(range(start, start + num_frames))
    decoded = decode_motion_stream(stream_bytes, frame_indices=indices, name=os.fspath(path))
    images = [Image.fromarray(decoded.frames[i]) for i in indices]
    height, width = decoded.frames[start].shape[:2]

    misc_pixels = misc_frames_uint8(images, misc_size, draw_misc_interpolations(num_frames, py_rng))
    mask = _clip_mask(num_frames, misc_size, py_rng, np_rng) if with_mask else None
    fields = motion_fields(
        path, fps, types_and_vectors, indices, (height, width), motion_settings, resolution, encoder_threads
    )
    return VideoClip(
        video=normalize_pixels(video_frames_uint8(images, resolution), (0.5,) * 3, (0.5,) * 3),
        misc=to_unit_range(misc_pixels),
        motion=motion_condition(fields, resolution, align_with_frames=align_motion_with_frames),
        vit_image=normalize_pixels(vit_frame_uint8(images[num_frames // 2], vit_image_size)),
        mask=mask,
        frame_indices=torch.tensor(indices, dtype=torch.int64),
        fps=float(fps),
        frame_types=types_and_vectors.frame_types,
    )
