"""The condition registry: a toy condition registered here (and nowhere else) runs through the builder,
the UNet (its STC encoder built from the record), guidance and the pipeline; the built-in tables derive
from the records."""

from __future__ import annotations

import pytest
import torch

from videocomposer.conditions import (
    CONDITIONS,
    INPUTS,
    BuildContext,
    Condition,
    ConditionBuilder,
    STCEncoder,
    UserInput,
    clip_streams,
    guidance_null_rules,
    guided_by_default,
    implied_conditions,
    models_needed,
    normalize_conditions,
    register_condition,
    register_input,
    stc_conditions,
    unconditional_rules,
    unregister_condition,
    video_tensor,
)
from videocomposer.diffusion import make_guidance_kwargs
from videocomposer.models.unet import UNetConfig, VideoComposerUNet
from videocomposer.pipelines import VideoComposerPipeline
from videocomposer.pipelines.tiny import tiny_configs, write_tiny_official_weights
from videocomposer.video.clip import VideoClip

F, M = 3, 16


def brightness(ctx: BuildContext) -> torch.Tensor:
    """The toy condition: the given map, else the mean of the clip's RGB misc frames ``[B, 1, F, M, M]``."""
    if ctx.input("brightness_map") is not None:
        return video_tensor(ctx.input("brightness_map"), "brightness_map", 1)
    return ctx.clip_stream("misc").mean(dim=1, keepdim=True)


@pytest.fixture
def toy():
    register_input(UserInput("brightness_map"))
    record = register_condition(
        Condition(
            "brightness",
            "brightness_ref",
            brightness,
            inputs=("brightness_map", "video"),
            implied_by=("brightness_map",),
            clip_streams=("misc",),
            aliases=("lightness",),
            stc=STCEncoder(1, "mean RGB in [0, 1]", "brightness_embedding", "brightness_embedding_after"),
        )
    )
    yield record
    unregister_condition("brightness")
    del INPUTS["brightness_map"]


def make_clip(seed: int = 0) -> VideoClip:
    g = torch.Generator().manual_seed(seed)
    return VideoClip(
        video=torch.rand(F, 3, 8, 8, generator=g) * 2 - 1,
        misc=torch.rand(F, 3, M, M, generator=g),
        motion=torch.randn(F, 2, 8, 8, generator=g),
        vit_image=torch.randn(3, 224, 224, generator=g),
    )


def tiny_unet(compositions: tuple[str, ...]) -> VideoComposerUNet:
    config = UNetConfig(
        dim=32,
        context_dim=32,
        dim_mult=(1, 2),
        num_heads=2,
        head_dim=16,
        num_res_blocks=1,
        attn_scales=(1.0,),
        use_checkpoint=False,
        video_compositions=compositions,
    )
    torch.manual_seed(0)
    return VideoComposerUNet(config, zero_y=torch.randn(1, 5, 32)).eval()


def test_toy_condition_is_known_by_every_table(toy):
    assert normalize_conditions("y,lightness,brightness_ref") == ["y", "brightness"]
    assert models_needed(["brightness"]) == set() and clip_streams(["brightness", "local_image"]) == {"misc"}
    assert [c.name for c in stc_conditions()][-1] == "brightness"  # after the reference's six, in its order
    assert implied_conditions({"prompt": "x", "brightness_map": 1}) == ["y", "brightness"]
    cond = {"y": torch.ones(1, 5, 32), "brightness": torch.ones(1, 1, F, M, M)}
    _, uncond = make_guidance_kwargs(
        cond, torch.zeros(1, 5, 32), ["y", "brightness"], unconditional_rules(["y", "brightness"])
    )
    assert uncond["brightness"] is cond["brightness"] and not uncond["y"].any()  # unconditional rule: "same"
    with pytest.raises(ValueError, match="already registered"):
        register_condition(Condition("glow", "lightness", brightness, stc=toy.stc))


def test_toy_condition_through_the_builder(toy):
    clip = make_clip()
    out = ConditionBuilder().build(["brightness", "motion"], clip=clip)
    expected = clip.misc.mean(dim=1).unsqueeze(0).unsqueeze(0).transpose(1, 2)  # [1, 1, F, M, M], computed apart
    torch.testing.assert_close(out["brightness"], expected.reshape(1, 1, F, M, M))
    given = torch.rand(1, 1, 1, M, M)
    out = ConditionBuilder().build(["brightness"], brightness_map=given, num_frames=F)
    assert torch.equal(out["brightness"], given.expand(1, 1, F, M, M))  # one frame repeated over F
    with pytest.raises(ValueError, match="condition 'brightness' needs brightness_map= or video="):
        ConditionBuilder().build(["brightness"], num_frames=F)


