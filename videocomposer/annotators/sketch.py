"""Sketch condition: PiDiNet edges cleaned by the sketch-simplification GAN (Simo-Serra et al. 2018).

The pipeline's sketch is ``1 − cleaner(1 − pidinet(frames))``: PiDiNet gives white edges on black,
the cleaner expects (and returns) dark lines on white, so the edges are inverted in and out and the
result is clean white lines on black, ``[F, 1, H, W]`` in ``[0, 1]``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch
from torch import nn

from ..checkpoints import load_official
from ..config import ArchitectureConfig
from .frames import check_images, module_device, run_in_chunks
from .pidinet import PiDiNet

# Normalisation of the cleaner's input (statistics of its training sketches).
SKETCH_MEAN = 0.9664114577640158
SKETCH_STD = 0.0858381272736797

# (in, out, kernel, stride, transposed) of the 23 convolutions; each is followed by a ReLU except
# the last, which is followed by a sigmoid. Encoder ↓8, bottleneck at 1024 channels, decoder ↑8.
_CLEANER_LAYERS = (
    (1, 48, 5, 2, False), (48, 128, 3, 1, False), (128, 128, 3, 1, False), (128, 128, 3, 2, False),
    (128, 256, 3, 1, False), (256, 256, 3, 1, False), (256, 256, 3, 2, False),
    (256, 512, 3, 1, False), (512, 1024, 3, 1, False),
    (1024, 1024, 3, 1, False), (1024, 1024, 3, 1, False), (1024, 1024, 3, 1, False),
    (1024, 512, 3, 1, False), (512, 256, 3, 1, False),
    (256, 256, 4, 2, True), (256, 256, 3, 1, False), (256, 128, 3, 1, False),
    (128, 128, 4, 2, True), (128, 128, 3, 1, False), (128, 48, 3, 1, False),
    (48, 48, 4, 2, True), (48, 24, 3, 1, False), (24, 1, 3, 1, False),
)  # fmt: skip


# Every hidden width is a multiple of this (gcd of 48, 128, ..., 1024, 24), so width divisors must divide it.
_HIDDEN_WIDTH_GCD = math.gcd(*(ch for spec in _CLEANER_LAYERS for ch in spec[:2] if ch != 1))


@dataclass
class SketchCleanerConfig(ArchitectureConfig):
    """Architecture of :class:`SketchCleaner`. The default (:meth:`official`) is the network of
    ``sketch_simplification_gan.pth`` (44,387,249 parameters).

    ``width_divisor`` divides every hidden channel count (48, 128, 256, 512, 1024, 24); the one-channel
    input and output stay, as do the layer count, kernels and strides. It must divide 8, the largest
    common divisor of the hidden widths: 1 (official), 2, 4 or 8 (~1/64 of the parameters).
    """

    width_divisor: int = 1

    def __post_init__(self) -> None:
        divisor = self.width_divisor
        if isinstance(divisor, bool) or not isinstance(divisor, int) or divisor < 1 or _HIDDEN_WIDTH_GCD % divisor:
            valid = [d for d in range(1, _HIDDEN_WIDTH_GCD + 1) if _HIDDEN_WIDTH_GCD % d == 0]
            raise ValueError(
                f"invalid SketchCleanerConfig: width_divisor must be one of {valid} "
                f"(it divides every hidden channel count), got {divisor!r}"
            )

    @classmethod
    def tiny(cls) -> SketchCleanerConfig:
        """The same 23 layers at 1/8 of the width (~0.7 M parameters), for tests (no weights exist)."""
        return cls(width_divisor=_HIDDEN_WIDTH_GCD)

    def layer_specs(self) -> list[tuple[int, int, int, int, bool]]:
        """``(in, out, kernel, stride, transposed)`` of the 23 convolutions, hidden widths divided."""

        def width(ch: int) -> int:
            return ch if ch == 1 else ch // self.width_divisor

        return [
            (width(i), width(o), kernel, stride, transposed) for i, o, kernel, stride, transposed in _CLEANER_LAYERS
        ]


def _cleaner_layer(in_ch: int, out_ch: int, kernel: int, stride: int, transposed: bool) -> nn.Module:
    if transposed:  # exact ×2 upsampling: kernel 4, stride 2, padding 1
        return nn.ConvTranspose2d(in_ch, out_ch, kernel, stride=stride, padding=1)
    return nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2)


class SketchCleaner(nn.Module):
    """Sketch-simplification GAN generator (fully convolutional; 44,387,249 parameters at the official
    :class:`SketchCleanerConfig`, the default).

    ``forward(sketches)``: ``[B, 1, H, W]`` float in ``[0, 1]``, dark lines on white, ``H`` and
    ``W`` multiples of 8; normalises ``(x − SKETCH_MEAN) / SKETCH_STD`` itself → cleaned sketch
    ``[B, 1, H, W]`` in ``(0, 1)``, dark lines on white, in the module's dtype.
    State-dict keys ``layers.{0, 2, ..., 44}.{weight, bias}`` as in ``sketch_simplification_gan.pth``.
    """

    def __init__(self, config: SketchCleanerConfig | None = None):
        super().__init__()
        self.config = config or SketchCleanerConfig()
        modules: list[nn.Module] = []
        for spec in self.config.layer_specs():
            modules += [_cleaner_layer(*spec), nn.ReLU()]
        modules[-1] = nn.Sigmoid()
        self.layers = nn.Sequential(*modules)

    def forward(self, sketches: torch.Tensor) -> torch.Tensor:
        check_images(sketches, "sketches", channels=1, multiple_of=8, why_multiple="the network downsamples by 8")
        x = (sketches - SKETCH_MEAN) / SKETCH_STD
        return self.layers(x.to(self.layers[0].weight.dtype))

    @classmethod
    def from_official(
        cls,
        path: str | os.PathLike,
        config: SketchCleanerConfig | None = None,
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> SketchCleaner:
        """Load ``sketch_simplification_gan.pth`` (the file, or the folder holding it), strictly.

        ``config`` defaults to the official architecture; a smaller one loads files written at that width.
        """
        return load_official(lambda: cls(config), path, "sketch_cleaner", device=device, dtype=dtype)


def edges_to_sketch(cleaner: SketchCleaner, edges: torch.Tensor) -> torch.Tensor:
    """``1 − cleaner(1 − edges)``: PiDiNet edges ``[B, 1, H, W]`` in [0, 1] → white-on-black sketch, same shape."""
    return 1.0 - cleaner(1.0 - edges)


def extract_sketch(pidinet: PiDiNet, cleaner: SketchCleaner, frames: torch.Tensor, chunk_size: int = 1) -> torch.Tensor:
    """The ``sketch`` condition of every frame.

    ``frames``: RGB ``[F, 3, H, W]`` float in ``[0, 1]`` (any device; ``H, W`` multiples of 8).
    Runs ``chunk_size`` frames at a time through PiDiNet and the cleaner (each on its own device)
    and returns ``[F, 1, H, W]`` in ``[0, 1]`` (white lines on black) on the cleaner's device, in
    its dtype. ``chunk_size`` does not change the result.
    """
    check_images(frames, "frames", channels=3, multiple_of=8, why_multiple="the sketch cleaner downsamples by 8")
    cleaner_device = module_device(cleaner)
    return run_in_chunks(
        lambda x: edges_to_sketch(cleaner, pidinet(x).to(cleaner_device)), frames, chunk_size, module_device(pidinet)
    )


def single_sketch(sketch: torch.Tensor, num_frames: int | None = None) -> torch.Tensor:
    """The ``single_sketch`` condition: the first frame of ``sketch`` ``[F, 1, H, W]`` repeated.

    Returns ``[num_frames, 1, H, W]`` (``num_frames`` defaults to ``F``). For a sketch *image*, pass
    ``extract_sketch(pidinet, cleaner, image[None])`` and the clip's frame count.
    """
    if sketch.ndim != 4 or sketch.shape[1] != 1 or sketch.shape[0] == 0:
        raise ValueError(f"sketch must have shape [F, 1, H, W] with F >= 1, got {list(sketch.shape)}")
    num_frames = sketch.shape[0] if num_frames is None else num_frames
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    return sketch[:1].repeat(num_frames, 1, 1, 1)


__all__ = [
    "SKETCH_MEAN",
    "SKETCH_STD",
    "SketchCleaner",
    "SketchCleanerConfig",
    "edges_to_sketch",
    "extract_sketch",
    "single_sketch",
]
