"""Drawing motion on the first frame: clicks become the strokes of a
:class:`~videocomposer.video.trajectory.Trajectory`, kept as JSON text in the form and drawn on the canvas."""

from __future__ import annotations

from pathlib import Path

import gradio as gr
from PIL import Image

from ..video.trajectory import Stroke, Trajectory, draw_trajectory
from .jobs import trajectory_from_text

DEFAULT_RADIUS = 24
DISPLAY_SIDE = 512


def user_error(exc: Exception) -> gr.Error:
    """A user's mistake as the message the app shows (no traceback)."""
    return gr.Error(str(exc), print_exception=False)


def _canvas(image_path: str | None, width: int, height: int) -> tuple[Image.Image | None, int, int]:
    """The first frame (canvas) and its size; without one, a blank canvas of the video size."""
    if image_path:
        with Image.open(image_path) as image:
            return image.convert("RGB"), image.width, image.height
    return None, int(width), int(height)


def _strokes(text: str | None, width: int, height: int) -> Trajectory:
    """The trajectory of the JSON box, on the current canvas (an empty one when the box is empty)."""
    trajectory = trajectory_from_text(text)
    if trajectory is None or (trajectory.width, trajectory.height) != (width, height):
        return Trajectory(width, height, ())
    return trajectory


def _display_scale(width: int, height: int) -> float:
    """Small canvases are shown enlarged (long side DISPLAY_SIDE) so that they can be drawn on."""
    return max(1.0, DISPLAY_SIDE / max(width, height))


def drawing_view(image_path: str | None, text: str | None, frames: int, width: int, height: int) -> Image.Image:
    """The canvas with the strokes drawn on it, enlarged by :func:`_display_scale`."""
    background, w, h = _canvas(image_path, width, height)
    try:
        trajectory = _strokes(text, w, h)
    except ValueError:
        trajectory = Trajectory(w, h, ())
    image = draw_trajectory(trajectory, max(int(frames), 2), background)
    scale = _display_scale(w, h)
    return image.resize((round(w * scale), round(h * scale)), Image.Resampling.BICUBIC) if scale > 1 else image


def add_point(
    image_path: str | None,
    text: str | None,
    radius: float,
    new_stroke: bool,
    frames: int,
    width: int,
    height: int,
    evt: gr.SelectData,
) -> tuple[str, Image.Image, bool]:
    """A click on the canvas: the next point of the current stroke (or the first of a new one)."""
    _, w, h = _canvas(image_path, width, height)
    try:
        trajectory = _strokes(text, w, h)
    except ValueError as exc:
        raise user_error(exc) from exc
    scale = _display_scale(w, h)
    x, y = (round(float(v) / scale, 1) for v in evt.index)
    strokes = list(trajectory.strokes)
    if new_stroke or not strokes:
        strokes.append(Stroke(((x, y),), float(radius)))
    else:
        last = strokes[-1]
        strokes[-1] = Stroke(last.points + ((x, y),), last.radius, last.timing)
    text = Trajectory(w, h, tuple(strokes)).to_json()
    return text, drawing_view(image_path, text, frames, width, height), False


def undo_point(
    image_path: str | None, text: str | None, frames: int, width: int, height: int
) -> tuple[str, Image.Image]:
    """Remove the last point (a stroke's only point removes the stroke)."""
    _, w, h = _canvas(image_path, width, height)
    strokes = list(_strokes(text, w, h).strokes)
    if strokes:
        last = strokes.pop()
        if len(last.points) > 1:
            strokes.append(Stroke(last.points[:-1], last.radius, last.timing))
    text = Trajectory(w, h, tuple(strokes)).to_json() if strokes else ""
    return text, drawing_view(image_path, text, frames, width, height)


def load_trajectory_file(path: str | None, image_path: str | None, frames: int, width: int, height: int):
    """A trajectory JSON file (e.g. one saved with a job) into the form, drawn on the canvas."""
    if not path:
        return gr.skip(), gr.skip()
    try:
        trajectory = trajectory_from_text(Path(path).read_text(encoding="utf-8"), source=Path(path).name)
        if trajectory is None:
            raise ValueError(f"{Path(path).name} is empty: expected a trajectory JSON file")
    except (ValueError, OSError) as exc:
        raise user_error(exc) from exc
    text = trajectory.to_json()
    return text, drawing_view(image_path, text, frames, width, height)
