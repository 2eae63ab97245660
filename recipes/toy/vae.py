"""Train the toy model's small ``AutoencoderKL`` on video frames (the first stage of the toy recipe).

The trainer of :mod:`videocomposer.training.trainer` keeps the VAE frozen (VideoComposer reuses Stable
Diffusion's), so a model trained from nothing needs its autoencoder first. This is a short loop written
here because no library ships one for diffusers' ``AutoencoderKL``: the reconstruction loss is
``L1 + MSE`` on pixels in [-1, 1] plus a small KL term (no perceptual or adversarial loss: the synthetic
frames are flat colours and mild textures, where pixel losses reach > 30 dB PSNR), AdamW with a cosine
learning rate, frames drawn uniformly from the dataset's clips.

:func:`finetune_decoder` then trains the decoder alone with the encoder frozen, as Stable Diffusion's
"ft-MSE" VAE was made: the latent space does not move, so a diffusion model trained on the encoder's
latents stays valid (the toy recipe runs it after, or beside, the UNet stage).

The latent scale (Stable Diffusion's 0.18215) is measured afterwards: ``1 / std`` of the posterior
samples, so the diffusion model sees unit-variance latents as SD's UNet does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL
from PIL import Image

from videocomposer.models.vae import VAEConfig, build_vae
from videocomposer.video.transforms import center_crop_v2, pil_to_uint8_tensor


@dataclass
class VAETrainResult:
    """What :func:`train_vae` did: the model (eval mode), the per-step losses and the measured figures."""

    vae: AutoencoderKL
    losses: list[float]
    seconds: float
    psnr_db: float
    latent_std: float


def read_frames(videos: Sequence[str | Path], frames_per_clip: int, seed: int, size: int | None = None) -> torch.Tensor:
    """``frames_per_clip`` frames drawn (seeded) from each video, ``uint8 [N, 3, H, W]``; with ``size``,
    resized and cropped to ``size × size`` as the training clips are (``CenterCropV2``)."""
    rng = np.random.default_rng(seed)
    out = []
    for path in videos:
        with av.open(str(path)) as container:
            decoded = [f.to_ndarray(format="rgb24") for f in container.decode(container.streams.video[0])]
        for i in rng.choice(len(decoded), size=min(frames_per_clip, len(decoded)), replace=False):
            image = Image.fromarray(decoded[i])
            out.append(pil_to_uint8_tensor(center_crop_v2(image, size) if size else image))
    return torch.stack(out)


def _to_unit(frames: torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, 3, H, W]`` → float32 in [-1, 1]."""
    return frames.float().div(127.5).sub(1.0)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean per-image PSNR (dB) of two ``[N, 3, H, W]`` batches in [-1, 1] (peak-to-peak 2)."""
    mse = (a.clamp(-1, 1) - b.clamp(-1, 1)).pow(2).flatten(1).mean(1).clamp_min(1e-10)
    return float((10 * torch.log10(4.0 / mse)).mean())


def _step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, parameters: list[torch.nn.Parameter]) -> float:
    """One optimizer step on ``loss`` with the gradient norm clipped to 1; returns the loss value."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimizer.step()
    return loss.item()


