"""Ground truth of a video's objects: the truth file, object masks, and where the model sees them.

A **truth file** (``<clip>.truth.json`` beside the clip) records, for every written frame and every
object, where the object is; any program that draws a video can write one, and the metrics of
:mod:`videocomposer.evaluation.tracks` read it (``videocomposer evaluate --truth FILE``)::

    {"format": "videocomposer-truth", "version": 1,
     "video": "clip.mp4",                 # the clip, relative to this file
     "width": 640, "height": 360,         # frame size in pixels
     "fps": 24.0, "num_frames": 50,       # written frames (frame i is shown at i / fps seconds)
     "caption": "a red star moves left over a gray to blue gradient",
     "background": {"kind": "linear",     # solid | linear | radial | stripes | checker | noise
                    "colours": [[128, 128, 128], [45, 80, 215]],   # sRGB; every background pixel mixes these two
                    "names": ["gray", "blue"]},
     "objects": [                          # drawing order reversed: objects[0] is drawn last, on top
       {"shape": "star", "colour": [210, 35, 35], "colour_name": "red", "path": "line",
        "outline": [[dx, dy], ...],       # polygon around "position" (pixels); the object is its inside
        "holes": [[[dx, dy], ...]],       # polygons cut out of it (a ring's hole), may be []
        "position": [[x, y], ...],        # per frame: the anchor the outline is drawn around
        "centroid": [[x, y], ...],        # per frame: mean of the object's pixel centres (whole silhouette)
        "bbox": [[x0, y0, x1, y1], ...],  # per frame: its pixels' extent (x1, y1 exclusive)
        "visible": [1.0, ...]}],          # per frame: fraction of its pixels not hidden by objects above
     "generator": {...}}                   # free-form: what made the clip (readers ignore it)

Coordinates are continuous pixels: x right, y down, the top-left corner of the top-left pixel at
(0, 0), so the pixel in row ``i``, column ``j`` has its centre at ``(j + 0.5, i + 0.5)``. Scaling a
frame by ``s`` scales every coordinate by ``s``. :func:`polygon_mask` renders an outline exactly as a
generator that draws with it does (a pixel belongs to the object when its centre is inside).

Generated videos show the **model's view** of the clip: the centre square of the short side, resized
to the model's side (:func:`model_view`, as :func:`~videocomposer.video.transforms.center_crop_v2`), at
the frames the clip sampling picked (:func:`sampled_truth_frames`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_text

FORMAT = "videocomposer-truth"
VERSION = 1
BACKGROUND_KINDS = ("solid", "linear", "radial", "stripes", "checker", "noise")
PER_FRAME = ("position", "centroid", "bbox", "visible")


class TruthError(ValueError):
    """A truth file that cannot be used (the message names the file and field, and what was expected)."""


@dataclass
class ObjectTruth:
    """One object: its look (``shape``, sRGB ``colour``, ``colour_name``, ``path`` kind), its polygon
    (``outline`` ``[K, 2]`` and ``holes``, pixels around ``position``) and per-frame arrays: ``position`` /
    ``centroid`` ``[N, 2]``, ``bbox`` ``[N, 4]`` (x0, y0, x1, y1), ``visible`` ``[N]`` in [0, 1]."""

    shape: str
    colour: tuple[int, int, int]
    colour_name: str
    path: str
    outline: np.ndarray
    holes: list[np.ndarray]
    position: np.ndarray
    centroid: np.ndarray
    bbox: np.ndarray
    visible: np.ndarray


@dataclass
class ClipTruth:
    """A truth file's content (module docstring). ``video``: the clip's path (absolute once read from a file)."""

    video: str
    width: int
    height: int
    fps: float
    num_frames: int
    caption: str
    background: dict[str, Any]
    objects: list[ObjectTruth]
    generator: dict[str, Any] = field(default_factory=dict)

    def object_mask(self, index: int, frame: int, view: ModelView | None = None) -> np.ndarray:
        """Object ``index``'s whole silhouette in ``frame`` (hidden parts included), bool ``[H, W]`` of the
        clip, or of the model's ``view`` (:func:`model_view`)."""
        obj = self.objects[index]
        scale, dx, dy, width, height = (
            (1.0, 0.0, 0.0, self.width, self.height)
            if view is None
            else (view.scale, view.offset_x, view.offset_y, view.side, view.side)
        )
        origin = obj.position[frame] * scale - (dx, dy)
        return polygon_mask(width, height, origin + obj.outline * scale, [origin + h * scale for h in obj.holes])

    def to_dict(self) -> dict[str, Any]:
        objects = [
            {
                "shape": o.shape,
                "colour": list(o.colour),
                "colour_name": o.colour_name,
                "path": o.path,
                "outline": _rounded(o.outline),
                "holes": [_rounded(h) for h in o.holes],
                **{name: _rounded(getattr(o, name)) for name in PER_FRAME},
            }
            for o in self.objects
        ]
        return {
            "format": FORMAT,
            "version": VERSION,
            "video": self.video,
            "width": self.width,
            "height": self.height,
            "fps": self.fps,
            "num_frames": self.num_frames,
            "caption": self.caption,
            "background": self.background,
            "objects": objects,
            "generator": self.generator,
        }


