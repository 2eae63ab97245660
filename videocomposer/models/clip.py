"""The frozen OpenCLIP towers VideoComposer conditions on (ViT-H-14, laion2b_s32b_b79k).

Plain-torch text and image transformers whose ``state_dict()`` names are open_clip's, so the
official flat ``open_clip_pytorch_model.bin`` loads unchanged:

* text tower at the root: ``token_embedding.weight``, ``positional_embedding``,
  ``transformer.resblocks.<i>.{ln_1, attn.in_proj_weight, attn.in_proj_bias, attn.out_proj,
  ln_2, mlp.c_fc, mlp.c_proj}``, ``ln_final``, ``text_projection``, ``logit_scale``;
* image tower under ``visual.``: ``conv1.weight`` (no bias), ``class_embedding``,
  ``positional_embedding``, ``ln_pre``, ``transformer.resblocks.<i>.*``, ``ln_post``, ``proj``.

What VideoComposer feeds its UNet:

* ``y`` = :meth:`OpenCLIP.encode_text_context` — token + positional embedding, all residual
  blocks but the last under the causal mask, ``ln_final`` on every token: ``[B, 77, 1024]``;
* ``image`` = :meth:`OpenCLIP.encode_image_context` — the full visual tower (class token after
  ``ln_post``, projected): ``[B, 1, 1024]``.

Attention runs batch-first through ``F.scaled_dot_product_attention``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoints import load_official
from ..config import check_keys
from ..video.transforms import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD

Tower = Literal["text", "image"]
TOWERS: tuple[Tower, ...] = ("text", "image")
_IMAGE_PREFIX = "visual."


# ----------------------------------------------------------------------------------------------
# Configuration (field names and defaults are open_clip's CLIPVisionCfg / CLIPTextCfg, so an
# open_clip model-config JSON such as ViT-H-14.json maps onto these dataclasses one to one)
# ----------------------------------------------------------------------------------------------


@dataclass
class CLIPVisionConfig:
    """Vision transformer size. ``width // head_width`` heads (open_clip's rounding); MLP width
    ``int(width · mlp_ratio)``; ``(image_size // patch_size)²`` patches (a remainder is cropped, as by open_clip)."""

    image_size: int = 224
    patch_size: int = 16
    width: int = 768
    layers: int = 12
    head_width: int = 64
    mlp_ratio: float = 4.0

    @property
    def heads(self) -> int:
        return self.width // self.head_width

    @property
    def grid_size(self) -> int:
        return self.image_size // self.patch_size

    def __post_init__(self) -> None:
        heads = self.width // self.head_width if self.head_width > 0 else 0
        _require(
            heads >= 1 and self.width % heads == 0,
            f"vision width {self.width} / head_width {self.head_width} gives {heads} heads; the width must split evenly into them",
        )
        _require(
            0 < self.patch_size <= self.image_size,
            f"vision patch_size {self.patch_size} must be in [1, image_size={self.image_size}]",
        )


@dataclass
class CLIPTextConfig:
    """Causal text transformer size. MLP width ``width · mlp_ratio``."""

    context_length: int = 77
    vocab_size: int = 49408
    width: int = 512
    heads: int = 8
    layers: int = 12
    mlp_ratio: float = 4.0

    def __post_init__(self) -> None:
        _require(self.width % self.heads == 0, f"text width {self.width} is not a multiple of heads {self.heads}")
        _require(self.layers >= 1, f"text layers must be >= 1, got {self.layers}")


@dataclass
class OpenCLIPConfig:
    """An open_clip CLIP model config: ``embed_dim`` (joint space), ``vision_cfg``, ``text_cfg``.

    ``quick_gelu`` selects OpenAI's ``x·σ(1.702x)`` instead of the exact (erf) GELU; ViT-H-14 uses
    the exact GELU. ``asdict(config)`` is open_clip's JSON format and :meth:`from_dict` reads it.
    """

    embed_dim: int = 512
    vision_cfg: CLIPVisionConfig = field(default_factory=CLIPVisionConfig)
    text_cfg: CLIPTextConfig = field(default_factory=CLIPTextConfig)
    quick_gelu: bool = False

    @classmethod
    def vit_h_14(cls) -> OpenCLIPConfig:
        """open_clip's ``ViT-H-14``: 1024-d joint space; vision 224 px, patch 14, width 1280,
        32 layers, 16 heads of 80; text 77 tokens, width 1024, 16 heads, 24 layers."""
        return cls(
            embed_dim=1024,
            vision_cfg=CLIPVisionConfig(image_size=224, patch_size=14, width=1280, layers=32, head_width=80),
            text_cfg=CLIPTextConfig(context_length=77, vocab_size=49408, width=1024, heads=16, layers=24),
        )

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> OpenCLIPConfig:
        """Build from an open_clip model-config dict (``{"embed_dim", "vision_cfg", "text_cfg"}``).

        Missing fields take open_clip's defaults. Keys naming an open_clip feature this
        implementation lacks raise ``ValueError`` unless the feature is switched off
        (``None``/``False``/``0``).
        """
        top = _known_fields(cls, config, "open_clip model config")
        if "vision_cfg" in top:
            top["vision_cfg"] = CLIPVisionConfig(**_known_fields(CLIPVisionConfig, top["vision_cfg"], "vision_cfg"))
        if "text_cfg" in top:
            top["text_cfg"] = CLIPTextConfig(**_known_fields(CLIPTextConfig, top["text_cfg"], "text_cfg"))
        return cls(**top)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


#: open_clip config keys of features this implementation lacks: accepted only when switched off (None/False/0).
_OPEN_CLIP_UNSUPPORTED = frozenset(
    {
        "custom_text",
        "cast_dtype",
        "init_logit_bias",
        "nonscalar_logit_scale",  # model
        "ls_init_value",
        "patch_dropout",
        "attentional_pool",
        "no_ln_pre",
        "final_ln_after_pool",
        "output_tokens",
        "act_kwargs",
        "norm_kwargs",
        "input_patchnorm",
        "global_average_pool",
        "timm_model_name",
        "timm_model_pretrained",
        "timm_pool",
        "timm_proj",
        "timm_proj_bias",
        "timm_drop",
        "timm_drop_path",  # vision tower
        "hf_model_name",
        "hf_tokenizer_name",
        "hf_model_pretrained",
        "hf_pooler_type",
        "embed_cls",
        "pad_id",
        "no_causal_mask",
        "proj_bias",  # text tower
    }
)


def _known_fields(cls: type, config: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The fields of ``cls`` in an open_clip config dict; a switched-on unsupported feature or an unknown
    key (with a did-you-mean) is an error."""
    if not isinstance(config, Mapping):
        raise ValueError(f"{where} must be a dict, got {type(config).__name__}: {config!r}")
    switched_on = sorted(k for k, v in config.items() if k in _OPEN_CLIP_UNSUPPORTED and v not in (None, False, 0))
    _require(not switched_on, f"{where}: open_clip features {switched_on} are not implemented here (only when off)")
    values = {k: v for k, v in config.items() if k not in _OPEN_CLIP_UNSUPPORTED}
    check_keys(cls, values, where)
    return values


# ----------------------------------------------------------------------------------------------
# Transformer blocks (open_clip's ResidualAttentionBlock, batch-first)
# ----------------------------------------------------------------------------------------------


class QuickGELU(nn.Module):
    """OpenAI CLIP's GELU approximation ``x · σ(1.702 x)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class SelfAttention(nn.Module):
    """Multi-head self-attention with ``nn.MultiheadAttention``'s parameter names.

    ``in_proj_weight`` ``[3·W, W]`` holds the q, k, v projections stacked; ``out_proj`` is a Linear.
    """

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.in_proj_weight = nn.Parameter(torch.empty(3 * width, width))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * width))
        self.out_proj = nn.Linear(width, width)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        """``x`` ``[B, L, W]`` → ``[B, L, W]``; ``causal`` masks keys after each query."""
        b, length, width = x.shape
        qkv = F.linear(x, self.in_proj_weight, self.in_proj_bias)  # [B, L, 3W]
        q, k, v = qkv.view(b, length, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)  # 3 × [B, h, L, d]
        out = F.scaled_dot_product_attention(q, k, v, is_causal=causal)  # [B, h, L, d]
        return self.out_proj(out.transpose(1, 2).reshape(b, length, width))


