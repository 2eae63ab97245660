"""Diffusion against the reference fixtures (``diffusion/``): schedule, loss, guided DDIM, toy sampler.

Everything (run names, guidances, step counts, guide scale, toy constants) comes from the fixture's
``config.json`` and tensor keys. Bounds are the fixture README's.
"""

from __future__ import annotations

import re

import pytest
import torch
from conftest import family_config, family_keys, load_family

from videocomposer.checkpoints import load_strict
from videocomposer.conditions import unconditional_rules
from videocomposer.diffusion import NoiseSchedule, ddim_timesteps, make_guidance_kwargs, q_sample, sample, training_loss
from videocomposer.models.unet import UNetConfig, VideoComposerUNet

from .bounds import BOUNDS, toy_sampler_bound

DIFFUSION = family_config("diffusion")
SCHEDULE_KEYS = family_keys("diffusion", "schedule.safetensors")
DDIM_RUNS = DIFFUSION.get("ddim", {}).get("runs", [])
TOY_RUNS = [
    k[: -len(".x_final")] for k in family_keys("diffusion", "toy_sampler.safetensors") if k.endswith(".x_final")
]


def schedule_from_config(config: dict) -> NoiseSchedule:
    """The ``linear_sd`` schedule with the step count and betas named in ``config.json``."""
    text = config["schedule"]["function"]
    start = re.search(r"init_beta=([0-9.eE+-]+)", text)
    end = re.search(r"last_beta=([0-9.eE+-]+)", text)
    assert "linear_sd" in text and start and end, f"unexpected schedule description: {text!r}"
    return NoiseSchedule.linear_sd(
        config["diffusion_ctor"]["num_timesteps"], float(start.group(1)), float(end.group(1))
    )


@pytest.fixture(scope="module")
def diffusion():
    return load_family("diffusion")


@pytest.fixture(scope="module")
def schedule(diffusion):
    return schedule_from_config(diffusion.config)


@pytest.fixture(scope="module")
def tiny_unet():
    """The fixture's tiny UNet (``unet/``) with its weights and ``zero_y``; also returns its inputs."""
    family = load_family("unet")
    inputs = family.tensors("inputs.safetensors")
    config = UNetConfig.from_reference_kwargs(family.config["constructor_kwargs"])
    model = VideoComposerUNet(config)
    load_strict(model, family.tensors("weights.safetensors"), family.file("weights.safetensors"))
    model.set_zero_y(inputs["zero_y"])
    return model.eval(), inputs


@pytest.mark.parametrize("key", SCHEDULE_KEYS)
def test_schedule_array(schedule, diffusion, key):
    expected = diffusion.tensors("schedule.safetensors")[key]
    ours = schedule.arrays()[key]
    assert ours.dtype == torch.float64 and ours.shape == expected.shape
    rel = ((ours - expected).abs() / expected.abs().clamp(min=1e-300)).max().item()
    assert rel <= BOUNDS["diffusion.schedule_relative"], f"{key}: max relative error {rel:.2e}"


def test_loss_from_stored_eps_pred(schedule, diffusion):
    """q_sample reproduces ``xt``; the loss of the stored UNet output reproduces ``loss``."""
    f = diffusion.tensors("loss.safetensors")
    fed = []

    def stored_unet(x_t, t):
        fed.append((x_t, t))
        return f["eps_pred"]

    loss = training_loss(stored_unet, schedule, f["x0"], f["t"], noise=f["noise"])
    assert (fed[0][0] - f["xt"]).abs().max().item() <= BOUNDS["diffusion.loss"]
    assert torch.equal(fed[0][1], f["t"])
    assert (q_sample(schedule, f["x0"], f["t"], f["noise"]) - f["xt"]).abs().max().item() <= BOUNDS["diffusion.loss"]
    assert loss.shape == f["loss"].shape
    assert (loss - f["loss"]).abs().max().item() <= BOUNDS["diffusion.loss"]


def test_loss_with_tiny_unet(schedule, diffusion, tiny_unet):
    model, inputs = tiny_unet
    f = diffusion.tensors("loss.safetensors")
    kwargs = {key: inputs[key] for key in diffusion.config["loss"]["model_kwargs"]}
    eps_pred = []

    def recording(x_t, t, **kw):
        eps_pred.append(model(x_t, t, **kw))
        return eps_pred[-1]

    with torch.no_grad():
        loss = training_loss(recording, schedule, f["x0"], f["t"], kwargs, noise=f["noise"])
    assert (eps_pred[0] - f["eps_pred"]).abs().max().item() <= BOUNDS["unet.outputs"]
    assert (loss - f["loss"]).abs().max().item() <= BOUNDS["diffusion.loss"]


