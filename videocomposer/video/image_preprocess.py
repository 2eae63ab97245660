"""The two ways VideoComposer turns a picture into CLIP image-tower input.

* **style image** (``read_style`` in the reference): open_clip's validation transform — shorter
  side resized to 224 with PIL bicubic (long side ``int(224·long/short)``, as torchvision's
  ``Resize``), centre crop 224 at ``round((L − 224)/2)`` (torchvision's ``CenterCrop``), RGB;
* **reference frame** (no style image: the clip's middle frame): the reference's ``CenterCropV2``
  (:func:`videocomposer.video.transforms.center_crop_v2`).

Both end with ``ToTensor`` + ``Normalize`` with OpenAI's CLIP mean/std and return float32
``[3, 224, 224]``, roughly in ``[-1.8, 2.2]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from PIL import Image

from .transforms import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, center_crop_v2, normalize_pixels, pil_to_uint8_tensor

CLIP_IMAGE_SIZE = 224


def resize_shorter_side_and_center_crop(image: Image.Image, size: int = CLIP_IMAGE_SIZE) -> Image.Image:
    """open_clip's validation geometry (torchvision ``Resize(size, BICUBIC)`` + ``CenterCrop(size)``
    on a PIL image): ``size × size`` PIL image, in the input's mode."""
    _check_image(image, size)
    w, h = image.size
    short, long = min(w, h), max(w, h)
    new_short, new_long = size, int(size * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    if (new_w, new_h) != (w, h):
        image = image.resize((new_w, new_h), resample=Image.Resampling.BICUBIC)
    left, top = int(round((new_w - size) / 2.0)), int(round((new_h - size) / 2.0))
    return image.crop((left, top, left + size, top + size))


def preprocess_style_image(
    image: Image.Image,
    size: int = CLIP_IMAGE_SIZE,
    mean: Sequence[float] = OPENAI_CLIP_MEAN,
    std: Sequence[float] = OPENAI_CLIP_STD,
) -> torch.Tensor:
    """Style image (any PIL mode) → normalised float32 ``[3, size, size]``.

    Resized and cropped in its own mode, then converted to RGB (open_clip's order).
    """
    return normalize_pixels(pil_to_uint8_tensor(resize_shorter_side_and_center_crop(image, size)), mean, std)


def preprocess_reference_frame(
    image: Image.Image,
    size: int = CLIP_IMAGE_SIZE,
    mean: Sequence[float] = OPENAI_CLIP_MEAN,
    std: Sequence[float] = OPENAI_CLIP_STD,
) -> torch.Tensor:
    """Reference frame (converted to RGB first, like decoded video frames) → ``CenterCropV2`` →
    normalised float32 ``[3, size, size]``."""
    _check_image(image, size)
    return normalize_pixels(pil_to_uint8_tensor(center_crop_v2(image.convert("RGB"), size)), mean, std)


def _check_image(image: Image.Image, size: int) -> None:
    if not isinstance(image, Image.Image):
        raise ValueError(f"image must be a PIL.Image.Image, got {type(image).__name__}")
    if min(image.size) < 1:
        raise ValueError(f"image is empty: size {image.size}")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive int, got {size!r}")
