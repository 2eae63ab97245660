"""Hand-drawn motion: strokes on the first frame → the block motion field the model is trained on.

A :class:`Trajectory` is a canvas (the first frame's ``width × height`` in pixels) and strokes. A
:class:`Stroke` is a region — every 16×16 macroblock whose centre lies within ``radius`` pixels of the
current point (always at least the block under the point) — and its path, one point per frame or a
drawn polyline resampled to the frame count at constant speed (``timing``).

The field is made exactly as the extracted condition is (:mod:`videocomposer.video.sampling`): the
canvas is scaled to a source video size (short side ``source_size``, default the generated video's
side ``R``; the pipeline follows the model's motion mode with :meth:`Trajectory.motion_condition_for`,
which in the ``rescaled`` mode takes the canvas's centre square on a source of the model's training
size), every frame's vectors are written as the MPEG-4 rows the decoder exports (``source = −1``,
16×16 blocks, ``dst`` at the block centre, half-pel ``motion_scale = 2``) and go through the same
:func:`~videocomposer.video.motion.dense_motion_field` and
:func:`~videocomposer.video.motion.motion_condition`. So the units (pixels of that source), the sign
convention (``dst − src``: an object moving right has dx > 0, down dy > 0), the sparsity (one pixel per
block) and the resize/crop to ``[F, 2, R, R]`` are those of the vectors of a real video of that size. Frame 0 is all zeros, as the I-frame that starts every training clip;
frame ``f`` moves the blocks now under ``p[f]`` by ``p[f] − p[f−1]``. Where strokes overlap, the later
stroke wins (as a later vector does).

JSON (``videocomposer generate --trajectory FILE.json``, and what the UI exports)::

    {"format": "videocomposer-trajectory", "version": 1,
     "width": 256, "height": 256,                 # canvas = the first frame, in pixels
     "strokes": [{"points": [[40, 128], [200, 128]],   # [x, y], x right, y down, canvas pixels
                  "radius": 24,                     # region radius in canvas pixels
                  "timing": "auto"}],               # "per_frame" | "path" | "auto" (optional)
     "source_size": 256}                           # optional: short side of the source the field is made for

``timing``: ``per_frame`` takes point ``i`` as the region's centre in frame ``i`` (exactly one point per
frame); ``path`` resamples the polyline by arc length to one point per frame (constant speed);
``auto`` (default) is ``per_frame`` when the counts match, else ``path``.

Ranges (:meth:`Trajectory.check_range`, applied to every file read): ``width``, ``height`` and ``source_size`` are
whole numbers of pixels from 1 to :data:`MAX_SIDE`; every point lies on the canvas or at most one canvas size
outside it (a stroke may enter from off-screen); a radius is at most three times the canvas's long side (a larger
region covers nothing more). The field is made only when it fits in memory
(:meth:`Trajectory.check_field_memory`).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..memory import require_memory
from .motion import MotionSettings, dense_motion_field, motion_condition, short_side_resize_shape

FORMAT = "videocomposer-trajectory"
VERSION = 1
#: The MPEG-4 macroblock side and the half-pel scale of the exported vectors.
BLOCK = 16
MOTION_SCALE = 2
TIMINGS = ("auto", "per_frame", "path")
#: The largest canvas side and ``source_size`` a trajectory may give, in pixels.
MAX_SIDE = 16384
#: Bytes per source pixel and frame while the field is made: the float64 (dx, dy) fields and their stack.
FIELD_BYTES_PER_PIXEL = 32


class TrajectoryError(ValueError):
    """A trajectory that cannot be used (the message names the file or field and what was expected)."""


@dataclass(frozen=True)
class Stroke:
    """A region (``radius`` px around each point) and its path ``points`` (``[(x, y), ...]`` canvas px)."""

    points: tuple[tuple[float, float], ...]
    radius: float
    timing: str = "auto"

    def __post_init__(self) -> None:
        points = tuple((float(x), float(y)) for x, y in self.points)
        object.__setattr__(self, "points", points)
        if not points:
            raise TrajectoryError("a stroke needs at least one point")
        if not all(math.isfinite(v) for p in points for v in p):
            raise TrajectoryError(f"stroke points must be finite numbers, got {list(points)}")
        if not (math.isfinite(self.radius) and self.radius > 0):
            raise TrajectoryError(f"stroke radius must be a positive number of pixels, got {self.radius!r}")
        if self.timing not in TIMINGS:
            raise TrajectoryError(f"stroke timing must be one of {list(TIMINGS)}, got {self.timing!r}")

    def frame_points(self, num_frames: int) -> np.ndarray:
        """The region's centre in every frame: float64 ``[num_frames, 2]`` (x, y)."""
        points = np.asarray(self.points, dtype=np.float64)
        per_frame = self.timing == "per_frame" or (self.timing == "auto" and len(points) == num_frames)
        if per_frame:
            if len(points) != num_frames:
                raise TrajectoryError(
                    f"a 'per_frame' stroke needs one point per frame: {len(points)} points, {num_frames} frames"
                )
            return points
        return resample_path(points, num_frames)


