"""The random draws of a training step, keyed by clip slot so that batching, workers, ranks and
resumption never change them."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from ..diffusion import mix_frame_noise
from ..diffusion.warped_noise import warped_noise
from ..video.motion import block_flow
from .data import keyed_seed


def keyed_noise(
    keys: Sequence[tuple[int, int]],
    latent_shape: Sequence[int],
    seed: int,
    num_timesteps: int,
    noise_offset: float = 0.0,
    noise_correlation: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per clip slot ``(epoch, index)``: a timestep, the diffusion noise and the VAE posterior draw.

    ``noise_correlation`` > 0 correlates the diffusion noise of the frames (``latent_shape`` ``[C, F, h, w]``;
    :func:`~videocomposer.diffusion.mix_frame_noise`). ``noise_offset`` > 0 then adds "offset noise"
    (Guttenberg, 2023): per sample and latent channel one constant of std ``noise_offset``, shared by every
    frame and pixel. The draws of either come after the rest, so the other draws do not change. Returns ``t``
    int64 ``[B]``, ``noise`` and ``posterior`` float32 ``[B, *latent_shape]`` on the CPU.
    """
    ts, noises, posteriors = [], [], []
    for epoch, index in keys:
        gen = torch.Generator().manual_seed(keyed_seed("noise", seed, epoch, index))
        ts.append(torch.randint(num_timesteps, (1,), generator=gen))
        noises.append(torch.randn(tuple(latent_shape), generator=gen))
        posteriors.append(torch.randn(tuple(latent_shape), generator=gen))
        offset = torch.randn(latent_shape[0], generator=gen) * noise_offset if noise_offset else None
        if noise_correlation:
            shared = torch.randn((*latent_shape[:-3], 1, *latent_shape[-2:]), generator=gen)
            noises[-1] = mix_frame_noise(noises[-1], shared, noise_correlation)
        if offset is not None:
            noises[-1] += offset.view(-1, *([1] * (len(latent_shape) - 1)))
    return torch.cat(ts), torch.stack(noises), torch.stack(posteriors)


def keyed_warped_noise(
    noise: torch.Tensor,
    motion: torch.Tensor,
    degradation: float,
    vector_side: int,
    keys: Sequence[tuple[int, int]],
    seed: int,
) -> torch.Tensor:
    """The diffusion noise of each clip slot carried along its motion condition (``noise_warp`` training key,
    :func:`~videocomposer.diffusion.warped_noise.warped_noise`), its fresh draws keyed by the slot.

    ``noise`` ``[B, C, F, h, w]``; ``motion`` ``[B, 2, F, R, R]`` in pixels of ``vector_side`` squares (the
    ``rescaled`` mode's); returns the warped noise on ``noise``'s device.
    """
    flow = block_flow(motion.detach().float().cpu(), vector_side, noise.shape[-1])
    warped = [
        warped_noise(
            noise[b : b + 1].float().cpu(),
            flow[b : b + 1],
            degradation,
            torch.Generator().manual_seed(keyed_seed(seed, "warp", int(epoch), int(index))),
        )
        for b, (epoch, index) in enumerate(keys)
    ]
    return torch.cat(warped).to(noise.device, noise.dtype)
