"""Where a pipeline's networks run and how: devices, offloading of the frozen encoders, autocast, compile."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import torch

#: The frozen networks that build conditions (offloaded by :meth:`DeviceOptionsMixin.enable_encoder_offload`).
FROZEN_ENCODERS = ("clip", "midas", "pidinet", "sketch_cleaner")
PipelineT = TypeVar("PipelineT", bound="DeviceOptionsMixin")


class DeviceOptionsMixin:
    """Devices and memory/speed options of :class:`~videocomposer.pipelines.VideoComposerPipeline`."""

    unet: torch.nn.Module
    offload_device: torch.device | None
    autocast_dtype: torch.dtype | None
    _unet_forward: Callable[..., torch.Tensor]
    _progress_bar_config: dict[str, Any]
    components: Callable[[], dict[str, torch.nn.Module]]  # the loaded networks by name

    @property
    def device(self) -> torch.device:
        """The execution device (where the UNet is)."""
        return next(self.unet.parameters()).device

    def to(self: PipelineT, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> PipelineT:
        """Move every component (frozen encoders stay on the offload device when offloading is on)."""
        for name, module in self.components().items():
            target = self.offload_device if name in FROZEN_ENCODERS and self.offload_device is not None else device
            kwargs = {k: v for k, v in (("device", target), ("dtype", dtype)) if v is not None}
            if kwargs:
                module.to(**kwargs)
        return self

    def enable_encoder_offload(self, offload_device: torch.device | str = "cpu") -> None:
        """Keep CLIP and the annotators on ``offload_device``; they visit the UNet's device only while they run."""
        self.offload_device = torch.device(offload_device)
        for name in FROZEN_ENCODERS:
            if getattr(self, name) is not None:
                getattr(self, name).to(self.offload_device)

    def disable_encoder_offload(self) -> None:
        self.offload_device = None
        self.to(self.device)

    def enable_autocast(self, dtype: torch.dtype = torch.float16) -> None:
        """Run the UNet and the VAE decoder under autocast in ``dtype`` on accelerators (no effect on CPU)."""
        if dtype not in (torch.float16, torch.bfloat16):
            raise ValueError(f"autocast dtype must be torch.float16 or torch.bfloat16, got {dtype}")
        self.autocast_dtype = dtype

    def disable_autocast(self) -> None:
        self.autocast_dtype = None

    def enable_compile(self, **compile_kwargs: Any) -> None:
        """Denoise with ``torch.compile(unet, **compile_kwargs)`` (compiles on the first call)."""
        self._unet_forward = torch.compile(self.unet, **compile_kwargs)

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        """tqdm options of the denoising bar, e.g. ``disable=True``."""
        self._progress_bar_config = dict(kwargs)

    def _autocast(self) -> contextlib.AbstractContextManager:
        device = self.device
        if self.autocast_dtype is None or device.type == "cpu":
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)

    @contextlib.contextmanager
    def _encoders_on_device(self) -> Iterator[None]:
        """With offloading on: move the frozen encoders to the execution device for the block, then back."""
        if self.offload_device is None:
            yield
            return
        encoders = [getattr(self, n) for n in FROZEN_ENCODERS if getattr(self, n) is not None]
        for module in encoders:
            module.to(self.device)
        try:
            yield
        finally:
            for module in encoders:
                module.to(self.offload_device)
