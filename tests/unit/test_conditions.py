"""ConditionBuilder: only the requested conditions, user maps bypass extractors, layouts and values."""

from __future__ import annotations

import pytest
import torch
from PIL import Image

from videocomposer.annotators.depth import extract_depth
from videocomposer.annotators.masks import masked_condition
from videocomposer.annotators.midas import MiDaS, MidasConfig
from videocomposer.annotators.pidinet import PiDiNet
from videocomposer.annotators.sketch import SketchCleaner, extract_sketch
from videocomposer.conditions import ConditionBuilder, misc_transform, models_needed
from videocomposer.models.clip import OpenCLIP
from videocomposer.models.tokenizer import CLIPTokenizer
from videocomposer.pipelines.tiny import tiny_configs
from videocomposer.video.clip import VideoClip
from videocomposer.video.image_preprocess import preprocess_style_image

F, R, M = 3, 32, 64


class Forbidden(torch.nn.Module):
    """Stands in for a model that must not run."""

    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, *args):
        raise AssertionError("this extractor must not run")


def make_clip(seed: int = 0, frames: int = F) -> VideoClip:
    g = torch.Generator().manual_seed(seed)
    mask = torch.zeros(frames, 1, M, M)
    mask[:, :, : M // 2] = 1
    return VideoClip(
        video=torch.rand(frames, 3, R, R, generator=g) * 2 - 1,
        misc=torch.rand(frames, 3, M, M, generator=g),
        motion=torch.randn(frames, 2, R, R, generator=g) * 3,
        vit_image=torch.randn(3, 224, 224, generator=g),
        mask=mask,
    )


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    return dict(
        tokenizer=CLIPTokenizer(),
        clip=OpenCLIP(tiny_configs()["clip"]).eval(),
        midas=MiDaS(MidasConfig.tiny()).eval(),
        pidinet=PiDiNet().eval(),
        sketch_cleaner=SketchCleaner().eval(),
    )


def test_models_needed():
    assert models_needed(["motion", "local_image", "masked"]) == set()
    assert models_needed(["y", "depth", "single_sketch"]) == {"clip:text", "midas", "pidinet", "sketch_cleaner"}
    with pytest.raises(ValueError, match="unknown condition"):
        models_needed(["canny"])


def test_model_free_conditions_need_no_model_and_follow_the_reference():
    clip = make_clip()
    out = ConditionBuilder().build(["local_image", "masked", "motion"], clip=clip)
    assert list(out) == ["local_image", "masked", "motion"]
    misc = clip.misc.permute(1, 0, 2, 3)[None]  # [1, 3, F, M, M]
    assert torch.equal(out["local_image"], misc[:, :, :1].expand(-1, -1, F, -1, -1))
    expected = masked_condition(clip.misc, clip.mask).permute(1, 0, 2, 3)[None]
    assert torch.equal(out["masked"], expected)
    assert out["masked"].shape == (1, 4, F, M, M)
    assert torch.equal(out["motion"], clip.motion.permute(1, 0, 2, 3)[None])


def test_annotator_conditions_match_the_annotators(models):
    clip = make_clip()
    builder = ConditionBuilder(**models)
    out = builder.build(["y", "image", "depth", "sketch", "single_sketch"], clip=clip, prompt="a red ball")
    with torch.no_grad():
        y = models["clip"].encode_text_context(models["tokenizer"](["a red ball"]))
        image = models["clip"].encode_image_context(clip.vit_image[None])
        depth = extract_depth(models["midas"], clip.misc)
        sketch = extract_sketch(models["pidinet"], models["sketch_cleaner"], clip.misc)
    assert torch.allclose(out["y"], y) and out["y"].shape == (1, 77, 32)
    assert torch.allclose(out["image"], image) and out["image"].shape == (1, 1, 32)
    assert torch.allclose(out["depth"], depth.permute(1, 0, 2, 3)[None], atol=1e-6)
    assert torch.allclose(out["sketch"], sketch.permute(1, 0, 2, 3)[None], atol=1e-6)
    assert torch.equal(out["single_sketch"], out["sketch"][:, :, :1].expand(-1, -1, F, -1, -1))
    assert all(v.dtype == torch.float32 for v in out.values())


def test_single_sketch_alone_runs_the_extractor_on_the_first_frame_only(models):
    seen = []
    pidinet = models["pidinet"]
    handle = pidinet.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
    try:
        out = ConditionBuilder(pidinet=pidinet, sketch_cleaner=models["sketch_cleaner"]).build(
            ["single_sketch"], clip=make_clip()
        )
    finally:
        handle.remove()
    assert sum(seen) == 1 and out["single_sketch"].shape == (1, 1, F, M, M)


def test_user_maps_bypass_the_extractors():
    depth = torch.rand(F, 1, 48, 48)
    sketch_map = torch.rand(1, 1, 40, 40)
    motion = torch.randn(1, 2, F, 16, 16)
    builder = ConditionBuilder(midas=Forbidden(), pidinet=Forbidden(), sketch_cleaner=Forbidden())
    out = builder.build(
        ["depth", "sketch", "single_sketch", "motion"], clip=make_clip(), depth=depth, sketch=sketch_map, motion=motion
    )
    assert torch.equal(out["depth"], depth.permute(1, 0, 2, 3)[None])
    assert out["sketch"].shape == (1, 1, F, 40, 40) and torch.equal(out["sketch"][0, 0, 2], sketch_map[0, 0])
    assert torch.equal(out["motion"], motion)


def test_user_images_go_through_the_misc_transform(models):
    image = Image.new("RGB", (90, 60), (200, 30, 10))
    sketch_image = Image.new("RGB", (80, 80), "white")
    style = Image.new("RGB", (50, 70), (0, 0, 255))
    builder = ConditionBuilder(**models)
    out = builder.build(
        ["local_image", "image", "single_sketch"],
        image=image,
        sketch=sketch_image,
        style_image=style,
        num_frames=2,
        misc_size=M,
    )
    assert torch.allclose(out["local_image"][0, :, 1], misc_transform(image, M)[0])
    assert out["local_image"].shape == (1, 3, 2, M, M)
    with torch.no_grad():
        style_embedding = models["clip"].encode_image_context(preprocess_style_image(style)[None])
    assert torch.allclose(out["image"], style_embedding)
    with torch.no_grad():
        expected = extract_sketch(models["pidinet"], models["sketch_cleaner"], misc_transform(sketch_image, M))
    assert torch.allclose(out["single_sketch"][:, :, 0], expected, atol=1e-6)


def test_collated_batch_equals_per_sample_builds():
    clips = [make_clip(1), make_clip(2)]
    collated = VideoClip(
        **{k: torch.stack([getattr(c, k) for c in clips]) for k in ("video", "misc", "motion", "vit_image", "mask")}
    )
    names = ["local_image", "masked", "motion"]
    batch = ConditionBuilder().build(names, clip=collated)
    for i, clip in enumerate(clips):
        single = ConditionBuilder().build(names, clip=clip)
        for name in names:
            assert torch.equal(batch[name][i : i + 1], single[name]), name


def test_single_inputs_broadcast_over_a_prompt_batch(models):
    out = ConditionBuilder(**models).build(["y", "motion"], clip=make_clip(), prompt=["a", "b"])
    assert out["y"].shape[0] == 2 and out["motion"].shape[0] == 2
    assert torch.equal(out["motion"][0], out["motion"][1])


def test_precomputed_conditions_are_used_as_given():
    y = torch.randn(1, 77, 32)
    masked = torch.randn(1, 4, 1, 20, 20)
    out = ConditionBuilder().build(["y", "masked"], precomputed={"y": y, "masked": masked}, num_frames=F)
    assert torch.equal(out["y"], y) and out["masked"].shape == (1, 4, F, 20, 20)


def test_errors_name_what_is_missing(models):
    builder = ConditionBuilder()
    with pytest.raises(ValueError, match="condition .motion. needs video= or motion="):
        builder.build(["motion"], num_frames=F)
    with pytest.raises(ValueError, match="midas"):
        builder.build(["depth"], clip=make_clip())
    with pytest.raises(ValueError, match="num_frames is required"):
        builder.build(["motion"], motion=torch.zeros(F, 2, 8, 8))
    with pytest.raises(ValueError, match="depth has 2 frames; expected 3"):
        builder.build(["depth"], clip=make_clip(), depth=torch.zeros(2, 1, 8, 8))
    with pytest.raises(ValueError, match="motion must be a tensor"):
        builder.build(["motion"], clip=make_clip(), motion=torch.zeros(F, 3, 8, 8))
    no_mask = make_clip()
    no_mask.mask = None
    with pytest.raises(ValueError, match="mask="):
        builder.build(["masked"], clip=no_mask)
