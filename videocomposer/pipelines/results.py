"""Saving a generation: the MP4, the reference-style GIF grid (source, conditions, result) and notes.

The grid follows the reference's ``save_video_multiple_conditions`` layout — source video (optional),
then every spatial condition in kwarg order, then the result, side by side — with a label over each
panel and viewable colours instead of raw values (depth colour-mapped to its own range, motion as a
colour wheel, sketches in grey, the inpainting hole in white).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..conditions import CONDITIONS
from ..conditions.previews import default_preview
from ..files import write_text
from ..video.writer import Panel, compose_grid, to_uint8_frames, write_gif, write_mp4


def condition_frames(name: str, value: torch.Tensor) -> np.ndarray | None:
    """One sample's condition ``[C, F, H, W]`` → viewable ``uint8 [F, H, W, 3]`` (the condition's registered
    preview); None for token conditions (``y``, ``image``)."""
    record = CONDITIONS[name]
    if record.layout == "tokens":
        return None
    frames = value.detach().float().cpu().transpose(0, 1)  # [F, C, H, W]
    return (record.preview or default_preview)(frames)


def grid_panels(
    result: np.ndarray | None,
    conditions: Mapping[str, torch.Tensor],
    source: torch.Tensor | None = None,
    style_image: Image.Image | None = None,
    sample: int = 0,
) -> list[Panel]:
    """Panels of one sample: ``source`` (``[B, 3, F, M, M]``), the style image, every spatial condition,
    and the result (``uint8 [F, H, W, 3]``; no result panel when None)."""
    panels = []
    if source is not None:
        panels.append(Panel("source", to_uint8_frames(source[sample].transpose(0, 1))))
    if style_image is not None and any("style_image" in CONDITIONS[name].inputs for name in conditions):  # it was read
        panels.append(Panel("style", [style_image.convert("RGB")]))
    for name, value in conditions.items():
        frames = condition_frames(name, value[sample])
        if frames is not None:
            panels.append(Panel(name, frames))
    if result is not None:
        panels.append(Panel("result", result))
    return panels


@dataclass
class SavedResult:
    """Paths written by :func:`save_result`."""

    mp4: Path
    gif: Path


def save_result(
    folder: str | os.PathLike,
    name: str,
    frames,
    conditions: Mapping[str, torch.Tensor],
    source: torch.Tensor | None = None,
    style_image: Image.Image | None = None,
    fps: float = 8.0,
    title: Sequence[str] | str | None = None,
    panel_height: int | None = None,
    title_background: tuple[int, int, int] = (0, 0, 0),
) -> SavedResult:
    """Write ``<name>.mp4`` (the generated video) and ``<name>_grid.gif`` (panels) into ``folder``, atomically.

    ``frames``: one generated video (any form :func:`to_uint8_frames` accepts, e.g. a list of PIL images).
    """
    folder = Path(folder)
    result = to_uint8_frames(frames)
    mp4 = write_mp4(folder / f"{name}.mp4", result, fps=fps)
    panels = grid_panels(result, conditions, source, style_image)
    grid = compose_grid(panels, height=panel_height or result.shape[1], title=title, title_background=title_background)
    gif = write_gif(folder / f"{name}_grid.gif", grid, fps=fps)
    return SavedResult(mp4, gif)


def write_notes(folder: str | os.PathLike, prompt: str | None, settings: Mapping[str, object]) -> None:
    """``text_description.txt`` (the caption, as the reference) and ``settings.txt`` (how it was made)."""
    folder = Path(folder)
    if prompt is not None:
        write_text(folder / "text_description.txt", prompt + "\n")
    write_text(folder / "settings.txt", "".join(f"{k}: {v}\n" for k, v in settings.items()))
