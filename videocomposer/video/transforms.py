"""Image transforms of the reference data pipeline, reproduced with Pillow's resamplers.

``center_crop_v2`` is the reference's ``CenterCropV2``: the video frames (256), the misc/annotator
frames (384) and the CLIP reference frame (224) all go through it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

#: OpenAI CLIP pixel normalisation (the reference's ``vit_mean`` / ``vit_std``).
OPENAI_CLIP_MEAN: tuple[float, float, float] = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD: tuple[float, float, float] = (0.26862954, 0.26130258, 0.27577711)


def center_crop_v2(image: Image.Image, size: int) -> Image.Image:
    """Square crop of side ``size`` as the reference's ``CenterCropV2``.

    While the short side is at least ``2·size`` the image is halved with PIL BOX; then the short
    side is resized to ``size`` with PIL BICUBIC (long side ``round()``-ed) and the centre is cropped
    at ``((w − size)//2, (h − size)//2)``.
    """
    while min(image.size) >= 2 * size:
        image = image.resize((image.width // 2, image.height // 2), resample=Image.Resampling.BOX)
    scale = size / min(image.size)
    image = image.resize((round(scale * image.width), round(scale * image.height)), resample=Image.Resampling.BICUBIC)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return image.crop((left, top, left + size, top + size))


def pil_to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB image → ``[3, H, W]`` uint8 tensor."""
    return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def normalize_pixels(
    pixels: torch.Tensor, mean: Sequence[float] = OPENAI_CLIP_MEAN, std: Sequence[float] = OPENAI_CLIP_STD
) -> torch.Tensor:
    """uint8 ``[..., 3, H, W]`` in ``[0, 255]`` → float32 ``(x/255 − mean)/std`` (ToTensor + Normalize)."""
    if pixels.dtype != torch.uint8 or pixels.ndim < 3 or pixels.shape[-3] != 3:
        raise ValueError(f"pixels must be a uint8 tensor [..., 3, H, W], got {tuple(pixels.shape)} {pixels.dtype}")
    mean_t = torch.as_tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.as_tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (pixels.to(torch.float32) / 255 - mean_t) / std_t
