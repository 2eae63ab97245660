"""DDIM (Song et al. 2021, "Denoising Diffusion Implicit Models") in the reference's arithmetic.

This is the default sampler. It reproduces the reference's ``ddim_sample_loop`` bit for bit in
float32: diffusers' ``DDIMScheduler`` keeps its schedule in float32 and drifts by ~3e-5 over 50 steps,
while here every schedule value is gathered from the float64 arrays and only then cast.

Timesteps, for ``S`` steps over ``T`` training steps (stride ``T // S``)::

    (1 + arange(0, T, T // S)).clamp(0, T - 1), reversed      # S = 50: 981, 961, ..., 21, 1

The step from ``t`` goes to ``t_prev = max(t − stride, 0)``, so the last one (t = 1) lands on ᾱ_0,
not on ᾱ = 1 (the reference's choice; diffusers' ``set_alpha_to_one=False``). On a zero-terminal-SNR
schedule the timesteps are diffusers' "trailing" ones instead (999, 979, ..., 19 for S = 50).
"""

from __future__ import annotations

import torch

from .noise import check_noise_correlation, frame_noise
from .prediction import check_prediction_type, x0_and_eps
from .schedule import NoiseSchedule


def ddim_timesteps(num_steps: int, num_train_timesteps: int, trailing: bool = False) -> torch.Tensor:
    """The reference's DDIM timesteps, descending: int64 ``[num_steps]``.

    ``trailing``: diffusers' "trailing" spacing instead, ``round(arange(T, 0, −T/S)) − 1`` (999, 979, ..., 19
    for S = 50), which starts at ``t = T − 1``. A zero-terminal-SNR schedule needs it (Lin et al. 2024): only
    there is ``x_T`` the pure noise the sampler starts from.
    """
    if not 1 <= num_steps <= num_train_timesteps:
        raise ValueError(f"num_steps must be in [1, {num_train_timesteps}], got {num_steps}")
    if trailing:
        return (
            torch.arange(num_train_timesteps, 0, -num_train_timesteps / num_steps, dtype=torch.float64).round() - 1
        ).long()
    stride = num_train_timesteps // num_steps
    return (1 + torch.arange(0, num_train_timesteps, stride)).clamp(0, num_train_timesteps - 1).flip(0)


class DDIMSampler:
    """DDIM over a :class:`NoiseSchedule`, with the step interface of a diffusers scheduler.

    ``eta = 0`` is deterministic (the reference's inference setting); ``eta > 0`` adds
    ``σ_t·z`` with ``z`` drawn from ``generator``, its frames correlated by ``noise_correlation`` as the model's
    training noise was (see :mod:`.noise`). ``prediction_type``: what the model outputs
    (``"epsilon"``, the reference, or ``"v_prediction"``; see :mod:`.prediction`).
    """

    init_noise_sigma = 1.0

    def __init__(
        self,
        schedule: NoiseSchedule,
        num_steps: int,
        eta: float = 0.0,
        generator: torch.Generator | None = None,
        prediction_type: str = "epsilon",
        noise_correlation: float = 0.0,
    ):
        if eta < 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        check_prediction_type(prediction_type)
        self.noise_correlation = check_noise_correlation(noise_correlation)
        self.prediction_type = prediction_type
        self.schedule = schedule
        self.eta = eta
        self.generator = generator
        self.stride = schedule.num_timesteps // num_steps
        # the reference's spacing, except on a zero-terminal-SNR schedule, which must start at t = T - 1
        self.timesteps = ddim_timesteps(num_steps, schedule.num_timesteps, trailing=schedule.zero_terminal_snr)

    def scale_model_input(self, sample: torch.Tensor, timestep: torch.Tensor | int) -> torch.Tensor:
        """DDIM feeds ``x_t`` to the model unscaled."""
        return sample

    def step(self, model_output: torch.Tensor, timestep: torch.Tensor | int, sample: torch.Tensor) -> torch.Tensor:
        """One DDIM update ``x_t → x_{t_prev}``.

        Notation (DDIM paper eq. 12; diffusers ``scheduling_ddim.step``):

        ============== ==================== =====================================
        here           paper                meaning
        ============== ==================== =====================================
        ``sample``     x_t                  current latent ``[B, C, F, H, W]``
        ``eps``        ε_θ(x_t, t)          predicted noise (``model_output``, or from v)
        ``x0``         "predicted x_0"      denoised estimate
        ``a_t``        α_t  (ᾱ_t in DDPM)   ``alphas_cumprod[t]``
        ``a_prev``     α_{t-1}              ``alphas_cumprod[max(t − stride, 0)]``
        ``sigma``      σ_t(η)               stochasticity, 0 for η = 0
        ============== ==================== =====================================
        """
        s = self.schedule
        t = torch.full((sample.shape[0],), int(timestep), dtype=torch.long)
        t_prev = (t - self.stride).clamp(min=0)

        # 1-2. predicted x_0 ("predicted x_0" of eq. 12) and ε, as the reference's p_mean_variance
        x0, eps = x0_and_eps(s, model_output, sample, t, self.prediction_type)
        a_t = s.gather("alphas_cumprod", t, sample)
        a_prev = s.gather("alphas_cumprod", t_prev, sample)
        # 3. σ_t(η), eq. 16
        sigma = self.eta * torch.sqrt((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev))
        # 4. "direction pointing to x_t", then x_{t-1} (eq. 12)
        direction = torch.sqrt(1 - a_prev - sigma**2) * eps
        prev_sample = torch.sqrt(a_prev) * x0 + direction
        if self.eta > 0:
            noise = frame_noise(sample.shape, self.noise_correlation, self.generator, sample.device, sample.dtype)
            prev_sample = prev_sample + sigma * noise
        return prev_sample
