"""What the model was given, recorded beside a generated MP4 (``generate --save-conditions``) and found by ``evaluate``.

``<stem>_conditions.safetensors`` beside ``<stem>.mp4`` holds the condition tensors the UNet got
(UNet keyword names, layout ``[B, C, F, H, W]``; ``y`` ``[B, 77, D]``, ``image`` ``[B, 1, D]``) and
string metadata: ``source_video`` (the ``--input_video`` path), ``seed``, ``num_frames``,
``resolution``, ``source_pixels_per_pixel`` (motion units: source-video pixels per generated pixel),
``prompt``. Written atomically; an existing record is never overwritten silently (generate runs into
a fresh ``<task>-S<seed>`` folder, and a second write of the same name replaces it only as a whole).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..files import atomic_path

SUFFIX = "_conditions.safetensors"


def record_path(video: str | os.PathLike) -> Path:
    """``run.mp4`` → ``run_conditions.safetensors`` (same folder)."""
    video = Path(video)
    return video.with_name(video.stem + SUFFIX)


@dataclass
class ConditionRecord:
    """Loaded record: ``conditions`` by UNet name and ``metadata`` (strings, see the module docstring)."""

    path: Path
    conditions: dict[str, torch.Tensor]
    metadata: dict[str, str] = field(default_factory=dict)


def generation_metadata(preset, source: str | os.PathLike | None, probe) -> dict[str, object]:
    """Metadata of a ``generate`` run: the task preset's seed, frames, size and prompt; the source video
    (absolute path) and, from its probe (:class:`~videocomposer.video.reader.VideoProbe`), the motion units."""
    resolution = max(preset.height, preset.width)
    return {
        "source_video": None if source is None else Path(source).resolve(),
        "seed": preset.seed,
        "num_frames": preset.num_frames,
        "resolution": resolution,
        "prompt": preset.prompt,
        "source_pixels_per_pixel": None if probe is None else min(probe.width, probe.height) / resolution,
    }


def save_conditions(
    video: str | os.PathLike, conditions: Mapping[str, torch.Tensor], metadata: Mapping[str, object]
) -> Path:
    """Write ``conditions`` (moved to the CPU, contiguous) and ``metadata`` (values stringified; ``None``
    dropped) to :func:`record_path` of ``video``, atomically."""
    from safetensors.torch import save_file

    path = record_path(video)
    tensors = {name: value.detach().float().cpu().contiguous() for name, value in conditions.items()}
    meta = {"layout": "[B, C, F, H, W]", **{k: str(v) for k, v in metadata.items() if v is not None}}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def load_conditions(path: str | os.PathLike) -> ConditionRecord:
    """Read a record; a file that is not a safetensors file → ``ValueError`` naming it."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"condition record not found: '{path}'")
    try:
        with safe_open(str(path), "pt") as handle:
            tensors = {name: handle.get_tensor(name).clone() for name in handle.keys()}
            metadata = dict(handle.metadata() or {})
    except (SafetensorError, OSError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"cannot read condition record '{path}': {exc} (expected a safetensors file written by "
            "`generate --save-conditions`)"
        ) from exc
    return ConditionRecord(path, tensors, metadata)


def find_record(video: str | os.PathLike) -> ConditionRecord | None:
    """The record beside ``video`` if there is one."""
    path = record_path(video)
    return load_conditions(path) if path.is_file() else None
