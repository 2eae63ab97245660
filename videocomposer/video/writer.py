"""Writing results: H.264 MP4 (browser-playable), GIF, and the reference-style side-by-side grid.

Every writer is atomic: it writes to a temporary name in the destination folder and then
``os.replace``-s it, so a crash or Ctrl-C never leaves a half-written file under the final name.

Frame conventions accepted everywhere (see :func:`to_uint8_frames`):

* ``uint8`` array/tensor ``[F, H, W, 3]`` (used as is);
* float array/tensor ``[F, 3, H, W]`` or ``[F, H, W, 3]`` with values in [0, 1] (clamped, rounded);
* a list of PIL images.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..files import atomic_path

# ----------------------------------------------------------------------------------------------
# Frame normalisation
# ----------------------------------------------------------------------------------------------


def to_uint8_frames(frames) -> np.ndarray:
    """Convert frames to a contiguous ``uint8`` array ``[F, H, W, 3]``.

    Accepts ``uint8`` ``[F, H, W, 3]``; float ``[F, 3, H, W]`` / ``[F, H, W, 3]`` in [0, 1]
    (clamped, then rounded to 0..255); single-channel float/uint8 ``[F, 1, H, W]`` / ``[F, H, W]``
    (grey, repeated to RGB); or a list of PIL images.
    """
    if isinstance(frames, (list, tuple)) and frames and isinstance(frames[0], Image.Image):
        return np.stack([np.asarray(f.convert("RGB"), dtype=np.uint8) for f in frames])
    if isinstance(frames, torch.Tensor):
        frames = frames.detach().to("cpu")
        frames = frames.numpy() if frames.dtype == torch.uint8 else frames.float().numpy()
    arr = np.asarray(frames)
    if arr.ndim == 3:  # [F, H, W] grey
        arr = arr[..., None]
    if arr.ndim != 4:
        raise ValueError(f"frames must be [F, H, W, 3] or [F, 3, H, W]; got shape {arr.shape}")
    if arr.shape[1] in (1, 3) and arr.shape[-1] not in (1, 3):  # channels-first
        arr = arr.transpose(0, 2, 3, 1)
    if arr.dtype != np.uint8:
        arr = np.round(np.clip(arr.astype(np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    if arr.shape[-1] != 3:
        raise ValueError(f"frames must have 1 or 3 channels; got shape {arr.shape}")
    return np.ascontiguousarray(arr)


def _pad_to_even(frames: np.ndarray) -> np.ndarray:
    """Pad H and W to even sizes by repeating the last row/column (yuv420p needs even sizes)."""
    pad_h, pad_w = frames.shape[1] % 2, frames.shape[2] % 2
    if pad_h or pad_w:
        frames = np.pad(frames, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return frames


# ----------------------------------------------------------------------------------------------
# Encoders
# ----------------------------------------------------------------------------------------------


def write_mp4(path: str | os.PathLike, frames, fps: float = 8.0, crf: int = 18) -> Path:
    """Write an H.264 (libx264, yuv420p, ``+faststart``) MP4 that plays in browsers.

    Args:
        path: destination ``.mp4``; written atomically.
        frames: see :func:`to_uint8_frames`. Odd heights/widths are padded by one edge pixel.
        fps: frame rate (the reference's GIFs use 8).
        crf: x264 constant rate factor (lower = better; 18 is visually lossless).
    """
    arr = _pad_to_even(to_uint8_frames(frames))
    rate = Fraction(fps).limit_denominator(1000)
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", format="mp4", options={"movflags": "+faststart"}) as container:
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height = arr.shape[2], arr.shape[1]
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(crf), "preset": "medium"}
            for frame in arr:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
            container.mux(stream.encode(None))
    return Path(path)


def write_gif(path: str | os.PathLike, frames, fps: float = 8.0) -> Path:
    """Write a looping GIF (Pillow; per-frame adaptive palette), atomically."""
    images = [Image.fromarray(f) for f in to_uint8_frames(frames)]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=round(1000 / fps), loop=0)
    return Path(path)


# ----------------------------------------------------------------------------------------------
# Side-by-side grid (reference OU:312-379, with labels)
# ----------------------------------------------------------------------------------------------


@dataclass
class Panel:
    """One labelled column of the grid: ``frames`` in any form :func:`to_uint8_frames` accepts.

    A panel with a single frame (a still image such as a style image) is shown on every frame.
    """

    label: str
    frames: object


def _resize_frames(frames: np.ndarray, height: int, width: int) -> np.ndarray:
    if frames.shape[1:3] == (height, width):
        return frames
    return np.stack([np.asarray(Image.fromarray(f).resize((width, height), Image.Resampling.BILINEAR)) for f in frames])


def _text_strip(
    lines: Sequence[str],
    width: int,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    fill=(255, 255, 255),
    bg=(0, 0, 0),
) -> np.ndarray:
    """Render ``lines`` centred on a ``[h, width, 3]`` uint8 strip."""
    line_height = int(font.getbbox("Ag|")[3]) + 4  # same for every line, so label strips align
    strip = Image.new("RGB", (width, line_height * len(lines) + 4), bg)
    draw = ImageDraw.Draw(strip)
    for i, line in enumerate(lines):
        w = draw.textlength(line, font=font)
        draw.text((max(0, (width - w) / 2), 2 + i * line_height), line, font=font, fill=fill)
    return np.asarray(strip)


def compose_grid(
    panels: Sequence[Panel],
    height: int = 256,
    title: Sequence[str] | str | None = None,
    title_color: tuple[int, int, int] = (255, 255, 255),
    title_background: tuple[int, int, int] = (0, 0, 0),
) -> np.ndarray:
    """Lay panels side by side (reference order: source, conditions, result) under a label each.

    Args:
        panels: the columns; each is resized to ``height`` (keeping its aspect ratio) and repeated to
            the longest panel's frame count.
        height: panel height in pixels.
        title: optional banner line(s) drawn across the top of every frame.
    Returns:
        ``uint8`` ``[F, H_total, W_total, 3]``.
    """
    if not panels:
        raise ValueError("compose_grid needs at least one panel")
    font = ImageFont.load_default()
    arrays = [to_uint8_frames(p.frames) for p in panels]
    num_frames = max(a.shape[0] for a in arrays)
    columns = []
    for panel, arr in zip(panels, arrays):
        if arr.shape[0] not in (1, num_frames):
            raise ValueError(f"panel {panel.label!r} has {arr.shape[0]} frames; expected 1 or {num_frames}")
        width = max(2, round(arr.shape[2] * height / arr.shape[1]))
        arr = _resize_frames(arr, height, width)
        arr = np.repeat(arr, num_frames, axis=0) if arr.shape[0] == 1 else arr
        label = _text_strip([panel.label], width, font)
        columns.append(np.concatenate([np.broadcast_to(label, (num_frames, *label.shape)), arr], axis=1))
    grid = np.concatenate(columns, axis=2)
    if title:
        lines = [title] if isinstance(title, str) else list(title)
        banner = _text_strip(lines, grid.shape[2], font, fill=title_color, bg=title_background)
        grid = np.concatenate([np.broadcast_to(banner, (num_frames, *banner.shape)), grid], axis=1)
    return np.ascontiguousarray(grid)
