"""What a pipeline call conditions on, and the checks of its arguments before any compute.

Each check names the argument, the value and what is expected; the pipeline runs them in
:meth:`~videocomposer.pipelines.VideoComposerPipeline.check_inputs`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from ..conditions import (
    CONDITIONS,
    conditions_reading,
    implied_conditions,
    missing_input_message,
    normalize_conditions,
    video_conditions,
)
from ..diffusion import SCHEDULERS
from ..video.clip import VideoClip
from .condition_guidance import GuidanceScale, condition_guidance
from .memory_estimate import pipeline_model_shape, require_generation_memory
from .settings import OutputType


class _Pipeline(Protocol):
    """What the checks read of a :class:`~videocomposer.pipelines.VideoComposerPipeline`."""

    unet: Any
    vae: Any
    vae_decode_chunk_size: int

    @property
    def vae_scale_factor(self) -> int: ...

    @property
    def device(self) -> torch.device: ...

    def served_conditions(self) -> list[str]: ...


OUTPUT_TYPES = typing.get_args(OutputType)


def call_conditions(pipe: _Pipeline, conditions: Sequence[str] | None, **inputs: Any) -> list[str]:
    """``conditions`` normalised; when None, implied by the inputs given (see
    :meth:`~videocomposer.pipelines.VideoComposerPipeline.resolve_conditions`) and the precomputed ones.
    A given video that no condition would read is refused, naming the conditions that could read it."""
    precomputed = inputs.get("precomputed") or {}
    served = pipe.served_conditions()
    if conditions is not None:
        resolved = normalize_conditions(conditions)
    else:
        resolved = implied_conditions(inputs, served=served)
        resolved += [c for c in precomputed if c not in resolved]
    if inputs.get("video") is not None and not conditions_reading("video", resolved, inputs, precomputed):
        raise ValueError(unused_video_message(served, resolved, inputs, precomputed))
    if not resolved:
        raise ValueError(
            "nothing to condition on: give a prompt and/or inputs (a video, an image, ...), or "
            f"conditions=[...] (this model serves {served})"
        )
    return resolved


def unused_video_message(
    served: Sequence[str], conditions: Sequence[str], inputs: dict[str, Any], precomputed: Mapping[str, Any]
) -> str:
    """Why a given video would be unused, and what the model could take from it."""
    readers = [c for c in served if c in video_conditions()]
    elsewhere = [
        f"{c} from {other}="
        for c in conditions
        if c not in precomputed
        for other in CONDITIONS[c].inputs
        if other != "video" and inputs.get(other) is not None
    ]
    where = f" (it takes {', '.join(elsewhere)})" if elsewhere else ""
    return (
        f"video= is given, but none of the conditions {list(conditions)} reads it{where}; this model takes "
        f"{readers or 'nothing'} from a video: name the ones to use with conditions=[...], or leave video= out"
    )


def check_prompt(
    conditions: Sequence[str], prompt: Any, prompt_embeds: Any, negative_prompt: Any, negative_prompt_embeds: Any
) -> None:
    """The caption: a string or a non-empty list of them, not with ``prompt_embeds``; a negative prompt needs ``y``."""
    if prompt is not None and prompt_embeds is not None:
        raise ValueError("give either prompt or prompt_embeds, not both")
    if prompt is not None and not (
        isinstance(prompt, str)
        or (isinstance(prompt, (list, tuple)) and prompt and all(isinstance(p, str) for p in prompt))
    ):
        raise ValueError(f"prompt must be a string or a non-empty list of strings, got {prompt!r}")
    if (negative_prompt is not None or negative_prompt_embeds is not None) and "y" not in conditions:
        raise ValueError("negative_prompt needs the 'y' (text) condition among conditions")


def check_sizes(pipe: _Pipeline, num_frames: int, height: int, width: int, num_inference_steps: int) -> None:
    """Positive integers; height and width multiples of what the VAE and the UNet's levels divide by."""
    for name, value in (
        ("num_frames", num_frames),
        ("height", height),
        ("width", width),
        ("num_inference_steps", num_inference_steps),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    levels = len(pipe.unet.config.dim_mult)
    multiple = pipe.vae_scale_factor * 2 ** (levels - 1)
    if height % multiple or width % multiple:
        raise ValueError(
            f"height and width must be multiples of {multiple} (VAE x{pipe.vae_scale_factor}, "
            f"{levels} UNet levels), got {height}x{width}"
        )


def check_memory(pipe: _Pipeline, batch: int, num_frames: int, height: int, width: int, output_type: str) -> None:
    """``batch`` videos of ``num_frames × height × width`` fit in the free memory of the pipeline's device: an
    :class:`~videocomposer.memory.InsufficientMemoryError` with the estimate and the limit otherwise
    (:mod:`.memory_estimate`; the loaded weights already count against the free memory)."""
    shape = pipeline_model_shape(pipe)
    if output_type == "latent":  # nothing is decoded
        shape = dataclasses.replace(shape, vae_channels=(0,) * len(shape.vae_channels))
    require_generation_memory(
        shape,
        num_frames,
        height,
        width,
        batch,
        pipe.vae_decode_chunk_size,
        pipe.device,
        fix="ask for fewer num_frames or a smaller height and width",
    )


def check_guidance(
    conditions: Sequence[str],
    guidance_scale: GuidanceScale,
    min_guidance_scale: float | None,
    default_scale: float | None,
) -> None:
    """One scale >= 0 (or None), or a scale per condition (:mod:`.condition_guidance`); the frame-0 scale of a ramp
    between 0 and the scale."""
    if isinstance(guidance_scale, Mapping):
        condition_guidance(guidance_scale, conditions, default_scale)
        if min_guidance_scale is not None and not min_guidance_scale >= 0:
            raise ValueError(f"min_guidance_scale (frame 0's guidance) must be >= 0, got {min_guidance_scale}")
        return
    if guidance_scale is not None and guidance_scale < 0:
        raise ValueError(f"guidance_scale must be >= 0 (or None for no guidance), got {guidance_scale}")
    for name, value in (("guidance_scale", guidance_scale), ("min_guidance_scale", min_guidance_scale)):
        if value is not None and not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value}")
    guided = isinstance(guidance_scale, (int, float)) and guidance_scale > 1.0
    if guided and min_guidance_scale is not None and not 0 <= min_guidance_scale <= guidance_scale:
        raise ValueError(
            f"min_guidance_scale (frame 0's guidance) must be between 0 and guidance_scale "
            f"({guidance_scale}), got {min_guidance_scale}; None gives every frame guidance_scale"
        )


