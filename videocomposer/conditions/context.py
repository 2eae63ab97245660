"""What an extractor sees: :class:`BuildContext`, and the tensor helpers condition extractors share.

An extractor (``Condition.extract``) takes a :class:`BuildContext` and returns the UNet-ready tensor.
The context reaches the frozen models through :class:`FrozenModels` (what
:class:`~videocomposer.conditions.builder.ConditionBuilder` provides), so this module depends on
neither the builder nor the registry.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from PIL import Image

from ..video.clip import VideoClip
from ..video.sampling import draw_misc_interpolations, misc_frames_uint8


class FrozenModels(Protocol):
    """The frozen models and annotator settings an extractor may use (a :class:`ConditionBuilder`)."""

    annotator_chunk_size: int
    depth_std: float
    depth_clamp: float

    def model(self, name: str) -> Any:
        """A frozen model by name (``midas``, ``pidinet``, ...); an error saying how to load it when absent."""

    def encode_prompt(self, prompt: str | Sequence[str], device: torch.device | str | None = None) -> torch.Tensor:
        """Prompt(s) → text context ``[B, 77, D]`` float32."""

    def encode_image(self, image: Image.Image | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """Style image → CLIP image embedding ``[B, 1, D]`` float32."""

    def sketch(self, frames: torch.Tensor) -> torch.Tensor:
        """RGB ``[N, 3, H, W]`` in [0, 1] → sketch ``[N, 1, H, W]``."""


def needs_message(name: str, inputs: Sequence[str]) -> str:
    """``"condition 'depth' needs video= or depth="``: the error when none of a condition's inputs is given."""
    return f"condition '{name}' needs {' or '.join(i + '=' for i in inputs)}"


def misc_transform(image: Image.Image, size: int, py_rng: random.Random | None = None) -> torch.Tensor:
    """A user image through the reference's ``misc_transforms`` → ``[1, 3, size, size]`` float in [0, 1].

    Short side resized to ``size`` with an interpolation drawn by ``py_rng.choice`` (bilinear, bicubic
    or Lanczos, as the reference), then ``CenterCropV2(size)``.
    """
    if not isinstance(image, Image.Image):
        raise ValueError(f"expected a PIL image, got {type(image).__name__}")
    return misc_frames_uint8([image.convert("RGB")], size, draw_misc_interpolations(1, py_rng)).float() / 255


def video_tensor(value: torch.Tensor, name: str, channels: int) -> torch.Tensor:
    """``[F, C, H, W]`` (per-frame layout, one sample) or ``[B, C, F, H, W]`` → ``[B, C, F, H, W]``."""
    if (
        not isinstance(value, torch.Tensor)
        or value.ndim not in (4, 5)
        or value.shape[-4 if value.ndim == 5 else 1] != channels
    ):
        shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{name} must be a tensor [F, {channels}, H, W] or [B, {channels}, F, H, W], got {shape}")
    return value.permute(1, 0, 2, 3).unsqueeze(0) if value.ndim == 4 else value


def repeat_frames(video: torch.Tensor, num_frames: int, name: str) -> torch.Tensor:
    """``[B, C, F, H, W]`` with ``F == num_frames`` or ``F == 1`` (repeated) → ``[B, C, num_frames, H, W]``."""
    if video.shape[2] == num_frames:
        return video
    if video.shape[2] == 1:
        return video.expand(-1, -1, num_frames, -1, -1)
    raise ValueError(f"{name} has {video.shape[2]} frames; expected {num_frames} (or 1, repeated over the frames)")


def expand_batch(value: torch.Tensor, batch: int, name: str) -> torch.Tensor:
    """``[1 or batch, ...]`` → ``[batch, ...]``."""
    if value.shape[0] == batch:
        return value
    if value.shape[0] == 1:
        return value.expand(batch, *value.shape[1:])
    raise ValueError(f"{name} has batch size {value.shape[0]}; expected {batch} (or 1, shared by every sample)")


@dataclass
class BuildContext:
    """What an extractor sees: the builder's models, the user inputs and the clip, and helpers.

    ``inputs`` holds every registered input by name (None when absent; ``video`` is the clip);
    ``needs`` the names of the inputs any one of which provides this condition (for error messages).
    ``cache`` lets extractors share work within one :meth:`ConditionBuilder.build` call.
    """

    builder: FrozenModels
    name: str
    conditions: tuple[str, ...]
    inputs: dict[str, Any]
    num_frames: int
    misc_size: int
    py_rng: random.Random | None
    device: torch.device | str
    needs: tuple[str, ...] = ()
    cache: dict[str, torch.Tensor] = field(default_factory=dict)

    def input(self, name: str) -> Any:
        return self.inputs.get(name)

    def missing_input(self) -> ValueError:
        """The error to raise when none of this condition's inputs is given."""
        return ValueError(needs_message(self.name, self.needs))

    def clip(self) -> VideoClip:
        """The video clip; a :meth:`missing_input` error when there is none."""
        clip = self.inputs.get("video")
        if clip is None:
            raise self.missing_input()
        return clip

    def clip_stream(self, stream: str) -> torch.Tensor:
        """A clip stream ``[F, C, H, W]`` or collated ``[B, F, C, H, W]`` → ``[B, C, F, H, W]``."""
        value = getattr(self.clip(), stream)
        if value is None:
            raise ValueError(
                f"condition '{self.name}' reads the clip's {stream!r} stream, which this clip was loaded "
                f"without (register the condition's clip_streams)"
            )
        return value.permute(1, 0, 2, 3).unsqueeze(0) if value.ndim == 4 else value.permute(0, 2, 1, 3, 4)

    def rgb_source(self, value: Any, name: str) -> torch.Tensor:
        """PIL, ``[3, H, W]``, ``[B, 3, H, W]`` (one frame) or ``[B, 3, F, H, W]`` → ``[B, 3, F', H, W]`` in [0, 1]."""
        if isinstance(value, Image.Image):
            value = misc_transform(value, self.misc_size, self.py_rng)
        if (
            not isinstance(value, torch.Tensor)
            or value.ndim not in (3, 4, 5)
            or value.shape[-3 if value.ndim < 5 else 1] != 3
        ):
            raise ValueError(
                f"{name} must be a PIL image, [3, H, W], [B, 3, H, W] or [B, 3, F, H, W]; got "
                f"{list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}"
            )
        value = value[None] if value.ndim == 3 else value
        return value.unsqueeze(2) if value.ndim == 4 else value

    @staticmethod
    def per_frame(fn: Callable[[torch.Tensor], torch.Tensor], video: torch.Tensor) -> torch.Tensor:
        """Apply an image network to every frame: ``[B, C, F, H, W]`` → ``[B, C', F, H, W]``."""
        b, _, f = video.shape[:3]
        return fn(video.transpose(1, 2).flatten(0, 1)).float().unflatten(0, (b, f)).transpose(1, 2)

    def model(self, name: str) -> Any:
        return self.builder.model(name)


__all__ = [
    "BuildContext",
    "FrozenModels",
    "expand_batch",
    "misc_transform",
    "needs_message",
    "repeat_frames",
    "video_tensor",
]
