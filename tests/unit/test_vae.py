"""Unit tests of the VAE wrapper: config, conversion, loading errors, chunked video encode/decode."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from videocomposer.checkpoints import WeightFileError
from videocomposer.models.vae import VAEConfig, build_vae, convert_vae_state_dict, decode_video, encode_video, load_vae

TINY = VAEConfig(ch=32, ch_mult=[1, 2], resolution=16)


@pytest.fixture(scope="module")
def tiny_vae():
    torch.manual_seed(0)
    return build_vae(TINY).eval()


def test_config_dicts_round_trip():
    official = VAEConfig.official()
    assert official.ch == 128 and official.ch_mult == [1, 2, 4, 4] and official.resolution == 256
    assert VAEConfig.from_dict(json.loads(json.dumps(official.to_dict()))) == official
    nested = {
        "ddconfig": {k: v for k, v in dataclasses.asdict(TINY).items() if k not in ("embed_dim", "scale_factor")},
        "embed_dim": 4,
        "scale_factor": 0.18215,
        "constructor": "ignored next to ddconfig",
    }
    assert VAEConfig.from_dict(nested) == TINY
    with pytest.raises(ValueError, match=r"unknown VAEConfig keys \['chanels'\]"):
        VAEConfig.from_dict({"chanels": 3})
    with pytest.raises(ValueError, match="embed_dim == z_channels"):
        VAEConfig(embed_dim=8).diffusers_config()


def test_diffusers_config_is_the_sd_vae():
    config = VAEConfig.official().diffusers_config()
    assert config["block_out_channels"] == [128, 256, 512, 512]
    assert config["layers_per_block"] == 2 and config["latent_channels"] == 4
    assert config["sample_size"] == 256 and config["scaling_factor"] == 0.18215


def test_encode_chunk_size_does_not_change_latents(tiny_vae):
    video = torch.rand(2, 3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        results = [
            encode_video(tiny_vae, video, chunk, generator=torch.Generator().manual_seed(7)) for chunk in (1, 2, 4, 6)
        ]
    assert results[0].shape == (2, 4, 3, 8, 8)
    for other in results[1:]:
        torch.testing.assert_close(other, results[0], rtol=0, atol=1e-6)
    assert not torch.allclose(results[0], encode_video(tiny_vae, video, 6, generator=torch.Generator().manual_seed(8)))


def test_decode_chunk_size_does_not_change_frames(tiny_vae):
    latents = torch.randn(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        results = [decode_video(tiny_vae, latents, chunk) for chunk in (1, 4, 16)]
    assert results[0].shape == (2, 3, 3, 16, 16)
    for other in results[1:]:
        torch.testing.assert_close(other, results[0], rtol=0, atol=1e-5)


def test_latents_layout_keeps_frames_apart(tiny_vae):
    """Frame f of sample b is encoded from video[b, f] alone: [B, F, 3, H, W] -> [B, 4, F, h, w]."""
    video = torch.rand(2, 3, 3, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
    noise = torch.zeros(2, 4, 3, 8, 8)
    with torch.no_grad():
        latents = encode_video(tiny_vae, video, 2, noise=noise)
        single = encode_video(tiny_vae, video[1:2, 2:3], 1, noise=noise[1:2, :, 2:3])
    torch.testing.assert_close(latents[1:2, :, 2:3], single, rtol=0, atol=1e-6)


def test_input_checks(tiny_vae):
    with pytest.raises(ValueError, match=r"video must be \[B, F, 3, H, W\]"):
        encode_video(tiny_vae, torch.zeros(2, 3, 16, 16))
    with pytest.raises(ValueError, match="noise must be"):
        encode_video(tiny_vae, torch.zeros(1, 2, 3, 16, 16), noise=torch.zeros(1, 4, 8, 8))
    with pytest.raises(ValueError, match="chunk_size must be a positive"):
        encode_video(tiny_vae, torch.zeros(1, 2, 3, 16, 16), chunk_size=0)
    with pytest.raises(ValueError, match=r"latents must be \[B, 4, F, h, w\]"):
        decode_video(tiny_vae, torch.zeros(1, 3, 2, 8, 8))


def test_missing_file_names_file_folder_and_source(tmp_path):
    path = tmp_path / "v2-1_512-ema-pruned.ckpt"
    with pytest.raises(WeightFileError) as info:
        load_vae(path)
    message = str(info.value)
    assert "v2-1_512-ema-pruned.ckpt" in message and str(tmp_path) in message and "modelscope" in message


def test_non_vae_weights_are_rejected(tmp_path):
    with pytest.raises(WeightFileError, match="map onto AutoencoderKL"):
        convert_vae_state_dict({"input_blocks.0.0.weight": torch.zeros(1)}, TINY, source="unet.pth")
    from safetensors.torch import save_file

    path = tmp_path / "wrong.safetensors"
    save_file({"encoder.conv_in.weight": torch.zeros(32, 3, 3, 3)}, str(path))
    with pytest.raises(WeightFileError, match="missing keys"):
        load_vae(path, TINY)
