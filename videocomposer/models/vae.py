"""The Stable Diffusion 2.1 autoencoder (VideoComposer's first stage) on diffusers' ``AutoencoderKL``.

The network is diffusers' ``AutoencoderKL``; the official LDM-layout weights
(``v2-1_512-ema-pruned.ckpt``, VAE under ``first_stage_model.``) are converted with diffusers' own
single-file converter (``convert_ldm_vae_checkpoint``), which also turns the 1×1-conv attention
weights into Linear ones. Latents are ``0.18215 · posterior.sample()``; videos are encoded and
decoded frame-chunk by frame-chunk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from diffusers import AutoencoderKL
from diffusers.loaders.single_file_utils import (
    LDM_VAE_KEYS,
    convert_ldm_vae_checkpoint,
    create_vae_diffusers_config_from_ldm,
    update_vae_attentions_ldm_to_diffusers,
)
from einops import rearrange

from ..checkpoints import WeightFileError, load_strict, read_state_dict
from ..config import ArchitectureConfig, build


@dataclass
class VAEConfig(ArchitectureConfig):
    """The reference's ``ddconfig`` plus ``embed_dim`` and the latent scale. The defaults (:meth:`official`) are the
    SD 2.1 VAE that VideoComposer loads from ``v2-1_512-ema-pruned.ckpt``."""

    double_z: bool = True
    z_channels: int = 4
    resolution: int = 256
    in_channels: int = 3
    out_ch: int = 3
    ch: int = 128
    ch_mult: list[int] = field(default_factory=lambda: [1, 2, 4, 4])
    num_res_blocks: int = 2
    attn_resolutions: list[int] = field(default_factory=list)
    dropout: float = 0.0
    embed_dim: int = 4
    scale_factor: float = 0.18215

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> VAEConfig:
        """From a flat dict of these fields, or ``{'ddconfig': {...}, 'embed_dim': 4, 'scale_factor': ...}``
        (the reference's constructor arguments, as in the fixture's ``config.json``). Other keys are rejected."""
        if "ddconfig" in config:
            flat = {**config["ddconfig"], **{k: config[k] for k in ("embed_dim", "scale_factor") if k in config}}
        else:
            flat = dict(config)
        return build(cls, flat)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def diffusers_config(self) -> dict[str, Any]:
        """The ``AutoencoderKL(**config)`` arguments, by diffusers' own LDM→diffusers config function."""
        if not self.double_z or self.embed_dim != self.z_channels:
            raise ValueError(
                f"AutoencoderKL needs double_z=True and embed_dim == z_channels; got double_z={self.double_z}, "
                f"embed_dim={self.embed_dim}, z_channels={self.z_channels}"
            )
        ldm_config = {"model": {"params": {"first_stage_config": {"params": {"ddconfig": asdict(self)}}}}}
        config = create_vae_diffusers_config_from_ldm(ldm_config, {}, scaling_factor=self.scale_factor)
        config["sample_size"] = self.resolution  # the function infers it from the checkpoint type otherwise
        encoder_attention, decoder_attention = self.attention_levels()
        config["down_block_types"] = [
            "AttnDownEncoderBlock2D" if a else "DownEncoderBlock2D" for a in encoder_attention
        ]
        config["up_block_types"] = [
            "AttnUpDecoderBlock2D" if a else "UpDecoderBlock2D" for a in reversed(decoder_attention)
        ]
        return config

    def attention_levels(self) -> tuple[list[bool], list[bool]]:
        """Per level (0 = full resolution): whether the LDM encoder / decoder adds an attention block after
        each ResnetBlock, i.e. whether the level's nominal resolution is in ``attn_resolutions``. The
        encoder halves ``resolution`` level by level; the decoder doubles ``resolution // 2^(levels−1)``."""
        levels = len(self.ch_mult)
        lowest = self.resolution // 2 ** (levels - 1)
        encoder = [self.resolution // 2**level in self.attn_resolutions for level in range(levels)]
        decoder = [lowest * 2 ** (levels - 1 - level) in self.attn_resolutions for level in range(levels)]
        return encoder, decoder


def build_vae(config: VAEConfig | None = None) -> AutoencoderKL:
    """An ``AutoencoderKL`` with random weights (build under ``torch.device('meta')`` for a shape-only model)."""
    return AutoencoderKL(**(config or VAEConfig.official()).diffusers_config())


def convert_vae_state_dict(
    state_dict: Mapping[str, torch.Tensor], config: VAEConfig | None = None, source: str | os.PathLike = "state dict"
) -> dict[str, torch.Tensor]:
    """LDM-layout VAE weights → diffusers ``AutoencoderKL`` keys.

    Accepts the full SD checkpoint's state dict (VAE under ``first_stage_model.``; every other key
    ignored) or the VAE's own flat ``state_dict()`` (``encoder.*``, ``decoder.*``, ``quant_conv.*``,
    ``post_quant_conv.*``). Raises :class:`WeightFileError` if some VAE key has no place in the model.
    """
    config = config or VAEConfig.official()
    converted = convert_ldm_vae_checkpoint(dict(state_dict), config.diffusers_config())
    _rename_level_attentions(converted, len(config.ch_mult))
    prefix = next((p for p in LDM_VAE_KEYS if any(k.startswith(p) for k in state_dict)), "")
    vae_keys = [k for k in state_dict if k.startswith(prefix)]
    if len(converted) != len(vae_keys):
        raise WeightFileError(
            f"{source}: {len(vae_keys)} VAE tensors{f' under {prefix!r}' if prefix else ''} but only "
            f"{len(converted)} map onto AutoencoderKL; is this an LDM/SD VAE checkpoint?"
        )
    return converted


# A per-level attention block (``attn_resolutions``) of the LDM encoder / decoder.
_LEVEL_ATTENTION = re.compile(r"^(encoder\.down|decoder\.up)\.(\d+)\.attn\.(\d+)\.")


def _rename_level_attentions(converted: dict[str, torch.Tensor], levels: int) -> None:
    """diffusers' converter maps only the mid-block attention and leaves the per-level ones under their
    LDM names; give those their ``down_blocks.<i>`` / ``up_blocks.<levels−1−i>`` names (1×1 convs → Linear)."""
    for key in [k for k in converted if _LEVEL_ATTENTION.match(k)]:
        match = _LEVEL_ATTENTION.match(key)
        part, level, index = match.group(1), int(match.group(2)), match.group(3)
        block = f"encoder.down_blocks.{level}" if part == "encoder.down" else f"decoder.up_blocks.{levels - 1 - level}"
        update_vae_attentions_ldm_to_diffusers(
            [key],
            converted,
            {key: converted.pop(key)},
            mapping={"old": match.group(0), "new": f"{block}.attentions.{index}."},
        )


def load_vae(
    path: str | os.PathLike,
    config: VAEConfig | dict | None = None,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> AutoencoderKL:
    """Load the VAE from ``v2-1_512-ema-pruned.ckpt`` (or any file with the LDM VAE layout, flat or
    under ``first_stage_model.``; ``.safetensors`` or pickle, read with ``weights_only=True``).

    ``config``: :class:`VAEConfig` or its dict; the official SD 2.1 one by default. Returns the model
    in eval mode with gradients off (VideoComposer's VAE is frozen). A missing file raises an error
    naming the file, the folder looked in and where the official one is published.
    """
    config = VAEConfig.from_dict(config) if isinstance(config, Mapping) else (config or VAEConfig.official())
    state_dict = convert_vae_state_dict(read_state_dict(path, component="vae"), config, source=path)
    vae = build_vae(config)
    load_strict(vae, state_dict, path)
    vae.to(device)
    if dtype != torch.float32:
        vae.to(dtype)
    return vae.eval().requires_grad_(False)


def _chunks(frames: torch.Tensor, chunk_size: int) -> tuple[torch.Tensor, ...]:
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive number of frames, got {chunk_size}")
    return frames.split(chunk_size)


def encode_posterior(vae: AutoencoderKL, video: torch.Tensor, chunk_size: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior ``(mean, std)`` of every frame, each ``[B·F, z, h, w]`` in ``(b f)`` order.

    ``video``: ``[B, F, 3, H, W]`` in [-1, 1] (the dataset's layout). ``std = exp(0.5·clamp(logvar, −30, 20))``.
    """
    if video.ndim != 5 or video.shape[2] != vae.config.in_channels:
        raise ValueError(f"video must be [B, F, {vae.config.in_channels}, H, W], got {tuple(video.shape)}")
    frames = rearrange(video, "b f c h w -> (b f) c h w").to(vae.dtype)
    posteriors = [vae.encode(chunk).latent_dist for chunk in _chunks(frames, chunk_size)]
    return torch.cat([p.mean for p in posteriors]), torch.cat([p.std for p in posteriors])


def encode_video(
    vae: AutoencoderKL,
    video: torch.Tensor,
    chunk_size: int = 1,
    generator: torch.Generator | None = None,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """Video ``[B, F, 3, H, W]`` in [-1, 1] → latents ``scale·posterior.sample()`` ``[B, z, F, h, w]``.

    The posterior draws ``noise`` (``[B, z, F, h, w]``) when given, else one standard-normal tensor
    from ``generator`` over all frames in ``(b f)`` order (frame-by-frame draws of the reference's
    seeded CPU RNG give the same numbers), so ``chunk_size`` (frames per VAE call) never changes
    the result.
    """
    mean, std = encode_posterior(vae, video, chunk_size)
    batch = video.shape[0]
    if noise is None:
        gen_device = generator.device if generator is not None else mean.device
        eps = torch.randn(mean.shape, generator=generator, device=gen_device, dtype=mean.dtype).to(mean.device)
    else:
        expected = (batch, mean.shape[1], mean.shape[0] // batch, *mean.shape[2:])
        if tuple(noise.shape) != expected:
            raise ValueError(f"noise must be [B, z, F, h, w] = {list(expected)}, got {list(noise.shape)}")
        eps = rearrange(noise, "b c f h w -> (b f) c h w").to(mean)
    latents = vae.config.scaling_factor * (mean + std * eps)
    return rearrange(latents, "(b f) c h w -> b c f h w", b=batch)


def decode_video(vae: AutoencoderKL, latents: torch.Tensor, chunk_size: int = 16) -> torch.Tensor:
    """Latents ``[B, z, F, h, w]`` (scaled by 0.18215) → video ``[B, 3, F, H, W]`` (≈ [-1, 1] for trained weights).

    Decodes ``chunk_size`` frames per VAE call (the reference uses ``min(16, B·F)``).
    """
    if latents.ndim != 5 or latents.shape[1] != vae.config.latent_channels:
        raise ValueError(f"latents must be [B, {vae.config.latent_channels}, F, h, w], got {tuple(latents.shape)}")
    z = rearrange(latents, "b c f h w -> (b f) c h w").to(vae.dtype) / vae.config.scaling_factor
    frames = torch.cat([vae.decode(chunk).sample for chunk in _chunks(z, chunk_size)])
    return rearrange(frames, "(b f) c h w -> b c f h w", b=latents.shape[0])
