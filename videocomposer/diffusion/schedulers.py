"""Sampling by scheduler name: the reference DDIM (default) or diffusers' fast solvers.

``SCHEDULERS`` lists the names; :func:`make_sampler` returns for each an object with ``timesteps``,
``init_noise_sigma``, ``scale_model_input(x, t)`` and ``step(eps, t, x) -> x_prev`` (tensor), so one
loop (:func:`sample`) serves them all. diffusers' schedulers are configured on the same betas as the
model was trained with (SD's scaled-linear, or its zero-terminal-SNR rescaling), the model's prediction type
(ε by default), ``leading`` spacing with ``steps_offset=1``
(the Stable Diffusion 2.x scheduler config), except DPM-Solver++, which uses ``trailing`` spacing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import torch
from tqdm.auto import tqdm

from .ddim import DDIMSampler
from .guidance import EpsModel, GuidedDenoiser, NestedGuidedDenoiser, can_batch
from .prediction import check_prediction_type
from .schedule import NoiseSchedule


class Sampler(Protocol):
    timesteps: torch.Tensor
    init_noise_sigma: float

    def scale_model_input(self, sample: torch.Tensor, timestep: torch.Tensor | int) -> torch.Tensor: ...

    def step(self, model_output: torch.Tensor, timestep: torch.Tensor | int, sample: torch.Tensor) -> torch.Tensor: ...


class _DiffusersSampler:
    """A configured diffusers scheduler whose ``step`` returns the previous sample as a tensor."""

    def __init__(self, scheduler: Any, num_steps: int, generator: torch.Generator | None):
        scheduler.set_timesteps(num_steps)
        self.scheduler = scheduler
        self.generator = generator
        self.timesteps = scheduler.timesteps
        self.init_noise_sigma = float(scheduler.init_noise_sigma)

    def scale_model_input(self, sample: torch.Tensor, timestep: torch.Tensor | int) -> torch.Tensor:
        return self.scheduler.scale_model_input(sample, timestep)

    def step(self, model_output: torch.Tensor, timestep: torch.Tensor | int, sample: torch.Tensor) -> torch.Tensor:
        return self.scheduler.step(model_output, timestep, sample, generator=self.generator).prev_sample


def _diffusers_config(schedule: NoiseSchedule, prediction_type: str) -> dict[str, Any]:
    return dict(
        num_train_timesteps=schedule.num_timesteps,
        trained_betas=schedule.betas.tolist(),
        prediction_type=prediction_type,
        timestep_spacing="leading",
        steps_offset=1,
    )


def _dpm_solver_pp(config: dict[str, Any]) -> Any:
    from diffusers import DPMSolverMultistepScheduler

    # "trailing" starts every run at t = T - 1; diffusers' "leading" starts DPM-Solver later as the
    # step count grows (t = 951 at 50 steps, 901 at 100, 801 at 200)
    return DPMSolverMultistepScheduler(
        **{**config, "timestep_spacing": "trailing"}, algorithm_type="dpmsolver++", solver_order=2
    )


def _euler(config: dict[str, Any]) -> Any:
    from diffusers import EulerDiscreteScheduler

    return EulerDiscreteScheduler(**config)


_DIFFUSERS_SCHEDULERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "dpmsolver++": _dpm_solver_pp,  # DPMSolverMultistepScheduler, 2nd order: ~20-25 steps
    "euler": _euler,  # EulerDiscreteScheduler
}
SCHEDULERS: tuple[str, ...] = ("ddim", *_DIFFUSERS_SCHEDULERS)  # "ddim" = the reference sampler (default, 50 steps)


def make_sampler(
    name: str,
    schedule: NoiseSchedule,
    num_steps: int,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    prediction_type: str = "epsilon",
    noise_correlation: float = 0.0,
) -> Sampler:
    """Build the sampler named ``name`` (one of :data:`SCHEDULERS`) for a model that predicts
    ``prediction_type`` (:data:`~.prediction.PREDICTION_TYPES`). ``eta`` applies to DDIM only, and so does
    ``noise_correlation`` (the frames' correlation of the noise DDIM adds when ``eta > 0``, :mod:`.noise`):
    the other samplers add no noise."""
    if name not in SCHEDULERS:
        raise ValueError(f"unknown scheduler {name!r}; choose one of {list(SCHEDULERS)}")
    if eta != 0.0 and name != "ddim":
        raise ValueError(f"eta={eta} is only supported by the 'ddim' scheduler, not {name!r}")
    if not 1 <= num_steps <= schedule.num_timesteps:
        raise ValueError(f"num_steps must be in [1, {schedule.num_timesteps}], got {num_steps}")
    check_prediction_type(prediction_type)
    if name == "ddim":
        return DDIMSampler(
            schedule,
            num_steps,
            eta=eta,
            generator=generator,
            prediction_type=prediction_type,
            noise_correlation=noise_correlation,
        )
    return _DiffusersSampler(
        _DIFFUSERS_SCHEDULERS[name](_diffusers_config(schedule, prediction_type)), num_steps, generator
    )


StepCallback = Callable[[int, int, torch.Tensor], None]


def _denoiser(
    model: EpsModel,
    cond_kwargs: Mapping[str, Any],
    uncond_kwargs: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
    guidance_scale: float | torch.Tensor | Sequence[float | torch.Tensor] | None,
    batched: bool,
) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The guided ε of :func:`sample`: one scale (:class:`GuidedDenoiser`) or one per group (nested)."""
    if guidance_scale is None or isinstance(guidance_scale, (int, float, torch.Tensor)):
        if uncond_kwargs is not None and not isinstance(uncond_kwargs, Mapping):
            raise ValueError("a list of unconditional passes needs a list of guidance scales, one per pass")
        return GuidedDenoiser(model, cond_kwargs, uncond_kwargs, guidance_scale, batched=batched)
    if uncond_kwargs is None or isinstance(uncond_kwargs, Mapping) or len(uncond_kwargs) != len(guidance_scale):
        raise ValueError("a guidance scale per group needs uncond_kwargs as a list of one pass per scale")
    return NestedGuidedDenoiser(model, [*uncond_kwargs, cond_kwargs], guidance_scale, batched=batched)


@torch.no_grad()
def sample(
    model: EpsModel,
    x_T: torch.Tensor,
    cond_kwargs: Mapping[str, Any] | None = None,
    uncond_kwargs: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
    guidance_scale: float | torch.Tensor | Sequence[float | torch.Tensor] | None = None,
    num_steps: int = 50,
    scheduler: str = "ddim",
    schedule: NoiseSchedule | None = None,
    eta: float = 0.0,
    generator: torch.Generator | None = None,
    batched_cfg: bool | None = None,
    callback: StepCallback | None = None,
    progress: bool = False,
    prediction_type: str = "epsilon",
    noise_correlation: float = 0.0,
) -> torch.Tensor:
    """Denoise ``x_T`` (standard normal ``[B, C, F, H, W]``, its frames correlated by ``noise_correlation`` for a
    model trained so: :func:`~videocomposer.diffusion.noise.frame_noise`) into latents ``x_0`` of the same shape.

    ``model(x, t, **kwargs) -> eps`` (or v, with ``prediction_type="v_prediction"``) with ``t`` int64 ``[B]``. With ``guidance_scale`` set, ε is
    ``u + s·(c − u)`` of the ``cond_kwargs`` and ``uncond_kwargs`` passes (see
    :func:`make_guidance_kwargs`; the official runs use 9.0; a tensor that broadcasts over ``x_T`` gives
    each frame its own scale, :func:`~videocomposer.diffusion.guidance.frame_guidance_scales`); with
    ``None`` the model runs once on ``cond_kwargs``. A scale per group of conditions (nested guidance,
    :class:`~videocomposer.diffusion.guidance.NestedGuidedDenoiser`): ``guidance_scale`` a list ``[s_1 … s_k]``,
    ``uncond_kwargs`` the list of passes ``[P_0 … P_{k−1}]`` and ``cond_kwargs`` ``P_k``
    (:func:`~videocomposer.diffusion.guidance.nested_guidance_kwargs`). ``batched_cfg``: run both passes as one forward of batch ``2B``; ``None``
    means on for accelerator tensors when every kwarg is a tensor, off on CPU. ``schedule`` defaults to
    :meth:`NoiseSchedule.linear_sd`. ``callback(step_index, t, latents)`` runs after every step with
    the latents that step produced; ``progress`` shows a tqdm bar.
    """
    schedule = schedule if schedule is not None else NoiseSchedule.linear_sd()
    sampler = make_sampler(
        scheduler,
        schedule,
        num_steps,
        eta=eta,
        generator=generator,
        prediction_type=prediction_type,
        noise_correlation=noise_correlation,
    )
    if batched_cfg is None:
        batched_cfg = x_T.device.type != "cpu" and can_batch(cond_kwargs or {}, uncond_kwargs)
    denoiser = _denoiser(model, cond_kwargs or {}, uncond_kwargs, guidance_scale, batched_cfg)

    x = x_T * sampler.init_noise_sigma
    for i, timestep in enumerate(tqdm(sampler.timesteps, disable=not progress, desc=f"{scheduler} sampling")):
        t = torch.full((x.shape[0],), int(timestep), dtype=torch.long, device=x.device)
        eps = denoiser(sampler.scale_model_input(x, timestep), t)
        x = sampler.step(eps, timestep, x)
        if callback is not None:
            callback(i, int(timestep), x)
    return x
