"""The SD-2.1 VAE against the reference fixtures (``autoencoder/``).

Sizes, chunk sizes, seed and the config come from ``config.json``; bounds are the fixture README's
(``bounds.py``).
"""

from __future__ import annotations

import json

import pytest
import torch
from conftest import load_family
from einops import rearrange

from videocomposer.checkpoints import load_strict
from videocomposer.models.vae import (
    VAEConfig,
    build_vae,
    convert_vae_state_dict,
    decode_video,
    encode_posterior,
    encode_video,
    load_vae,
)

from .bounds import BOUNDS

LATENT_BOUND = BOUNDS["autoencoder.latents"]
DECODED_BOUND = BOUNDS["autoencoder.decoded"]


def max_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
    return (a - b).abs().max().item()


@pytest.fixture(scope="module")
def family():
    return load_family("autoencoder")


@pytest.fixture(scope="module")
def io(family):
    return family.tensors("io.safetensors")


@pytest.fixture(scope="module")
def vae(family):
    return load_vae(family.file("weights.safetensors"), family.config)


def test_official_layout_loads_on_meta(family):
    """The official ddconfig builds (shapes only) and the official key layout converts onto it completely."""
    config = VAEConfig.from_dict(
        {
            "ddconfig": family.config["official_ddconfig"],
            "embed_dim": family.config["embed_dim"],
            "scale_factor": family.config["scale_factor"],
        }
    )
    assert config == VAEConfig.official()
    layout = json.loads(family.file("official_state_dict_layout.json").read_text())["tensors"]
    checkpoint = {f"first_stage_model.{k}": torch.empty(v["shape"], device="meta") for k, v in layout.items()}
    checkpoint["model.diffusion_model.input_blocks.0.0.weight"] = torch.empty(320, 4, 3, 3, device="meta")
    with torch.device("meta"):
        model = build_vae(config)
    converted = convert_vae_state_dict(checkpoint, config)
    assert len(converted) == len(layout) == len(model.state_dict())
    load_strict(model, converted, "official_state_dict_layout.json")  # every key mapped, every shape equal


def test_full_sd_checkpoint_loads_like_flat_weights(family, vae, tmp_path):
    """A ``{'state_dict': {'first_stage_model.*', other keys}}`` pickle (the v2-1_512-ema-pruned.ckpt form)."""
    flat = family.tensors("weights.safetensors")
    wrapped = {f"first_stage_model.{k}": v for k, v in flat.items()}
    wrapped["model.diffusion_model.out.2.bias"] = torch.zeros(4)
    wrapped["cond_stage_model.model.ln_final.weight"] = torch.ones(8)
    path = tmp_path / "sd_checkpoint.ckpt"
    torch.save({"state_dict": wrapped, "global_step": 0}, path)
    from_ckpt = load_vae(path, family.config)
    ours = vae.state_dict()
    assert all(torch.equal(v, ours[k]) for k, v in from_ckpt.state_dict().items())


def test_posterior(family, vae, io):
    frames = rearrange(io["video"], "b f c h w -> (b f) c h w")
    with torch.no_grad():
        posterior = vae.encode(frames).latent_dist
        mean, std = encode_posterior(vae, io["video"], family.config["encode_chunk_size"])
    assert max_err(posterior.parameters, io["moments"]) <= LATENT_BOUND
    assert max_err(posterior.logvar, io["posterior_logvar"]) <= LATENT_BOUND
    assert max_err(mean, io["posterior_mean"]) <= LATENT_BOUND
    assert max_err(std, io["posterior_std"]) <= LATENT_BOUND


def test_latents_from_stored_eps(family, vae, io):
    noise = rearrange(io["eps"], "(b f) c h w -> b c f h w", b=io["video"].shape[0])
    with torch.no_grad():
        latents = encode_video(vae, io["video"], family.config["encode_chunk_size"], noise=noise)
    assert max_err(latents, io["latents"]) <= LATENT_BOUND


def test_latents_from_seeded_generator(family, vae, io):
    """One draw over all frames equals the reference's frame-by-frame draws from the seeded CPU RNG
    (torch fills normals in blocks of 16, so this holds when a frame's latent size is a multiple of 16)."""
    if io["eps"][0].numel() % 16:
        pytest.skip("per-frame latent size not a multiple of 16: frame-by-frame and whole-tensor draws differ")
    generator = torch.Generator().manual_seed(family.config["sample_seed"])
    with torch.no_grad():
        latents = encode_video(vae, io["video"], family.config["encode_chunk_size"], generator=generator)
    assert max_err(latents, io["latents"]) <= LATENT_BOUND


def test_decoded(family, vae, io):
    with torch.no_grad():
        decoded = decode_video(vae, io["latents"], family.config["decode_chunk_size"])
        from_mean = vae.decode(io["posterior_mean"]).sample
    assert max_err(decoded, io["decoded"]) <= DECODED_BOUND
    assert max_err(from_mean, io["decoded_from_mean"]) <= DECODED_BOUND