def check_sampling_and_output(pipe: _Pipeline, scheduler: str, output_type: str, callback_on_step_end: Any) -> None:
    """A known sampler and output type (a decoded output needs the VAE); a callable step callback."""
    if scheduler not in SCHEDULERS:
        raise ValueError(f"scheduler must be one of {sorted(SCHEDULERS)}, got {scheduler!r}")
    if output_type not in OUTPUT_TYPES:
        raise ValueError(f"output_type must be 'pil', 'np', 'pt' or 'latent', got {output_type!r}")
    if output_type != "latent" and pipe.vae is None:
        raise ValueError("this pipeline has no VAE; use output_type='latent'")
    if callback_on_step_end is not None and not callable(callback_on_step_end):
        raise ValueError(f"callback_on_step_end must be callable, got {type(callback_on_step_end).__name__}")


def check_condition_sources(
    pipe: _Pipeline,
    conditions: Sequence[str],
    video: Any,
    given: dict[str, Any],
    precomputed: Mapping[str, torch.Tensor],
) -> None:
    """The video is a file or a clip; the UNet has an encoder for every condition, and each has an input."""
    if video is not None and not isinstance(video, (str, os.PathLike, VideoClip)):
        raise ValueError(f"video must be a file path or a VideoClip, got {type(video).__name__}")
    if isinstance(video, (str, os.PathLike)) and not Path(video).is_file():
        raise FileNotFoundError(f"video file not found: {Path(video).resolve()}")
    supported = {c.name for c in CONDITIONS.values() if c.stc is None} | {c.name for c in pipe.unet.stc_conditions}
    unknown = [c for c in conditions if c not in supported]
    if unknown:
        raise ValueError(f"the UNet was built without the condition encoder(s) for {unknown}")
    for name in conditions:
        if name not in precomputed and all(given.get(arg) is None for arg in CONDITIONS[name].inputs):
            raise ValueError(missing_input_message(name))


def check_latents(pipe: _Pipeline, latents: torch.Tensor | None, num_frames: int, height: int, width: int) -> None:
    """Given initial latents have the shape ``[B, C, F, H/8, W/8]`` of the requested video."""
    if latents is None:
        return
    factor = pipe.vae_scale_factor
    expected = (pipe.unet.config.in_dim, num_frames, height // factor, width // factor)
    if latents.ndim != 5 or tuple(latents.shape[1:]) != expected:
        raise ValueError(f"latents must have shape [B, {', '.join(map(str, expected))}], got {list(latents.shape)}")
