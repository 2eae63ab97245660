"""Reading what is evaluated: a video (file or frames) and a still image, as ``uint8`` RGB arrays.

Every metric takes either a path or pixels, so a script can pass the pipeline's output directly:

* a video: an MP4 (or anything FFmpeg decodes) path, or frames in any form
  :func:`videocomposer.video.writer.to_uint8_frames` accepts (``uint8 [F, H, W, 3]``, float
  ``[F, 3, H, W]`` / ``[F, H, W, 3]`` in [0, 1], a list of PIL images);
* an image: a path, a PIL image, ``uint8 [H, W, 3]`` or float ``[3, H, W]`` / ``[H, W, 3]`` in [0, 1].
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ..video.reader import decode_motion_stream
from ..video.writer import to_uint8_frames

#: A video: a file path, or frames (array, tensor, list of PIL images).
VideoInput = str | os.PathLike | np.ndarray | torch.Tensor | list
#: An image: a file path, a PIL image, an array or a tensor.
ImageInput = str | os.PathLike | Image.Image | np.ndarray | torch.Tensor


def is_path(value: object) -> bool:
    return isinstance(value, (str, os.PathLike))


def read_video_frames(video: VideoInput) -> np.ndarray:
    """A video file or frames → ``uint8 [F, H, W, 3]`` RGB (every decoded frame of a file).

    Raises ``FileNotFoundError`` / :class:`~videocomposer.video.reader.VideoReadError` naming the file.
    """
    if is_path(video):
        stream = decode_motion_stream(video)
        return np.stack([stream.frames[i] for i in range(stream.num_frames)])
    return to_uint8_frames(video)


def read_image(image: ImageInput) -> np.ndarray:
    """An image file, PIL image, array or tensor → ``uint8 [H, W, 3]`` RGB."""
    if is_path(image):
        if not os.path.isfile(image):
            raise FileNotFoundError(f"image file not found: '{os.fspath(image)}'")
        try:
            with Image.open(image) as opened:
                return np.asarray(opened.convert("RGB"), dtype=np.uint8)
        except (UnidentifiedImageError, OSError) as exc:
            raise ValueError(f"cannot read image '{os.fspath(image)}': {exc} (expected a PNG/JPEG image)") from exc
    if isinstance(image, Image.Image):
        return np.asarray(image.convert("RGB"), dtype=np.uint8)
    if isinstance(image, (np.ndarray, torch.Tensor)) and image.ndim == 3:
        return to_uint8_frames(image[None])[0]
    raise ValueError(
        f"an image must be a path, a PIL image or a [H, W, 3] / [3, H, W] array, got "
        f"{getattr(image, 'shape', type(image).__name__)}"
    )
