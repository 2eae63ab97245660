"""Common colour names: the nearest of a fixed table in CIELAB, and the conversion behind it.

A colour is named by the nearest entry of :data:`COLOUR_NAMES` in CIELAB (sRGB, D65 white; CIE76
ΔE, the Euclidean distance, where about 2.3 is a just-noticeable difference). The table holds the
twelve names people use for a plain colour (red, orange, yellow, green, cyan, blue, purple, pink,
brown, white, gray, black), each at a typical shade, so ``colour_name((200, 30, 40)) == "red"`` and
``colour_name((90, 90, 95)) == "gray"``. Captions, the caption-colour metric
(:func:`videocomposer.evaluation.tracks.dominant_colour_name`) and the synthetic world that writes
captions all name colours with this one function.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

#: Colour name → its typical sRGB shade (the prototypes of :func:`colour_name`).
COLOUR_NAMES: dict[str, tuple[int, int, int]] = {
    "red": (210, 35, 35),
    "orange": (240, 135, 25),
    "yellow": (240, 220, 40),
    "green": (50, 165, 60),
    "cyan": (40, 200, 210),
    "blue": (45, 80, 215),
    "purple": (135, 60, 185),
    "pink": (245, 160, 195),
    "brown": (125, 75, 35),
    "white": (240, 240, 240),
    "gray": (128, 128, 128),
    "black": (25, 25, 25),
}
_SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]]
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(rgb: np.ndarray | Sequence[float]) -> np.ndarray:
    """sRGB ``[..., 3]`` in 0-255 (uint8 or float) → CIELAB ``[..., 3]`` float64 (L in 0-100; D65)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    t = (linear @ _SRGB_TO_XYZ.T) / _D65_WHITE
    delta = 6 / 29
    f = np.where(t > delta**3, np.cbrt(t), t / (3 * delta**2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


_NAMES = tuple(COLOUR_NAMES)
_PROTOTYPES_LAB = rgb_to_lab(np.array([COLOUR_NAMES[n] for n in _NAMES]))


def name_distances(rgb: np.ndarray | Sequence[float]) -> np.ndarray:
    """ΔE (CIE76) from each colour ``[..., 3]`` (sRGB 0-255) to every name of :data:`COLOUR_NAMES`, ``[..., 12]``,
    in the table's order."""
    lab = rgb_to_lab(rgb)
    return np.linalg.norm(lab[..., None, :] - _PROTOTYPES_LAB, axis=-1)


def colour_name_indices(rgb: np.ndarray | Sequence[float]) -> np.ndarray:
    """The index into :data:`COLOUR_NAMES` of the nearest name of each colour ``[..., 3]`` → int ``[...]``."""
    return name_distances(rgb).argmin(axis=-1)


def colour_name(rgb: Sequence[float]) -> str:
    """The common name of one sRGB colour (0-255): the nearest entry of :data:`COLOUR_NAMES` in CIELAB."""
    return _NAMES[int(colour_name_indices(np.asarray(rgb, dtype=np.float64)))]


def naming_margin(rgb: Sequence[float]) -> float:
    """How clearly a colour has its name: ΔE to the second-nearest name minus ΔE to the nearest (0 = on a border)."""
    nearest, second = np.sort(name_distances(np.asarray(rgb, dtype=np.float64)))[:2]
    return float(second - nearest)


def delta_e(a: np.ndarray | Sequence[float], b: np.ndarray | Sequence[float]) -> np.ndarray:
    """CIE76 ΔE between sRGB colours (0-255), broadcast over ``[..., 3]``."""
    return np.linalg.norm(rgb_to_lab(a) - rgb_to_lab(b), axis=-1)


def caption_colour(caption: str) -> str | None:
    """The first common colour name (:data:`COLOUR_NAMES`, whole words, ``grey`` read as ``gray``) in a caption,
    None when it names none. Captions that name the object first (``"a red star moves left over a blue
    background"``) give the object's colour."""
    for word in re.findall(r"[a-z]+", caption.lower()):
        word = "gray" if word == "grey" else word
        if word in COLOUR_NAMES:
            return word
    return None
