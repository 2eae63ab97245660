"""Data-dependent initialisation of the STC condition encoders for a UNet trained from scratch.

LSUV ("layer-sequential unit variance", Mishkin & Matas, ICLR 2016) applied to each condition's conv
stem: on a batch of real condition inputs, every stem conv in turn is rescaled so that its output has
unit standard deviation. Why: with PyTorch's default init each stem shrinks its input's variation by
about 3x per conv, so the part of the encoder output that depends on the condition is tiny (measured on
the toy model's start weights: std 0.05 across first frames, against a latent of std 1). A from-scratch
UNet then needs thousands of steps just to amplify that signal before it can use the condition; Adam's
step size is fixed, so weights that must grow 20x grow slowly. After calibration the conditions reach
the UNet at the latent's scale from step 0. No library offers LSUV for these modules, and it is a few
lines: written here.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from einops import rearrange
from torch import nn

from ..models.stc import pool_to
from ..models.unet import VideoComposerUNet


def _rescale(conv: nn.Conv2d, output: torch.Tensor) -> float:
    """Divide ``conv``'s weight and bias by the std of its ``output``; returns the factor applied."""
    factor = 1.0 / float(output.std().clamp(min=1e-8))
    conv.weight.mul_(factor)
    if conv.bias is not None:
        conv.bias.mul_(factor)
    return factor


@torch.no_grad()
def calibrate_condition_stems(
    unet: VideoComposerUNet, inputs: Mapping[str, torch.Tensor], pooled_size: tuple[int, int]
) -> dict[str, float]:
    """Rescale the stem convs of each condition in ``inputs`` in place (LSUV, see the module docstring).

    Args:
        unet: the UNet whose encoders are calibrated (freshly initialised; its other weights are untouched).
        inputs: condition tensors by UNet keyword (``local_image``, ``motion``, ...), ``[B, C, F, H, W]`` as
            the UNet takes them (value ranges in each condition's record); a few clips are enough.
        pooled_size: the stem's pooled size for these inputs (the UNet uses 4x the latent size).
    Returns:
        ``{name: std of the encoder output after calibration}``, for the record.
    """
    stems = {cond.name: getattr(unet, cond.stc_encoder.stem_key) for cond in unet.stc_conditions}
    unknown = sorted(set(inputs) - set(stems))
    if unknown:
        raise ValueError(f"no STC encoder for {unknown}; this UNet has {sorted(stems)}")
    result = {}
    for name, video in inputs.items():
        conv_in, act_in, _, down1, act1, down2 = stems[name]
        frames = rearrange(video.float(), "b c f h w -> (b f) c h w")
        h = conv_in(frames)
        _rescale(conv_in, h)
        h = pool_to(act_in(conv_in(frames)), pooled_size)
        _rescale(down1, down1(h))
        h = act1(down1(h))
        _rescale(down2, down2(h))
        result[name] = float(stems[name](video.float(), pooled_size).std())
    return result
