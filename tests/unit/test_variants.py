"""Behaviour the hidden fixture variants rely on: other tiny configurations, step counts, clip lengths,
mask types. Each test pins what the reference does for a configuration the shared fixtures do not cover.
"""

from __future__ import annotations

import random

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from videocomposer.annotators.masks import make_irregular_mask, make_rectangle_mask, make_uncrop
from videocomposer.annotators.midas import MiDaS, MidasConfig
from videocomposer.diffusion import NoiseSchedule, ddim_timesteps, sample
from videocomposer.models.attention import SpatialTransformer, TemporalTransformer
from videocomposer.models.clip import CLIPTextConfig, CLIPVisionConfig, OpenCLIP, OpenCLIPConfig
from videocomposer.models.unet import UNetConfig, VideoComposerUNet
from videocomposer.models.unet_blocks import Downsample, ResBlock, Upsample
from videocomposer.models.vae import VAEConfig, load_vae
from videocomposer.video.reader import decode_motion_stream, reencode_mpeg4
from videocomposer.video.sampling import load_video_clip, start_candidates

from .test_video import write_video

# ------------------------------------------------------------------------------------------------
# UNet: block layout of other tiny configurations
# ------------------------------------------------------------------------------------------------

TINY_UNET_KWARGS = {
    "in_dim": 4,
    "concat_dim": 8,
    "dim": 32,
    "y_dim": 768,
    "context_dim": 1024,
    "out_dim": 4,
    "dim_mult": [1, 1, 1, 2],
    "num_heads": 4,
    "head_dim": 16,
    "num_res_blocks": 2,
    "attn_scales": [1.0, 0.5, 0.25],
    "dropout": 0.0,
    "temporal_attention": True,
    "temporal_attn_times": 1,
    "use_checkpoint": False,
    "use_fps_condition": False,
    "use_sim_mask": False,
    "misc_dropout": 0.5,
    "p_all_zero": 0.1,
    "p_all_keep": 0.1,
    "video_compositions": ["text", "mask", "depthmap", "sketch", "motion", "image", "local_image", "single_sketch"],
}


