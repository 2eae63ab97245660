"""The noise schedule: betas and every quantity derived from them, in float64.

VideoComposer uses Stable Diffusion's "scaled linear" betas, which the reference calls
``linear_sd``: ``betas = linspace(sqrt(0.00085), sqrt(0.012), 1000) ** 2`` in float64.

Notation (DDPM, Ho et al. 2020): ``alpha_t = 1 - beta_t``, ``alphas_cumprod[t] = prod_{s<=t} alpha_s``
(written ᾱ_t). Every array is ``[T]`` float64; :meth:`NoiseSchedule.gather` picks entries for a
batch of timesteps and only then casts them to the dtype of the latents, as the reference does.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

#: ᾱ_T of a zero-terminal-SNR schedule: diffusers' 2⁻²⁴ in place of an exact 0, so that every derived
#: array (1/ᾱ, the solvers' log-SNR) stays finite while the signal left at t = T is below float32's resolution.
ZERO_SNR_ALPHA_CUMPROD = 2.0**-24


@dataclass(frozen=True)
class NoiseSchedule:
    """A discrete diffusion schedule of ``T`` steps. Field names are the reference's (and the fixture's)."""

    betas: torch.Tensor
    alphas_cumprod: torch.Tensor
    alphas_cumprod_prev: torch.Tensor  # ᾱ_{t-1}, with ᾱ_{-1} = 1
    sqrt_alphas_cumprod: torch.Tensor
    sqrt_one_minus_alphas_cumprod: torch.Tensor
    sqrt_recip_alphas_cumprod: torch.Tensor  # 1 / sqrt(ᾱ_t)
    sqrt_recipm1_alphas_cumprod: torch.Tensor  # sqrt(1 / ᾱ_t - 1)
    posterior_variance: torch.Tensor  # variance of q(x_{t-1} | x_t, x_0)
    posterior_log_variance_clipped: torch.Tensor  # log(max(posterior_variance, 1e-20))
    posterior_mean_coef1: torch.Tensor  # coefficient of x_0 in the posterior mean
    posterior_mean_coef2: torch.Tensor  # coefficient of x_t in the posterior mean

    @classmethod
    def from_betas(cls, betas: torch.Tensor) -> NoiseSchedule:
        """Derive every array from ``betas`` (``[T]``, each in (0, 1)); computed in float64."""
        betas = torch.as_tensor(betas, dtype=torch.float64).flatten()
        if betas.numel() == 0 or not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError(f"betas must be a non-empty 1-D array with values in (0, 1); got {betas.numel()} values")
        alphas = 1.0 - betas
        ac = torch.cumprod(alphas, dim=0)
        ac_prev = torch.cat([ac.new_ones(1), ac[:-1]])
        posterior_variance = betas * (1.0 - ac_prev) / (1.0 - ac)
        return cls(
            betas=betas,
            alphas_cumprod=ac,
            alphas_cumprod_prev=ac_prev,
            sqrt_alphas_cumprod=torch.sqrt(ac),
            sqrt_one_minus_alphas_cumprod=torch.sqrt(1.0 - ac),
            sqrt_recip_alphas_cumprod=torch.sqrt(1.0 / ac),
            sqrt_recipm1_alphas_cumprod=torch.sqrt(1.0 / ac - 1.0),
            posterior_variance=posterior_variance,
            posterior_log_variance_clipped=torch.log(posterior_variance.clamp(min=1e-20)),
            posterior_mean_coef1=betas * torch.sqrt(ac_prev) / (1.0 - ac),
            posterior_mean_coef2=(1.0 - ac_prev) * torch.sqrt(alphas) / (1.0 - ac),
        )

    @classmethod
    def linear_sd(
        cls, num_timesteps: int = 1000, beta_start: float = 0.00085, beta_end: float = 0.012
    ) -> NoiseSchedule:
        """Stable Diffusion's scaled-linear schedule (the reference's ``linear_sd``; diffusers' ``scaled_linear``)."""
        if num_timesteps < 2:
            raise ValueError(f"num_timesteps must be at least 2, got {num_timesteps}")
        betas = torch.linspace(beta_start**0.5, beta_end**0.5, num_timesteps, dtype=torch.float64) ** 2
        return cls.from_betas(betas)

    def rescaled_to_zero_terminal_snr(self) -> NoiseSchedule:
        """This schedule with zero signal at ``t = T − 1`` (Lin et al., WACV 2024, "Common Diffusion Noise
        Schedules and Sample Steps are Flawed", algorithm 1).

        ``sqrt(ᾱ)`` is shifted so its last value is 0 and scaled so its first is unchanged; the last ᾱ is then
        :data:`ZERO_SNR_ALPHA_CUMPROD` rather than 0. SD's schedule leaves ``ᾱ_999 = 0.0047``: a 16 x 16 x 4
        latent then still shows each frame's mean colour (SNR ≈ 1 for the mean of 1024 values), which the
        network learns to read, but the pure noise a sampler starts from has none. With zero terminal SNR the
        network must take it from the conditions. Needs ``prediction_type="v_prediction"``: ε says nothing
        about x₀ where ᾱ = 0.
        """
        sqrt_ac = self.sqrt_alphas_cumprod
        first, last = sqrt_ac[0], sqrt_ac[-1]
        alphas_cumprod = ((sqrt_ac - last) * first / (first - last)) ** 2
        alphas_cumprod[-1] = ZERO_SNR_ALPHA_CUMPROD
        alphas = alphas_cumprod / torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])
        return NoiseSchedule.from_betas(1.0 - alphas)

    @property
    def zero_terminal_snr(self) -> bool:
        """Whether no signal is left at ``t = T − 1`` (see :meth:`rescaled_to_zero_terminal_snr`)."""
        return float(self.alphas_cumprod[-1]) <= ZERO_SNR_ALPHA_CUMPROD * (1 + 1e-6)

    @classmethod
    def for_training(cls, zero_terminal_snr: bool = False) -> NoiseSchedule:
        """The schedule a model was trained on: :meth:`linear_sd`, optionally rescaled to zero terminal SNR."""
        schedule = cls.linear_sd()
        return schedule.rescaled_to_zero_terminal_snr() if zero_terminal_snr else schedule

    @property
    def num_timesteps(self) -> int:
        return self.betas.numel()

    def arrays(self) -> dict[str, torch.Tensor]:
        """Every array by name (the keys of the reference's ``schedule.safetensors``)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def gather(self, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``array[t]`` shaped ``[B, 1, ..., 1]`` to broadcast against ``like`` (``[B, ...]``).

        The float64 values are indexed first and cast to ``like``'s dtype afterwards (then moved to
        its device): casting the whole array first would round differently.
        """
        values = getattr(self, name)[t.detach().to("cpu", torch.long)]
        return values.to(like.dtype).to(like.device).view(-1, *([1] * (like.ndim - 1)))

    def validate_timesteps(self, t: torch.Tensor, batch_size: int) -> None:
        """Raise a ValueError unless ``t`` is ``[batch_size]`` integers in ``[0, T)``."""
        if t.ndim != 1 or t.shape[0] != batch_size or t.is_floating_point():
            raise ValueError(f"t must be an integer tensor of shape [{batch_size}], got {t.dtype} {tuple(t.shape)}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.num_timesteps):
            raise ValueError(f"t must lie in [0, {self.num_timesteps}), got values {t.tolist()}")
