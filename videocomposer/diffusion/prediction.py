"""What the network predicts: ε (the reference, "epsilon") or v (Salimans & Ho, ICLR 2022, "v_prediction").

With ``x_t = sqrt(ᾱ_t)·x_0 + sqrt(1 − ᾱ_t)·ε``, the velocity is ``v = sqrt(ᾱ_t)·ε − sqrt(1 − ᾱ_t)·x_0``, and
from a prediction of v::

    x_0 = sqrt(ᾱ_t)·x_t − sqrt(1 − ᾱ_t)·v        ε = sqrt(1 − ᾱ_t)·x_t + sqrt(ᾱ_t)·v

Neither divides by ``sqrt(ᾱ_t)``, so v stays well defined where ᾱ_T is (nearly) 0: the
zero-terminal-SNR schedule (:meth:`NoiseSchedule.rescaled_to_zero_terminal_snr`) needs it. The names are
diffusers' ``prediction_type`` values, so the same string configures its schedulers.
"""

from __future__ import annotations

import torch

from .schedule import NoiseSchedule

#: The network output types, by diffusers' names: "epsilon" (the reference) or "v_prediction".
PREDICTION_TYPES = ("epsilon", "v_prediction")


def check_prediction_type(prediction_type: str) -> None:
    """Raise a ValueError naming the choices unless ``prediction_type`` is one of :data:`PREDICTION_TYPES`."""
    if prediction_type not in PREDICTION_TYPES:
        raise ValueError(f"prediction_type: expected one of {', '.join(PREDICTION_TYPES)}, got {prediction_type!r}")


def training_target(
    schedule: NoiseSchedule, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor, prediction_type: str = "epsilon"
) -> torch.Tensor:
    """The regression target of ``model(x_t, t)``: ``noise`` (ε) or ``v``; ``[B, ...]`` like ``x0``."""
    check_prediction_type(prediction_type)
    if prediction_type == "epsilon":
        return noise
    return (
        schedule.gather("sqrt_alphas_cumprod", t, x0) * noise
        - schedule.gather("sqrt_one_minus_alphas_cumprod", t, x0) * x0
    )


def x0_and_eps(
    schedule: NoiseSchedule,
    model_output: torch.Tensor,
    x_t: torch.Tensor,
    t: torch.Tensor,
    prediction_type: str = "epsilon",
) -> tuple[torch.Tensor, torch.Tensor]:
    """The denoised estimate ``x_0`` and the noise ``ε`` implied by ``model_output`` at ``(x_t, t)``.

    ``model_output``, ``x_t``: ``[B, C, F, H, W]``; ``t``: int64 ``[B]``. For ε-prediction this is the
    reference's arithmetic (``p_mean_variance``: x₀ from ε, then ε again from x₀; the round trip matters
    in the last float32 bits).
    """
    check_prediction_type(prediction_type)
    if prediction_type == "epsilon":
        recip, recipm1 = (
            schedule.gather("sqrt_recip_alphas_cumprod", t, x_t),
            schedule.gather("sqrt_recipm1_alphas_cumprod", t, x_t),
        )
        x0 = recip * x_t - recipm1 * model_output
        return x0, (recip * x_t - x0) / recipm1
    sqrt_a, sqrt_1ma = (
        schedule.gather("sqrt_alphas_cumprod", t, x_t),
        schedule.gather("sqrt_one_minus_alphas_cumprod", t, x_t),
    )
    return sqrt_a * x_t - sqrt_1ma * model_output, sqrt_1ma * x_t + sqrt_a * model_output
