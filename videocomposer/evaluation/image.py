"""First-frame adherence (``local_image``): PSNR and SSIM of generated frame 0 against the given image.

The given image is brought to the generated frame's size as the dataset brings video frames to the
video size (:func:`~videocomposer.video.transforms.center_crop_v2`), unless it already has that size.

PSNR is ``10·log10(255² / MSE)`` over all pixels and channels in float64; identical images give
``math.inf`` (the JSON report caps it at :data:`PSNR_CAP_DB`). SSIM is Wang et al. (2004) with an
11×11 Gaussian window (σ = 1.5), ``K1 = 0.01``, ``K2 = 0.03``, ``L = 255``, per RGB channel and averaged
over channels and pixels (borders included, reflected) — the usual definition, written here with
OpenCV's Gaussian filter because scikit-image is not a dependency.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PIL import Image

from ..video.transforms import center_crop_v2
from .frames import ImageInput, VideoInput, read_image, read_video_frames

#: PSNR written to JSON reports for identical images (JSON has no infinity).
PSNR_CAP_DB = 100.0
_SSIM_K1, _SSIM_K2, _SSIM_SIGMA, _SSIM_WINDOW = 0.01, 0.03, 1.5, 11


def _pair(a: ImageInput, b: ImageInput) -> tuple[np.ndarray, np.ndarray]:
    a, b = read_image(a), read_image(b)
    if a.shape != b.shape:
        raise ValueError(f"images differ in size: {a.shape[1]}x{a.shape[0]} vs {b.shape[1]}x{b.shape[0]}")
    return a, b


def psnr(a: ImageInput, b: ImageInput) -> float:
    """PSNR in dB of two same-size RGB images (8-bit scale); ``math.inf`` when they are identical."""
    a, b = _pair(a, b)
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def ssim(a: ImageInput, b: ImageInput) -> float:
    """Mean SSIM of two same-size RGB images (1 = identical), averaged over the three channels."""
    a, b = _pair(a, b)
    c1, c2 = (_SSIM_K1 * 255) ** 2, (_SSIM_K2 * 255) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(x, (_SSIM_WINDOW, _SSIM_WINDOW), _SSIM_SIGMA, borderType=cv2.BORDER_REFLECT)

    x, y = a.astype(np.float64), b.astype(np.float64)
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(ssim_map.mean())


def fit_image(image: ImageInput, height: int, width: int) -> np.ndarray:
    """The given first-frame image at the generated size: as is when it has that size, else
    ``CenterCropV2`` (short side resize + centre crop) for square videos → ``uint8 [H, W, 3]``."""
    pixels = read_image(image)
    if pixels.shape[:2] == (height, width):
        return pixels
    if height != width:
        raise ValueError(
            f"the image is {pixels.shape[1]}x{pixels.shape[0]} and the video {width}x{height}; "
            "give an image of the video's size for a non-square video"
        )
    return np.asarray(center_crop_v2(Image.fromarray(pixels), height))


def first_frame_metrics(generated: VideoInput, image: ImageInput) -> dict[str, float]:
    """``{"first_frame_psnr": dB, "first_frame_ssim": ...}`` of generated frame 0 against ``image``
    (fitted to the frame with :func:`fit_image`). PSNR is ``math.inf`` for a pixel-exact frame."""
    frame = read_video_frames(generated)[0]
    target = fit_image(image, *frame.shape[:2])
    return {"first_frame_psnr": psnr(frame, target), "first_frame_ssim": ssim(frame, target)}
