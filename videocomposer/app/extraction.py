"""The ``extract`` request: a video's conditions as tensors and previews, through the pipeline's own preparation.

from videocomposer.app import ExtractRequest, extract
written = extract(ExtractRequest(video="clip.mp4", output_dir="conditions", conditions=["motion", "depth"],
                                 weights_dir="model_weights"))
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .checks import at_least, existing_file, model_architectures, one_of, torch_device, weights_folder, whole_at_least
from .errors import RequestError, mention

if TYPE_CHECKING:
    from ..video.motion import MotionSettings

PathLike = str | os.PathLike
#: Annotators, the frozen models extraction may need (the CLIP towers never: ``y`` / ``image`` are not extractable).
ANNOTATORS = ("midas", "pidinet", "sketch_cleaner")


def extractable() -> list[str]:
    """The conditions computed from a video alone (registry ``extractable``)."""
    from ..conditions import CONDITIONS

    return [name for name, c in CONDITIONS.items() if c.extractable]


def _needs_weights(name: str) -> bool:
    from ..conditions import CONDITIONS

    return bool(CONDITIONS[name].models)


@dataclass
class ExtractRequest:
    """Which conditions of which video to write where. ``conditions`` (a list or ``"motion,depth"``; None:
    every extractable one whose weights are given); ``mask``: an inpainting mask image (white = hidden;
    None: a random one); ``frames``, ``resolution`` (video side in pixels; annotators see 1.5x), ``seed``
    (clip start, interpolations, mask) and ``fps`` (of the written previews) as ``generate`` samples them.
    ``motion_mode``: how the motion condition is made (:data:`videocomposer.video.motion.MOTION_MODES`; None: the
    model folder's own, else ``reference``); ``motion_source_size``: the short side the ``rescaled`` mode brings
    the source to (None: the model folder's, else the official model's training sources')."""

    video: PathLike | None = None
    output_dir: PathLike | None = None
    conditions: Sequence[str] | str | None = None
    mask: PathLike | None = None
    frames: int = 16
    resolution: int = 256
    seed: int = 8888
    fps: float = 8.0
    motion_mode: str | None = None
    motion_source_size: int | None = None
    overwrite: bool = False
    weights_dir: PathLike | None = None
    model_config: PathLike | None = None
    device: str = "auto"

    def check(self) -> list[str]:
        """Check the fields; returns the conditions to extract."""
        from ..conditions import normalize_conditions

        if self.video is None:
            raise RequestError("video", "the video to extract from is required")
        if self.output_dir is None:
            raise RequestError("output_dir", "the folder to write the conditions to is required")
        whole_at_least("frames", self.frames, 1)
        whole_at_least("resolution", self.resolution, 1)
        whole_at_least("seed", self.seed, 0)
        at_least("fps", self.fps, 1e-3)
        choices = extractable()
        if self.conditions is None:
            return [c for c in choices if c != "single_sketch" and (self.weights_dir or not _needs_weights(c))]
        try:
            conditions = normalize_conditions(self.conditions)
        except ValueError as exc:
            raise RequestError("conditions", str(exc)) from None
        bad = [c for c in conditions if c not in choices]
        if bad:
            raise RequestError("conditions", f"{bad} are not extracted from a video; choose from {', '.join(choices)}")
        return conditions


def _motion_settings(request: ExtractRequest) -> MotionSettings:
    """The request's :class:`~videocomposer.video.motion.MotionSettings`: its fields over the model folder's."""
    from dataclasses import replace

    from ..pipelines.folder_settings import load_motion_settings
    from ..video.motion import MOTION_MODES, MotionSettings

    one_of("motion_mode", request.motion_mode, MOTION_MODES)
    if request.motion_source_size is not None:
        whole_at_least("motion_source_size", request.motion_source_size, 16)
    stored = load_motion_settings(weights_folder(request.weights_dir)) if request.weights_dir else MotionSettings()
    mode = request.motion_mode or stored.mode
    try:
        return replace(stored, mode=mode, source_size=request.motion_source_size or stored.source_size)
    except ValueError as exc:
        raise RequestError("motion_source_size", str(exc)) from None


def _annotators(request: ExtractRequest, conditions: list[str], target) -> dict:
    from ..pipelines.components import components_for, load_components

    names = [n for n in components_for(conditions)[0] if n in ANNOTATORS]
    if not names:
        return {}
    loaded = load_components(weights_folder(request.weights_dir), names, model_architectures(request.model_config))
    return {n: module.to(target) for n, module in loaded.items()}


def extract(request: ExtractRequest, command: str = "") -> list[Path]:
    """Write ``<video>_conditions.safetensors`` (tensors ``[1, C, F, H, W]`` and the source clip), one MP4
    per condition, a side-by-side GIF and ``<video>_settings.yaml`` (headed by ``command``); returns them."""
    conditions = request.check()
    motion = _motion_settings(request)  # its fields checked before any file is read
    video = existing_file("video", request.video)
    if request.conditions is None and not request.weights_dir:
        print("note: depth and sketch need the annotator weights; add --weights-dir to extract them", file=sys.stderr)
    if any(_needs_weights(c) for c in conditions):
        weights_folder(request.weights_dir)
    from ..files import ensure_writable_dir

    output_dir = ensure_writable_dir(request.output_dir)
    earlier = output_dir / f"{video.stem}_conditions.safetensors"
    if earlier.exists() and not request.overwrite:
        raise RequestError(
            "output_dir",
            f"{earlier} already exists (an earlier extraction of this video); use "
            f"{mention('overwrite')} to replace it, or choose another {mention('output_dir')}",
        )
    target = torch_device("device", request.device)
    mask_path = existing_file("mask", request.mask)
    return _write_conditions(request, conditions, video, mask_path, output_dir, target, command, motion)


def _write_conditions(
    request: ExtractRequest,
    conditions: list[str],
    video: Path,
    mask_path: Path | None,
    output_dir: Path,
    target,
    command: str,
    motion: MotionSettings,
) -> list[Path]:
    import torch
    from safetensors.torch import save_file

    from ..conditions import ConditionBuilder
    from ..config import save_resolved
    from ..files import atomic_path
    from ..pipelines.inputs import prepare_conditions, read_input
    from ..pipelines.results import condition_frames, grid_panels
    from ..video.writer import compose_grid, write_gif, write_mp4

    builder = ConditionBuilder(**_annotators(request, conditions, target))
    with torch.no_grad():
        prepared = prepare_conditions(
            builder,
            conditions,
            video=video,
            num_frames=request.frames,
            height=request.resolution,
            width=request.resolution,
            seed=request.seed,
            mask=read_input("mask", mask_path),
            device=target,
            motion_settings=motion,
        )
    cond, stem = prepared.conditions, video.stem
    tensors = {k: v.cpu().contiguous() for k, v in cond.items()}
    tensors["source"] = prepared.source_video().contiguous()
    with atomic_path(output_dir / f"{stem}_conditions.safetensors") as tmp:
        save_file(
            tensors, str(tmp), metadata={"layout": "[B, C, F, H, W]", "video": str(video), "seed": str(request.seed)}
        )
    written = [output_dir / f"{stem}_conditions.safetensors"]
    for name, value in cond.items():
        written.append(
            write_mp4(output_dir / f"{stem}_{name}.mp4", condition_frames(name, value[0].cpu()), fps=request.fps)
        )
    grid = compose_grid(grid_panels(None, cond, tensors["source"]), height=request.resolution)
    written.append(write_gif(output_dir / f"{stem}_conditions.gif", grid, fps=request.fps))
    settings = {
        "video": str(video),
        "conditions": list(cond),
        "frames": request.frames,
        "resolution": request.resolution,
        "seed": request.seed,
        "mask": None if request.mask is None else os.fspath(request.mask),
        "weights_dir": None if request.weights_dir is None else os.fspath(request.weights_dir),
    }
    written.append(save_resolved(output_dir / f"{stem}_settings.yaml", settings, header=command))
    return written
