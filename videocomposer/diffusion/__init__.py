"""Diffusion, independent of the network: schedule, noising and loss, guidance, samplers.

The model is always an argument: ``model(x_t, t, **kwargs) -> eps`` (or v, see :mod:`.prediction`) with ``x_t`` ``[B, C, F, H, W]``
and ``t`` int64 ``[B]``.
"""
from .ddim import DDIMSampler, ddim_timesteps
from .gaussian_diffusion import LOSS_WEIGHTINGS, loss_weights, q_sample, sample_timesteps, training_loss
from .guidance import GuidedDenoiser, frame_guidance_scales, make_guidance_kwargs
from .noise import check_noise_correlation, frame_noise, mix_frame_noise
from .prediction import PREDICTION_TYPES, check_prediction_type, training_target, x0_and_eps
from .schedule import NoiseSchedule
from .schedulers import SCHEDULERS, make_sampler, sample

__all__ = [
    "DDIMSampler",
    "GuidedDenoiser",
    "LOSS_WEIGHTINGS",
    "NoiseSchedule",
    "PREDICTION_TYPES",
    "SCHEDULERS",
    "check_noise_correlation",
    "check_prediction_type",
    "ddim_timesteps",
    "frame_guidance_scales",
    "frame_noise",
    "loss_weights",
    "make_guidance_kwargs",
    "make_sampler",
    "mix_frame_noise",
    "q_sample",
    "sample",
    "sample_timesteps",
    "training_loss",
    "training_target",
    "x0_and_eps",
]
