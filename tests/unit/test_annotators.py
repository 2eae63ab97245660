"""Annotators without fixtures: kernel conversion semantics, loading errors, input checks,
chunked extraction and the visualisations."""

from __future__ import annotations

import json
import math
from dataclasses import asdict

import pytest
import torch
import torch.nn.functional as F

from videocomposer.annotators.depth import extract_depth, midas_to_depth
from videocomposer.annotators.midas import MiDaS, MidasConfig, SelfAttention
from videocomposer.annotators.pidinet import (
    PIXEL_DIFFERENCE_TYPES,
    PiDiNet,
    convert_pixel_difference_kernel,
    convert_pixel_difference_state_dict,
)
from videocomposer.annotators.sketch import (
    SketchCleaner,
    SketchCleanerConfig,
    edges_to_sketch,
    extract_sketch,
    single_sketch,
)
from videocomposer.annotators.visualize import depth_to_rgb, mask_overlay, sketch_to_rgb
from videocomposer.checkpoints import OFFICIAL_FILES, WeightFileError


def he_init(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Weights with He scale (PyTorch's defaults leave MiDaS's ReLU head all zero, the cleaner flat)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.ndim >= 2:
                p.copy_(torch.randn(p.shape, generator=generator) * math.sqrt(2 / p[0].numel()))
    return module.eval()


def random_frames(num_frames: int, size: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(num_frames, 3, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def pidinet():
    return he_init(PiDiNet(), 1)


@pytest.fixture(scope="module")
def cleaner():
    return he_init(SketchCleaner(SketchCleanerConfig.tiny()), 2)


@pytest.fixture(scope="module")
def midas():
    return he_init(MiDaS(MidasConfig.tiny()), 3)


def _raw_pidinet_state(seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict in the official file's form: ``module.`` prefix, every PDC kernel 3x3."""
    with torch.device("meta"):
        layout = PiDiNet().state_dict()
    generator = torch.Generator().manual_seed(seed)
    return {
        f"module.{k}": torch.randn(*v.shape[:2], 3, 3, generator=generator)
        if tuple(v.shape[-2:]) == (5, 5)
        else torch.randn(v.shape, generator=generator)
        for k, v in layout.items()
    }


# ---------------------------------------------------------------------------------------------
# Pixel-difference kernel conversion
# ---------------------------------------------------------------------------------------------


def test_central_difference_kernel_computes_sum_of_differences_to_centre():
    weight = torch.randn(4, 1, 3, 3, dtype=torch.float64)
    x = torch.randn(1, 4, 7, 9, dtype=torch.float64)
    converted = F.conv2d(x, convert_pixel_difference_kernel(weight, "cd"), padding=1, groups=4)
    patches = F.unfold(x, 3, padding=1).view(1, 4, 9, 7, 9)  # [B, C, tap, H, W]
    expected = (weight.view(1, 4, 9, 1, 1) * (patches - patches[:, :, 4:5])).sum(2)
    torch.testing.assert_close(converted, expected)


def test_angular_difference_pairs_each_ring_tap_with_its_clockwise_neighbour():
    ring = [0, 1, 2, 5, 8, 7, 6, 3]  # flat 3x3 indices, clockwise from the top-left
    for tap in range(9):
        converted = convert_pixel_difference_kernel(F.one_hot(torch.tensor(tap), 9).float().view(1, 1, 3, 3), "ad")
        flat = converted.flatten()
        if tap == 4:
            assert not flat.any()
            continue
        successor = ring[(ring.index(tap) + 1) % 8]
        expected = torch.zeros(9)
        expected[tap], expected[successor] = 1.0, -1.0
        torch.testing.assert_close(flat, expected)


def test_radial_difference_is_outer_minus_inner_pixel_on_eight_distinct_rays():
    rays = set()
    for parameter in range(9):
        weight = F.one_hot(torch.tensor(parameter), 9).float().view(1, 1, 3, 3)
        kernel = convert_pixel_difference_kernel(weight, "rd")
        assert kernel.shape == (1, 1, 5, 5) and kernel[0, 0, 2, 2] == 0
        if parameter == 0:  # the first 3x3 parameter is unused by the radial conversion
            assert not kernel.any()
            continue
        (outer,), (inner,) = (kernel[0, 0] == 1).nonzero().tolist(), (kernel[0, 0] == -1).nonzero().tolist()
        outer_offset = (outer[0] - 2, outer[1] - 2)
        inner_offset = (inner[0] - 2, inner[1] - 2)
        assert outer_offset == (2 * inner_offset[0], 2 * inner_offset[1]) and max(map(abs, inner_offset)) == 1
        assert kernel.abs().sum() == 2
        rays.add(inner_offset)
    assert len(rays) == 8


def test_vanilla_kernel_unchanged_and_unknown_type_rejected():
    weight = torch.randn(2, 1, 3, 3)
    assert convert_pixel_difference_kernel(weight, "cv") is weight
    with pytest.raises(ValueError, match="unknown pixel-difference type 'xx'"):
        convert_pixel_difference_kernel(weight, "xx")


def test_from_official_converts_each_layer_by_its_carv4_type(tmp_path):
    raw = _raw_pidinet_state()
    torch.save({"state_dict": raw}, tmp_path / OFFICIAL_FILES["pidinet"].filename)
    model = PiDiNet.from_official(tmp_path)
    loaded = model.state_dict()
    pdc_keys = ["init_block.weight"] + [k for k in loaded if k.endswith(".conv1.weight") and k.startswith("block")]
    assert len(pdc_keys) == len(PIXEL_DIFFERENCE_TYPES)
    for key, kind in zip(pdc_keys, PIXEL_DIFFERENCE_TYPES):
        torch.testing.assert_close(loaded[key], convert_pixel_difference_kernel(raw[f"module.{key}"], kind))
    for key in set(loaded) - set(pdc_keys):
        torch.testing.assert_close(loaded[key], raw[f"module.{key}"])
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_already_converted_pidinet_file_is_rejected(tmp_path):
    raw = _raw_pidinet_state()
    converted = convert_pixel_difference_state_dict({k.removeprefix("module."): v for k, v in raw.items()})
    path = tmp_path / "converted.pth"
    torch.save({"state_dict": converted}, path)
    with pytest.raises(WeightFileError, match="already converted"):
        PiDiNet.from_official(path)


# ---------------------------------------------------------------------------------------------
# Weight-file errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "load, component",
    [
        (PiDiNet.from_official, "pidinet"),
        (SketchCleaner.from_official, "sketch_cleaner"),
        (lambda path: MiDaS.from_official(path, MidasConfig.tiny()), "midas"),
    ],
)
def test_missing_file_names_the_expected_path(tmp_path, load, component):
    with pytest.raises(WeightFileError) as error:
        load(tmp_path)
    message = str(error.value)
    assert str(tmp_path / OFFICIAL_FILES[component].filename) in message and "get it from" in message


def test_wrong_file_lists_mismatching_keys(tmp_path, midas):
    path = tmp_path / "midas_tiny.pth"
    torch.save(midas.state_dict(), path)
    with pytest.raises(WeightFileError, match="missing keys"):
        PiDiNet.from_official(path)
    deeper = MidasConfig.from_dict({**asdict(MidasConfig.tiny()), "num_layers": 8})
    with pytest.raises(WeightFileError, match=r"missing keys:\n    blocks\.4\."):
        MiDaS.from_official(path, deeper)
    loaded = MiDaS.from_official(path, MidasConfig.tiny())
    frames = random_frames(1, 32)
    torch.testing.assert_close(loaded(frames), midas(frames))


# ---------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------


def test_bad_inputs_raise_value_errors_naming_the_argument(pidinet, midas, cleaner):
    frames = random_frames(2, 32)
    with pytest.raises(ValueError, match=r"images must have shape \[N, 3, H, W\], got \[2, 1, 32, 32\]"):
        pidinet(frames[:, :1])
    with pytest.raises(ValueError, match="images must be a floating-point tensor.*uint8"):
        pidinet((frames * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"images values must lie in \[0, 1\], got \[-0\.9"):
        pidinet(frames * 2 - 1)
    with pytest.raises(ValueError, match="multiples of 32.*got 48x48"):
        midas(random_frames(1, 48))
    with pytest.raises(ValueError, match="sketches height and width must be multiples of 8.*got 12x12"):
        cleaner(torch.rand(1, 1, 12, 12))
    with pytest.raises(ValueError, match=r"frames must have shape \[N, 3, H, W\], got \[2, 4, 32, 32\]"):
        extract_sketch(pidinet, cleaner, torch.rand(2, 4, 32, 32))
    with pytest.raises(ValueError, match="frames must have shape"):
        extract_depth(midas, frames[0])
    with pytest.raises(ValueError, match="chunk_size must be a positive integer.*got 0"):
        extract_depth(midas, frames, chunk_size=0)
    with pytest.raises(ValueError, match=r"sketch must have shape \[F, 1, H, W\]"):
        single_sketch(frames)


def test_midas_config_round_trip_and_validation():
    config = MidasConfig.tiny()
    assert MidasConfig.from_dict(json.loads(json.dumps(asdict(config)))) == config
    with pytest.raises(ValueError, match=r"unknown MidasConfig keys \['depth'\]"):
        MidasConfig.from_dict({"depth": 3})
    with pytest.raises(ValueError, match="dim 66 is not divisible by num_heads 4"):
        MidasConfig(dim=66, num_heads=4)
    with pytest.raises(ValueError, match="num_layers 6 is not a multiple of 4"):
        MidasConfig(num_layers=6)


def _shapes(module: torch.nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def test_sketch_cleaner_default_is_the_official_network_and_divisors_scale_hidden_widths():
    with torch.device("meta"):
        default, official = SketchCleaner(), SketchCleaner(SketchCleanerConfig.official())
        tiny = SketchCleaner(SketchCleanerConfig.tiny())
    assert default.config == SketchCleanerConfig() == SketchCleanerConfig.official()
    assert _shapes(default) == _shapes(official)
    assert sum(p.numel() for p in default.parameters()) == 44_387_249  # the published generator
    assert list(_shapes(tiny)) == list(_shapes(default))  # same keys, same order: same file layout
    divisor = SketchCleanerConfig.tiny().width_divisor
    for key, shape in _shapes(default).items():
        small = _shapes(tiny)[key]
        # the channel axes (0 and 1 of a weight, 0 of a bias) are divided, except the image's one channel
        expected = [c // divisor if axis < 2 and c != 1 else c for axis, c in enumerate(shape)]
        assert small == expected, key
    assert _shapes(tiny)["layers.0.weight"][1] == 1 and _shapes(tiny)["layers.44.weight"][0] == 1


def test_sketch_cleaner_config_round_trip_and_validation():
    config = SketchCleanerConfig.tiny()
    assert SketchCleanerConfig.from_dict(json.loads(json.dumps(asdict(config)))) == config
    assert SketchCleanerConfig.from_dict({}) == SketchCleanerConfig.official()
    with pytest.raises(ValueError, match=r"unknown SketchCleanerConfig keys \['width'\]"):
        SketchCleanerConfig.from_dict({"width": 3})
    for bad in (0, 3, 16, 2.0, True):
        with pytest.raises(ValueError, match=rf"width_divisor must be one of \[1, 2, 4, 8\].*got {bad!r}"):
            SketchCleanerConfig(width_divisor=bad)


def test_small_sketch_cleaner_loads_from_an_official_format_file_only_with_its_config(tmp_path):
    small = he_init(SketchCleaner(SketchCleanerConfig(width_divisor=4)), 5)
    path = tmp_path / OFFICIAL_FILES["sketch_cleaner"].filename
    torch.save(small.state_dict(), path)
    with pytest.raises(WeightFileError, match="shape mismatches"):
        SketchCleaner.from_official(path)  # the official architecture does not fit the narrow file
    loaded = SketchCleaner.from_official(tmp_path, SketchCleanerConfig(width_divisor=4))
    sketches = torch.rand(2, 1, 16, 16, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(loaded(sketches), small(sketches), rtol=0, atol=0)


# ---------------------------------------------------------------------------------------------
# Networks
# ---------------------------------------------------------------------------------------------


def test_attention_matches_explicit_softmax_with_reference_head_split():
    torch.manual_seed(0)
    attention, (b, length, dim, heads) = SelfAttention(32, 4), (2, 5, 32, 4)
    x = torch.randn(b, length, dim)
    # reference layout: to_qkv(x).view(b, l, 3·heads, d).chunk(3, dim=2)
    q, k, v = attention.to_qkv(x).view(b, length, 3 * heads, dim // heads).chunk(3, dim=2)
    weights = torch.einsum("bind,bjnd->bnij", q, k).div(math.sqrt(dim // heads)).softmax(-1)
    expected = attention.proj(torch.einsum("bnij,bjnd->bind", weights, v).reshape(b, length, dim))
    torch.testing.assert_close(attention(x), expected)


def test_midas_runs_off_its_training_grid(midas):
    frames = torch.rand(1, 3, 64, 96, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        out = midas(frames)  # the 24x24 position embedding is resized to the 4x6 patch grid
    assert out.shape == (1, 1, 64, 96) and out.min() >= 0


def test_depth_post_processing_divides_and_clamps():
    raw = torch.tensor([-3.0, 0.0, 100.0, 150.0, 500.0])
    torch.testing.assert_close(midas_to_depth(raw), torch.tensor([0.0, 0.0, 5.0, 7.5, 10.0]))
    torch.testing.assert_close(midas_to_depth(raw, depth_std=10.0, depth_clamp=4.0), torch.tensor([0, 0, 4.0, 4, 4]))


def test_extract_depth_is_independent_of_chunk_size(midas):
    frames = random_frames(5, 32, seed=4)
    with torch.no_grad():
        expected = midas_to_depth(midas(frames))
    assert (expected[0] - expected[1]).abs().max() > 0.1  # frames are distinguishable
    for chunk_size in (1, 2, 5, 8):
        depth = extract_depth(midas, frames, chunk_size=chunk_size)
        assert depth.shape == (5, 1, 32, 32) and depth.min() >= 0 and depth.max() <= 10
        # batch size only changes float32 rounding (depth ≤ 10, relative noise ~1e-5)
        torch.testing.assert_close(depth, expected, atol=1e-4, rtol=0)


def test_extract_sketch_is_the_pipeline_composite_independent_of_chunk_size(pidinet, cleaner):
    frames = random_frames(3, 32, seed=5)
    with torch.no_grad():
        expected = 1 - cleaner(1 - pidinet(frames))
        torch.testing.assert_close(edges_to_sketch(cleaner, pidinet(frames)), expected)
    assert (expected[0] - expected[1]).abs().max() > 1e-2  # frames are distinguishable
    for chunk_size in (1, 2, 3):
        sketch = extract_sketch(pidinet, cleaner, frames, chunk_size=chunk_size)
        assert sketch.shape == (3, 1, 32, 32) and sketch.min() >= 0 and sketch.max() <= 1
        torch.testing.assert_close(sketch, expected, atol=1e-5, rtol=0)


def test_single_sketch_repeats_the_first_frame():
    sketch = torch.rand(4, 1, 8, 8)
    single = single_sketch(sketch)
    assert single.shape == sketch.shape and torch.equal(single, sketch[:1].expand(4, -1, -1, -1))
    assert single_sketch(sketch[:1], num_frames=16).shape == (16, 1, 8, 8)


# ---------------------------------------------------------------------------------------------
# Visualisation
# ---------------------------------------------------------------------------------------------


def _luminance(rgb: torch.Tensor) -> torch.Tensor:
    return rgb.float() @ torch.tensor([0.299, 0.587, 0.114])


def test_depth_colour_map_is_ordered_by_brightness():
    ramp = torch.linspace(0, 10, 256).view(1, 1, 1, 256).expand(2, 1, 3, 256)  # [F, 1, H, W]
    rgb = depth_to_rgb(ramp)
    assert rgb.shape == (2, 3, 256, 3) and rgb.dtype == torch.uint8
    brightness = _luminance(rgb[0, 0])
    assert (brightness.diff() > 0).all()  # strictly brighter for nearer (larger) values
    assert brightness[0] < 10 and brightness[-1] > 200
    clipped = depth_to_rgb(torch.tensor([-5.0, 0.0, 10.0, 50.0]).view(1, 1, 4))
    assert torch.equal(clipped[0, 0], clipped[0, 1]) and torch.equal(clipped[0, 2], clipped[0, 3])
    with pytest.raises(ValueError, match=r"depth must have shape \[\.\.\., 1, H, W\]"):
        depth_to_rgb(torch.rand(2, 3, 4, 4))


def test_sketch_image_is_grey_and_rounded():
    sketch = torch.tensor([0.0, 0.5, 1.0, 0.2]).view(1, 1, 2, 2).repeat(3, 1, 1, 1)
    rgb = sketch_to_rgb(sketch)
    assert rgb.shape == (3, 2, 2, 3) and rgb.dtype == torch.uint8
    assert rgb[0, :, :, 0].tolist() == [[0, 128], [255, 51]]
    assert torch.equal(rgb[..., 0], rgb[..., 1]) and torch.equal(rgb[..., 1], rgb[..., 2])


def test_mask_overlay_tints_only_the_hole():
    frames = torch.rand(4, 3, 6, 6, generator=torch.Generator().manual_seed(6))
    mask = torch.zeros(1, 6, 6)
    mask[:, 2:4, 1:5] = 1
    out = mask_overlay(frames, mask, color=(255, 0, 0), alpha=0.5)
    assert out.shape == (4, 6, 6, 3) and out.dtype == torch.uint8
    plain = (frames * 255).round().to(torch.uint8).permute(0, 2, 3, 1)
    hole = mask[0].bool()
    assert torch.equal(out[:, ~hole], plain[:, ~hole])
    blended = ((frames.permute(0, 2, 3, 1) * 0.5 + torch.tensor([0.5, 0.0, 0.0])) * 255).round().to(torch.uint8)
    assert torch.equal(out[:, hole], blended[:, hole])
    with pytest.raises(ValueError, match=r"mask must have shape \[\.\.\., 1, H, W\]"):
        mask_overlay(frames, torch.zeros(6, 6))
