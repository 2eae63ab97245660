"""The shapes of the synthetic world as polygons: what is drawn is exactly what the truth file records.

Each shape is an outline (and, for the ring, a hole) around the object's position, in pixels, scaled by
the object's radius (half its size): :func:`shape_polygons`. The frame renderer and
:func:`videocomposer.evaluation.truth.polygon_mask` fill them the same way (a pixel is the object's when
its centre is inside), so a truth file's mask of an object is its drawn pixels.
"""

from __future__ import annotations

import numpy as np

#: The shapes of the world, in sampling order.
SHAPES = ("circle", "square", "triangle", "diamond", "hexagon", "star", "ring", "cross")
#: Inner radius of the star's points and of the ring's hole, and the cross's arm half-width (fractions of the radius).
STAR_INNER, RING_HOLE, CROSS_ARM = 0.45, 0.55, 0.36


def _regular(count: int, radius: float = 1.0, start: float = -np.pi / 2) -> np.ndarray:
    """``count`` points on a circle of ``radius``, the first at angle ``start`` (−π/2: straight up)."""
    angle = start + np.arange(count) * 2 * np.pi / count
    return radius * np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def _unit_polygons(shape: str) -> tuple[np.ndarray, list[np.ndarray]]:
    if shape == "circle":
        return _regular(64), []
    if shape == "ring":
        return _regular(64), [_regular(64, RING_HOLE)]
    if shape == "square":
        return np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]), []
    if shape == "triangle":
        return np.array([[0.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]), []
    if shape == "diamond":
        return _regular(4), []
    if shape == "hexagon":
        return _regular(6, start=0.0), []
    if shape == "star":
        outer, inner = _regular(5), _regular(5, STAR_INNER, start=-np.pi / 2 + np.pi / 5)
        return np.stack([outer, inner], axis=1).reshape(10, 2), []
    if shape == "cross":
        a = CROSS_ARM
        return np.array(
            [
                [-a, -1],
                [a, -1],
                [a, -a],
                [1, -a],
                [1, a],
                [a, a],
                [a, 1],
                [-a, 1],
                [-a, a],
                [-1, a],
                [-1, -a],
                [-a, -a],
            ],
            dtype=np.float64,
        ), []
    raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")


def shape_polygons(shape: str, radius: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """The outline ``[K, 2]`` and holes of ``shape`` at half-size ``radius`` pixels, around (0, 0), y down."""
    outline, holes = _unit_polygons(shape)
    return outline * radius, [hole * radius for hole in holes]
