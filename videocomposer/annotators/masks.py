"""Inpainting masks (the reference's ``artist/ops/random_mask.py`` and the dataset's mask choice).

All generators return float32 ``[h, w]`` arrays with 1 = hidden and draw from numpy's *legacy*
RNG in the reference's call order: pass an ``np.random.RandomState`` as ``rng``, or leave it None
to use the global ``np.random`` state (what the reference does after ``np.random.seed``). A
``RandomState(s)`` and ``np.random.seed(s)`` give identical masks.
"""

from __future__ import annotations

import random

import cv2
import numpy as np
import torch

_PI = 3.1415926  # the reference's constant for mirroring stroke angles


def _legacy(rng: np.random.RandomState | None):
    return np.random if rng is None else rng


def make_irregular_mask(
    w: int,
    h: int,
    max_angle: int = 4,
    max_length: int = 200,
    max_width: int = 100,
    min_strokes: int = 1,
    max_strokes: int = 5,
    rng: np.random.RandomState | None = None,
) -> np.ndarray:
    """Random thick poly-line strokes. ``randint(min, max+1)`` strokes from a random start; each has
    ``1 + randint(5)`` segments drawing angle, length, thickness in that order; even strokes mirror
    the angle (``2π − a``); segment ends are truncated to int and clipped to ``[0, w] × [0, h]``."""
    rng = _legacy(rng)
    mask = np.zeros((h, w), dtype=np.float32)
    for stroke in range(rng.randint(min_strokes, max_strokes + 1)):
        x1, y1 = rng.randint(w), rng.randint(h)
        for _ in range(1 + rng.randint(5)):
            angle = 0.01 + rng.randint(max_angle)
            if stroke % 2 == 0:
                angle = 2 * _PI - angle
            length = 10 + rng.randint(max_length)
            thickness = 5 + rng.randint(max_width)
            x2 = int(np.clip(np.int32(x1 + length * np.sin(angle)), 0, w))
            y2 = int(np.clip(np.int32(y1 + length * np.cos(angle)), 0, h))
            cv2.line(mask, (int(x1), int(y1)), (x2, y2), 1.0, int(thickness))
            x1, y1 = x2, y2
    return mask


def make_rectangle_mask(
    w: int,
    h: int,
    margin: int = 10,
    min_size: int = 30,
    max_size: int = 150,
    min_strokes: int = 1,
    max_strokes: int = 4,
    rng: np.random.RandomState | None = None,
) -> np.ndarray:
    """``randint(min, max+1)`` boxes of ``randint(min_size, max_size)`` per side, placed at
    ``randint(margin, side − margin − box + 1)``; draws width, height, x, y per box."""
    rng = _legacy(rng)
    mask = np.zeros((h, w), dtype=np.float32)
    for _ in range(rng.randint(min_strokes, max_strokes + 1)):
        box_w, box_h = rng.randint(min_size, max_size), rng.randint(min_size, max_size)
        x1 = rng.randint(margin, w - margin - box_w + 1)
        y1 = rng.randint(margin, h - margin - box_h + 1)
        mask[y1 : y1 + box_h, x1 : x1 + box_w] = 1
    return mask


def make_uncrop(w: int, h: int, rng: np.random.RandomState | None = None) -> np.ndarray:
    """Hide one half: ``choice([0, 1, 2, 3])`` → top, bottom, left or right."""
    mask = np.zeros((h, w), dtype=np.float32)
    side = _legacy(rng).choice([0, 1, 2, 3])
    if side == 0:
        mask[: h // 2] = 1
    elif side == 1:
        mask[h // 2 :] = 1
    elif side == 2:
        mask[:, : w // 2] = 1
    else:
        mask[:, w // 2 :] = 1
    return mask


#: Generator name (as in the fixtures' config) → function.
MASK_GENERATORS = {f.__name__: f for f in (make_irregular_mask, make_rectangle_mask, make_uncrop)}


def draw_dataset_mask(
    size: int = 384,
    raw_size: int = 512,
    py_rng: random.Random | None = None,
    np_rng: np.random.RandomState | None = None,
) -> tuple[np.ndarray, str]:
    """The dataset's mask draw (DS:238-248): ``p = random()``; irregular if ``p < 0.7``, rectangle if
    ``p < 0.9``, else uncrop, at ``raw_size``², then ``cv2.resize`` INTER_NEAREST to ``size``².

    Args:
        py_rng: source of ``random()`` (default: the global ``random`` module).
        np_rng: legacy numpy RNG for the geometry (default: the global ``np.random``).

    Returns:
        (float32 ``[size, size]`` mask with 1 = hidden, type name "irregular"/"rectangle"/"uncrop").
    """
    p = (py_rng or random).random()
    if p < 0.7:
        raw, kind = make_irregular_mask(raw_size, raw_size, rng=np_rng), "irregular"
    elif p < 0.9:
        raw, kind = make_rectangle_mask(raw_size, raw_size, rng=np_rng), "rectangle"
    else:
        raw, kind = make_uncrop(raw_size, raw_size, rng=np_rng), "uncrop"
    return cv2.resize(raw, (size, size), interpolation=cv2.INTER_NEAREST), kind


def masked_condition(misc: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The UNet's ``masked`` input: ``cat([(2·misc − 1)·(1 − mask), 1 − mask], dim=1)``.

    Args:
        misc: ``[F, 3, H, W]`` frames in [0, 1].
        mask: ``[F, 1, H, W]`` (or ``[1, 1, H, W]``, broadcast) in {0, 1}, 1 = hidden.

    Returns:
        ``[F, 4, H, W]``: masked frames in [−1, 1] and the keep map in {0, 1}.
    """
    if misc.ndim != 4 or misc.shape[1] != 3:
        raise ValueError(f"misc must have shape [F, 3, H, W], got {tuple(misc.shape)}")
    if (
        mask.ndim != 4
        or mask.shape[1] != 1
        or mask.shape[-2:] != misc.shape[-2:]
        or mask.shape[0] not in (1, misc.shape[0])
    ):
        raise ValueError(
            f"mask must have shape [F, 1, H, W] or [1, 1, H, W] matching misc {tuple(misc.shape)}, got {tuple(mask.shape)}"
        )
    keep = (1 - mask).to(misc.dtype).expand(misc.shape[0], -1, -1, -1)
    return torch.cat([(2 * misc - 1) * keep, keep], dim=1)