def _frame_count(num_frames: Any) -> int:
    if isinstance(num_frames, bool) or not isinstance(num_frames, int) or num_frames < 1:
        raise TrajectoryError(f"num_frames must be a positive integer, got {num_frames!r}")
    return num_frames


def _require_field_memory(source: Trajectory, num_frames: int, resolution: int, device: Any = None) -> None:
    """:meth:`Trajectory.check_field_memory` for the field made on ``source`` (the canvas already scaled)."""
    frames = _frame_count(num_frames)
    new_h, new_w = short_side_resize_shape(source.height, source.width, resolution)
    needed = frames * (FIELD_BYTES_PER_PIXEL * source.width * source.height + 16 * new_h * new_w)
    require_memory(
        needed,
        f"the motion field of this trajectory ({frames} frames on a {source.width}x{source.height} source)",
        "draw on a canvas closer to square, or give a smaller source_size or fewer frames",
        device,
    )


def resample_path(points: np.ndarray, num: int) -> np.ndarray:
    """``num`` points equally spaced by arc length along the polyline ``points`` ``[N, 2]`` (ends kept)."""
    segment = np.linalg.norm(np.diff(points, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(segment)])
    if arc[-1] == 0:
        return np.repeat(points[:1], num, axis=0)
    keep = np.concatenate([[True], segment > 0])  # drop repeated points: arc must increase for interp
    targets = np.linspace(0.0, arc[-1], num)
    return np.stack([np.interp(targets, arc[keep], points[keep, i]) for i in range(2)], axis=1)


