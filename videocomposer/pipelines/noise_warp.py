"""The call's ``noise_warp``: initial noise carried along the motion condition (:mod:`videocomposer.diffusion.warped_noise`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from ..conditions import motion_field_condition
from ..diffusion.warped_noise import warped_noise
from ..video.motion import MotionSettings, block_flow


def check_noise_warp(
    degradation: float | None, conditions: Sequence[str], settings: MotionSettings, height: int, width: int
) -> None:
    """A ``ValueError`` naming ``noise_warp`` when it cannot be used with this call (None: nothing to check)."""
    if degradation is None:
        return
    if isinstance(degradation, bool) or not isinstance(degradation, int | float) or not 0.0 <= degradation <= 1.0:
        raise ValueError(
            f"noise_warp must be a number in [0, 1] (1: plain noise, 0: the pure warp), got {degradation!r}"
        )
    if motion_field_condition(conditions) is None:
        raise ValueError(
            f"noise_warp follows the motion condition, and this call has none (conditions: {', '.join(conditions)}); "
            "give a video or a trajectory, or leave noise_warp out"
        )
    if settings.mode != "rescaled":
        raise ValueError(
            "noise_warp reads the motion field of the 'rescaled' motion mode (one vector per macroblock of a "
            f"{settings.source_size}-px square); pass motion_mode='rescaled' or leave noise_warp out"
        )
    if height != width:
        raise ValueError(f"noise_warp needs a square output, got height {height} and width {width}")


def warp_initial_noise(
    noise: torch.Tensor,
    conditions: Mapping[str, torch.Tensor],
    degradation: float,
    settings: MotionSettings,
    generator: torch.Generator | None,
) -> torch.Tensor:
    """``noise`` ``[B, C, F, h, w]`` warped along the call's motion condition with ``degradation`` (checked first
    with :func:`check_noise_warp`); drawn on the CPU (with ``generator`` when it lives there), on ``noise``'s device."""
    name = motion_field_condition(list(conditions))
    assert name is not None, "check_noise_warp first"
    flow = block_flow(conditions[name].detach().float().cpu(), settings.source_size, noise.shape[-1])
    cpu_generator = generator if generator is not None and generator.device.type == "cpu" else None
    return warped_noise(noise.float().cpu(), flow, degradation, cpu_generator).to(noise.device, noise.dtype)