class MLP(nn.Module):
    """``c_fc`` → GELU → ``c_proj``."""

    def __init__(self, width: int, hidden: int, quick_gelu: bool):
        super().__init__()
        self.c_fc = nn.Linear(width, hidden)
        self.gelu = QuickGELU() if quick_gelu else nn.GELU()
        self.c_proj = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c_proj(self.gelu(self.c_fc(x)))


class ResidualAttentionBlock(nn.Module):
    """Pre-norm block: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, quick_gelu: bool):
        super().__init__()
        self.ln_1 = nn.LayerNorm(width)
        self.attn = SelfAttention(width, heads)
        self.ln_2 = nn.LayerNorm(width)
        self.mlp = MLP(width, int(width * mlp_ratio), quick_gelu)

    def forward(self, x: torch.Tensor, causal: bool = False) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x), causal)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A stack of :class:`ResidualAttentionBlock` (key prefix ``resblocks.<i>.``)."""

    def __init__(self, width: int, layers: int, heads: int, mlp_ratio: float, quick_gelu: bool):
        super().__init__()
        self.resblocks = nn.ModuleList(
            ResidualAttentionBlock(width, heads, mlp_ratio, quick_gelu) for _ in range(layers)
        )

    def forward(self, x: torch.Tensor, causal: bool = False, num_blocks: int | None = None) -> torch.Tensor:
        """``x`` ``[B, L, W]`` through the first ``num_blocks`` blocks (all when ``None``)."""
        for block in self.resblocks[:num_blocks]:
            x = block(x, causal)
        return x