def _rounded(values: np.ndarray) -> list:
    return np.round(np.asarray(values, dtype=np.float64), 4).tolist()


def _inside(polygon: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Whether each point of the grid ``xs × ys`` is inside ``polygon`` ``[K, 2]`` (even-odd rule, half-open edges:
    shapes that share an edge never both own a point) → bool ``[len(ys), len(xs)]``."""
    x, y = np.meshgrid(xs, ys)
    inside = np.zeros(x.shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(polygon, np.roll(polygon, -1, axis=0)):
        if ay == by:
            continue
        rows = (y >= min(ay, by)) & (y < max(ay, by))
        inside ^= rows & (x < ax + (y - ay) * (bx - ax) / (by - ay))
    return inside


def polygon_mask(width: int, height: int, outline: np.ndarray, holes: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Pixels whose centre lies inside ``outline`` (``[K, 2]`` continuous pixels) and outside every hole → bool ``[H, W]``."""
    outline = np.asarray(outline, dtype=np.float64)
    mask = np.zeros((height, width), dtype=bool)
    x0, y0 = np.maximum(np.floor(outline.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(outline.max(axis=0)).astype(int) + 1, (width, height))
    if x0 >= x1 or y0 >= y1:
        return mask
    xs, ys = np.arange(x0, x1) + 0.5, np.arange(y0, y1) + 0.5
    region = _inside(outline, xs, ys)
    for hole in holes:
        region &= ~_inside(np.asarray(hole, dtype=np.float64), xs, ys)
    mask[y0:y1, x0:x1] = region
    return mask


def mask_geometry(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centroid ``(x, y)`` (mean pixel centre) and bbox ``(x0, y0, x1, y1)`` of a bool ``[H, W]`` mask; NaN when empty."""
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return np.full(2, np.nan), np.full(4, np.nan)
    return (
        np.array([cols.mean() + 0.5, rows.mean() + 0.5]),
        np.array([cols.min(), rows.min(), cols.max() + 1, rows.max() + 1], dtype=np.float64),
    )


def _field(data: dict, name: str, where: str, kinds: type | tuple) -> Any:
    if name not in data:
        raise TruthError(f"{where}: missing '{name}'")
    value = data[name]
    if not isinstance(value, kinds) or isinstance(value, bool):
        raise TruthError(f"{where}: '{name}' must be {getattr(kinds, '__name__', kinds)}, got {value!r}")
    return value


def _object_from_dict(data: Any, num_frames: int, where: str) -> ObjectTruth:
    if not isinstance(data, dict):
        raise TruthError(f"{where}: expected an object, got {type(data).__name__}")
    arrays = {}
    for name, width in (("position", 2), ("centroid", 2), ("bbox", 4), ("visible", None)):
        array = np.asarray(_field(data, name, where, list), dtype=np.float64)
        if len(array) != num_frames or (width and array.shape[1:] != (width,)):
            shape = f"[{num_frames}, {width}]" if width else f"[{num_frames}]"
            raise TruthError(f"{where}: '{name}' must hold one value per frame, {shape}; got {list(array.shape)}")
        arrays[name] = array
    colour = tuple(int(v) for v in _field(data, "colour", where, list))
    if len(colour) != 3:
        raise TruthError(f"{where}: 'colour' must be [r, g, b], got {list(colour)}")
    return ObjectTruth(
        str(_field(data, "shape", where, str)),
        colour,
        str(_field(data, "colour_name", where, str)),
        str(data.get("path", "")),
        np.asarray(_field(data, "outline", where, list), dtype=np.float64),
        [np.asarray(h, dtype=np.float64) for h in data.get("holes", [])],
        **arrays,
    )


def truth_from_dict(data: Any, source: str = "truth") -> ClipTruth:
    """A :class:`ClipTruth` from the JSON mapping (module docstring); errors name ``source`` and the field."""
    if not isinstance(data, dict):
        raise TruthError(f"{source}: expected a JSON object, got {type(data).__name__}")
    if data.get("format") != FORMAT:
        raise TruthError(f"{source}: 'format' must be {FORMAT!r}, got {data.get('format')!r}")
    if data.get("version") != VERSION:
        raise TruthError(f"{source}: version {data.get('version')!r} is not supported (this reader knows {VERSION})")
    width, height = (_field(data, k, source, int) for k in ("width", "height"))
    num_frames = _field(data, "num_frames", source, int)
    fps = float(_field(data, "fps", source, (int, float)))
    if min(width, height, num_frames) < 1 or not fps > 0:
        raise TruthError(f"{source}: width, height, num_frames and fps must be positive")
    objects = [
        _object_from_dict(o, num_frames, f"{source} objects[{i}]")
        for i, o in enumerate(_field(data, "objects", source, list))
    ]
    return ClipTruth(
        str(_field(data, "video", source, str)),
        width,
        height,
        fps,
        num_frames,
        str(data.get("caption", "")),
        dict(_field(data, "background", source, dict)),
        objects,
        dict(data.get("generator", {})),
    )


def read_truth(path: str | os.PathLike) -> ClipTruth:
    """Read a truth file; its ``video`` is resolved against the file's folder.

    Raises:
        FileNotFoundError: no such file. TruthError: not JSON, or a field is missing or malformed.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"truth file not found: {path}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise TruthError(f"{path}: not valid JSON ({exc})") from exc
    truth = truth_from_dict(data, str(path))
    truth.video = str((path.parent / truth.video).resolve())
    return truth


def truth_path(video: str | os.PathLike) -> Path:
    """The truth file beside a clip: ``clip.mp4`` → ``clip.truth.json``."""
    video = Path(video)
    return video.with_name(video.stem + ".truth.json")


def write_truth(path: str | os.PathLike, truth: ClipTruth) -> Path:
    """Write ``truth`` as JSON (atomically); ``video`` is stored relative to the file's folder when it lies below it."""
    path = Path(path)
    data = truth.to_dict()
    video = Path(truth.video)
    if video.is_absolute():
        try:
            data["video"] = video.relative_to(path.parent.resolve()).as_posix()
        except ValueError:
            data["video"] = str(video)
    return write_text(path, json.dumps(data) + "\n")


@dataclass(frozen=True)
class ModelView:
    """Where a clip's pixels land in the model's ``side × side`` frames: ``model = scale · clip − offset``."""

    side: int
    scale: float
    offset_x: float
    offset_y: float

    def points(self, xy: np.ndarray) -> np.ndarray:
        """Clip pixel coordinates ``[..., 2]`` → model pixel coordinates."""
        return np.asarray(xy, dtype=np.float64) * self.scale - (self.offset_x, self.offset_y)


def model_view(width: int, height: int, side: int) -> ModelView:
    """The centre square of a ``width × height`` clip resized to ``side`` as
    :func:`~videocomposer.video.transforms.center_crop_v2` does (short side → ``side``, long side rounded,
    crop at ``(long − side) // 2``)."""
    scale = side / min(width, height)
    new_w, new_h = round(scale * width), round(scale * height)
    return ModelView(side, scale, float((new_w - side) // 2), float((new_h - side) // 2))


def sampled_truth_frames(stream_indices: Sequence[int], stream_fps: float, truth_fps: float) -> np.ndarray:
    """The written frame behind each frame of a re-sampled stream (the clip sampling re-encodes at
    ``stream_fps`` with ffmpeg's ``fps`` filter, which keeps, for stream frame ``j``, the last written
    frame shown before ``(j + 0.5) / stream_fps`` s) → int ``[len(stream_indices)]``."""
    j = np.asarray(stream_indices, dtype=np.float64)
    return np.maximum(np.ceil((j + 0.5) * truth_fps / stream_fps - 1e-9).astype(np.int64) - 1, 0)


def check_frames(truth: ClipTruth, frames: np.ndarray) -> None:
    """Raise :class:`TruthError` when a written frame index is outside the truth's frames."""
    if len(frames) and (frames.min() < 0 or frames.max() >= truth.num_frames):
        raise TruthError(
            f"the sampled frames {frames.tolist()} are not all among the truth's {truth.num_frames} frames "
            f"(is the truth file the one of this clip?)"
        )
