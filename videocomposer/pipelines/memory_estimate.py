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

from collections.abc import Sequence
from dataclasses import dataclass

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
        estimate.total,
        f"{videos} of {num_frames} frames of {width}x{height} ({estimate.describe()})",
        fix,
        device,
    )
    return estimate


__all__ = ["MemoryEstimate", "ModelShape", "estimate_generation_memory", "require_generation_memory"]
