"""Image transforms of the reference data pipeline, reproduced with Pillow's resamplers.

``center_crop_v2`` is the reference's ``CenterCropV2``: the video frames (256), the misc/annotator
frames (384) and the CLIP reference frame (224) all go through it.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image


def center_crop_v2(image: Image.Image, size: int) -> Image.Image:
    """Square crop of side ``size`` as the reference's ``CenterCropV2``.

    While the short side is at least ``2·size`` the image is halved with PIL BOX; then the short
    side is resized to ``size`` with PIL BICUBIC (long side ``round()``-ed) and the centre is cropped
    at ``((w − size)//2, (h − size)//2)``.
    """
    while min(image.size) >= 2 * size:
        image = image.resize((image.width // 2, image.height // 2), resample=Image.BOX)
    scale = size / min(image.size)
    image = image.resize((round(scale * image.width), round(scale * image.height)), resample=Image.BICUBIC)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    return image.crop((left, top, left + size, top + size))


def pil_to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """PIL RGB image → ``[3, H, W]`` uint8 tensor."""
    return torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()
