"""The memory a video generation needs, estimated from its size and the model's shape before anything is allocated.

The estimate is a lower bound, so that only a request that certainly cannot fit is refused: the weights (the bytes
of their files; zero for a model already loaded), then the larger of the two phases that cannot be avoided,

* denoising: the UNet's skip activations, kept from its down path for its up path: at level ``l`` (latent side
  halved ``l`` times) ``num_res_blocks`` tensors of ``dim · dim_mult[l]`` channels, plus the input convolution's,
  for every frame of every video of the batch;
* decoding: the VAE decoder's last level at full size, ``block_out_channels[0]`` channels for each of the frames
  decoded at once (``vae_decode_chunk_size``), its input and its output;

and the decoded video itself (float32 ``[B, 3, F, H, W]``). Everything else (attention, the guided passes, the
conditions, the files) only adds to it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..memory import format_bytes, require_memory

#: Bytes of a float32 value.
FLOAT32 = 4


@dataclass(frozen=True)
class ModelShape:
    """What of a model decides its memory: the UNet's ``dim``, ``dim_mult`` and ``num_res_blocks``, the VAE's
    ``block_out_channels`` and the bytes of the weights still to load."""

    dim: int
    dim_mult: Sequence[int]
    num_res_blocks: int
    vae_channels: Sequence[int]
    weights_bytes: int = 0


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a generation needs at least: ``weights``, ``sampling`` (the larger phase) and ``video`` (its output)."""

    weights: int
    sampling: int
    video: int

    @property
    def total(self) -> int:
        return self.weights + self.sampling + self.video

    def describe(self) -> str:
        """``"weights 5.9 GiB + sampling 1.1 GiB + the video 12 MiB"``."""
        return (
            f"weights {format_bytes(self.weights)} + sampling {format_bytes(self.sampling)} + "
            f"the video {format_bytes(self.video)}"
        )


def estimate_generation_memory(
    model: ModelShape, num_frames: int, height: int, width: int, batch: int = 1, decode_chunk: int = 16
) -> MemoryEstimate:
    """The lower bound of the module docstring for ``batch`` videos of ``num_frames`` frames of ``height × width``."""
    scale = 2 ** (len(model.vae_channels) - 1)
    latent_h, latent_w = max(1, height // scale), max(1, width // scale)
    skips = model.dim * latent_h * latent_w  # the input convolution's output
    for level, mult in enumerate(model.dim_mult):
        skips += model.num_res_blocks * model.dim * mult * max(1, latent_h >> level) * max(1, latent_w >> level)
    denoising = batch * num_frames * skips * FLOAT32
    decoding = 2 * batch * min(num_frames, max(1, decode_chunk)) * model.vae_channels[0] * height * width * FLOAT32
    video = batch * num_frames * 3 * height * width * FLOAT32
    return MemoryEstimate(model.weights_bytes, max(denoising, decoding), video)


def require_generation_memory(
    model: ModelShape,
    num_frames: int,
    height: int,
    width: int,
    batch: int = 1,
    decode_chunk: int = 16,
    device: object = None,
    fix: str = "ask for fewer frames or a smaller height and width",
) -> MemoryEstimate:
    """The estimate, or :class:`~videocomposer.memory.InsufficientMemoryError` (the estimate, its parts and the
    free memory of ``device``) when it exceeds what the device has free."""
    estimate = estimate_generation_memory(model, num_frames, height, width, batch, decode_chunk)
    videos = f"{batch} videos" if batch > 1 else "a video"
    require_memory(
        estimate.total, f"{videos} of {num_frames} frames of {width}x{height} ({estimate.describe()})", fix, device
    )
    return estimate


def pipeline_model_shape(pipe: Any) -> ModelShape:
    """The shape of a loaded :class:`~videocomposer.pipelines.VideoComposerPipeline` (its weights are in memory)."""
    unet = pipe.unet.config
    vae_channels = tuple(pipe.vae.config.block_out_channels) if pipe.vae is not None else (0,) * 4
    return ModelShape(unet.dim, unet.dim_mult, unet.num_res_blocks, vae_channels)


def folder_model_shape(
    weights_dir: str | os.PathLike,
    conditions: Sequence[str],
    config: dict[str, Any] | None = None,
    unet_file: str | None = None,
) -> ModelShape:
    """The shape of the model ``weights_dir`` holds, read from its configuration files without loading it: a
    ``save_pretrained`` folder's ``unet/config.json`` and ``vae/config.json``, else the official architectures
    (``config`` overriding them, as ``--model-config``); the weights are the files the ``conditions`` load.

    Raises what loading the folder would: a :class:`~videocomposer.config.ConfigError` naming a broken
    configuration file, a :class:`~videocomposer.checkpoints.WeightFileError` for a missing weight file."""
    from ..config import ConfigError, build, read_json_file
    from ..models.unet import UNetConfig
    from ..models.vae import VAEConfig
    from .components import FOLDER_FIX, architecture_config, components_for, is_pretrained_folder, official_paths

    folder = Path(weights_dir)
    names, _towers = components_for(conditions)
    if not is_pretrained_folder(folder):
        unet = architecture_config("unet", (config or {}).get("unet")) or UNetConfig()
        vae = architecture_config("vae", (config or {}).get("vae")) or VAEConfig()
        weights = sum(path.stat().st_size for path in official_paths(folder, names, unet_file).values())
        return ModelShape(unet.dim, unet.dim_mult, unet.num_res_blocks, [vae.ch * m for m in vae.ch_mult], weights)
    unet_path, vae_path = folder / "unet" / "config.json", folder / "vae" / "config.json"
    try:
        unet = build(
            UNetConfig,
            read_json_file(unet_path, "the unet configuration", FOLDER_FIX).get("config", {}),
            str(unet_path),
        )
    except ConfigError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{unet_path}: describes no unet this version builds ({exc})") from None
    channels = read_json_file(vae_path, "the vae configuration", FOLDER_FIX).get("block_out_channels")
    if not (isinstance(channels, list) and channels and all(type(c) is int and c > 0 for c in channels)):
        raise ConfigError(f"{vae_path}: block_out_channels must be a list of positive whole numbers, got {channels!r}")
    weights = sum(f.stat().st_size for name in names for f in (folder / name).glob("*.safetensors"))
    return ModelShape(unet.dim, unet.dim_mult, unet.num_res_blocks, channels, weights)


__all__ = [
    "MemoryEstimate",
    "ModelShape",
    "estimate_generation_memory",
    "folder_model_shape",
    "pipeline_model_shape",
    "require_generation_memory",
]
