"""Backgrounds of the synthetic world: solid, linear and radial gradients, stripes, checkerboards and noise.

Every background mixes two colours: each pixel is ``A + t · (B − A)`` with ``t`` in [0, 1] (a solid
background has ``A = B``), so a truth file describes any of them by its two colours. ``t`` is a function of
the pixel's position in **square units** (the centre square of the frame has side 1, as in
:mod:`recipes.toy.paths`), so a background looks the same at any frame size; outside the centre square
(the long side of a non-square frame) it continues.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from videocomposer.evaluation.colours import colour_name

RGB = tuple[int, int, int]
#: The background kinds, in sampling order.
BACKGROUNDS = ("solid", "linear", "radial", "stripes", "checker", "noise")
#: Square units covered by the noise lattice (wider than any frame up to a 3:1 aspect ratio).
NOISE_SPAN = (-1.0, 2.0)


@dataclass(frozen=True)
class BackgroundSpec:
    """``kind`` and the two ``colours`` it mixes; ``angle`` (radians) of a linear gradient or stripes; ``scale``
    (square units): the stripes' period, the checker's cell, the noise's feature size or the radial gradient's
    reach; ``centre`` of a radial gradient; ``seed`` of the noise."""

    kind: str
    colours: tuple[RGB, RGB]
    angle: float = 0.0
    scale: float = 0.2
    centre: tuple[float, float] = (0.5, 0.5)
    seed: int = 0


def square_coordinates(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres of a ``width × height`` frame in square units: ``(u, v)``, each float64 ``[H, W]``."""
    side = min(width, height)
    u = (np.arange(width) + 0.5 - (width - side) / 2) / side
    v = (np.arange(height) + 0.5 - (height - side) / 2) / side
    return np.meshgrid(u, v)


def _noise(spec: BackgroundSpec, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Smooth noise in [0, 1]: uniform values on a lattice of ``scale`` square units, bicubic between them."""
    low, high = NOISE_SPAN
    count = int(math.ceil((high - low) / spec.scale)) + 4
    lattice = np.random.default_rng(spec.seed).random((count, count)).astype(np.float32)
    map_x = ((u - low) / spec.scale + 1).astype(np.float32)
    map_y = ((v - low) / spec.scale + 1).astype(np.float32)
    return cv2.remap(lattice, map_x, map_y, cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT).astype(np.float64)


def mix_weights(spec: BackgroundSpec, width: int, height: int) -> np.ndarray:
    """``t`` of every pixel (module docstring), float64 ``[H, W]`` in [0, 1]."""
    u, v = square_coordinates(width, height)
    cos, sin = math.cos(spec.angle), math.sin(spec.angle)
    if spec.kind == "solid":
        t = np.zeros_like(u)
    elif spec.kind == "linear":
        t = 0.5 + ((u - 0.5) * cos + (v - 0.5) * sin) / (abs(cos) + abs(sin))
    elif spec.kind == "radial":
        t = np.hypot(u - spec.centre[0], v - spec.centre[1]) / spec.scale
    elif spec.kind == "stripes":
        t = np.mod(np.floor((u * cos + v * sin) / (spec.scale / 2)), 2)
    elif spec.kind == "checker":
        t = np.mod(np.floor(u / spec.scale) + np.floor(v / spec.scale), 2)
    elif spec.kind == "noise":
        t = _noise(spec, u, v)
    else:
        raise ValueError(f"unknown background {spec.kind!r}; choose from {', '.join(BACKGROUNDS)}")
    return np.clip(t, 0.0, 1.0)


def render_background(spec: BackgroundSpec, width: int, height: int) -> np.ndarray:
    """The background, uint8 ``[H, W, 3]``."""
    a, b = (np.array(c, dtype=np.float64) for c in spec.colours)
    t = mix_weights(spec, width, height)[..., None]
    return np.round(a + t * (b - a)).astype(np.uint8)


def background_phrase(spec: BackgroundSpec) -> str:
    """The background in words, with the common names of its colours: ``a gray background``, ``a gray to blue
    gradient``, ``a radial ...``, ``gray and blue stripes``, ``a gray and blue checkerboard``, ``a mottled ...``."""
    first, second = (colour_name(c) for c in spec.colours)
    pair = first if first == second else f"{first} and {second}"
    span = first if first == second else f"{first} to {second}"
    phrase = {
        "solid": f"{first} background",
        "linear": f"{span} gradient",
        "radial": f"radial {span} gradient",
        "stripes": f"{pair} stripes",
        "checker": f"{pair} checkerboard",
        "noise": f"mottled {pair} background",
    }
    text = phrase[spec.kind]
    return text if spec.kind == "stripes" else f"{'an' if text[0] in 'aeiou' else 'a'} {text}"