def reference_block_layout(kw: dict) -> tuple[list, list, list]:
    """The blocks ``UNetSD_temporal.__init__`` builds, as (kind, channels...) tuples: ``scale`` starts at 1
    and halves at each Downsample; attention where ``scale in attn_scales``; the middle always has it."""
    dim, mult, blocks, scales, head = kw["dim"], kw["dim_mult"], kw["num_res_blocks"], kw["attn_scales"], kw["head_dim"]
    temporal = kw["temporal_attention"]

    def attention(ch: int) -> list:
        return [("spatial", ch, ch // head)] + ([("temporal", ch, ch // head)] if temporal else [])

    enc = [dim * m for m in [1] + mult]
    dec = [dim * m for m in [mult[-1]] + mult[::-1]]
    skips, scale = [dim], 1.0
    inputs = [
        [("conv", kw["in_dim"] + kw["concat_dim"], dim)] + ([("temporal", dim, kw["num_heads"])] if temporal else [])
    ]
    for level, (cin, cout) in enumerate(zip(enc[:-1], enc[1:])):
        for j in range(blocks):
            inputs.append([("res", cin, cout)] + (attention(cout) if scale in scales else []))
            skips.append(cout)
            cin = cout
            if level != len(mult) - 1 and j == blocks - 1:
                inputs.append([("down", cout)])
                skips.append(cout)
                scale /= 2
    middle = [("res", cout, cout), *attention(cout), ("res", cout, cout)]
    outputs = []
    for level, (cin, cout) in enumerate(zip(dec[:-1], dec[1:])):
        for j in range(blocks + 1):
            block = [("res", cin + skips.pop(), cout)] + (attention(cout) if scale in scales else [])
            cin = cout
            if level != len(mult) - 1 and j == blocks:
                block.append(("up", cout))
                scale *= 2
            outputs.append(block)
    return inputs, middle, outputs


def _describe(layer: nn.Module) -> tuple:
    if isinstance(layer, ResBlock):
        return ("res", layer.in_layers[2].in_channels, layer.in_layers[2].out_channels)
    if isinstance(layer, (SpatialTransformer, TemporalTransformer)):
        kind = "spatial" if isinstance(layer, SpatialTransformer) else "temporal"
        return (kind, layer.norm.num_channels, layer.transformer_blocks[0].attn1.heads)
    if isinstance(layer, Downsample):
        return ("down", layer.op.in_channels)
    if isinstance(layer, Upsample):
        return ("up", layer.conv.in_channels)
    return ("conv", layer.in_channels, layer.out_channels)


def _our_block_layout(model: VideoComposerUNet) -> tuple[list, list, list]:
    def blocks(module_list: nn.ModuleList) -> list:
        return [[_describe(x) for x in (b if isinstance(b, nn.ModuleList) else [b])] for b in module_list]

    return blocks(model.input_blocks), [_describe(x) for x in model.middle_block], blocks(model.output_blocks)


@pytest.mark.parametrize(
    "change",
    [
        {"num_res_blocks": 1},
        {"num_res_blocks": 3},
        {"attn_scales": []},
        {"attn_scales": [0.5, 0.25, 0.125]},
        {"dim_mult": [1, 2]},
        {"dim_mult": [1, 1, 2, 2, 2]},
        {"temporal_attention": False},
        {"dim": 64, "head_dim": 8, "num_heads": 2, "attn_scales": [0.25]},
    ],
    ids=str,
)
def test_unet_block_layout_follows_the_reference_constructor(change):
    kwargs = {**TINY_UNET_KWARGS, **change}
    with torch.device("meta"):
        model = VideoComposerUNet(UNetConfig.from_reference_kwargs(kwargs))
    assert _our_block_layout(model) == reference_block_layout(kwargs)


def test_unet_forward_with_other_frame_counts_and_condition_sizes():
    config = UNetConfig(
        dim=32,
        dim_mult=(1, 2),
        num_heads=2,
        head_dim=16,
        num_res_blocks=1,
        attn_scales=(0.5,),
        context_dim=64,
        use_checkpoint=False,
    )
    torch.manual_seed(0)
    model = VideoComposerUNet(config).eval()
    for batch, frames in [(1, 1), (2, 3)]:
        x, t = torch.randn(batch, 4, frames, 8, 8), torch.tensor([5, 700][:batch])
        conditions = {
            "y": torch.randn(batch, 7, 64),
            "image": torch.randn(batch, 1, 64),
            "depth": torch.rand(batch, 1, frames, 50, 70),
            "motion": torch.randn(batch, 2, frames, 33, 47),
            "masked": torch.rand(batch, 4, frames, 17, 23),
        }
        with torch.no_grad():
            eps = model(x, t, **conditions)
            without_depth = model(x, t, **{k: v for k, v in conditions.items() if k != "depth"})
        assert eps.shape == x.shape and torch.isfinite(eps).all()
        assert (eps - without_depth).abs().max() > 1e-4


# ------------------------------------------------------------------------------------------------
# VAE: attention at other resolutions (attn_resolutions), loaded from the LDM layout
# ------------------------------------------------------------------------------------------------


class _LDMResnet(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(32, cin, eps=1e-6), nn.Conv2d(cin, cout, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(32, cout, eps=1e-6), nn.Conv2d(cout, cout, 3, padding=1)
        self.nin_shortcut = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x):
        return self.nin_shortcut(x) + self.conv2(F.silu(self.norm2(self.conv1(F.silu(self.norm1(x))))))


class _LDMAttention(nn.Module):
    """Single-head attention with 1×1-conv projections (keys ``norm``, ``q``, ``k``, ``v``, ``proj_out``)."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.GroupNorm(32, c, eps=1e-6)
        self.q, self.k, self.v, self.proj_out = (nn.Conv2d(c, c, 1) for _ in range(4))

    def forward(self, x):
        h = self.norm(x)
        q, k, v = (m(h).flatten(2) for m in (self.q, self.k, self.v))  # [B, C, HW]
        weights = torch.softmax(q.transpose(1, 2) @ k / x.shape[1] ** 0.5, dim=-1)  # [B, HW_q, HW_k]
        return x + self.proj_out((v @ weights.transpose(1, 2)).view_as(x))


class _LDMStage(nn.Module):
    """One level: ``block.<i>`` ResNets, ``attn.<i>`` after each when the level has attention, a resampler."""

    def __init__(self, cin: int, cout: int, count: int, attention: bool, resample: str | None):
        super().__init__()
        self.block = nn.ModuleList(_LDMResnet(cin if i == 0 else cout, cout) for i in range(count))
        self.attn = nn.ModuleList(_LDMAttention(cout) for _ in range(count if attention else 0))
        if resample == "down":
            self.downsample = nn.Module()
            self.downsample.conv = nn.Conv2d(cout, cout, 3, stride=2)
        elif resample == "up":
            self.upsample = nn.Module()
            self.upsample.conv = nn.Conv2d(cout, cout, 3, padding=1)

    def forward(self, x):
        for i, block in enumerate(self.block):
            x = block(x)
            x = self.attn[i](x) if len(self.attn) else x
        if hasattr(self, "downsample"):
            x = self.downsample.conv(F.pad(x, (0, 1, 0, 1)))
        if hasattr(self, "upsample"):
            x = self.upsample.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x


class _LDMAutoencoder(nn.Module):
    """An LDM/SD ``AutoencoderKL`` (``encoder.down.<i>``, ``decoder.up.<i>``, ``mid``), written from its
    definition: the encoder's level ``i`` sits at ``resolution // 2^i``, the decoder's at
    ``(resolution // 2^(n−1))·2^(n−1−i)``; a level has attention when that is in ``attn_resolutions``."""

    def __init__(self, c: VAEConfig):
        super().__init__()
        n, widths = len(c.ch_mult), [c.ch * m for m in c.ch_mult]
        self.encoder, self.decoder = nn.Module(), nn.Module()
        self.encoder.conv_in = nn.Conv2d(c.in_channels, c.ch, 3, padding=1)
        self.encoder.down = nn.ModuleList(
            _LDMStage(
                ([c.ch] + widths)[i],
                widths[i],
                c.num_res_blocks,
                c.resolution // 2**i in c.attn_resolutions,
                "down" if i < n - 1 else None,
            )
            for i in range(n)
        )
        self.decoder.conv_in = nn.Conv2d(c.z_channels, widths[-1], 3, padding=1)
        lowest = c.resolution // 2 ** (n - 1)
        self.decoder.up = nn.ModuleList(
            _LDMStage(
                widths[min(i + 1, n - 1)],
                widths[i],
                c.num_res_blocks + 1,
                lowest * 2 ** (n - 1 - i) in c.attn_resolutions,
                "up" if i > 0 else None,
            )
            for i in range(n)
        )
        for part, width in ((self.encoder, widths[-1]), (self.decoder, widths[-1])):
            part.mid = nn.Module()
            part.mid.block_1, part.mid.attn_1, part.mid.block_2 = (
                _LDMResnet(width, width),
                _LDMAttention(width),
                _LDMResnet(width, width),
            )
        self.encoder.norm_out, self.encoder.conv_out = (
            nn.GroupNorm(32, widths[-1], eps=1e-6),
            nn.Conv2d(widths[-1], 2 * c.z_channels, 3, padding=1),
        )
        self.decoder.norm_out, self.decoder.conv_out = (
            nn.GroupNorm(32, widths[0], eps=1e-6),
            nn.Conv2d(widths[0], c.out_ch, 3, padding=1),
        )
        self.quant_conv = nn.Conv2d(2 * c.z_channels, 2 * c.embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(c.embed_dim, c.z_channels, 1)

    @staticmethod
    def _mid(part, h):
        return part.mid.block_2(part.mid.attn_1(part.mid.block_1(h)))

    def moments(self, x):
        h = self.encoder.conv_in(x)
        for stage in self.encoder.down:
            h = stage(h)
        h = self._mid(self.encoder, h)
        return self.quant_conv(self.encoder.conv_out(F.silu(self.encoder.norm_out(h))))

    def decode(self, z):
        h = self._mid(self.decoder, self.decoder.conv_in(self.post_quant_conv(z)))
        for stage in reversed(self.decoder.up):
            h = stage(h)
        return self.decoder.conv_out(F.silu(self.decoder.norm_out(h)))


@pytest.mark.parametrize(
    "config",
    [
        VAEConfig(ch=32, ch_mult=[1, 2], num_res_blocks=1, resolution=32, attn_resolutions=[16]),
        VAEConfig(ch=32, ch_mult=[1, 1, 2], num_res_blocks=2, resolution=32, attn_resolutions=[32, 16]),
        VAEConfig(
            ch=32, ch_mult=[1, 1, 1], num_res_blocks=1, resolution=100, attn_resolutions=[25, 48]
        ),  # encoder 25, decoder 48
    ],
    ids=["one-level", "two-levels", "encoder-decoder-differ"],
)
def test_vae_with_attention_resolutions_loads_the_ldm_layout(config, tmp_path):
    torch.manual_seed(0)
    ldm = _LDMAutoencoder(config).eval()
    with torch.no_grad():
        for p in ldm.parameters():
            p.normal_(0, 0.05)
    checkpoint = {f"first_stage_model.{k}": v for k, v in ldm.state_dict().items()}
    checkpoint["model.diffusion_model.out.2.bias"] = torch.zeros(4)
    torch.save({"state_dict": checkpoint}, tmp_path / "sd.ckpt")
    ours = load_vae(tmp_path / "sd.ckpt", config)

    x = torch.rand(1, 3, 32, 32) * 2 - 1
    z = torch.randn(1, config.z_channels, *[32 // 2 ** (len(config.ch_mult) - 1)] * 2)
    with torch.no_grad():
        torch.testing.assert_close(ours.encode(x).latent_dist.parameters, ldm.moments(x), rtol=0, atol=1e-5)
        torch.testing.assert_close(ours.decode(z).sample, ldm.decode(z), rtol=0, atol=1e-4)


# ------------------------------------------------------------------------------------------------
# CLIP and MiDaS: sizes their reference constructors accept
# ------------------------------------------------------------------------------------------------


def test_clip_sizes_open_clip_accepts():
    config = OpenCLIPConfig(
        embed_dim=12,
        vision_cfg=CLIPVisionConfig(
            image_size=64, patch_size=30, width=40, layers=1, head_width=16
        ),  # 2 heads of 20, 2×2 patches
        text_cfg=CLIPTextConfig(context_length=77, vocab_size=100, width=24, heads=3, layers=1),
    )
    assert config.vision_cfg.heads == 2 and config.vision_cfg.grid_size == 2
    torch.manual_seed(0)
    model = OpenCLIP(config).eval()
    tokens = torch.randint(0, 100, (2, 77))
    with torch.no_grad():
        assert model.encode_image(torch.randn(2, 3, 64, 64)).shape == (2, 12)
        # one block: the penultimate layer is the embeddings themselves, then ln_final (as the reference's loop)
        expected = model.ln_final(model.token_embedding(tokens) + model.positional_embedding)
        torch.testing.assert_close(model.encode_text_context(tokens), expected, rtol=0, atol=0)
    with pytest.raises(ValueError, match="head_width"):
        CLIPVisionConfig(width=30, head_width=7)


def test_midas_with_odd_fusion_width():
    config = MidasConfig(dim=32, neck_dims=(8, 16, 16, 16), fusion_dim=25, num_heads=2, num_layers=4)
    torch.manual_seed(0)
    model = MiDaS(config).eval()
    assert model.head[0].out_channels == 12  # fusion_dim // 2, as the reference
    with torch.no_grad():
        assert model(torch.rand(1, 3, 64, 96)).shape == (1, 1, 64, 96)


# ------------------------------------------------------------------------------------------------
# Diffusion: step counts that do not divide the training steps
# ------------------------------------------------------------------------------------------------


def test_ddim_step_count_not_dividing_the_schedule():
    """The reference strides by ``1000 // S``: 3 steps visit 4 timesteps, each stepping back 333."""
    assert ddim_timesteps(3, 1000).tolist() == [999, 667, 334, 1]
    seen = []

    def model(x, t):
        seen.append(int(t[0]))
        return torch.zeros_like(x)

    schedule = NoiseSchedule.linear_sd()
    x_T = torch.randn(1, 4, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    x_0 = sample(model, x_T, num_steps=3, schedule=schedule)
    assert seen == [999, 667, 334, 1]
    # with ε = 0 each step scales x by sqrt(ᾱ[max(t − 333, 0)] / ᾱ[t]) (999 → 666, not 667: the stride is 333)
    alphas = schedule.alphas_cumprod
    ratio = np.prod([(alphas[max(t - 333, 0)] / alphas[t]).sqrt().item() for t in seen])
    torch.testing.assert_close(x_0, x_T * ratio, rtol=1e-5, atol=0)


# ------------------------------------------------------------------------------------------------
# Video: clip length beyond 16 frames, every mask type through load_video_clip
# ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def three_seconds(tmp_path_factory):
    """3 s at 10 fps: the reference's short-clip rate is int(16 / 3) + 1 = 6 fps (18 frames)."""
    return write_video(tmp_path_factory.mktemp("variants") / "three_seconds.mp4", num_frames=30, fps=10)


def test_clips_of_17_to_18_frames_keep_the_reference_rate(three_seconds):
    for frames in (17, 18):  # 18 frames at 6 fps suffice: no higher rate than the reference's
        clip = load_video_clip(
            three_seconds, num_frames=frames, resolution=32, misc_size=48, vit_image_size=32, seed=0, with_mask=False
        )
        assert clip.fps == 6 and clip.frame_indices.tolist() == list(range(frames))


def _replayed_mask(seed: int, frame_types: str, num_frames: int, size: int) -> tuple[str, np.ndarray]:
    """The reference dataset's draws after ``setup_seed(seed)``: ``np.random.choice`` (start), one
    ``random.choice`` per frame, ``random.random()`` (type), the generator at 512², nearest resize."""
    numpy_rng, python_rng = np.random.RandomState(seed), random.Random(seed)
    numpy_rng.choice(start_candidates(frame_types, num_frames))
    for _ in range(num_frames):
        python_rng.choice([0, 1, 2])
    p = python_rng.random()
    kind, generator = (
        ("irregular", make_irregular_mask)
        if p < 0.7
        else ("rectangle", make_rectangle_mask)
        if p < 0.9
        else ("uncrop", make_uncrop)
    )
    return kind, cv2.resize(generator(512, 512, rng=numpy_rng), (size, size), interpolation=cv2.INTER_NEAREST)


def test_every_mask_type_through_load_video_clip(three_seconds):
    frames, misc = 5, 48
    frame_types = decode_motion_stream(reencode_mpeg4(three_seconds, 6), frame_indices=()).frame_types
    first_seed = {}
    for seed in range(40):
        first_seed.setdefault(_replayed_mask(seed, frame_types, frames, misc)[0], seed)
    assert set(first_seed) == {"irregular", "rectangle", "uncrop"}
    for kind, seed in first_seed.items():
        clip = load_video_clip(
            three_seconds, num_frames=frames, resolution=32, misc_size=misc, vit_image_size=32, seed=seed
        )
        expected = torch.from_numpy(_replayed_mask(seed, frame_types, frames, misc)[1])
        assert torch.equal(clip.mask, expected.expand(frames, 1, misc, misc)), kind


def test_mask_generators_on_non_square_sizes():
    for generator in (make_irregular_mask, make_rectangle_mask, make_uncrop):
        mask = generator(300, 200, rng=np.random.RandomState(3))
        assert mask.shape == (200, 300) and mask.dtype == np.float32 and 0 < mask.mean() < 1