@dataclass(frozen=True)
class Trajectory:
    """Strokes on a ``width × height`` canvas (the first frame's pixels); ``source_size``: see :meth:`motion_condition`."""

    width: int
    height: int
    strokes: tuple[Stroke, ...] = field(default_factory=tuple)
    source_size: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "strokes", tuple(self.strokes))
        for name in ("width", "height", "source_size"):
            value = getattr(self, name)
            if (value is not None or name != "source_size") and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise TrajectoryError(f"trajectory {name} must be a positive integer (pixels), got {value!r}")

    def check_range(self) -> None:
        """The ranges of the module docstring: sides and ``source_size`` at most :data:`MAX_SIDE`, every point on
        the canvas or within one canvas size around it, every radius at most 3 x the canvas's long side."""
        for name in ("width", "height", "source_size"):
            value = getattr(self, name)
            if value is not None and value > MAX_SIDE:
                raise TrajectoryError(f"trajectory {name} must be at most {MAX_SIDE} pixels, got {value}")
        w, h = self.width, self.height
        for i, stroke in enumerate(self.strokes):
            for j, (x, y) in enumerate(stroke.points):
                if not (-w <= x <= 2 * w and -h <= y <= 2 * h):
                    raise TrajectoryError(
                        f"strokes[{i}].points[{j}] = [{x:g}, {y:g}] lies far outside the {w}x{h} canvas: x must be "
                        f"within [{-w}, {2 * w}] and y within [{-h}, {2 * h}] (the canvas and one canvas size around it)"
                    )
            if stroke.radius > 3 * max(w, h):
                raise TrajectoryError(
                    f"strokes[{i}].radius must be at most {3 * max(w, h)} pixels (3 x the canvas's long side; a "
                    f"larger region covers nothing more), got {stroke.radius:g}"
                )

    def check_field_memory(
        self, num_frames: int, resolution: int, settings: MotionSettings | None = None, device: Any = None
    ) -> None:
        """Raise :class:`~videocomposer.memory.InsufficientMemoryError` (estimate and limit) when the motion field of
        :meth:`motion_condition_for` (``settings``; None: :meth:`motion_condition`) would not fit in memory."""
        source = self.source(resolution) if settings is None else self.source_for(resolution, settings)
        _require_field_memory(source, num_frames, resolution, device)

    def scaled(self, short_side: int) -> Trajectory:
        """The same strokes on the canvas scaled so that its short side is ``short_side`` pixels."""
        scale = short_side / min(self.width, self.height)
        strokes = tuple(
            Stroke(tuple((x * scale, y * scale) for x, y in s.points), s.radius * scale, s.timing) for s in self.strokes
        )
        return Trajectory(
            max(1, round(self.width * scale)), max(1, round(self.height * scale)), strokes, self.source_size
        )

    def centre_square(self) -> Trajectory:
        """The same strokes on the centre square of the canvas (side: its short side), as the ``rescaled`` motion
        mode crops a source video before scaling it."""
        side = min(self.width, self.height)
        left, top = (self.width - side) / 2, (self.height - side) / 2
        strokes = tuple(
            Stroke(tuple((x - left, y - top) for x, y in s.points), s.radius, s.timing) for s in self.strokes
        )
        return Trajectory(side, side, strokes, self.source_size)

    # ------------------------------------------------------------------ the motion field

    def block_vectors(self, num_frames: int) -> list[np.ndarray]:
        """Per frame, the MPEG-4 vector rows ``int32 [N, 10]`` (source, w, h, src_x, src_y, dst_x, dst_y,
        motion_x, motion_y, motion_scale) of the blocks the strokes move; frame 0 has none."""
        _frame_count(num_frames)
        cols, rows = math.ceil(self.width / BLOCK), math.ceil(self.height / BLOCK)
        centre_x = np.arange(cols) * BLOCK + BLOCK // 2
        centre_y = np.arange(rows) * BLOCK + BLOCK // 2
        grid_x, grid_y = np.meshgrid(centre_x, centre_y)
        paths = [stroke.frame_points(num_frames) for stroke in self.strokes]
        frames = [np.zeros((0, 10), dtype=np.int32)]
        for f in range(1, num_frames):
            by_block: dict[tuple[int, int], tuple[int, int]] = {}  # later strokes overwrite earlier ones
            for stroke, path in zip(self.strokes, paths):
                (x, y), (px, py) = path[f], path[f - 1]
                covered = (grid_x - x) ** 2 + (grid_y - y) ** 2 <= stroke.radius**2
                bx, by = math.floor(x / BLOCK), math.floor(y / BLOCK)
                if 0 <= bx < cols and 0 <= by < rows:
                    covered[by, bx] = True
                # exported motion = MOTION_SCALE · (src − dst); the field reads source · motion / scale = dst − src
                motion = (round(MOTION_SCALE * (px - x)), round(MOTION_SCALE * (py - y)))
                for j, i in zip(*np.nonzero(covered)):
                    by_block[(int(grid_x[j, i]), int(grid_y[j, i]))] = motion
            frames.append(
                np.array(
                    [
                        [
                            -1,
                            BLOCK,
                            BLOCK,
                            round(cx + mx / MOTION_SCALE),
                            round(cy + my / MOTION_SCALE),
                            cx,
                            cy,
                            mx,
                            my,
                            MOTION_SCALE,
                        ]
                        for (cx, cy), (mx, my) in by_block.items()
                    ],
                    dtype=np.int32,
                ).reshape(-1, 10)
            )
        return frames

    def dense_fields(self, num_frames: int) -> list[np.ndarray]:
        """Per frame, the float64 ``[H, W, 2]`` field of :func:`~videocomposer.video.motion.dense_motion_field`."""
        return [dense_motion_field(rows, self.height, self.width) for rows in self.block_vectors(num_frames)]

    def source(self, resolution: int, source_size: int | None = None) -> Trajectory:
        """The strokes on the source the field is made for: short side ``source_size``, else this trajectory's
        ``source_size``, else ``resolution`` (see :meth:`motion_condition`)."""
        return self.scaled(source_size or self.source_size or resolution)

    def motion_condition(
        self, num_frames: int, resolution: int, *, source_size: int | None = None, align_with_frames: bool = False
    ) -> torch.Tensor:
        """The UNet's ``motion`` input: ``[F, 2, R, R]`` float32, sparse, (dx, dy) in pixels of the source —
        the layout, units and resize/crop of :attr:`VideoClip.motion <videocomposer.video.clip.VideoClip>`.

        The strokes are treated as drawn on a source video whose short side is ``source_size`` (default: this
        trajectory's ``source_size``, else ``resolution``): the canvas is scaled to it first, so the same
        drawing gives the same field whatever the first frame's size. A source much larger than ``resolution``
        would lose its vectors, as a large video does in the reference's resize (bilinear without antialias
        samples between the block centres); a model trained on sources of side ``S`` sees fields most like
        its training data with ``source_size=S``.
        """
        self.check_range()
        source = self.source(resolution, source_size)
        _require_field_memory(source, num_frames, resolution)
        return motion_condition(source.dense_fields(num_frames), resolution, align_with_frames=align_with_frames)

    def source_for(self, resolution: int, settings: MotionSettings) -> Trajectory:
        """The strokes on the source a model with motion ``settings`` takes them from.

        ``reference``: :meth:`source` (short side: this trajectory's ``source_size``, else ``resolution``).
        ``rescaled``: the canvas's centre square on a square source of ``settings.source_size`` pixels (this
        trajectory's ``source_size`` where it has one), as that mode brings a video of any size there.
        """
        if settings.mode == "reference":
            return self.source(resolution)
        return self.centre_square().source(resolution, self.source_size or settings.source_size)

    def motion_condition_for(self, num_frames: int, resolution: int, settings: MotionSettings) -> torch.Tensor:
        """The field a model with motion ``settings`` gets from this drawing: :meth:`motion_condition` on the
        source of :meth:`source_for`, the representation its videos give in that mode (so in the ``rescaled`` mode
        the strokes are in the model's training distribution by construction). ``[F, 2, R, R]`` float32."""
        self.check_range()
        source = self.source_for(resolution, settings)
        _require_field_memory(source, num_frames, resolution)
        return motion_condition(source.dense_fields(num_frames), resolution)

    # ------------------------------------------------------------------ JSON

    def to_dict(self) -> dict[str, Any]:
        data = {
            "format": FORMAT,
            "version": VERSION,
            "width": self.width,
            "height": self.height,
            "strokes": [
                {"points": [list(p) for p in s.points], "radius": s.radius, "timing": s.timing} for s in self.strokes
            ],
        }
        return data if self.source_size is None else {**data, "source_size": self.source_size}

    def to_json(self) -> str:
        """Indented JSON with one ``[x, y]`` pair per line."""
        return re.sub(r"\[\s*([^\[\]\s,]+),\s*([^\[\]\s,]+)\s*\]", r"[\1, \2]", json.dumps(self.to_dict(), indent=1))

    @classmethod
    def from_dict(cls, data: Any, source: str = "trajectory") -> Trajectory:
        """Build from the JSON mapping (module docstring); errors name ``source`` and the field."""
        try:
            if not isinstance(data, dict):
                raise TrajectoryError(f"expected a JSON object, got {type(data).__name__}")
            if data.get("format", FORMAT) != FORMAT:
                raise TrajectoryError(f"'format' must be {FORMAT!r}, got {data['format']!r}")
            if data.get("version", VERSION) != VERSION:
                raise TrajectoryError(f"'version' {data['version']!r} is not supported (this reader knows {VERSION})")
            unknown = sorted(set(data) - {"format", "version", "width", "height", "strokes", "source_size"})
            if unknown:
                raise TrajectoryError(
                    f"unknown key(s) {unknown}; expected format, version, width, height, strokes, source_size"
                )
            missing = [k for k in ("width", "height", "strokes") if k not in data]
            if missing:
                raise TrajectoryError(f"missing key(s) {missing}")
            if not isinstance(data["strokes"], list):
                raise TrajectoryError("'strokes' must be a list of {points, radius} objects")
            strokes = [_stroke(s, i) for i, s in enumerate(data["strokes"])]
            trajectory = cls(data["width"], data["height"], tuple(strokes), data.get("source_size"))
            trajectory.check_range()
            return trajectory
        except TrajectoryError as exc:
            raise TrajectoryError(f"{source}: {exc}") from None

    @classmethod
    def from_json(cls, text: str, source: str = "trajectory") -> Trajectory:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TrajectoryError(f"{source}: not valid JSON ({exc})") from None
        return cls.from_dict(data, source)