def test_toy_condition_gets_an_stc_encoder_in_the_unet(toy):
    unet = tiny_unet(("text", "depthmap", "lightness"))
    assert [c.name for c in unet.stc_conditions] == ["depth", "brightness"]
    assert any(k.startswith("brightness_embedding.") for k in unet.state_dict())
    assert any(k.startswith("brightness_embedding_after.") for k in unet.state_dict())
    x, t = torch.randn(1, 4, F, 4, 4), torch.tensor([10])
    with torch.no_grad():
        plain = unet(x, t, y=torch.randn(1, 5, 32))
        lit = unet(x, t, y=torch.randn(1, 5, 32), brightness=torch.rand(1, 1, F, 20, 20))
    assert (plain - lit).abs().max() > 1e-5
    with pytest.raises(ValueError, match="brightness: expected shape \\[1, 1, 3, H, W\\]"):
        unet(x, t, brightness=torch.rand(1, 2, F, 8, 8))
    with pytest.raises(TypeError, match="unexpected keyword argument 'glow'"):
        unet(x, t, glow=torch.rand(1, 1, F, 8, 8))


def test_toy_condition_through_the_pipeline(toy, tmp_path):
    write_tiny_official_weights(tmp_path, seed=0, components=["unet", "vae", "clip"])
    official = VideoComposerPipeline.from_official(tmp_path, conditions=["y"], config=tiny_configs())
    config = tiny_configs()["unet"]
    config.video_compositions = ("text", "lightness")
    unet = VideoComposerUNet(config)
    missing, _ = unet.load_state_dict(official.unet.state_dict(), strict=False)  # the official encoders are left out
    assert missing and all(k.startswith("brightness_embedding") for k in missing)
    pipe = VideoComposerPipeline(unet, official.vae, official.clip, official.tokenizer)
    kwargs = dict(num_frames=2, height=32, width=32, num_inference_steps=2, output_type="pt")
    given = torch.rand(2, 1, 24, 24)  # [F, 1, H, W]
    out = pipe("a ball", brightness_map=given, generator=torch.Generator().manual_seed(0), **kwargs)
    assert sorted(out.conditions) == ["brightness", "y"]  # implied by the input
    assert torch.equal(out.conditions["brightness"][0], given.transpose(0, 1))
    without = pipe("a ball", generator=torch.Generator().manual_seed(0), **kwargs)
    assert out.frames.shape == (1, 2, 3, 32, 32) and not torch.equal(out.frames, without.frames)
    with pytest.raises(TypeError, match="glow_map"):
        pipe("a ball", glow_map=given, **kwargs)


def test_builtin_records_give_the_reference_tables():
    assert list(CONDITIONS) == ["y", "masked", "depth", "sketch", "motion", "image", "local_image", "single_sketch"]
    assert [c.reference_name for c in CONDITIONS.values()] == [
        "text",
        "mask",
        "depthmap",
        "sketch",
        "motion",
        "image",
        "local_image",
        "single_sketch",
    ]
    # the reference sums the STC features in this order (it also fixes the training-mode dropout draws)
    assert [c.name for c in stc_conditions()] == ["depth", "local_image", "motion", "sketch", "single_sketch", "masked"]
    assert {c.name: c.stc.in_channels for c in stc_conditions()} == {
        "depth": 1,
        "local_image": 3,
        "motion": 2,
        "sketch": 1,
        "single_sketch": 1,
        "masked": 4,
    }
    assert {c.name: c.unconditional for c in CONDITIONS.values() if c.unconditional != "same"} == {
        "y": "empty_caption",
        "image": "zeros",
    }
    assert unconditional_rules(list(CONDITIONS)) == {"y": "empty_caption", "image": "zeros"}
    assert unconditional_rules(["text", "depthmap"]) == {"y": "empty_caption"}  # any vocabulary, keyed by UNet name
    # a pass without a condition of its own guidance scale: the empty caption for the text, zeros for the others
    assert guidance_null_rules(["text", "motion", "image"]) == {
        "y": "empty_caption",
        "motion": "zeros",
        "image": "zeros",
    }
    assert guided_by_default(["motion", "image", "text"]) == ["image", "y"]  # what one number guides
