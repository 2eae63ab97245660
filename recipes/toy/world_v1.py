"""The first synthetic world (``world="v1"``): coloured shapes moving over plain or mildly textured backgrounds.

Kept so that models trained on it (and their benchmarks) can be measured again; the recipe's default is
:mod:`recipes.toy.world` (``world="v2"``). Every clip is fully described by a :class:`ClipSpec` drawn from
``(seed, index)`` alone, so a dataset is reproducible by its seed and any single clip can be rebuilt without
the others (held-out evaluation clips come from seeds never used in training). Clips are written as H.264
MP4s at 128 × 128 px.

A clip holds 1-3 shapes (circle, square, triangle) in distinct colours of a 7-colour palette, each moving
along a line, an arc or a bouncing line at its own speed, over one of 5 background colours. The caption is
made from these attributes, e.g. ``"a red circle moves left and a white square bounces over a gray
background"``; the first shape named is the largest and drawn on top.

Clips are written at :data:`CLIP_FPS` with :data:`CLIP_FRAMES` frames, so that the reference's
re-encoding rule (``sampling_fps``: ``feature_framerate`` = 4 fps when the video lasts more than 16
frames at it) keeps every frame once: the motion vectors of the MPEG-4 re-encode then describe the
motion between consecutive drawn frames. :func:`clip_truth` gives a clip's ground truth
(:mod:`videocomposer.evaluation.truth`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from videocomposer.evaluation.colours import colour_name
from videocomposer.evaluation.truth import ClipTruth, ObjectTruth, mask_geometry, read_truth, truth_path, write_truth
from videocomposer.video.writer import write_mp4

#: Object colours (name → RGB). Distinct hues so the dominant colour of a generated object can be named.
OBJECT_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 190, 60),
    "blue": (50, 90, 235),
    "yellow": (240, 220, 40),
    "purple": (160, 60, 210),
    "orange": (245, 140, 30),
    "white": (240, 240, 240),
}
#: Background colours (name → RGB), darker or greyer than every object colour.
BACKGROUND_COLOURS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 20),
    "gray": (110, 110, 110),
    "brown": (100, 65, 35),
    "teal": (20, 100, 100),
    "navy": (20, 30, 90),
}
SHAPES = ("circle", "square", "triangle")
PATHS = ("line", "arc", "bounce")
TEXTURES = ("plain", "stripes", "checker", "noise")
#: Frame rate and frame count of the written clips (24 frames at 4 fps: see the module docstring).
CLIP_FPS = 4
CLIP_FRAMES = 24
CLIP_SIZE = 128


@dataclass(frozen=True)
class ShapeSpec:
    """One moving shape. Positions in pixels of the ``size × size`` frame; ``radius`` is the half-size.

    ``path``: ``line`` (constant velocity ``(vx, vy)`` px/frame), ``bounce`` (the same, reflected at
    the frame edges), ``arc`` (around ``centre`` at ``arc_radius`` px, ``omega`` rad/frame from ``phase``).
    """

    shape: str
    colour: str
    radius: int
    path: str
    x0: float
    y0: float
    vx: float
    vy: float
    arc_radius: float = 0.0
    phase: float = 0.0
    omega: float = 0.0

    def positions(self, num_frames: int, size: int) -> np.ndarray:
        """Centre of the shape in every frame, float64 ``[F, 2]`` (x, y) in pixels."""
        t = np.arange(num_frames, dtype=np.float64)
        if self.path == "arc":
            angle = self.phase + self.omega * t
            return np.stack([self.x0 + self.arc_radius * np.cos(angle), self.y0 + self.arc_radius * np.sin(angle)], -1)
        x, y = self.x0 + self.vx * t, self.y0 + self.vy * t
        if self.path == "bounce":
            x, y = _reflect(x, self.radius, size - self.radius), _reflect(y, self.radius, size - self.radius)
        return np.stack([x, y], -1)


@dataclass(frozen=True)
class ClipSpec:
    """One clip: background colour and texture, shapes (first = drawn on top and named first)."""

    seed: int
    index: int
    background: str
    texture: str
    shapes: tuple[ShapeSpec, ...]
    num_frames: int = CLIP_FRAMES
    size: int = CLIP_SIZE

    @property
    def caption(self) -> str:
        return clip_caption(self)


def _reflect(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """Fold ``values`` into ``[low, high]`` as a ball bouncing between two walls."""
    span = high - low
    folded = np.mod(values - low, 2 * span)
    return low + np.where(folded > span, 2 * span - folded, folded)


def direction_words(dx: float, dy: float) -> str:
    """The compass word of a displacement in image coordinates (y down): ``left``, ``up and right``, ..."""
    angle = math.degrees(math.atan2(-dy, dx)) % 360  # 0 = right, 90 = up
    names = ["right", "up and right", "up", "up and left", "left", "down and left", "down", "down and right"]
    return names[int(((angle + 22.5) % 360) // 45)]


def shape_phrase(shape: ShapeSpec, num_frames: int, size: int) -> str:
    """``"a red circle moves left"``: colour, shape and how it moves (net direction for lines and arcs)."""
    if shape.path == "bounce":
        verb = "bounces around"
    else:
        pos = shape.positions(num_frames, size)
        dx, dy = pos[-1] - pos[0]
        verb = f"{'moves' if shape.path == 'line' else 'curves'} {direction_words(dx, dy)}"
    article = "an" if shape.colour[0] in "aeiou" else "a"
    return f"{article} {shape.colour} {shape.shape} {verb}"


def clip_caption(spec: ClipSpec) -> str:
    """The caption of a clip, made from its attributes (see the module docstring)."""
    phrases = [shape_phrase(s, spec.num_frames, spec.size) for s in spec.shapes]
    joined = phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"{joined} over a {spec.background} background"


def sample_clip_spec(
    seed: int, index: int, num_frames: int = CLIP_FRAMES, size: int = CLIP_SIZE, max_shapes: int = 3
) -> ClipSpec:
    """The clip ``index`` of the dataset with ``seed`` (a pure function of its arguments).

    Shapes: 1 to ``max_shapes`` (half the clips have one), distinct colours, half-size 14-26 px at 128 px
    (scaled with ``size``), speeds 3-8 px/frame at 128 px (a line too fast to stay inside is slowed), any direction.
    """
    rng = np.random.default_rng([seed, index])
    scale = size / 128
    count = 1 if rng.random() < 0.5 or max_shapes == 1 else int(rng.integers(2, max_shapes + 1))
    colours = rng.choice(list(OBJECT_COLOURS), size=count, replace=False)
    radii = sorted((int(round(rng.uniform(14, 26) * scale)) for _ in range(count)), reverse=True)
    shapes = [
        _sample_shape(rng, str(colour), radius, num_frames, size, scale) for colour, radius in zip(colours, radii)
    ]
    return ClipSpec(
        seed,
        index,
        str(rng.choice(list(BACKGROUND_COLOURS))),
        str(rng.choice(TEXTURES)),
        tuple(shapes),
        num_frames,
        size,
    )


def _sample_shape(
    rng: np.random.Generator, colour: str, radius: int, num_frames: int, size: int, scale: float
) -> ShapeSpec:
    """One shape of a clip: its path, speed and heading, then where it starts (a line so that it stays inside
    the frame, slowed if it cannot) and its kind, drawn from ``rng`` in that order."""
    path = str(rng.choice(PATHS))
    speed = rng.uniform(3.0, 8.0) * scale
    heading = rng.uniform(0, 2 * math.pi)
    vx, vy = speed * math.cos(heading), speed * math.sin(heading)
    margin = radius + 2
    if path == "arc":
        return _sample_arc(rng, colour, radius, speed, margin, size, scale)
    if path == "line":  # start so that the whole path stays inside the frame
        lo_x, hi_x, lo_y, hi_y = _line_start_bounds(vx, vy, margin, num_frames, size)
        if lo_x > hi_x or lo_y > hi_y:  # too fast to stay inside: slow down to fit
            factor = (size - 2 * margin) / max(abs(vx * (num_frames - 1)), abs(vy * (num_frames - 1)), 1e-6)
            vx, vy = vx * factor, vy * factor
            lo_x, hi_x, lo_y, hi_y = _line_start_bounds(vx, vy, margin, num_frames, size)
        x0, y0 = rng.uniform(lo_x, max(lo_x, hi_x)), rng.uniform(lo_y, max(lo_y, hi_y))
    else:
        x0, y0 = rng.uniform(margin, size - margin), rng.uniform(margin, size - margin)
    return ShapeSpec(str(rng.choice(SHAPES)), colour, radius, path, x0, y0, vx, vy)


def _line_start_bounds(
    vx: float, vy: float, margin: int, num_frames: int, size: int
) -> tuple[float, float, float, float]:
    """``(lo_x, hi_x, lo_y, hi_y)``: the start positions from which a line at ``(vx, vy)`` px/frame keeps
    ``margin`` px from every edge over ``num_frames`` frames (empty, lo > hi, when it is too fast)."""
    travel_x, travel_y = vx * (num_frames - 1), vy * (num_frames - 1)
    lo_x, hi_x = margin - min(travel_x, 0), size - margin - max(travel_x, 0)
    lo_y, hi_y = margin - min(travel_y, 0), size - margin - max(travel_y, 0)
    return lo_x, hi_x, lo_y, hi_y


def _sample_arc(
    rng: np.random.Generator, colour: str, radius: int, speed: float, margin: int, size: int, scale: float
) -> ShapeSpec:
    """An arc shape at ``speed`` px/frame: its arc radius, turning sense, centre, kind and phase, drawn from
    ``rng`` in that order, the whole circle ``margin`` px inside the frame."""
    arc_radius = min(rng.uniform(18, 40) * scale, size / 2 - margin - 1)
    omega = speed / arc_radius * (1 if rng.random() < 0.5 else -1)
    cx = rng.uniform(margin + arc_radius, size - margin - arc_radius)
    cy = rng.uniform(margin + arc_radius, size - margin - arc_radius)
    shape = str(rng.choice(SHAPES))
    phase = rng.uniform(0, 2 * math.pi)
    return ShapeSpec(shape, colour, radius, "arc", cx, cy, 0.0, 0.0, arc_radius, phase, omega)


def render_background(spec: ClipSpec) -> np.ndarray:
    """The static background ``uint8 [H, W, 3]``: the colour with a mild texture (stripes and checker ±10
    levels, smooth noise with a standard deviation of about 8 levels)."""
    size = spec.size
    base = np.array(BACKGROUND_COLOURS[spec.background], dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    rng = np.random.default_rng([spec.seed, spec.index, 1])
    if spec.texture == "stripes":
        period = rng.uniform(12, 32)
        offset = 10 * np.sign(np.sin(2 * np.pi * (xx * math.cos(rng.uniform(0, math.pi)) + yy * 0.5) / period))
    elif spec.texture == "checker":
        cell = int(rng.integers(12, 33))
        offset = 10 * (((xx // cell + yy // cell) % 2) * 2 - 1)
    elif spec.texture == "noise":
        coarse = rng.normal(0, 1, (size // 16 + 2, size // 16 + 2)).astype(np.float32)
        offset = 8 * np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))
    else:
        offset = np.zeros((size, size), np.float32)
    return np.clip(base + offset[..., None], 0, 255).astype(np.uint8)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: ShapeSpec, x: float, y: float, fill: Any = None) -> None:
    r, fill = shape.radius, OBJECT_COLOURS[shape.colour] if fill is None else fill
    if shape.shape == "circle":
        draw.ellipse([x - r, y - r, x + r, y + r], fill=fill)
    elif shape.shape == "square":
        draw.rectangle([x - r, y - r, x + r, y + r], fill=fill)
    else:
        draw.polygon([(x, y - r), (x + r, y + r), (x - r, y + r)], fill=fill)


def render_clip(spec: ClipSpec) -> np.ndarray:
    """The frames of a clip, ``uint8 [F, H, W, 3]`` (the first shape is drawn last, on top)."""
    background = Image.fromarray(render_background(spec))
    tracks = [s.positions(spec.num_frames, spec.size) for s in spec.shapes]
    frames = []
    for f in range(spec.num_frames):
        image = background.copy()
        draw = ImageDraw.Draw(image)
        for shape, track in reversed(list(zip(spec.shapes, tracks))):
            _draw_shape(draw, shape, *track[f])
        frames.append(np.asarray(image))
    return np.stack(frames)


def silhouette(spec: ClipSpec, frame: int, shape_index: int) -> np.ndarray:
    """Shape ``shape_index``'s whole drawing in ``frame`` (hidden parts included), bool ``[H, W]``."""
    image = Image.new("L", (spec.size, spec.size), 0)
    shape = spec.shapes[shape_index]
    x, y = shape.positions(spec.num_frames, spec.size)[frame]
    _draw_shape(ImageDraw.Draw(image), shape, x, y, fill=255)
    return np.asarray(image) > 0