def finetune_decoder(
    vae: AutoencoderKL,
    frames: torch.Tensor,
    steps: int,
    batch_size: int = 8,
    learning_rate: float = 5e-4,
    seed: int = 0,
    eval_frames: torch.Tensor | None = None,
    log_every: int = 100,
) -> VAETrainResult:
    """Train ``vae``'s decoder (``post_quant_conv`` + ``decoder``) on posterior samples of its frozen encoder.

    The encoder, hence the latent space and its scale, is unchanged. Loss L1 + MSE, AdamW, cosine rate.
    """
    gen = torch.Generator().manual_seed(seed)
    vae.requires_grad_(False).eval()
    trainable = [*vae.post_quant_conv.parameters(), *vae.decoder.parameters()]
    for p in trainable:
        p.requires_grad_(True)
    vae.decoder.train()
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, betas=(0.9, 0.99), weight_decay=0.0)
    losses: list[float] = []
    began = time.perf_counter()
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps)))
        x = _to_unit(frames[torch.randint(len(frames), (batch_size,), generator=gen)])
        if torch.rand((), generator=gen) < 0.5:
            x = x.flip(-1)
        with torch.no_grad():
            posterior = vae.encode(x).latent_dist
            z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen)
        recon = vae.decode(z).sample
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x)
        losses.append(_step(optimizer, loss, trainable))
        if log_every and (step + 1) % log_every == 0:
            print(
                f"decoder step {step + 1}/{steps} loss {np.mean(losses[-log_every:]):.4f} "
                f"{time.perf_counter() - began:.0f} s",
                flush=True,
            )
    seconds = time.perf_counter() - began
    psnr, std = evaluate_vae(vae, frames if eval_frames is None else eval_frames)
    return VAETrainResult(vae.eval().requires_grad_(False), losses, seconds, psnr, std)


@torch.no_grad()
def evaluate_vae(vae: AutoencoderKL, frames: torch.Tensor, batch: int = 16) -> tuple[float, float]:
    """``(PSNR dB of the posterior-mean reconstruction, std of the posterior samples)`` on uint8 frames."""
    vae.eval()
    scores, samples = [], []
    gen = torch.Generator().manual_seed(0)
    for chunk in frames.split(batch):
        x = _to_unit(chunk)
        posterior = vae.encode(x).latent_dist
        scores.append(psnr_db(vae.decode(posterior.mean).sample, x) * len(chunk))
        samples.append(posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen))
    return sum(scores) / len(frames), float(torch.cat(samples).std())


def train_vae(
    config: VAEConfig,
    frames: torch.Tensor,
    steps: int,
    batch_size: int = 8,
    learning_rate: float = 1e-3,
    kl_weight: float = 1e-6,
    seed: int = 0,
    eval_frames: torch.Tensor | None = None,
    crop: int | None = 64,
    log_every: int = 100,
) -> VAETrainResult:
    """Train a fresh ``AutoencoderKL(config)`` on ``frames`` (uint8 ``[N, 3, H, W]``) for ``steps`` steps.

    ``crop``: train on random ``crop × crop`` patches (the network is convolutional; 4x cheaper than whole
    128-px frames), None = whole frames. ``eval_frames`` (default: ``frames``) give the reported PSNR (on
    whole frames) and the latent std.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        vae = build_vae(config).train()
    gen = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(vae.parameters(), lr=learning_rate, betas=(0.9, 0.99), weight_decay=0.0)
    losses: list[float] = []
    began = time.perf_counter()
    for step in range(steps):
        lr = learning_rate * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / steps))) * min(1.0, (step + 1) / 50)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = _to_unit(frames[torch.randint(len(frames), (batch_size,), generator=gen)])
        if crop is not None and crop < min(x.shape[-2:]):
            top, left = (int(torch.randint(s - crop + 1, (), generator=gen)) for s in x.shape[-2:])
            x = x[..., top : top + crop, left : left + crop]
        if torch.rand((), generator=gen) < 0.5:  # horizontal flips: free variety for a small dataset
            x = x.flip(-1)
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=gen)
        recon = vae.decode(z).sample
        loss = F.l1_loss(recon, x) + F.mse_loss(recon, x) + kl_weight * posterior.kl().mean()
        losses.append(_step(optimizer, loss, list(vae.parameters())))
        if log_every and (step + 1) % log_every == 0:
            print(
                f"vae step {step + 1}/{steps} loss {np.mean(losses[-log_every:]):.4f} lr {lr:.2e} "
                f"{time.perf_counter() - began:.0f} s",
                flush=True,
            )
    seconds = time.perf_counter() - began
    psnr, std = evaluate_vae(vae, frames if eval_frames is None else eval_frames)
    return VAETrainResult(vae.eval().requires_grad_(False), losses, seconds, psnr, std)