@pytest.mark.parametrize("run", DDIM_RUNS, ids=[r["name"] for r in DDIM_RUNS])
def test_guided_ddim_run(schedule, diffusion, tiny_unet, run):
    model, inputs = tiny_unet
    cfg = diffusion.config["ddim"]
    f = diffusion.tensors("ddim.safetensors")
    cond, uncond = make_guidance_kwargs(
        inputs, inputs["zero_y"], run["cond_keys"], unconditional_rules(run["cond_keys"])
    )
    steps = []
    x_final = sample(
        model,
        f["xT"],
        cond,
        uncond,
        guidance_scale=cfg["guide_scale"],
        num_steps=cfg["ddim_timesteps"],
        schedule=schedule,
        eta=cfg["eta"],
        batched_cfg=False,
        callback=lambda i, t, x: steps.append((i, t, x.clone())),
    )

    expected_t = f[f"{run['name']}.timesteps"]
    assert [t for _, t, _ in steps] == expected_t.tolist() == run["timesteps"]
    assert torch.equal(ddim_timesteps(cfg["ddim_timesteps"], schedule.num_timesteps), expected_t)
    err = (x_final - f[f"{run['name']}.x_final"]).abs().max().item()
    assert err <= BOUNDS["diffusion.ddim_x_final"], f"{run['name']}: x_final max abs error {err:.2e}"
    per_step_key = f"{run['name']}.x_per_step"
    if per_step_key in f:  # entry 0 is x_T, entry i the latent fed to the model at step i
        fed = torch.stack([f["xT"]] + [x for _, _, x in steps[:-1]])
        err = (fed - f[per_step_key]).abs().max().item()
        assert err <= BOUNDS["diffusion.ddim_x_final"], f"{per_step_key}: max abs error {err:.2e}"


def toy_model(x: torch.Tensor, t: torch.Tensor, s: float, c: float) -> torch.Tensor:
    """The fixture's analytic ε model ``s·0.1·x + c·t/1000`` (t as float, broadcast per sample)."""
    return s * 0.1 * x + c * (t.float() / 1000).view(-1, *([1] * (x.ndim - 1)))


def toy_settings(config: dict) -> tuple[list[dict], float]:
    """``([guided cond, guided uncond, unguided], guide_scale)`` parsed from ``config['toy_model']``."""
    text = config["toy_model"]
    number = r"([-+0-9.eE]+)"
    kwargs = [
        dict(s=float(s), c=float(c))
        for s, c in re.findall(rf"\{{\s*s\s*:\s*{number}\s*,\s*c\s*:\s*{number}\s*\}}", text)
    ]
    scale = re.search(rf"guide_scale\s*=\s*{number}", text)
    assert len(kwargs) == 3 and scale, f"unexpected toy_model description: {text!r}"
    return kwargs, float(scale.group(1))


def ddim_steps_for(timesteps: list[int], num_train_timesteps: int) -> int:
    """The ``ddim_timesteps`` argument that yields this timestep list. Not always its length: the
    reference strides by ``T // S``, so e.g. S = 3 gives 4 timesteps; every S with the same list has
    the same stride, hence the same sampler."""
    matching = [
        s for s in range(1, num_train_timesteps + 1) if ddim_timesteps(s, num_train_timesteps).tolist() == timesteps
    ]
    assert matching, f"no DDIM step count gives the timesteps {timesteps}"
    return matching[0]


@pytest.mark.parametrize("run", TOY_RUNS)
def test_toy_sampler_run(schedule, diffusion, run):
    f = diffusion.tensors("toy_sampler.safetensors")
    (cond, uncond, unguided), scale = toy_settings(diffusion.config)
    guided = not run.startswith("unguided")
    step_lists = {name: ts for name, ts in diffusion.config["toy_timesteps"].items() if run.endswith("_" + name)}
    assert len(step_lists) == 1, f"no toy_timesteps entry for run {run!r}"
    (timesteps,) = step_lists.values()

    seen = []
    x_final = sample(
        toy_model,
        f["xT"],
        cond if guided else unguided,
        uncond if guided else None,
        guidance_scale=scale if guided else None,
        num_steps=ddim_steps_for(timesteps, schedule.num_timesteps),
        schedule=schedule,
        callback=lambda i, t, x: seen.append(t),
    )
    assert seen == timesteps
    if f"{run}.timesteps" in f:
        assert f[f"{run}.timesteps"].tolist() == timesteps
    err = (x_final - f[f"{run}.x_final"]).abs().max().item()
    bound = toy_sampler_bound(len(timesteps))
    assert err <= bound, f"{run}: max abs error {err:.2e} (bound {bound:g} for {len(timesteps)} steps)"
