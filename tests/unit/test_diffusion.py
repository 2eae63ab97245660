"""Unit tests of the diffusion package: schedule, loss, guidance kwargs, batched CFG, samplers."""

from __future__ import annotations

import pytest
import torch

from videocomposer.diffusion import (
    DDIMSampler,
    GuidedDenoiser,
    NestedGuidedDenoiser,
    NoiseSchedule,
    check_noise_correlation,
    ddim_timesteps,
    frame_guidance_scales,
    frame_noise,
    loss_weights,
    make_guidance_kwargs,
    make_sampler,
    mix_frame_noise,
    nested_guidance_kwargs,
    q_sample,
    sample,
    sample_timesteps,
    training_loss,
    training_target,
    x0_and_eps,
)
from videocomposer.diffusion.schedule import ZERO_SNR_ALPHA_CUMPROD
from videocomposer.models.unet import UNetConfig, VideoComposerUNet

SCHEDULE = NoiseSchedule.linear_sd()
ZERO_SNR = SCHEDULE.rescaled_to_zero_terminal_snr()
#: The reference's unconditional pass: the text becomes the empty caption, the style embedding zeros.
RULES = {"y": "empty_caption", "image": "zeros"}


def rel_dist(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


def toy_model(x: torch.Tensor, t: torch.Tensor, s: float, c: float) -> torch.Tensor:
    """The reference fixtures' analytic ε model ``s·0.1·x + c·t/1000``."""
    return s * 0.1 * x + c * (t.float() / 1000).view(-1, *([1] * (x.ndim - 1)))


# Data x_0 ~ N(MU, S0²) per element: its exact ε and the exact probability-flow ODE solution are known.
MU, S0 = 0.7, 0.5


def gaussian_data_model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    a = SCHEDULE.gather("alphas_cumprod", t, x)
    return (x - a.sqrt() * MU) * (1 - a).sqrt() / (a * S0**2 + 1 - a)


def gaussian_data_v_model(schedule: NoiseSchedule):
    """The exact v of Gaussian data on ``schedule``: ``sqrt(ᾱ)·ε − sqrt(1 − ᾱ)·E[x_0 | x_t]``, in float64."""

    def model(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        a = schedule.alphas_cumprod[t].view(-1, *([1] * (x.ndim - 1)))
        x = x.double()
        x0 = MU + a.sqrt() * S0**2 * (x - a.sqrt() * MU) / (a * S0**2 + 1 - a)
        eps = (x - a.sqrt() * MU) * (1 - a).sqrt() / (a * S0**2 + 1 - a)
        return (a.sqrt() * eps - (1 - a).sqrt() * x0).float()

    return model


def gaussian_data_ode_solution(
    x_T: torch.Tensor, t_start: int, alpha_end: float, schedule: NoiseSchedule = SCHEDULE
) -> torch.Tensor:
    """The probability-flow ODE maps x at ᾱ_start to ``sqrt(ᾱ)·MU + sqrt(ᾱ·S0² + 1 − ᾱ)·z`` with z fixed."""
    a = schedule.alphas_cumprod[t_start].item()
    z = (x_T.double() - a**0.5 * MU) / (a * S0**2 + 1 - a) ** 0.5
    return (alpha_end**0.5 * MU + (alpha_end * S0**2 + 1 - alpha_end) ** 0.5 * z).float()


# ----------------------------------------------------------------------------- schedule and loss


def test_linear_sd_sanity_values():
    ac = SCHEDULE.alphas_cumprod
    assert SCHEDULE.betas[0].item() == pytest.approx(0.00085, rel=1e-12)
    assert SCHEDULE.betas[-1].item() == pytest.approx(0.012, rel=1e-12)
    for t, value in {0: 0.99915, 1: 0.998296, 981: 0.0057755, 999: 0.0046601}.items():
        assert ac[t].item() == pytest.approx(value, rel=1e-4)


def test_zero_terminal_snr_rescaling_follows_lin_et_al():
    """Algorithm 1 of Lin et al. (2024), computed here from SD's betas: sqrt(ᾱ) shifted to end at 0 and scaled
    to keep its first value; the last ᾱ is 2⁻²⁴ (diffusers' stand-in for 0)."""
    sqrt_ac = torch.cumprod(1.0 - torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2, 0).sqrt()
    expected = ((sqrt_ac - sqrt_ac[-1]) * sqrt_ac[0] / (sqrt_ac[0] - sqrt_ac[-1])) ** 2
    torch.testing.assert_close(ZERO_SNR.alphas_cumprod[:-1], expected[:-1], rtol=1e-9, atol=0)
    assert ZERO_SNR.alphas_cumprod[-1].item() == pytest.approx(ZERO_SNR_ALPHA_CUMPROD, rel=1e-9)
    assert ZERO_SNR.alphas_cumprod[0].item() == pytest.approx(SCHEDULE.alphas_cumprod[0].item(), rel=1e-12)
    assert torch.all(ZERO_SNR.alphas_cumprod[1:] < ZERO_SNR.alphas_cumprod[:-1])
    assert torch.isfinite(torch.stack(list(ZERO_SNR.arrays().values()))).all()
    assert ZERO_SNR.zero_terminal_snr and not SCHEDULE.zero_terminal_snr
    assert NoiseSchedule.for_training(True).zero_terminal_snr and not NoiseSchedule.for_training().zero_terminal_snr


def test_v_prediction_target_and_inversion():
    """v = sqrt(ᾱ)·ε − sqrt(1 − ᾱ)·x₀ (Salimans & Ho); from v, x₀ and ε come back exactly, also at ᾱ = 2⁻²⁴."""
    g = torch.Generator().manual_seed(4)
    x0, noise = torch.randn(3, 4, 2, 4, 4, generator=g), torch.randn(3, 4, 2, 4, 4, generator=g)
    for schedule in (SCHEDULE, ZERO_SNR):
        t = torch.tensor([0, 500, 999])
        a = schedule.alphas_cumprod[t].view(-1, 1, 1, 1, 1)
        v = training_target(schedule, x0, noise, t, "v_prediction")
        torch.testing.assert_close(
            v.double(), a.sqrt() * noise.double() - (1 - a).sqrt() * x0.double(), atol=1e-6, rtol=0
        )
        assert torch.equal(training_target(schedule, x0, noise, t), noise)
        x_t = q_sample(schedule, x0, t, noise)
        x0_hat, eps_hat = x0_and_eps(schedule, v, x_t, t, "v_prediction")
        torch.testing.assert_close(x0_hat, x0, atol=1e-5, rtol=0)
        torch.testing.assert_close(eps_hat, noise, atol=1e-5, rtol=0)
        assert (
            training_loss(lambda x_t, t, v=v: v, schedule, x0, t, noise=noise, prediction_type="v_prediction").max()
            < 1e-10
        )
    with pytest.raises(ValueError, match="prediction_type: expected one of epsilon, v_prediction, got 'sample'"):
        training_target(SCHEDULE, x0, noise, torch.tensor([0, 1, 2]), "sample")


def test_gather_casts_after_indexing():
    x = torch.zeros(2, 4, 3, 8, 8)
    got = SCHEDULE.gather("alphas_cumprod", torch.tensor([5, 981]), x)
    assert got.shape == (2, 1, 1, 1, 1) and got.dtype == torch.float32
    assert got.flatten().tolist() == SCHEDULE.alphas_cumprod[[5, 981]].float().tolist()


def test_q_sample_formula_and_checks():
    g = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(2, 4, 2, 4, 4, generator=g), torch.randn(2, 4, 2, 4, 4, generator=g)
    t = torch.tensor([0, 999])
    x_t = q_sample(SCHEDULE, x0, t, noise)
    ac = SCHEDULE.alphas_cumprod[t].view(-1, 1, 1, 1, 1)
    torch.testing.assert_close(
        x_t.double(), ac.sqrt() * x0.double() + (1 - ac).sqrt() * noise.double(), atol=1e-6, rtol=0
    )
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1000\)"):
        q_sample(SCHEDULE, x0, torch.tensor([0, 1000]), noise)
    with pytest.raises(ValueError, match="integer tensor of shape"):
        q_sample(SCHEDULE, x0, torch.tensor([0.5, 3.0]), noise)


def test_training_loss_oracle_and_zero_models():
    g = torch.Generator().manual_seed(1)
    x0 = torch.randn(3, 4, 2, 4, 4, generator=g)
    t = sample_timesteps(3, SCHEDULE, generator=g)
    noise = torch.randn(x0.shape, generator=g)

    def oracle(x_t, t):  # knows x0, so recovers ε exactly
        return (x_t - SCHEDULE.gather("sqrt_alphas_cumprod", t, x_t) * x0) / SCHEDULE.gather(
            "sqrt_one_minus_alphas_cumprod", t, x_t
        )

    assert training_loss(oracle, SCHEDULE, x0, t, noise=noise).max().item() < 1e-8
    zero_loss = training_loss(lambda x_t, t: torch.zeros_like(x_t), SCHEDULE, x0, t, noise=noise)
    torch.testing.assert_close(zero_loss, noise.pow(2).mean(dim=(1, 2, 3, 4)))
    # noise drawn from the generator when not given: reproducible
    a = training_loss(lambda x_t, t: torch.zeros_like(x_t), SCHEDULE, x0, t, generator=torch.Generator().manual_seed(3))
    b = training_loss(lambda x_t, t: torch.zeros_like(x_t), SCHEDULE, x0, t, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_sample_timesteps_uniform_range():
    t = sample_timesteps(4000, SCHEDULE, generator=torch.Generator().manual_seed(0))
    assert t.dtype == torch.long and t.min() >= 0 and t.max() <= 999
    assert 400 < t.float().mean().item() < 600


def test_loss_weights_follow_their_formulas():
    """Min-SNR-γ and capped v-prediction weights, computed here independently from the betas in float64."""
    t = torch.tensor([0, 1, 50, 150, 300, 600, 700, 999])
    alphas_cumprod = torch.cumprod(1.0 - torch.linspace(0.00085**0.5, 0.012**0.5, 1000, dtype=torch.float64) ** 2, 0)
    snr = alphas_cumprod[t] / (1 - alphas_cumprod[t])
    for gamma in (1.0, 5.0, 10.0):
        min_snr = torch.where(snr > gamma, gamma / snr, torch.ones_like(snr)).float()
        torch.testing.assert_close(loss_weights(SCHEDULE, t, "min_snr", gamma), min_snr, rtol=1e-5, atol=0)
        v_capped = torch.minimum(1 + 1 / snr, torch.full_like(snr, gamma)).float()
        torch.testing.assert_close(loss_weights(SCHEDULE, t, "v_capped", gamma), v_capped, rtol=1e-5, atol=0)
    assert loss_weights(SCHEDULE, t, "min_snr")[0] < 0.01 and loss_weights(SCHEDULE, t, "min_snr")[-1] == 1.0
    v = loss_weights(SCHEDULE, t, "v_capped", 10.0)
    assert 1.0 < v[0] < 1.001 and v[-1] == 10.0 and torch.all(v[1:] >= v[:-1])  # noisier: weighs more, up to γ
    assert torch.equal(loss_weights(SCHEDULE, t), torch.ones(len(t)))
    with pytest.raises(ValueError, match="loss weighting.*uniform, min_snr, v_capped"):
        loss_weights(SCHEDULE, t, "snr")
    with pytest.raises(ValueError, match="gamma"):
        loss_weights(SCHEDULE, t, "min_snr", 0.0)


# ----------------------------------------------------------------------------- guidance kwargs


def test_guidance_kwargs_follow_the_reference_rule():
    conditions = {
        "y": torch.randn(2, 77, 8),
        "image": torch.randn(2, 1, 8),
        "depth": torch.rand(2, 1, 3, 16, 16),
        "motion": torch.randn(2, 2, 3, 16, 16),
    }
    zero_y = torch.randn(1, 77, 8)
    cond, uncond = make_guidance_kwargs(conditions, zero_y, ["y", "image", "depth"], RULES)
    assert set(cond) == set(uncond) == {"y", "image", "depth"}
    assert cond["y"] is conditions["y"] and cond["image"] is conditions["image"]
    assert torch.equal(uncond["y"], zero_y.repeat(2, 1, 1))  # the empty-caption embedding, not zeros
    assert torch.equal(uncond["image"], torch.zeros(2, 1, 8))
    assert uncond["depth"] is conditions["depth"]  # spatial conditions unchanged


def test_guidance_kwargs_without_text_pass_no_y():
    conditions = {"y": torch.randn(1, 77, 8), "image": torch.randn(1, 1, 8), "depth": torch.rand(1, 1, 2, 8, 8)}
    cond, uncond = make_guidance_kwargs(conditions, None, ["image", "depth"], RULES)
    assert "y" not in cond and "y" not in uncond


def test_guidance_kwargs_errors():
    with pytest.raises(ValueError, match=r"\['sketch'\].*not among the conditions"):
        make_guidance_kwargs({"y": torch.zeros(1, 77, 8)}, torch.zeros(1, 77, 8), ["y", "sketch"], RULES)
    with pytest.raises(ValueError, match="zero_y"):
        make_guidance_kwargs({"y": torch.zeros(1, 77, 8)}, None, ["y"], RULES)
    with pytest.raises(ValueError, match=r"zero_y \(1, 77, 16\) must be \[1, L, D\] matching y \(1, 77, 8\)"):
        make_guidance_kwargs({"y": torch.zeros(1, 77, 8)}, torch.zeros(1, 77, 16), ["y"], RULES)
    with pytest.raises(ValueError, match=r"unconditional rules \{'y': 'drop'\}.*empty_caption"):
        make_guidance_kwargs({"y": torch.zeros(1, 77, 8)}, None, ["y"], {"y": "drop"})


# ----------------------------------------------------------------------------- batched CFG


def tensor_toy_model(calls: list):
    """ε depending per sample on x, t, the text and the style token (records each call's batch size)."""

    def model(x, t, y=None, image=None, depth=None):
        calls.append(x.shape[0])
        per_sample = y.mean(dim=(1, 2)) + image.sum(dim=(1, 2)) + depth.mean(dim=(1, 2, 3, 4))
        return 0.1 * x + (t.float() / 1000 * per_sample).view(-1, 1, 1, 1, 1)

    return model


def test_batched_cfg_equals_two_forwards_toy():
    g = torch.Generator().manual_seed(0)
    conditions = {
        "y": torch.randn(2, 77, 8, generator=g),
        "image": torch.randn(2, 1, 8, generator=g),
        "depth": torch.rand(2, 1, 3, 8, 8, generator=g),
    }
    cond, uncond = make_guidance_kwargs(conditions, torch.randn(1, 77, 8, generator=g), ["y", "image", "depth"], RULES)
    x_T = torch.randn(2, 4, 3, 8, 8, generator=g)
    separate_calls, batched_calls = [], []
    separate = sample(tensor_toy_model(separate_calls), x_T, cond, uncond, 9.0, 10, batched_cfg=False)
    batched = sample(tensor_toy_model(batched_calls), x_T, cond, uncond, 9.0, 10, batched_cfg=True)
    assert separate_calls == [2] * 20 and batched_calls == [4] * 10
    torch.testing.assert_close(batched, separate, rtol=0, atol=1e-6)
    default_calls = []
    sample(tensor_toy_model(default_calls), x_T, cond, uncond, 9.0, 2)  # CPU tensors: two forwards by default
    assert default_calls == [2] * 4


def test_batched_cfg_equals_two_forwards_unet():
    torch.manual_seed(0)
    config = UNetConfig(
        dim=32,
        dim_mult=(1, 2),
        num_heads=2,
        head_dim=16,
        num_res_blocks=1,
        attn_scales=(1.0,),
        context_dim=32,
        use_checkpoint=False,
    )
    model = VideoComposerUNet(config).eval()
    model.set_zero_y(torch.randn(1, 5, 32))
    g = torch.Generator().manual_seed(1)
    conditions = {
        "y": torch.randn(2, 5, 32, generator=g),
        "image": torch.randn(2, 1, 32, generator=g),
        "depth": torch.rand(2, 1, 2, 16, 16, generator=g),
    }
    cond, uncond = make_guidance_kwargs(conditions, model.zero_y, ["y", "image", "depth"], RULES)
    x_T = torch.randn(2, 4, 2, 8, 8, generator=g)
    with torch.no_grad():
        t = torch.full((2,), 981)
        assert (model(x_T, t, **cond) - model(x_T, t, **uncond)).abs().max() > 0.1  # guidance has an effect
        eps_separate = GuidedDenoiser(model, cond, uncond, 9.0, batched=False)(x_T, t)
        eps_batched = GuidedDenoiser(model, cond, uncond, 9.0, batched=True)(x_T, t)
    # float32 noise only: single forwards differ by ~2e-6, times the guidance scale 9
    torch.testing.assert_close(eps_batched, eps_separate, rtol=0, atol=1e-4)
    separate = sample(model, x_T, cond, uncond, 9.0, 3, batched_cfg=False)
    batched = sample(model, x_T, cond, uncond, 9.0, 3, batched_cfg=True)
    assert (batched - separate).abs().max() <= 1e-5 * separate.abs().max()  # measured 3e-6 relative


def test_per_frame_guidance_scales_guide_each_frame_with_its_own_scale():
    """frame_guidance_scales is a linear ramp [1, 1, F, 1, 1] from the minimum (frame 0) to the maximum; with it,
    every frame of the guided ε equals the single-scale guidance at that frame's scale (frame 0 at 1.0: the
    conditional ε alone), in both the two-forward and the batched form."""
    scales = frame_guidance_scales(3.0, 1.0, 5)
    assert scales.shape == (1, 1, 5, 1, 1) and scales.dtype == torch.float32
    torch.testing.assert_close(scales.flatten(), torch.tensor([1.0, 1.5, 2.0, 2.5, 3.0]), rtol=0, atol=0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 4, 5, 3, 3, generator=g)
    t = torch.tensor([500, 900])

    def per_sample(value: float) -> torch.Tensor:  # a batch tensor, so that the two passes can be batched
        return torch.full((2, 1, 1, 1, 1), value)

    cond, uncond = {"s": per_sample(1.0), "c": per_sample(0.5)}, {"s": per_sample(0.4), "c": per_sample(-0.2)}
    for batched in (False, True):
        ramped = GuidedDenoiser(toy_model, cond, uncond, scales, batched=batched)(x, t)
        for f, scale in enumerate(scales.flatten().tolist()):
            single = GuidedDenoiser(toy_model, cond, uncond, scale, batched=batched)(x, t)
            torch.testing.assert_close(ramped[:, :, f], single[:, :, f], rtol=0, atol=1e-6)
        torch.testing.assert_close(ramped[:, :, 0], toy_model(x, t, **cond)[:, :, 0], rtol=0, atol=1e-6)
        assert (ramped[:, :, -1] - toy_model(x, t, **cond)[:, :, -1]).abs().max() > 0.1


# ----------------------------------------------------------------------------- a scale per condition (nested)


def pass_model(calls: list):
    """ε = a known tensor per pass: 1 + 10·(text present) + 100·(motion present), plus 0·x (records each call)."""

    def model(x, t, y=None, motion=None):
        calls.append((x.shape[0], bool(y.abs().sum(dim=(1, 2))[0] > 0), bool(motion.abs().sum() > 0)))
        text = (y.abs().sum(dim=(1, 2)) > 0).float().view(-1, 1, 1, 1, 1)
        moves = (motion.abs().flatten(1).sum(1) > 0).float().view(-1, 1, 1, 1, 1)
        return 0 * x + 1 + 10 * text + 100 * moves

    return model


def nested_inputs():
    g = torch.Generator().manual_seed(0)
    conditions = {"y": torch.randn(2, 77, 8, generator=g), "motion": torch.randn(2, 2, 3, 8, 8, generator=g)}
    return conditions, torch.zeros(1, 77, 8), torch.randn(2, 4, 3, 8, 8, generator=g)


def test_nested_guidance_passes_drop_the_outer_groups():
    """P_0 drops every group (each by its null rule, or a given null value), P_j keeps groups 1..j; a kwarg in no
    group is the same in every pass."""
    conditions, zero_y, _ = nested_inputs()
    conditions["depth"] = torch.rand(2, 1, 3, 8, 8)
    negative = torch.randn(2, 77, 8)
    passes = nested_guidance_kwargs(
        conditions,
        zero_y,
        ["y", "motion", "depth"],
        [["motion"], ["y"]],
        {"y": "empty_caption", "motion": "zeros"},
        {"y": negative},
    )
    assert len(passes) == 3 and all(set(p) == {"y", "motion", "depth"} for p in passes)
    assert torch.equal(passes[0]["y"], negative) and not passes[0]["motion"].any()
    assert torch.equal(passes[1]["y"], negative) and passes[1]["motion"] is conditions["motion"]
    assert passes[2]["y"] is conditions["y"] and passes[2]["motion"] is conditions["motion"]
    assert all(p["depth"] is conditions["depth"] for p in passes)
    empty = nested_guidance_kwargs(conditions, torch.ones(1, 77, 8), ["y"], [["y"]], {"y": "empty_caption"})
    assert torch.equal(empty[0]["y"], torch.ones(2, 77, 8))
    with pytest.raises(ValueError, match="disjoint and among guidances"):
        nested_guidance_kwargs(conditions, zero_y, ["y", "motion"], [["y"], ["y", "motion"]], {"y": "zeros"})
    with pytest.raises(ValueError, match=r"null rules \{'depth': ''\}"):
        nested_guidance_kwargs(conditions, zero_y, ["depth"], [["depth"]], {})


def test_nested_guidance_combines_the_passes_known_answer():
    """ε = ε(P_0) + s_1·(ε(P_1) − ε(P_0)) + s_2·(ε(P_2) − ε(P_1)) on a model whose ε per pass is known: with the
    motion inner at 3 and the text outer at 7.5, 1 + 3·100 + 7.5·10 = 376; 3 passes per step, or one of 3B."""
    conditions, zero_y, x = nested_inputs()
    passes = nested_guidance_kwargs(
        conditions, zero_y, ["y", "motion"], [["motion"], ["y"]], {"y": "empty_caption", "motion": "zeros"}
    )
    t = torch.full((2,), 500)
    for batched in (False, True):
        calls: list = []
        eps = NestedGuidedDenoiser(pass_model(calls), passes, [3.0, 7.5], batched=batched)(x, t)
        assert torch.equal(eps, torch.full_like(x, 1 + 3 * 100 + 7.5 * 10))
        assert [c[0] for c in calls] == ([6] if batched else [2, 2, 2])
    calls = []
    sample(pass_model(calls), x, passes[-1], passes[:-1], [3.0, 7.5], 4)  # CPU: 3 forwards a step
    assert len(calls) == 4 * 3 and sorted(set(c[1:] for c in calls)) == [(False, False), (False, True), (True, True)]
    ramp = frame_guidance_scales(3.0, 1.0, 3)  # per frame: the motion's scale 1, 2, 3
    eps = NestedGuidedDenoiser(pass_model([]), passes, [ramp, 7.5])(x, t)
    assert eps[0, 0, :, 0, 0].tolist() == [1 + 100 * s + 75 for s in (1.0, 2.0, 3.0)]
    with pytest.raises(ValueError, match="one pass more than scales"):
        NestedGuidedDenoiser(pass_model([]), passes, [3.0])
    with pytest.raises(ValueError, match="uncond_kwargs as a list"):
        sample(pass_model([]), x, passes[-1], passes[0], [3.0, 7.5], 2)


def test_nested_guidance_of_one_group_is_the_single_scale_bit_for_bit():
    """One group is ``u + s·(c − u)`` with the same arithmetic: the sampled latents are equal, not just close;
    equal scales for every group telescope to the single scale of the groups together."""
    conditions, zero_y, x_T = nested_inputs()
    g = torch.Generator().manual_seed(1)
    w = torch.randn(8, generator=g)

    def model(x, t, y=None, motion=None):
        return 0.1 * x + (t.float() / 1000 * (y @ w).mean(1) + motion.mean(dim=(1, 2, 3, 4))).view(-1, 1, 1, 1, 1)

    cond, uncond = make_guidance_kwargs(conditions, zero_y, ["y", "motion"], RULES)
    single = sample(model, x_T, cond, uncond, 7.5, 5)
    passes = nested_guidance_kwargs(conditions, zero_y, ["y", "motion"], [["y"]], {"y": "empty_caption"})
    assert torch.equal(sample(model, x_T, passes[-1], passes[:-1], [7.5], 5), single)
    both = nested_guidance_kwargs(
        conditions, zero_y, ["y", "motion"], [["motion"], ["y"]], {"y": "empty_caption", "motion": "zeros"}
    )
    together = make_guidance_kwargs(conditions, zero_y, ["y", "motion"], {"y": "empty_caption", "motion": "zeros"})
    torch.testing.assert_close(
        sample(model, x_T, both[-1], both[:-1], [4.0, 4.0], 5), sample(model, x_T, *together, 4.0, 5), rtol=0, atol=1e-5
    )


def test_batched_cfg_default_is_on_for_accelerator_tensors():
    """``batched_cfg=None`` batches off the CPU (the meta device stands in for an accelerator here),
    unless a kwarg is not a tensor."""

    def meta(*shape):
        return torch.empty(*shape, device="meta")

    cond = {"y": meta(2, 77, 8), "image": meta(2, 1, 8), "depth": meta(2, 1, 3, 8, 8)}
    uncond = {**cond, "y": meta(2, 77, 8)}
    calls = []
    sample(tensor_toy_model(calls), meta(2, 4, 3, 8, 8), cond, uncond, 9.0, 2)
    assert calls == [4, 4]
    calls = []

    def recording_toy(x, t, s, c):
        calls.append(x.shape[0])
        return toy_model(x, t, s, c)

    sample(recording_toy, meta(2, 4, 3, 8, 8), dict(s=1.0, c=0.5), dict(s=0.4, c=-0.2), 9.0, 2)
    assert calls == [2, 2, 2, 2]


def test_batched_cfg_rejects_non_tensor_kwargs():
    with pytest.raises(ValueError, match="batched_cfg=False"):
        sample(toy_model, torch.zeros(1, 4, 1, 2, 2), dict(s=1.0, c=0.5), dict(s=0.4, c=-0.2), 9.0, 2, batched_cfg=True)


# ----------------------------------------------------------------------------- samplers


def test_ddim_timesteps():
    assert ddim_timesteps(50, 1000).tolist() == list(range(981, 0, -20))
    assert ddim_timesteps(5, 1000).tolist() == [801, 601, 401, 201, 1]
    assert ddim_timesteps(1000, 1000)[0].item() == 999  # clamped
    assert ddim_timesteps(50, 1000, trailing=True).tolist() == list(range(999, 0, -20))  # diffusers' "trailing"
    assert ddim_timesteps(4, 1000, trailing=True).tolist() == [999, 749, 499, 249]
    assert (
        make_sampler("ddim", ZERO_SNR, 50).timesteps[0] == 999
        and make_sampler("ddim", SCHEDULE, 50).timesteps[0] == 981
    )
    with pytest.raises(ValueError, match="num_steps"):
        ddim_timesteps(0, 1000)


def test_callback_and_progress(capsys):
    seen = []
    sample(
        toy_model,
        torch.randn(1, 4, 2, 4, 4),
        dict(s=1.0, c=0.5),
        num_steps=5,
        progress=True,
        callback=lambda i, t, x: seen.append((i, t, tuple(x.shape))),
    )
    assert seen == [(i, t, (1, 4, 2, 4, 4)) for i, t in enumerate([801, 601, 401, 201, 1])]
    assert "ddim sampling" in capsys.readouterr().err


def test_ddim_eta_uses_the_generator():
    x_T = torch.randn(1, 4, 2, 4, 4, generator=torch.Generator().manual_seed(0))
    kwargs = dict(s=1.0, c=0.5)
    deterministic = sample(toy_model, x_T, kwargs, num_steps=5)
    a = sample(toy_model, x_T, kwargs, num_steps=5, eta=1.0, generator=torch.Generator().manual_seed(1))
    b = sample(toy_model, x_T, kwargs, num_steps=5, eta=1.0, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.allclose(a, deterministic, atol=1e-2)


def frame_correlations(noise: torch.Tensor) -> torch.Tensor:
    """Correlation between every pair of frames of ``[..., F, H, W]`` noise, over everything else → ``[F, F]``."""
    frames = noise.movedim(-3, 0).flatten(1)
    return torch.corrcoef(frames)


def test_frame_noise_is_standard_normal_with_the_given_correlation_between_frames():
    shape = (2, 4, 5, 32, 32)  # [B, C, F, H, W]
    independent = frame_noise(shape, 0.0, torch.Generator().manual_seed(3))
    assert torch.equal(
        independent, torch.randn(shape, generator=torch.Generator().manual_seed(3))
    )  # the reference's x_T
    for rho in (0.3, 0.5, 0.8):
        noise = frame_noise(shape, rho, torch.Generator().manual_seed(3))
        assert noise.std().item() == pytest.approx(1.0, abs=0.03) and abs(noise.mean().item()) < 0.03
        off_diagonal = frame_correlations(noise)[~torch.eye(shape[2], dtype=torch.bool)]
        assert off_diagonal.min() > rho - 0.05 and off_diagonal.max() < rho + 0.05, (rho, off_diagonal)
        # its independent part is the ρ = 0 draw: the shared part is drawn after it
        shared = (noise - (1 - rho) ** 0.5 * independent) / rho**0.5
        assert torch.allclose(shared, shared[:, :, :1].expand_as(shared), atol=1e-5)
    assert torch.equal(
        frame_noise(shape, 0.5, torch.Generator().manual_seed(3)),
        frame_noise(shape, 0.5, torch.Generator().manual_seed(3)),
    )
    for bad in (-0.1, 1.0):
        with pytest.raises(ValueError, match=r"noise_correlation must be in \[0, 1\)"):
            check_noise_correlation(bad)
    with pytest.raises(ValueError, match="one frame"):
        mix_frame_noise(torch.zeros(1, 4, 3, 8, 8), torch.zeros(1, 4, 3, 8, 8), 0.5)


def test_ddim_eta_noise_has_the_model_noise_correlation():
    """With ε ≡ 0 a DDIM step is ``√(ᾱ_prev/ᾱ_t)·x_t + σ_t·z``: recover ``z`` and compare it with the draw."""
    x_t = torch.randn(2, 4, 6, 16, 16, generator=torch.Generator().manual_seed(0))
    for rho in (0.0, 0.6):
        sampler = DDIMSampler(SCHEDULE, 10, eta=1.0, generator=torch.Generator().manual_seed(5), noise_correlation=rho)
        t, t_prev = int(sampler.timesteps[2]), int(sampler.timesteps[3])
        out = sampler.step(torch.zeros_like(x_t), t, x_t)
        a_t, a_prev = (SCHEDULE.alphas_cumprod[i].item() for i in (t, t_prev))
        sigma = ((1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)) ** 0.5
        z = (out - (a_prev / a_t) ** 0.5 * x_t) / sigma
        torch.testing.assert_close(z, frame_noise(x_t.shape, rho, torch.Generator().manual_seed(5)), rtol=0, atol=1e-4)
    with pytest.raises(ValueError, match="noise_correlation"):
        make_sampler("ddim", SCHEDULE, 10, eta=1.0, noise_correlation=1.5)


def test_sampler_argument_errors():
    x = torch.zeros(1, 4, 1, 2, 2)
    with pytest.raises(ValueError, match="unknown scheduler 'plms'"):
        sample(toy_model, x, dict(s=1.0, c=0.5), num_steps=2, scheduler="plms")
    with pytest.raises(ValueError, match="eta=0.5 is only supported by the 'ddim'"):
        sample(toy_model, x, dict(s=1.0, c=0.5), num_steps=2, scheduler="euler", eta=0.5)
    with pytest.raises(ValueError, match="uncond_kwargs are required"):
        sample(toy_model, x, dict(s=1.0, c=0.5), guidance_scale=9.0, num_steps=2)


@pytest.mark.parametrize("scheduler, steps", [("ddim", 50), ("dpmsolver++", 20), ("dpmsolver++", 25), ("euler", 50)])
def test_sampler_solves_the_probability_flow_ode(scheduler, steps):
    """On Gaussian data the exact ε and the exact end point are known: every scheduler must approach it.

    Measured relative errors: ddim/50 0.028, dpmsolver++/20 0.050, dpmsolver++/25 0.039, euler/50 0.029
    (ddim/5: 0.21; dpmsolver++ configured with the wrong betas or v-prediction: ≥ 0.3).
    """
    x_T = torch.randn(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    t_start = int(make_sampler(scheduler, SCHEDULE, steps).timesteps[0])
    alpha_end = SCHEDULE.alphas_cumprod[0].item() if scheduler == "ddim" else 1.0  # diffusers' solvers end at σ = 0
    out = sample(gaussian_data_model, x_T, num_steps=steps, scheduler=scheduler)
    assert rel_dist(out, gaussian_data_ode_solution(x_T, t_start, alpha_end)) < 0.06


@pytest.mark.parametrize("scheduler, steps", [("ddim", 50), ("dpmsolver++", 20), ("euler", 50)])
def test_v_prediction_samplers_solve_the_ode_from_zero_terminal_snr(scheduler, steps):
    """The same end point for a v-model on the zero-terminal-SNR schedule, started from pure noise.

    Measured relative errors: ddim/50 0.030, dpmsolver++/20 0.052, euler/50 0.030 (as for ε on SD's schedule);
    the same v-model read as ε (the wrong prediction type): 57 to 1900.
    """
    x_T = torch.randn(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    model = gaussian_data_v_model(ZERO_SNR)
    t_start = int(make_sampler(scheduler, ZERO_SNR, steps, prediction_type="v_prediction").timesteps[0])
    alpha_end = ZERO_SNR.alphas_cumprod[0].item() if scheduler == "ddim" else 1.0
    exact = gaussian_data_ode_solution(x_T, t_start, alpha_end, ZERO_SNR)
    out = sample(model, x_T, num_steps=steps, scheduler=scheduler, schedule=ZERO_SNR, prediction_type="v_prediction")
    assert rel_dist(out, exact) < 0.06
    wrong = sample(model, x_T, num_steps=steps, scheduler=scheduler, schedule=ZERO_SNR)
    assert not rel_dist(wrong, exact) < 0.3


@pytest.mark.parametrize(
    "model, cond, uncond, scale",
    [
        (gaussian_data_model, {}, None, None),
        (toy_model, dict(s=1.0, c=0.5), dict(s=0.4, c=-0.2), 9.0),
        (toy_model, dict(s=1.0, c=0.5), None, None),
    ],
    ids=["gaussian-data", "toy-guided", "toy-unguided"],
)
def test_dpm_solver_pp_lands_near_ddim50(model, cond, uncond, scale):
    """DPM-Solver++ with 20 and 25 steps vs the reference 50-step DDIM, measured against how far
    5-step DDIM is from it. Measured relative distances (20 / 25 steps) and their ratio to DDIM-5's:
    gaussian-data 0.024 / 0.013 (ratio 0.14 / 0.075), toy-guided 0.022 / 0.020 (0.059 / 0.053),
    toy-unguided 0.096 / 0.094 (0.17 / 0.17). DPM-Solver++ set up with SD-1 "linear" betas or
    v-prediction gives ratios of 1.6 to 15.
    """
    x_T = torch.randn(2, 4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    ddim50 = sample(model, x_T, cond, uncond, scale, 50)
    ddim5_distance = rel_dist(sample(model, x_T, cond, uncond, scale, 5), ddim50)
    for steps in (20, 25):
        dpm = sample(model, x_T, cond, uncond, scale, steps, scheduler="dpmsolver++")
        assert rel_dist(dpm, ddim50) < 0.25 * ddim5_distance, f"{steps} steps"
