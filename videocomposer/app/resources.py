"""What a generate request needs in memory, checked before its model is loaded or any large tensor is allocated.

A request that cannot fit is refused with the estimate, its parts and the limit (the device's free memory: the
available RAM, or a CUDA device's free memory), naming the fields to change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .checks import model_architectures
from .errors import RequestError, mention
from .generation_request import GenerateRequest


def check_generation_memory(request: GenerateRequest, preset: Any, folder: Path, pipe: Any, device: Any) -> None:
    """One video of the ``preset``'s size fits on ``device`` with the model in ``folder`` (or the loaded ``pipe``):
    a :class:`RequestError` naming ``frames``, ``height`` and ``width``, with the estimate and the limit, otherwise
    (:mod:`videocomposer.pipelines.memory_estimate`)."""
    from ..memory import InsufficientMemoryError
    from ..pipelines.memory_estimate import folder_model_shape, pipeline_model_shape, require_generation_memory

    if pipe is not None:
        shape = pipeline_model_shape(pipe)
    else:
        config = model_architectures(request.model_config)
        shape = folder_model_shape(folder, preset.all_conditions(), config, preset.unet_file)
    try:
        require_generation_memory(
            shape,
            preset.num_frames,
            preset.height,
            preset.width,
            device=device,
            fix=f"ask for fewer {mention('frames')} or a smaller {mention('height')} and {mention('width')}",
        )
    except InsufficientMemoryError as exc:
        raise RequestError("frames", str(exc)) from None


def check_trajectory(request: GenerateRequest, trajectory: Any, preset: Any, settings: Any) -> None:
    """The drawn ``trajectory`` (read from ``request.motion``) gives a field for the ``preset``'s frames that fits in
    memory with the model's motion ``settings``: a :class:`RequestError` naming the file otherwise."""
    from ..memory import InsufficientMemoryError
    from ..video.trajectory import TrajectoryError

    try:
        for stroke in trajectory.strokes:
            stroke.frame_points(preset.num_frames)
        trajectory.check_field_memory(preset.num_frames, max(preset.height, preset.width), settings)
    except (TrajectoryError, InsufficientMemoryError) as exc:
        raise RequestError("motion", f"{request.motion}: {exc}") from None
