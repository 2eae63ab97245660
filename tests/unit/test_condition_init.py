"""LSUV calibration of the STC condition encoders (videocomposer.training.condition_init)."""

from __future__ import annotations

import pytest
import torch

from videocomposer.models.unet import UNetConfig, VideoComposerUNet
from videocomposer.training.condition_init import calibrate_condition_stems


def tiny_unet() -> VideoComposerUNet:
    torch.manual_seed(0)
    config = UNetConfig(
        dim=32,
        context_dim=32,
        dim_mult=(1, 2),
        num_heads=2,
        head_dim=16,
        num_res_blocks=1,
        attn_scales=(),
        video_compositions=("text", "local_image", "motion"),
    )
    return VideoComposerUNet(config, zero_y=torch.zeros(1, 77, 32))


def test_each_stem_outputs_unit_std_and_nothing_else_changes():
    unet = tiny_unet()
    before = {k: v.clone() for k, v in unet.state_dict().items()}
    generator = torch.Generator().manual_seed(1)
    inputs = {
        "local_image": torch.rand(3, 3, 4, 32, 32, generator=generator),
        "motion": 0.05 * torch.randn(3, 2, 4, 32, 32, generator=generator),
    }
    with torch.no_grad():
        raw = {n: float(getattr(unet, f"{n}_embedding")(v, (32, 32)).std()) for n, v in inputs.items()}
    assert all(abs(std - 1.0) > 0.5 for std in raw.values()), raw  # default init is far from unit std
    stds = calibrate_condition_stems(unet, inputs, (32, 32))
    with torch.no_grad():
        for name, video in inputs.items():
            stem = getattr(unet, f"{name}_embedding")
            assert float(stem(video, (32, 32)).std()) == pytest.approx(1.0, rel=1e-3)
            frames = video.transpose(1, 2).flatten(0, 1)  # [(b f), c, h, w]
            assert float(stem[0](frames).std()) == pytest.approx(1.0, rel=1e-3)  # each conv in turn, the first too
    assert stds == pytest.approx({"local_image": 1.0, "motion": 1.0}, rel=1e-3)
    changed = {k for k, v in unet.state_dict().items() if not torch.equal(v, before[k])}
    assert changed and all(k.split(".")[0] in ("local_image_embedding", "motion_embedding") for k in changed)


def test_an_input_without_an_encoder_is_an_error():
    with pytest.raises(ValueError, match=r"no STC encoder for \['depth'\]"):
        calibrate_condition_stems(tiny_unet(), {"depth": torch.rand(1, 1, 4, 32, 32)}, (32, 32))
