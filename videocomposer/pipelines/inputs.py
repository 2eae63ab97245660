"""Reading the user's inputs and preparing the conditions, shared by the pipeline, ``generate`` and ``extract``.

:func:`read_input` turns a file the user names (by registered input: ``image``, ``style_image``,
``mask``, ``sketch``, ``depth``, ``motion``) into what :class:`~videocomposer.conditions.ConditionBuilder`
takes; :func:`prepare_conditions` samples the clip from a video, turns a hand-drawn
:class:`~videocomposer.video.trajectory.Trajectory` into its motion field and builds the conditions once.
"""

from __future__ import annotations

import math
import os
import random
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..checkpoints import check_safetensors
from ..conditions import INPUTS, ConditionBuilder, clip_streams, conditions_reading, misc_transform
from ..video.clip import VideoClip
from ..video.motion import MotionSettings
from ..video.sampling import load_video_clip
from ..video.trajectory import Trajectory, read_trajectory


class InputError(ValueError):
    """An input file cannot be read as what its flag expects (the message names the flag and the file)."""


def default_misc_size(height: int, width: int) -> int:
    """Side of the annotator frames: 1.5x the video side, rounded up to a multiple of 32 (256 → 384 as the reference)."""
    return 32 * math.ceil(1.5 * max(height, width) / 32)


def _label(name: str) -> str:
    return INPUTS[name].flag or f"{name}="


def _too_many_pixels(name: str, path: Path, pixels: int) -> InputError:
    return InputError(
        f"{_label(name)}: {path} declares {pixels:,} pixels, more than the {Image.MAX_IMAGE_PIXELS:,} an input image "
        "may have (Pillow's guard against decompression bombs): scale it down first"
    )