def _stroke(data: Any, index: int) -> Stroke:
    where = f"strokes[{index}]"
    if not isinstance(data, dict) or "points" not in data or "radius" not in data:
        raise TrajectoryError(f"{where} must be an object with 'points' ([[x, y], ...]) and 'radius' (pixels)")
    unknown = sorted(set(data) - {"points", "radius", "timing"})
    if unknown:
        raise TrajectoryError(f"{where}: unknown key(s) {unknown}; expected points, radius, timing")
    points = data["points"]
    if not isinstance(points, list) or not all(
        isinstance(p, (list, tuple)) and len(p) == 2 and all(_is_number(v) for v in p) for p in points
    ):
        raise TrajectoryError(f"{where}.points must be a list of [x, y] number pairs, got {points!r}")
    if not _is_number(data["radius"]):
        raise TrajectoryError(f"{where}.radius must be a number of pixels, got {data['radius']!r}")
    try:
        return Stroke(tuple(tuple(p) for p in points), float(data["radius"]), data.get("timing", "auto"))
    except TrajectoryError as exc:
        raise TrajectoryError(f"{where}: {exc}") from None
    except OverflowError:  # a whole number beyond any float
        raise TrajectoryError(f"{where}: points and radius must be finite numbers of pixels") from None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_trajectory(path: str | os.PathLike, flag: str = "--trajectory") -> Trajectory:
    """Read a trajectory JSON file; a missing or malformed file raises naming ``flag`` and the path."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{flag}: file not found: {path.resolve()}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrajectoryError(f"{flag}: cannot read {path} ({exc})") from None
    return Trajectory.from_json(text, source=f"{flag} {path}")


def draw_trajectory(trajectory: Trajectory, num_frames: int, background: Image.Image | None = None) -> Image.Image:
    """The strokes drawn over ``background`` (resized to the canvas; grey without one): each stroke's
    per-frame path, its region at the start (circle) and an arrow head at the end. RGB, canvas size."""
    size = (trajectory.width, trajectory.height)
    image = background.convert("RGB").resize(size) if background is not None else Image.new("RGB", size, (96, 96, 96))
    draw = ImageDraw.Draw(image)
    line = max(2, round(min(size) / 128))
    for stroke in trajectory.strokes:
        path = stroke.frame_points(num_frames) if len(stroke.points) > 1 else np.asarray(stroke.points)
        (x0, y0), r = path[0], stroke.radius
        draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], outline=(255, 220, 0), width=line)
        if len(path) > 1:
            draw.line([tuple(p) for p in path], fill=(255, 60, 60), width=line)
            for x, y in path:
                draw.ellipse([x - line, y - line, x + line, y + line], fill=(255, 60, 60))
            (xa, ya), (xb, yb) = path[-2], path[-1]
            angle, head = math.atan2(yb - ya, xb - xa), 4 * line + 4
            if (xb, yb) != (xa, ya):
                draw.polygon(
                    [
                        (xb, yb),
                        (xb - head * math.cos(angle - 0.5), yb - head * math.sin(angle - 0.5)),
                        (xb - head * math.cos(angle + 0.5), yb - head * math.sin(angle + 0.5)),
                    ],
                    fill=(255, 60, 60),
                )
    return image


__all__ = ["Stroke", "Trajectory", "TrajectoryError", "draw_trajectory", "read_trajectory", "resample_path"]
