"""Forward noising and the training objective (ε- or v-prediction, mean-squared error, optionally re-weighted over t).

The network is an argument (as in DiT): any callable ``model(x_t, t, **model_kwargs) -> eps`` with
``x_t`` ``[B, C, F, H, W]`` and ``t`` an int64 ``[B]`` tensor of (unscaled) timesteps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .guidance import EpsModel
from .prediction import training_target
from .schedule import NoiseSchedule


def q_sample(schedule: NoiseSchedule, x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Sample ``q(x_t | x_0)``: ``x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·noise``.

    ``x0`` and ``noise``: ``[B, ...]`` (latents ``[B, 4, F, h, w]``); ``t``: int64 ``[B]``. Returns ``[B, ...]``.
    """
    if noise.shape != x0.shape:
        raise ValueError(f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}")
    schedule.validate_timesteps(t, x0.shape[0])
    return (
        schedule.gather("sqrt_alphas_cumprod", t, x0) * x0
        + schedule.gather("sqrt_one_minus_alphas_cumprod", t, x0) * noise
    )


def sample_timesteps(
    batch_size: int,
    schedule: NoiseSchedule,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Timesteps drawn uniformly from ``[0, T)``: int64 ``[batch_size]`` (the reference's training sampler)."""
    gen_device = generator.device if generator is not None else device
    t = torch.randint(0, schedule.num_timesteps, (batch_size,), generator=generator, device=gen_device)
    return t.to(device)


def training_loss(
    model: EpsModel,
    schedule: NoiseSchedule,
    x0: torch.Tensor,
    t: torch.Tensor,
    model_kwargs: Mapping[str, Any] | None = None,
    noise: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    prediction_type: str = "epsilon",
    element_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Per-sample loss ``mean over (C, F, H, W) of (model(x_t, t) − target)²``: ``[B]``; with ``element_weights``
    (broadcastable to the latents, ≥ 0, e.g. ``[B, 1, F, H, W]``) the weighted mean ``Σ w e² / Σ w`` instead.

    The target is ``noise`` (ε-prediction, the reference) or v (``prediction_type="v_prediction"``, see
    :func:`~.prediction.training_target`).

    ``x0``: clean latents ``[B, C, F, H, W]``; ``t``: int64 ``[B]`` (see :func:`sample_timesteps`);
    ``noise``: the ε drawn for ``x_t`` (standard normal from ``generator`` when omitted).
    Reduce with ``.mean()`` (or a weighted mean) for the optimiser.
    """
    if noise is None:
        noise = torch.randn(
            x0.shape, generator=generator, device=x0.device if generator is None else generator.device, dtype=x0.dtype
        ).to(x0.device)
    x_t = q_sample(schedule, x0, t, noise)
    target = training_target(schedule, x0, noise, t, prediction_type)
    prediction = model(x_t, t, **(model_kwargs or {}))
    if prediction.shape != noise.shape:
        raise ValueError(
            f"model output {tuple(prediction.shape)} must have the shape of the latents {tuple(noise.shape)}"
        )
    squared = (prediction - target).pow(2)
    if element_weights is None:
        return squared.flatten(1).mean(dim=1)
    weights = element_weights.to(squared.dtype).expand_as(squared)
    return (weights * squared).flatten(1).sum(dim=1) / weights.flatten(1).sum(dim=1).clamp_min(1e-12)


#: Per-sample loss weightings of :func:`loss_weights`.
LOSS_WEIGHTINGS = ("uniform", "min_snr", "v_capped")


def loss_weights(
    schedule: NoiseSchedule, t: torch.Tensor, weighting: str = "uniform", gamma: float = 5.0
) -> torch.Tensor:
    """Weights ``[B]`` (float32) of the per-sample losses of :func:`training_loss` (the MSE of ε or of v, whichever
    the model predicts) at timesteps ``t``; the formulas below are stated on the ε error.

    With ``SNR_t = ᾱ_t / (1 − ᾱ_t)``:

    * ``uniform``: all 1 (the reference).
    * ``min_snr``: Min-SNR-γ (Hang et al., ICCV 2023), ``min(SNR_t, γ) / SNR_t``: the nearly clean
      timesteps, whose ε is cheap to lower, stop dominating the gradient; every ``SNR_t ≤ γ`` keeps weight 1.
    * ``v_capped``: the weights the v-prediction objective puts on the ε error (Salimans & Ho, ICLR 2022),
      ``1 + 1/SNR_t``, capped at γ. The ε error of a noisy timestep is its x₀ error times ``SNR_t``, so
      uniform weights barely ask the network for a good x₀ there; but the sampler's first steps read the
      layout, and the conditions that set it, from exactly that x₀. A small network trained from scratch
      with uniform or min-SNR weights predicted a worse x₀ at ``t > 850`` than the data mean (the toy model).
    """
    if weighting not in LOSS_WEIGHTINGS:
        raise ValueError(f"loss weighting: expected one of {', '.join(LOSS_WEIGHTINGS)}, got {weighting!r}")
    if weighting == "uniform":
        return torch.ones(t.shape, dtype=torch.float32, device=t.device)
    if not gamma > 0:
        raise ValueError(f"loss weighting gamma: must be > 0, got {gamma}")
    alphas_cumprod = schedule.alphas_cumprod.to(device=t.device, dtype=torch.float64)[t]
    snr = alphas_cumprod / (1.0 - alphas_cumprod)
    if weighting == "min_snr":
        return (snr.clamp(max=gamma) / snr).float()
    return (1.0 + 1.0 / snr).clamp(max=gamma).float()