def object_mask(spec: ClipSpec, frame: int, shape_index: int = 0) -> np.ndarray:
    """Where shape ``shape_index`` is visible in ``frame`` (not hidden by shapes drawn above it), bool ``[H, W]``."""
    mask = silhouette(spec, frame, shape_index)
    for above in range(shape_index):
        mask &= ~silhouette(spec, frame, above)
    return mask


def _outline(shape: ShapeSpec) -> np.ndarray:
    """The shape's polygon around its centre, continuous pixels (a circle's 64-gon approximates PIL's ellipse)."""
    r = shape.radius
    if shape.shape == "circle":
        angle = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        return (r + 0.5) * np.stack([np.cos(angle), np.sin(angle)], -1)
    if shape.shape == "square":
        return np.array([[-r - 0.5, -r - 0.5], [r + 0.5, -r - 0.5], [r + 0.5, r + 0.5], [-r - 0.5, r + 0.5]])
    return np.array([[0.0, -r], [r, r], [-r, r]])


def clip_truth(spec: ClipSpec, video: str | os.PathLike) -> ClipTruth:
    """The ground truth of a clip written to ``video`` (:mod:`videocomposer.evaluation.truth`): per frame and shape,
    the centroid, box and visible share of its drawing; positions are the drawing's centres in continuous pixels."""
    objects = []
    for i, shape in enumerate(spec.shapes):
        geometry = [mask_geometry(silhouette(spec, f, i)) for f in range(spec.num_frames)]
        visible = [object_mask(spec, f, i).sum() / max(1, silhouette(spec, f, i).sum()) for f in range(spec.num_frames)]
        rgb = OBJECT_COLOURS[shape.colour]
        objects.append(
            ObjectTruth(
                shape.shape,
                rgb,
                colour_name(rgb),
                shape.path,
                _outline(shape),
                [],
                shape.positions(spec.num_frames, spec.size) + 0.5,
                np.stack([g[0] for g in geometry]),
                np.stack([g[1] for g in geometry]),
                np.array(visible, dtype=np.float64),
            )
        )
    rgb = BACKGROUND_COLOURS[spec.background]
    background = {
        "kind": "solid" if spec.texture == "plain" else spec.texture,
        "colours": [list(rgb), list(rgb)],
        "names": [colour_name(rgb)] * 2,
    }
    return ClipTruth(
        os.fspath(video),
        spec.size,
        spec.size,
        float(CLIP_FPS),
        spec.num_frames,
        spec.caption,
        background,
        objects,
        {"name": "recipes.toy", "world": "v1", "seed": spec.seed, "index": spec.index},
    )


def clip_file(
    folder: str | os.PathLike,
    seed: int,
    index: int,
    num_frames: int = CLIP_FRAMES,
    size: int = CLIP_SIZE,
    max_shapes: int = 3,
) -> tuple[Path, ClipSpec]:
    """Clip ``index`` of ``seed`` as ``folder/<seed>_<index>.mp4`` and its truth file ``<seed>_<index>.truth.json``
    (each written unless it exists), and its spec.

    Raises:
        FileExistsError: the folder holds that clip drawn with other options (its truth file says so).
    """
    spec = sample_clip_spec(seed, index, num_frames, size, max_shapes)
    path = Path(folder) / f"{seed}_{index:06d}.mp4"
    if truth_path(path).is_file():
        written = read_truth(truth_path(path))
        if (written.caption, written.width, written.num_frames) != (spec.caption, spec.size, spec.num_frames):
            raise FileExistsError(f"{path} was drawn with other options: write the clips into another folder")
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_mp4(path, render_clip(spec), fps=CLIP_FPS)
    if not truth_path(path).is_file():
        write_truth(truth_path(path), clip_truth(spec, path.resolve()))
    return path, spec