class VisionTransformer(nn.Module):
    """open_clip's ViT image tower: pixels ``[B, 3, S, S]`` → embedding ``[B, embed_dim]``."""

    def __init__(self, cfg: CLIPVisionConfig, embed_dim: int, quick_gelu: bool):
        super().__init__()
        width, scale = cfg.width, cfg.width**-0.5
        self.image_size = cfg.image_size
        self.conv1 = nn.Conv2d(3, width, kernel_size=cfg.patch_size, stride=cfg.patch_size, bias=False)
        self.class_embedding = nn.Parameter(scale * torch.randn(width))
        self.positional_embedding = nn.Parameter(scale * torch.randn(cfg.grid_size**2 + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        self.transformer = Transformer(width, cfg.layers, cfg.heads, cfg.mlp_ratio, quick_gelu)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(scale * torch.randn(width, embed_dim))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        b = pixels.shape[0]
        x = self.conv1(pixels).flatten(2).transpose(1, 2)  # [B, grid², W]
        cls = self.class_embedding.to(x.dtype).expand(b, 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding.to(x.dtype)  # [B, 1 + grid², W]
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x[:, 0]) @ self.proj  # [B, embed_dim]


# ----------------------------------------------------------------------------------------------
# The model
# ----------------------------------------------------------------------------------------------


class OpenCLIP(nn.Module):
    """open_clip's ``CLIP`` with only the requested towers built.

    Args:
        config: the architecture (:meth:`OpenCLIPConfig.vit_h_14` for the official weights).
        towers: ``("text",)``, ``("image",)`` or both. The text tower owns every root-level key
            (including ``text_projection`` and ``logit_scale``), the image tower every ``visual.*`` key.

    Attributes:
        image_mean, image_std: per-channel RGB normalisation the image tower expects (OpenAI's).
    """

    def __init__(self, config: OpenCLIPConfig, towers: Iterable[Tower] = TOWERS):
        super().__init__()
        self.config = config
        self.towers = _check_towers(towers)
        self.image_mean, self.image_std = OPENAI_CLIP_MEAN, OPENAI_CLIP_STD
        if "text" in self.towers:
            t = config.text_cfg
            self.token_embedding = nn.Embedding(t.vocab_size, t.width)
            self.positional_embedding = nn.Parameter(0.01 * torch.randn(t.context_length, t.width))
            self.transformer = Transformer(t.width, t.layers, t.heads, t.mlp_ratio, config.quick_gelu)
            self.ln_final = nn.LayerNorm(t.width)
            self.text_projection = nn.Parameter(t.width**-0.5 * torch.randn(t.width, config.embed_dim))
            self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))
            nn.init.normal_(self.token_embedding.weight, std=0.02)
        if "image" in self.towers:
            self.visual = VisionTransformer(config.vision_cfg, config.embed_dim, config.quick_gelu)

    # --- loading ------------------------------------------------------------------------------

    @classmethod
    def from_official(
        cls, path: str | os.PathLike, config: OpenCLIPConfig | None = None, towers: Iterable[Tower] = TOWERS
    ) -> OpenCLIP:
        """Load a flat open_clip state dict (``open_clip_pytorch_model.bin`` or a ``.safetensors``).

        ``path`` is the file or the folder holding ``open_clip_pytorch_model.bin``. An optional
        ``{'state_dict': ...}`` wrapper and ``module.`` prefixes are removed; the keys of the
        requested towers must match exactly (others are dropped before anything is copied, so a
        text-only load never materialises the ~2.5 GB of visual weights of a memory-mapped
        ``.bin``). Weights are cast to float32; the model is returned frozen, in eval mode.
        """
        towers = _check_towers(towers)
        return load_official(
            lambda: cls(config or OpenCLIPConfig.vit_h_14(), towers),
            path,
            "clip",
            convert=lambda state_dict, _: {k: v for k, v in state_dict.items() if _tower_of(k) in towers},
        )

    def freeze(self) -> OpenCLIP:
        """Eval mode, no gradients (the towers are frozen in VideoComposer). Returns ``self``."""
        self.eval()
        self.requires_grad_(False)
        return self

    # --- text ---------------------------------------------------------------------------------

    def encode_text_context(
        self, tokens: torch.Tensor, layer: Literal["penultimate", "last"] = "penultimate"
    ) -> torch.Tensor:
        """Per-token text features, VideoComposer's ``y``.

        ``tokens`` int64 ``[B, L]`` (``L ≤ context_length``, 77 from the tokenizer) →
        ``[B, L, text width]`` (``[B, 77, 1024]`` for ViT-H-14): embeddings through all blocks
        (``"last"``) or all but the last (``"penultimate"``) under the causal mask, then
        ``ln_final`` on every token. No pooling, no projection.
        """
        if layer not in ("penultimate", "last"):
            raise ValueError(f"layer must be 'penultimate' or 'last', got {layer!r}")
        x = self._embed_tokens(tokens)
        skip_last = 1 if layer == "penultimate" else 0
        x = self.transformer(x, causal=True, num_blocks=len(self.transformer.resblocks) - skip_last)
        return self.ln_final(x)

    def encode_text(self, tokens: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """open_clip's ``encode_text``: ``[B, L]`` tokens → ``[B, embed_dim]`` (the EOT token's
        final feature — the highest id in each row — projected; unit length if ``normalize``)."""
        x = self.encode_text_context(tokens, layer="last")  # [B, L, W]
        pooled = x[torch.arange(x.shape[0], device=x.device), tokens.argmax(dim=-1)]  # [B, W]
        features = pooled @ self.text_projection
        return F.normalize(features, dim=-1) if normalize else features

    def _embed_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        self._require_tower("text")
        t = self.config.text_cfg
        if (
            tokens.ndim != 2
            or tokens.dtype not in (torch.int64, torch.int32)
            or not 0 < tokens.shape[1] <= t.context_length
        ):
            raise ValueError(
                f"tokens must be an integer tensor [B, L] with 0 < L <= {t.context_length}, "
                f"got {tuple(tokens.shape)} {tokens.dtype}"
            )
        return self.token_embedding(tokens) + self.positional_embedding[: tokens.shape[1]]  # [B, L, W]

    # --- image --------------------------------------------------------------------------------

    def encode_image(self, pixels: torch.Tensor, normalize: bool = False) -> torch.Tensor:
        """open_clip's ``encode_image``: normalised pixels ``[B, 3, S, S]`` (S = 224; see
        :mod:`videocomposer.video.image_preprocess`) → ``[B, embed_dim]`` (unit length if ``normalize``)."""
        self._require_tower("image")
        size = self.visual.image_size
        if pixels.ndim != 4 or tuple(pixels.shape[1:]) != (3, size, size) or not pixels.is_floating_point():
            raise ValueError(
                f"pixels must be a float tensor [B, 3, {size}, {size}], got {tuple(pixels.shape)} {pixels.dtype}"
            )
        features = self.visual(pixels)
        return F.normalize(features, dim=-1) if normalize else features

    def encode_image_context(self, pixels: torch.Tensor) -> torch.Tensor:
        """VideoComposer's ``image`` condition: ``[B, 3, S, S]`` → ``[B, 1, embed_dim]``."""
        return self.encode_image(pixels).unsqueeze(1)

    def _require_tower(self, tower: Tower) -> None:
        if tower not in self.towers:
            raise ValueError(f"this OpenCLIP was built with towers={self.towers}; the {tower!r} tower is needed here")


def _check_towers(towers: Iterable[Tower]) -> tuple[Tower, ...]:
    chosen = tuple(towers) if not isinstance(towers, str) else (towers,)
    _require(
        len(chosen) > 0 and all(t in TOWERS for t in chosen),
        f"towers must be a non-empty subset of {TOWERS}, got {towers!r}",
    )
    return tuple(t for t in TOWERS if t in chosen)


def _tower_of(key: str) -> Tower:
    return "image" if key.startswith(_IMAGE_PREFIX) else "text"


__all__ = ["CLIPTextConfig", "CLIPVisionConfig", "OpenCLIP", "OpenCLIPConfig", "TOWERS"]
