"""Diffusion noise that the frames of a video share in part (the "mixed" noise of PYoCo: Ge et al., ICCV 2023,
"Preserve Your Own Correlation: A Noise Prior for Video Diffusion Models").

Each frame's noise is ``ε_f = √(1 − ρ)·e_f + √ρ·s`` with ``e_f`` drawn per frame and ``s`` once per video, all
standard normal: every ``ε_f`` is still standard normal, and any two frames' noises have correlation ``ρ``.
``ρ = 0`` is independent noise, the reference. Two frames of a noised video then differ by
``√ᾱ·(x₀_f − x₀_g) + √(1 − ᾱ)·√(1 − ρ)·(e_f − e_g)``: what changes between frames stays visible under more noise,
and frames sampled from such noise start alike. A model trained with ``ρ > 0`` must be sampled from noise of
the same ``ρ`` (its ``x_T`` and any noise a stochastic sampler adds); a saved model records it
(``noise_correlation`` in ``model_index.json``).

Layout: frames on dimension −3 (``[B, C, F, H, W]`` or ``[C, F, H, W]``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_noise_correlation(correlation: float) -> float:
    """``correlation`` as a float; ValueError unless ``0 ≤ ρ < 1`` (at 1 the frames could not differ)."""
    if not 0.0 <= float(correlation) < 1.0:
        raise ValueError(f"noise_correlation must be in [0, 1), got {correlation}")
    return float(correlation)


def mix_frame_noise(independent: torch.Tensor, shared: torch.Tensor, correlation: float) -> torch.Tensor:
    """``√(1 − ρ)·independent + √ρ·shared``: ``independent`` ``[..., F, H, W]``, ``shared`` ``[..., 1, H, W]``
    (one draw per video, broadcast over the frames), both standard normal."""
    correlation = check_noise_correlation(correlation)
    if (
        shared.shape[-3] != 1
        or shared.shape[:-3] != independent.shape[:-3]
        or shared.shape[-2:] != independent.shape[-2:]
    ):
        raise ValueError(
            f"shared noise must be the frame noise's shape with one frame: {list(independent.shape)} "
            f"-> {list(independent.shape[:-3]) + [1] + list(independent.shape[-2:])}, got {list(shared.shape)}"
        )
    return (1.0 - correlation) ** 0.5 * independent + correlation**0.5 * shared


def frame_noise(
    shape: Sequence[int],
    correlation: float = 0.0,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Standard-normal noise of ``shape`` (frames on dimension −3) whose frames have correlation ``correlation``.

    Drawn from ``generator`` on its device (without one: from the global RNG of ``device``, default the CPU), then
    moved to ``device``. ``ρ = 0`` draws exactly ``torch.randn(shape)``; ``ρ > 0`` draws that, then the shared part.
    """
    correlation = check_noise_correlation(correlation)
    draw_device = generator.device if generator is not None else torch.device(device or "cpu")
    noise = torch.randn(tuple(shape), generator=generator, device=draw_device, dtype=dtype)
    if correlation:
        shared = torch.randn((*shape[:-3], 1, *shape[-2:]), generator=generator, device=draw_device, dtype=dtype)
        noise = mix_frame_noise(noise, shared, correlation)
    return noise.to(device) if device is not None else noise
