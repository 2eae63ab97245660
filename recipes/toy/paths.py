"""How objects of the synthetic world move: lines, arcs, zigzags, bounces and stop-and-go, at any heading.

A path gives the object's centre in **square units** (the centre square of the frame, the part every model
sees after its centre crop, has side 1; x right, y down) at **steps** (one step = one frame of the clip as
the trainer samples it, whatever the written frame rate: see :mod:`recipes.toy.world`). Speeds are in
square sides per step, so a path looks the same at every frame size and rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

#: The path kinds, in sampling order.
PATHS = ("line", "arc", "zigzag", "bounce", "stop_and_go")
#: Speed range (square sides per step), drawn log-uniformly: from a slow drift to a crossing in 16 steps.
SPEED_RANGE = (0.008, 0.06)
#: Free space kept between an object and the square's edge (square sides).
EDGE_GAP = 0.01


@dataclass(frozen=True)
class PathSpec:
    """One path (module docstring for units).

    ``line``: ``start + velocity · s``; ``bounce``: the same reflected between the walls ``low`` and ``high``;
    ``arc``: around ``start`` at ``arc_radius``, angle ``phase + omega · s``; ``zigzag``: the line plus a
    triangle wave of ``amplitude`` across it with a ``period`` of steps; ``stop_and_go``: the line, moving for
    ``move`` steps then still for ``pause`` steps, again and again.
    """

    kind: str
    x0: float
    y0: float
    vx: float = 0.0
    vy: float = 0.0
    arc_radius: float = 0.0
    phase: float = 0.0
    omega: float = 0.0
    amplitude: float = 0.0
    period: float = 1.0
    move: float = 1.0
    pause: float = 0.0
    low: float = 0.0
    high: float = 1.0

    def positions(self, steps: np.ndarray) -> np.ndarray:
        """The centre at each step (float array ``[N]``) → ``[N, 2]`` (x, y) square units."""
        s = np.asarray(steps, dtype=np.float64)
        start, velocity = np.array([self.x0, self.y0]), np.array([self.vx, self.vy])
        if self.kind == "arc":
            angle = self.phase + self.omega * s
            return start + self.arc_radius * np.stack([np.cos(angle), np.sin(angle)], axis=-1)
        if self.kind == "stop_and_go":
            cycle = self.move + self.pause
            s = np.floor(s / cycle) * self.move + np.minimum(np.mod(s, cycle), self.move)
        points = start + s[:, None] * velocity
        if self.kind == "zigzag":
            speed = float(np.linalg.norm(velocity)) or 1.0
            across = np.array([-self.vy, self.vx]) / speed
            phase = np.mod(s / self.period, 1.0)
            wave = np.where(phase < 0.25, 4 * phase, np.where(phase < 0.75, 2 - 4 * phase, 4 * phase - 4))
            points = points + (self.amplitude * wave)[:, None] * across
        if self.kind == "bounce":
            points = _reflect(points, self.low, self.high)
        return points


def _reflect(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fold ``values`` into ``[low, high]`` as a ball bouncing between two walls."""
    span = high - low
    folded = np.mod(values - low, 2 * span)
    return low + np.where(folded > span, 2 * span - folded, folded)


def _fitted(path: PathSpec, rng: np.random.Generator, margin: float, steps: np.ndarray) -> PathSpec:
    """``path`` (drawn from (0, 0)) slowed down until it fits inside the square with ``margin``, and started at a
    random place from which it stays inside."""
    span = 1 - 2 * margin
    relative = path.positions(steps)
    extent = relative.max(axis=0) - relative.min(axis=0)
    factor = min(1.0, span / max(extent.max(), 1e-9))
    if factor < 1.0:
        path = replace(path, vx=path.vx * factor, vy=path.vy * factor, amplitude=path.amplitude * factor)
        relative = path.positions(steps)
    low = margin - relative.min(axis=0)
    high = 1 - margin - relative.max(axis=0)
    x0, y0 = (rng.uniform(lo, max(lo, hi)) for lo, hi in zip(low, high))
    return replace(path, x0=float(x0), y0=float(y0))


def sample_path(rng: np.random.Generator, kind: str, radius: float, steps: np.ndarray) -> PathSpec:
    """A random path of ``kind`` for an object of half-size ``radius`` (square units) that stays inside the square
    over ``steps``: any heading, a speed from :data:`SPEED_RANGE` (a line too fast to stay inside is slowed)."""
    speed = math.exp(rng.uniform(*np.log(SPEED_RANGE)))
    heading = rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(heading), speed * math.sin(heading)
    margin = radius + EDGE_GAP
    if kind == "arc":
        arc_radius = min(rng.uniform(0.12, 0.35), 0.5 - margin - EDGE_GAP)
        centre = rng.uniform(margin + arc_radius, 1 - margin - arc_radius, size=2)
        omega = speed / arc_radius * (1 if rng.random() < 0.5 else -1)
        return PathSpec(
            "arc",
            float(centre[0]),
            float(centre[1]),
            arc_radius=arc_radius,
            phase=rng.uniform(0, 2 * math.pi),
            omega=omega,
        )
    if kind == "bounce":
        start = rng.uniform(margin, 1 - margin, size=2)
        return PathSpec("bounce", float(start[0]), float(start[1]), vx, vy, low=margin, high=1 - margin)
    if kind == "zigzag":
        path = PathSpec("zigzag", 0.0, 0.0, vx, vy, amplitude=rng.uniform(0.04, 0.12), period=rng.uniform(4, 8))
    elif kind == "stop_and_go":
        path = PathSpec(
            "stop_and_go", 0.0, 0.0, 1.5 * vx, 1.5 * vy, move=int(rng.integers(2, 5)), pause=int(rng.integers(1, 4))
        )
    elif kind == "line":
        path = PathSpec("line", 0.0, 0.0, vx, vy)
    else:
        raise ValueError(f"unknown path {kind!r}; choose from {', '.join(PATHS)}")
    return _fitted(path, rng, margin, steps)


def direction_words(dx: float, dy: float) -> str:
    """The compass word of a displacement in image coordinates (y down): ``left``, ``up and right``, ..."""
    angle = math.degrees(math.atan2(-dy, dx)) % 360  # 0 = right, 90 = up
    names = ["right", "up and right", "up", "up and left", "left", "down and left", "down", "down and right"]
    return names[int(((angle + 22.5) % 360) // 45)]


def path_phrase(path: PathSpec, steps: np.ndarray) -> str:
    """How a path moves, in words: ``moves left``, ``curves up``, ``zigzags down and right``, ``bounces around``,
    ``moves left in fits and starts`` (the net direction over ``steps``)."""
    if path.kind == "bounce":
        return "bounces around"
    points = path.positions(steps)
    direction = direction_words(*(points[-1] - points[0]))
    return {
        "line": f"moves {direction}",
        "arc": f"curves {direction}",
        "zigzag": f"zigzags {direction}",
        "stop_and_go": f"moves {direction} in fits and starts",
    }[path.kind]
