"""The pipeline's own sampling path reproduces the reference's guided DDIM runs (fixtures: diffusion/ddim).

The tiny fixture UNet (``unet/``) is put into a :class:`VideoComposerPipeline`; each run of
``diffusion/config.json`` is generated with ``latents = xT`` and the run's conditions precomputed from
``unet/inputs.safetensors``, through ``__call__`` (check_inputs, condition assembly, the guided passes,
the progress bar and callback). Everything — runs, conditions, steps, scale, eta — comes from the fixtures.
"""

from __future__ import annotations

import pytest
from conftest import family_config, load_family

from videocomposer.models.unet import UNetConfig, VideoComposerUNet
from videocomposer.pipelines import VideoComposerPipeline

DDIM_BOUND = 5e-3  # fixture README: ddim.*.x_final
RUNS = [run["name"] for run in family_config("diffusion").get("ddim", {}).get("runs", [])]


@pytest.fixture(scope="module")
def fixture_pipeline():
    unet_family = load_family("unet")
    unet = VideoComposerUNet(UNetConfig.from_reference_kwargs(unet_family.config["constructor_kwargs"]))
    weights = {k: v.float() for k, v in unet_family.tensors(unet_family.config["weights"]["file"]).items()}
    unet.load_state_dict(weights, strict=True)
    inputs = unet_family.tensors("inputs.safetensors")
    unet.set_zero_y(inputs["zero_y"])
    pipe = VideoComposerPipeline(unet.eval())
    pipe.set_progress_bar_config(disable=True)
    return pipe, inputs


@pytest.mark.parametrize("run_name", RUNS)
def test_pipeline_reproduces_reference_ddim(fixture_pipeline, run_name):
    pipe, inputs = fixture_pipeline
    family = load_family("diffusion")
    ddim = family.config["ddim"]
    run = next(r for r in ddim["runs"] if r["name"] == run_name)
    tensors = family.tensors("ddim.safetensors")
    x_T = tensors["xT"]
    _, _, frames, h, w = x_T.shape
    seen_timesteps = []

    out = pipe(
        conditions=run["cond_keys"],
        precomputed_conditions={k: inputs[k] for k in run["cond_keys"]},
        latents=x_T,
        num_frames=frames,
        height=h * pipe.vae_scale_factor,
        width=w * pipe.vae_scale_factor,
        num_inference_steps=ddim["ddim_timesteps"],
        guidance_scale=ddim["guide_scale"],
        eta=ddim["eta"],
        scheduler="ddim",
        output_type="latent",
        callback_on_step_end=lambda p, i, t, kw: seen_timesteps.append(t),
    )

    expected = tensors[f"{run_name}.x_final"]
    err = (out.frames - expected).abs().max().item()
    assert err <= DDIM_BOUND, f"{run_name}: max |x_final - reference| = {err:.3g} > {DDIM_BOUND}"
    if f"{run_name}.timesteps" in tensors:
        assert seen_timesteps == tensors[f"{run_name}.timesteps"].tolist()
    assert sorted(out.conditions) == sorted(run["cond_keys"])
