"""Synthetic training and evaluation clips of the toy model, with their ground truth.

Two worlds, chosen by name (``world=``):

* ``"v2"`` (default, :mod:`recipes.toy.world`): any colours (captions with the common colour names),
  eight shapes, solid, gradient and textured backgrounds, 1-3 objects on lines, arcs, zigzags, bounces
  and stop-and-go paths at any heading and several speeds; clips of 128-720 px (square, landscape,
  portrait) at 8-30 fps in H.264, HEVC, MPEG-4 Part 2, VP9 or ProRes;
* ``"v1"`` (:mod:`recipes.toy.world_v1`): 128-px H.264 clips at 4 fps of three shapes in seven colours
  over five plain or mildly textured backgrounds; the world of models trained before v2.

Every clip is a pure function of ``(seed, index)`` (and the world's options), written once as a video
plus its truth file ``<clip>.truth.json`` (:mod:`videocomposer.evaluation.truth`: per frame and object
the centroid, box and visible share, the outline, the colour and its name, the background). A dataset is
the clips and a ``clips.csv`` (``video,caption``) in the format
:func:`videocomposer.training.data.read_annotations` reads::

    from recipes.toy import synthetic
    synthetic.write_dataset("data", 1500, seed=1)                 # world v2
    path, spec = synthetic.clip_file("held_out", 1001, 0, world="v1")
    frames = synthetic.render_clip(spec)                           # uint8 [F, H, W, 3]
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from videocomposer.evaluation.truth import ClipTruth
from videocomposer.files import atomic_path

from . import world, world_v1

#: World name → its module (each has ``sample_clip_spec``, ``render_clip``, ``clip_truth``, ``clip_file``).
WORLDS = {"v1": world_v1, "v2": world}
DEFAULT_WORLD = "v2"
ClipSpec = world.ClipSpec | world_v1.ClipSpec


def world_module(name: str) -> Any:
    """The module of the world ``name``; a clear error for an unknown one."""
    if name not in WORLDS:
        raise ValueError(f"unknown synthetic world {name!r}; choose from {', '.join(WORLDS)}")
    return WORLDS[name]


def world_of(spec: ClipSpec) -> str:
    """The name of the world a spec belongs to."""
    return "v1" if isinstance(spec, world_v1.ClipSpec) else "v2"


def sample_clip_spec(seed: int, index: int, world: str = DEFAULT_WORLD, **options: Any) -> ClipSpec:
    """Clip ``index`` of the dataset ``seed`` in ``world`` (options: the world's ``sample_clip_spec``'s)."""
    return world_module(world).sample_clip_spec(seed, index, **options)


def render_clip(spec: ClipSpec) -> np.ndarray:
    """The clip's written frames, uint8 ``[F, H, W, 3]``."""
    return world_module(world_of(spec)).render_clip(spec)


def clip_truth(spec: ClipSpec, video: str | os.PathLike) -> ClipTruth:
    """The ground truth of ``spec`` written to ``video``."""
    return world_module(world_of(spec)).clip_truth(spec, video)


def clip_file(
    folder: str | os.PathLike, seed: int, index: int, world: str = DEFAULT_WORLD, **options: Any
) -> tuple[Path, ClipSpec]:
    """Clip ``index`` of ``seed`` written into ``folder`` with its truth file (each unless it exists); its path and spec."""
    return world_module(world).clip_file(folder, seed, index, **options)


def write_dataset(
    folder: str | os.PathLike,
    num_clips: int,
    seed: int,
    world: str = DEFAULT_WORLD,
    first_index: int = 0,
    **options: Any,
) -> Path:
    """Write clips ``first_index .. first_index + num_clips - 1`` of dataset ``seed`` as ``folder/clips/<seed>_<index>.*``
    (with their truth files) and ``folder/clips.csv`` (``video,caption``); returns the CSV path.

    Refuses to write into a folder that already has a ``clips.csv`` (never overwrite an earlier dataset).
    """
    folder = Path(folder)
    csv_path = folder / "clips.csv"
    if csv_path.exists():
        raise FileExistsError(f"{csv_path} exists: write the synthetic dataset into a new folder")
    rows = []
    for index in range(first_index, first_index + num_clips):
        path, spec = clip_file(folder / "clips", seed, index, world, **options)
        rows.append((path.relative_to(folder).as_posix(), spec.caption))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(("video", "caption"))
    writer.writerows(rows)
    with atomic_path(csv_path) as tmp:
        tmp.write_text(buffer.getvalue())
    return csv_path