def open_image(name: str, path: Path) -> Image.Image:
    """An RGB PIL image; an :class:`InputError` naming the input when the file is not an image, or declares more
    pixels than ``PIL.Image.MAX_IMAGE_PIXELS`` (Pillow's decompression-bomb guard, refused before decoding)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        raise _too_many_pixels(name, path, int(found.group(1)) if found else 0) from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InputError(f"{_label(name)}: {path} is not a readable image ({exc})") from exc


def read_tensor(name: str, path: Path, key: str) -> torch.Tensor:
    """A condition tensor from a ``.safetensors`` file written by ``videocomposer extract``."""
    from safetensors.torch import load_file

    try:
        check_safetensors(path)
        tensors = load_file(str(path))
    except Exception as exc:  # truncated, or not a safetensors file: one message naming the input
        raise InputError(
            f"{_label(name)}: {path} is not a readable .safetensors file ({exc}); use a file from `videocomposer "
            "extract`"
        ) from None
    if key not in tensors:
        raise InputError(
            f"{_label(name)}: {path} has no '{key}' tensor (it has {sorted(tensors)}); "
            "use a file from `videocomposer extract`"
        )
    return tensors[key]


def read_depth_video(path: Path, num_frames: int, size: int) -> torch.Tensor:
    """A greyscale image/video (white = near) → ``[F, 1, size, size]`` in [0, 1] (``CenterCropV2(size)``)."""
    import av

    from ..video.transforms import center_crop_v2

    frames = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.codec_context.width * stream.codec_context.height > (Image.MAX_IMAGE_PIXELS or math.inf):
                raise _too_many_pixels("depth", path, stream.codec_context.width * stream.codec_context.height)
            for frame in container.decode(video=0):
                frames.append(np.asarray(center_crop_v2(frame.to_image().convert("L"), size), dtype=np.float32) / 255.0)
                if len(frames) == num_frames:
                    break
    except (av.error.FFmpegError, IndexError) as exc:
        raise InputError(f"{_label('depth')}: cannot read {path} as an image or video ({exc})") from exc
    return torch.from_numpy(np.stack(frames))[:, None]


def read_input(name: str, path: str | os.PathLike | None, *, num_frames: int = 16, misc_size: int = 384) -> Any:
    """The file given for input ``name`` as the builder takes it; None stays None.

    ``depth``: ``.safetensors`` from ``extract`` (exact values) or a greyscale image/video → ``[F, 1, M, M]``;
    ``sketch``: a sketch image (cleaned by PiDiNet + the sketch GAN, as the reference) or a ``.safetensors``
    sketch map; ``motion``: a trajectory JSON → :class:`~videocomposer.video.trajectory.Trajectory` (its field
    is made at the video's size in :func:`prepare_conditions`); image inputs: an RGB PIL image; ``video``: the
    path itself (sampled later).
    """
    if path is None:
        return None
    path = Path(path)
    kind = INPUTS[name].kind
    if kind == "video":
        return path
    if kind in ("depth", "sketch") and path.suffix == ".safetensors":
        return read_tensor(name, path, name)
    if kind == "depth":
        return read_depth_video(path, num_frames, misc_size)
    if kind in ("image", "sketch"):
        return open_image(name, path)
    if kind == "trajectory":
        return read_trajectory(path, _label(name))
    raise InputError(f"{_label(name)}: input kind {kind!r} is not read from a file")


@dataclass
class PreparedConditions:
    """The built conditions (UNet kwargs on the execution device) and the clip they came from (or None)."""

    conditions: dict[str, torch.Tensor]
    clip: VideoClip | None

    def source_video(self) -> torch.Tensor | None:
        """The clip's annotator frames ``[B, 3, F, M, M]`` in [0, 1], or None without a clip."""
        if self.clip is None:
            return None
        misc = self.clip.misc
        return misc.permute(1, 0, 2, 3)[None] if misc.ndim == 4 else misc.permute(0, 2, 1, 3, 4)


def _reads_video_motion(conditions: Sequence[str], inputs: dict[str, Any], precomputed: dict | None) -> bool:
    """Whether a requested condition takes the video's motion vectors (the ``motion`` clip stream): it reads the video,
    and is neither given another way (e.g. a drawn trajectory) nor precomputed."""
    readers = conditions_reading("video", conditions, inputs, tuple(precomputed or {}))
    return "motion" in clip_streams(readers)


def prepare_conditions(
    builder: ConditionBuilder,
    conditions: Sequence[str],
    *,
    video: str | os.PathLike | VideoClip | None = None,
    num_frames: int = 16,
    height: int = 256,
    width: int = 256,
    seed: int | None = None,
    misc_size: int | None = None,
    precomputed: dict[str, torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
    motion_settings: MotionSettings | None = None,
    **inputs: Any,
) -> PreparedConditions:
    """Sample the clip from ``video`` and build ``conditions`` once.

    ``seed`` drives clip sampling and the misc-transform draws, in the reference's order (the
    first-frame image, then the sketch image, then the clip). ``misc_size`` defaults to
    :func:`default_misc_size`. ``inputs``: registered inputs by name (``prompt``, ``image``, ...); a
    :class:`~videocomposer.video.trajectory.Trajectory` (the ``motion`` input) becomes the field extracted
    vectors give (``[F, 2, R, R]``, ``R = max(height, width)``). ``motion_settings``: how the motion condition of the
    video and of a trajectory is made (:class:`~videocomposer.video.motion.MotionSettings`; default: the reference's).
    """
    misc_size = misc_size or default_misc_size(height, width)
    motion_settings = motion_settings or MotionSettings()
    for name, value in inputs.items():
        if isinstance(value, Trajectory):
            inputs[name] = value.motion_condition_for(num_frames, max(height, width), motion_settings)
    py_rng = random.Random(seed) if seed is not None else None
    for name in [n for n, spec in INPUTS.items() if spec.misc_image]:  # first-frame image, then sketch image
        if isinstance(inputs.get(name), Image.Image):
            inputs[name] = misc_transform(inputs[name], misc_size, py_rng)
    clip = video
    if isinstance(video, (str, os.PathLike)):
        sampled_mask = "mask" in clip_streams(conditions) and inputs.get("mask") is None  # else the given one
        video_motion = motion_settings if _reads_video_motion(conditions, inputs, precomputed) else None
        clip = load_video_clip(
            video,
            num_frames=num_frames,
            resolution=max(height, width),
            misc_size=misc_size,
            py_rng=py_rng or random.Random(),
            np_rng=np.random.RandomState(seed),
            with_mask=sampled_mask,
            motion_settings=video_motion,
        )
    if isinstance(clip, VideoClip) and clip.num_frames != num_frames:
        raise ValueError(f"the video clip has {clip.num_frames} frames but num_frames={num_frames}")
    cond = builder.build(
        conditions,
        video=clip,
        precomputed=precomputed,
        num_frames=num_frames,
        misc_size=misc_size,
        py_rng=py_rng,
        device=device,
        **inputs,
    )
    return PreparedConditions(cond, clip)
