"""Diffusion, independent of the network: schedule, noising and loss, guidance, samplers, and
:class:`SchedulerConfig`, how a model is sampled (the ``scheduler`` component of a model folder).

The model is always an argument: ``model(x_t, t, **kwargs) -> eps`` (or v, see :mod:`.prediction`) with ``x_t`` ``[B, C, F, H, W]``
and ``t`` int64 ``[B]``.
"""

from .ddim import DDIMSampler, ddim_timesteps
from .gaussian_diffusion import LOSS_WEIGHTINGS, loss_weights, q_sample, sample_timesteps, training_loss
from .guidance import (
    GuidedDenoiser,
    NestedGuidedDenoiser,
    frame_guidance_scales,
    make_guidance_kwargs,
    nested_guidance_kwargs,
)
from .noise import check_noise_correlation, frame_noise, mix_frame_noise
from .prediction import PREDICTION_TYPES, check_prediction_type, training_target, x0_and_eps
from .schedule import NoiseSchedule
from .scheduler_config import BETA_SCHEDULES, EMPTY_CAPTIONS, SchedulerConfig, check_empty_caption
from .schedulers import SCHEDULERS, make_sampler, sample

__all__ = [
    "BETA_SCHEDULES",
    "DDIMSampler",
    "EMPTY_CAPTIONS",
    "GuidedDenoiser",
    "LOSS_WEIGHTINGS",
    "NestedGuidedDenoiser",
    "NoiseSchedule",
    "PREDICTION_TYPES",
    "SCHEDULERS",
    "SchedulerConfig",
    "check_empty_caption",
    "check_noise_correlation",
    "check_prediction_type",
    "ddim_timesteps",
    "frame_guidance_scales",
    "frame_noise",
    "loss_weights",
    "make_guidance_kwargs",
    "make_sampler",
    "mix_frame_noise",
    "nested_guidance_kwargs",
    "q_sample",
    "sample",
    "sample_timesteps",
    "training_loss",
    "training_target",
    "x0_and_eps",
]
