"""Unit tests of VideoComposerUNet on tiny configurations: checkpointing, batching, condition dropout,
resolutions, input validation, configuration and weight loading."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from videocomposer.checkpoints import WeightFileError
from videocomposer.conditions import CONDITIONS, OFFICIAL_COMPOSITIONS, stc_conditions
from videocomposer.models.stc import ConditionDropout
from videocomposer.models.unet import UNetConfig, VideoComposerUNet
from videocomposer.models.unet_blocks import ResBlock

CONTEXT = 32


def tiny_config(**overrides) -> UNetConfig:
    values = dict(
        dim=32,
        dim_mult=(1, 2),
        num_heads=2,
        head_dim=16,
        num_res_blocks=1,
        attn_scales=(1.0,),
        context_dim=CONTEXT,
        concat_dim=4,
        dropout=0.0,
        temporal_conv_dropout=0.0,
        stc_dropout=0.0,
        use_checkpoint=False,
    )
    return UNetConfig(**{**values, **overrides})


def tiny_model(seed: int = 0, **overrides) -> VideoComposerUNet:
    torch.manual_seed(seed)
    model = VideoComposerUNet(tiny_config(**overrides), zero_y=torch.randn(1, 5, CONTEXT))
    with torch.no_grad():  # the default init zeroes nothing, but make every weight clearly non-trivial
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model.eval()


def tiny_inputs(
    config: UNetConfig, batch: int = 2, frames: int = 3, latent=(8, 8), cond=(12, 16), seed: int = 1
) -> dict:
    """x, t and every condition the config has an encoder for (plus y and image)."""
    g = torch.Generator().manual_seed(seed)
    inputs = {
        "x": torch.randn(batch, config.in_dim, frames, *latent, generator=g),
        "t": torch.randint(0, 1000, (batch,), generator=g),
        "y": torch.randn(batch, 5, config.context_dim, generator=g),
        "image": torch.randn(batch, 1, config.context_dim, generator=g),
    }
    for c in stc_conditions(config.video_compositions):
        inputs[c.name] = torch.rand(batch, c.stc.in_channels, frames, *cond, generator=g)
    return inputs


def run(model: VideoComposerUNet, inputs: dict, **kwargs) -> torch.Tensor:
    args = {**inputs, **kwargs}
    return model(args.pop("x"), args.pop("t"), **args)


# ---------------------------------------------------------------- checkpointing and batching


def test_activation_checkpointing_gives_same_outputs_and_grads():
    model = tiny_model(dropout=0.1, temporal_conv_dropout=0.1, stc_dropout=0.05).train()  # dropout active
    inputs = tiny_inputs(model.config)
    calls = []
    first_resblock = next(m for m in model.modules() if isinstance(m, ResBlock))
    plain_forward = first_resblock.forward

    def counting_forward(*args):  # (forward hooks do not fire during checkpoint recomputation)
        calls.append(1)
        return plain_forward(*args)

    first_resblock.forward = counting_forward

    results = []
    for use_checkpoint in (False, True):
        model.config.use_checkpoint = use_checkpoint
        model.zero_grad()
        calls.clear()
        torch.manual_seed(123)
        out = run(model, inputs)
        out.square().mean().backward()
        results.append(
            (out.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, len(calls))
        )

    (out_plain, grads_plain, calls_plain), (out_ckpt, grads_ckpt, calls_ckpt) = results
    assert (calls_plain, calls_ckpt) == (1, 2), "checkpointed blocks must be recomputed in backward"
    torch.testing.assert_close(out_ckpt, out_plain, rtol=0, atol=1e-6)
    assert grads_ckpt.keys() == grads_plain.keys() and len(grads_plain) > 100
    for name in grads_plain:
        torch.testing.assert_close(grads_ckpt[name], grads_plain[name], rtol=1e-5, atol=1e-6, msg=name)


def test_batch_of_two_equals_two_batches_of_one():
    model = tiny_model()
    inputs = tiny_inputs(model.config, batch=2)
    with torch.no_grad():
        both = run(model, inputs)
        single = [run(model, {k: v[i : i + 1] for k, v in inputs.items()}) for i in range(2)]
    torch.testing.assert_close(both, torch.cat(single), rtol=0, atol=2e-5)


# ---------------------------------------------------------------- condition dropout


def test_condition_dropout_draws_follow_the_reference_order():
    """Groups: rand(B) < p_all_zero, rand(B) < p_all_keep, randperm(B); each call: rand(B) < p, randperm(candidates)."""
    batch, seed = 10, 7
    dropout = ConditionDropout(p=0.5, p_all_zero=0.3, p_all_keep=0.3).train()
    g = torch.Generator().manual_seed(seed)
    zero, keep = dropout.sample_groups(batch, torch.device("cpu"), g)
    x = torch.rand(batch, 3) + 1.0
    out = dropout(x, zero, keep, g)

    e = torch.Generator().manual_seed(seed)
    n_zero = int((torch.rand(batch, generator=e) < 0.3).sum())
    n_keep = int((torch.rand(batch, generator=e) < 0.3).sum())
    order = torch.randperm(batch, generator=e)
    exp_zero, exp_keep = set(order[:n_zero].tolist()), set(order[n_zero : n_zero + n_keep].tolist())
    n_drop = int((torch.rand(batch, generator=e) < 0.5).sum())
    candidates = [i for i in range(batch) if i not in exp_zero | exp_keep]
    dropped = {candidates[j] for j in torch.randperm(len(candidates), generator=e)[:n_drop].tolist()} | exp_zero

    assert set(torch.where(zero)[0].tolist()) == exp_zero and set(torch.where(keep)[0].tolist()) == exp_keep
    for i in range(batch):
        torch.testing.assert_close(out[i], torch.zeros(3) if i in dropped else x[i], rtol=0, atol=0)


def test_condition_dropout_statistics_and_no_rescaling():
    batch = 4000
    dropout = ConditionDropout(p=0.5, p_all_zero=0.1, p_all_keep=0.2).train()
    g = torch.Generator().manual_seed(0)
    zero, keep = dropout.sample_groups(batch, torch.device("cpu"), g)
    assert not (zero & keep).any()
    assert abs(zero.float().mean() - 0.1) < 0.03 and abs(keep.float().mean() - 0.2) < 0.03
    x = torch.rand(batch, 2, 3) + 0.5
    for _ in range(3):
        out = dropout(x, zero, keep, g)
        kept = (out != 0).all(dim=(1, 2))
        assert not kept[zero].any(), "all-zero samples lose every condition"
        assert kept[keep].all(), "all-keep samples lose none"
        torch.testing.assert_close(out[kept], x[kept], rtol=0, atol=0)  # no 1/(1-p) rescaling
        # As in the reference, #(rand(B) < p) is counted over the whole batch and taken from the
        # remaining samples, so about p·B of them are dropped (a larger share of the remaining ones).
        rest = ~(zero | keep)
        assert abs((~kept[rest]).sum() / batch - 0.5) < 0.04


def test_condition_dropout_is_identity_in_eval():
    dropout = ConditionDropout(p=1.0, p_all_zero=1.0, p_all_keep=0.0).eval()
    zero, keep = dropout.sample_groups(4, torch.device("cpu"))
    x = torch.rand(4, 3)
    assert not zero.any() and not keep.any()
    assert dropout(x, zero, keep) is x


def test_all_keep_training_pass_equals_eval_pass():
    """p_all_keep is its own parameter: with p_all_keep=1 nothing is dropped, even with misc_dropout=1."""
    model = tiny_model(misc_dropout=1.0, p_all_zero=0.0, p_all_keep=1.0)
    inputs = tiny_inputs(model.config)
    with torch.no_grad():
        expected = run(model.eval(), inputs)
        got = run(model.train(), inputs, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_all_zero_training_pass_drops_every_condition_to_zeros():
    """p_all_zero=1: spatial conditions, y (to zeros, not zero_y) and the image token are all dropped."""
    model = tiny_model(misc_dropout=0.0, p_all_zero=1.0, p_all_keep=0.0)
    inputs = tiny_inputs(model.config)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        dropped = run(model.train(), {k: v for k, v in inputs.items() if k != "image"}, generator=g)
        expected = run(model.eval(), {"x": inputs["x"], "t": inputs["t"], "y": torch.zeros_like(inputs["y"])})
        with_image = run(model.train(), inputs, generator=g)
        other_image = run(
            model.train(),
            {**inputs, "image": torch.randn_like(inputs["image"]), "y": torch.randn_like(inputs["y"])},
            generator=g,
        )
        kept = run(model.eval(), inputs)
    torch.testing.assert_close(dropped, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(with_image, other_image, rtol=0, atol=1e-6)  # image token zeroed after the MLP
    assert (kept - dropped).abs().max() > 1e-3


# ---------------------------------------------------------------- resolution


@pytest.mark.parametrize("latent, cond", [((10, 16), (40, 64)), ((8, 4), (30, 14))])
def test_non_square_latents_and_conditions(latent, cond):
    model = tiny_model()
    inputs = tiny_inputs(model.config, latent=latent, cond=cond)
    with torch.no_grad():
        eps = run(model, inputs)
        no_conditions = run(model, {k: inputs[k] for k in ("x", "t", "y", "image")})
    assert eps.shape == inputs["x"].shape
    assert torch.isfinite(eps).all()
    assert (eps - no_conditions).abs().max() > 1e-3  # the conditions reach the output


def test_fixed_pool_size_equals_following_the_latent_where_it_fits():
    model = tiny_model()
    inputs = tiny_inputs(model.config, latent=(8, 8))
    with torch.no_grad():
        following = run(model, inputs)
        model.config.condition_pool_size = (32, 32)  # the reference's fixed pool, scaled to these latents
        fixed = run(model, inputs)
    torch.testing.assert_close(fixed, following, rtol=0, atol=0)


# ---------------------------------------------------------------- bad input


def _bad(inputs: dict, name: str, shape: tuple) -> dict:
    return {**inputs, name: torch.zeros(shape)}


@pytest.mark.parametrize(
    "name, make, expected",
    [
        ("depth", lambda i: _bad(i, "depth", (2, 1, 3, 12)), "[2, 1, 3, H, W]"),  # wrong rank
        ("motion", lambda i: _bad(i, "motion", (2, 3, 3, 12, 16)), "[2, 2, 3, H, W]"),  # wrong channels
        ("masked", lambda i: _bad(i, "masked", (2, 4, 5, 12, 16)), "[2, 4, 3, H, W]"),  # wrong frames
        ("sketch", lambda i: _bad(i, "sketch", (1, 1, 3, 12, 16)), "[2, 1, 3, H, W]"),  # wrong batch
        ("y", lambda i: _bad(i, "y", (2, 5, 16)), f"[2, L, {CONTEXT}]"),
        ("image", lambda i: _bad(i, "image", (2, CONTEXT)), f"[2, L, {CONTEXT}]"),
        ("t", lambda i: {**i, "t": torch.zeros(3, dtype=torch.long)}, "[2]"),
        ("x", lambda i: {**i, "x": torch.zeros(2, 4, 3, 7, 8)}, "multiples of 2"),  # latent UNet cannot halve
        ("x", lambda i: {**i, "x": torch.zeros(2, 3, 3, 8, 8)}, "[B, 4, F, h, w]"),
    ],
)
def test_bad_inputs_raise_value_error_naming_the_argument(name, make, expected):
    model = tiny_model()
    bad = make(tiny_inputs(model.config))
    with pytest.raises(ValueError) as err:
        run(model, bad)
    message = str(err.value)
    assert message.startswith(f"{name}:") and expected in message
    assert str(tuple(bad[name].shape)) in message


def test_latent_the_fixed_pool_cannot_reach():
    model = tiny_model(condition_pool_size=(32, 32))
    inputs = tiny_inputs(model.config, latent=(8, 16))
    with pytest.raises(
        ValueError, match=r"x: the condition encoders pool to \(32, 32\) and reach 8x8 .*\(2, 4, 3, 8, 16\)"
    ):
        run(model, inputs)
    run(model, {k: inputs[k] for k in ("x", "t", "y")})  # without spatial conditions any latent works


def test_condition_without_encoder_is_rejected():
    model = tiny_model(video_compositions=("text", "depthmap"))
    inputs = tiny_inputs(model.config)
    assert "sketch" not in inputs
    with pytest.raises(ValueError, match=r"sketch: this model has no encoder for condition 'sketch'"):
        run(model, {**inputs, "sketch": torch.zeros(2, 1, 3, 12, 16)})
    assert not hasattr(model, "sketch_embedding")


def test_unknown_condition_name_in_config():
    with pytest.raises(ValueError, match=r"video_compositions: unknown condition\(s\) \['canny'\]"):
        tiny_config(video_compositions=("text", "canny"))


# ---------------------------------------------------------------- configuration


def test_config_json_round_trip_and_reference_kwargs():
    config = tiny_config(condition_pool_size=(64, 32))
    assert UNetConfig(**json.loads(json.dumps(dataclasses.asdict(config)))) == config
    assert (
        set(UNetConfig.official().video_compositions)
        == set(OFFICIAL_COMPOSITIONS)
        == {c.reference_name for c in CONDITIONS.values()}
    )

    ref = UNetConfig.from_reference_kwargs(
        {
            "dim": 64,
            "num_heads": None,
            "y_dim": 768,
            "inpainting": False,
            "video_compositions": ["text", "mask", "sketch"],
        }
    )
    assert ref.num_heads == 2 and ref.video_compositions == ("text", "sketch") and ref.in_dim == 7  # reference default
    with pytest.raises(ValueError, match="unknown key"):
        UNetConfig.from_reference_kwargs({"dimm": 64})
    with pytest.raises(ValueError, match="use_fps_condition"):
        UNetConfig.from_reference_kwargs({"use_fps_condition": True})


def test_zero_y_is_a_settable_non_persistent_buffer():
    model = tiny_model()
    assert "zero_y" not in model.state_dict()
    model.set_zero_y(torch.ones(7, CONTEXT))
    assert model.zero_y.shape == (1, 7, CONTEXT)
    inputs = tiny_inputs(model.config)
    with torch.no_grad():
        torch.testing.assert_close(
            run(model, {"x": inputs["x"], "t": inputs["t"]}),
            run(model, {"x": inputs["x"], "t": inputs["t"], "y": torch.ones(2, 7, CONTEXT)}),
        )
    with pytest.raises(ValueError, match=r"zero_y: expected shape \[1, L, 32\], got \(1, 7, 16\)"):
        model.set_zero_y(torch.ones(1, 7, 16))


# ---------------------------------------------------------------- from_official


def test_from_official_round_trip(tmp_path):
    model = tiny_model()
    path = tmp_path / "non_ema_228000.pth"
    torch.save(model.state_dict(), path)
    prefixed = tmp_path / "ddp.pth"
    torch.save({f"module.{k}": v for k, v in model.state_dict().items()}, prefixed)
    inputs = tiny_inputs(model.config)
    with torch.no_grad():
        expected = run(model, inputs)
        for source in (path, tmp_path, prefixed):  # file, folder holding the official name, DDP prefix
            loaded = VideoComposerUNet.from_official(source, model.config, zero_y=model.zero_y)
            assert not loaded.training
            torch.testing.assert_close(run(loaded, inputs), expected, rtol=0, atol=0)


def test_from_official_errors_name_the_file(tmp_path):
    model = tiny_model()
    state = model.state_dict()

    foreign = tmp_path / "foreign_prefix.pth"
    torch.save({f"model.diffusion_model.{k}": v for k, v in state.items()}, foreign)
    with pytest.raises(WeightFileError, match=r"(?s)foreign_prefix\.pth.*missing keys.*unexpected keys"):
        VideoComposerUNet.from_official(foreign, model.config)

    wrong = tmp_path / "wrong_size.pth"
    torch.save(tiny_model(dim=64, head_dim=32).state_dict(), wrong)
    with pytest.raises(WeightFileError, match=r"(?s)wrong_size\.pth.*shape mismatches"):
        VideoComposerUNet.from_official(wrong, model.config)

    truncated = tmp_path / "truncated.pth"
    torch.save(state, truncated)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    with pytest.raises(WeightFileError, match=r"truncated\.pth"):
        VideoComposerUNet.from_official(truncated, model.config)

    with pytest.raises(WeightFileError, match=r"(?s)not found: absent\.pth.*looked for"):
        VideoComposerUNet.from_official(tmp_path / "absent.pth", model.config)
    empty_folder = tmp_path / "empty"
    empty_folder.mkdir()
    with pytest.raises(WeightFileError, match=r"not found: non_ema_228000\.pth"):
        VideoComposerUNet.from_official(empty_folder, model.config)


@pytest.mark.parametrize(
    "shape, size",
    [
        ((3, 5, 64, 64), (64, 64)),
        ((3, 5, 256, 256), (128, 128)),
        ((2, 3, 64, 64), (16, 16)),
        ((2, 3, 60, 64), (16, 16)),
        ((2, 3, 50, 50), (20, 20)),
    ],
    ids=["identity", "official-2x", "4x", "not-square", "not-whole"],
)
def test_stem_pool_equals_the_adaptive_pool(shape, size):
    """The stem's pool (plain average pool or identity where the windows are whole) equals torch's adaptive pool,
    forward and backward."""
    from videocomposer.models.stc import pool_to

    x = torch.randn(*shape, generator=torch.Generator().manual_seed(0), requires_grad=True)
    weights = torch.randn(shape[0], shape[1], *size, generator=torch.Generator().manual_seed(1))
    expected = torch.nn.functional.adaptive_avg_pool2d(x, size)
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), x)
    got = pool_to(x, size)
    (got_grad,) = torch.autograd.grad((got * weights).sum(), x)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    torch.testing.assert_close(got_grad, expected_grad, rtol=0, atol=1e-6)


def test_stem_encodes_a_repeated_frame_once_with_the_same_values_and_grads():
    """One image repeated over the frames (``local_image``) is encoded once: features and weight gradients
    equal those of encoding every frame, which the stem does for frames that differ."""
    from videocomposer.models.stc import ConditionStem

    gen = torch.Generator().manual_seed(0)
    stem = ConditionStem(3, 4)
    image = torch.rand(2, 3, 1, 16, 16, generator=gen)
    repeated = image.repeat(1, 1, 5, 1, 1)
    weights = torch.randn(2, 4, 5, 4, 4, generator=gen)

    def features_and_grads(video: torch.Tensor, frame_by_frame: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        stem.zero_grad()
        if frame_by_frame:  # each frame through the stem alone: the definition
            out = torch.cat([stem(video[:, :, i : i + 1], (16, 16)) for i in range(video.shape[2])], dim=2)
        else:
            out = stem(video, (16, 16))
        (out * weights).sum().backward()
        return out.detach(), [p.grad.clone() for p in stem.parameters()]

    got, got_grads = features_and_grads(repeated, frame_by_frame=False)
    expected, expected_grads = features_and_grads(repeated, frame_by_frame=True)
    assert got.shape == (2, 4, 5, 4, 4)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    for g, e in zip(got_grads, expected_grads):
        torch.testing.assert_close(g, e, rtol=1e-4, atol=1e-6)
    # frames that differ are not mistaken for a repeated image
    moving = repeated.clone()
    moving[:, :, 3] = 1 - moving[:, :, 3]
    got, _ = features_and_grads(moving, frame_by_frame=False)
    expected, _ = features_and_grads(moving, frame_by_frame=True)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    assert not torch.allclose(got[:, :, 3], got[:, :, 0])
