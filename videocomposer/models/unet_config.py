"""The configuration of the VideoComposer UNet (:class:`~videocomposer.models.unet.VideoComposerUNet`):
architecture and training-time behaviour, the official values by default, and the reference's
``UNetSD_temporal`` constructor kwargs translated."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from ..conditions import CONDITIONS, OFFICIAL_COMPOSITIONS, known_condition_names, normalize_condition
from ..config import ArchitectureConfig

# The reference constructor's defaults (U:1136-1166), used for keys a reference kwargs dict leaves out.
_REFERENCE_DEFAULTS: dict[str, Any] = {
    "in_dim": 7,
    "dim": 512,
    "context_dim": 512,
    "concat_dim": 8,
    "out_dim": 6,
    "dim_mult": (1, 2, 3, 4),
    "num_heads": None,
    "head_dim": 64,
    "num_res_blocks": 3,
    "attn_scales": (1 / 2, 1 / 4, 1 / 8),
    "dropout": 0.1,
    "temporal_attn_times": 1,
    "temporal_attention": True,
    "use_checkpoint": False,
    "misc_dropout": 0.5,
    "video_compositions": ("text", "mask"),
    "p_all_zero": 0.1,
    "p_all_keep": 0.1,
}
# Reference constructor arguments that do not change what the model computes.
_REFERENCE_NO_EFFECT = {
    "y_dim",
    "hist_dim",
    "use_scale_shift_norm",
    "use_sim_mask",
    "training",
    "zero_y",
    "black_image_feature",
}
# Reference options for code paths the official model never takes; accepted only when off.
_REFERENCE_UNSUPPORTED = {"use_fps_condition", "use_image_dataset"}


@dataclass
class UNetConfig(ArchitectureConfig):
    """Architecture and training-time behaviour of :class:`VideoComposerUNet`.

    The defaults (:meth:`official`) are those of the released checkpoint ``non_ema_228000.pth``. Field names
    mirror the reference constructor. JSON-serialisable with ``dataclasses.asdict``; ``UNetConfig(**d)`` rebuilds it.
    """

    in_dim: int = 4  # latent channels of x
    concat_dim: int = 8  # channels of the summed STC features concatenated to x
    dim: int = 320  # base width (multiple of 32: GroupNorm(32))
    context_dim: int = 1024  # text/image token width (the reference hard-codes 1024 in places)
    out_dim: int = 4  # predicted channels (ε)
    dim_mult: tuple[int, ...] = (1, 2, 4, 4)
    num_heads: int = 8  # heads of the first temporal transformer only (inner = num_heads·head_dim)
    head_dim: int = 64  # every other attention has channels // head_dim heads
    num_res_blocks: int = 2
    attn_scales: tuple[float, ...] = (1.0, 0.5, 0.25)  # resolutions (1 = full latent) with attention
    dropout: float = 0.1  # ResBlock out_layers dropout
    temporal_attention: bool = True  # temporal transformers after every spatial one
    temporal_attn_times: int = 1  # only 1 is meaningful (the reference's unused multi-block path)
    video_compositions: tuple[str, ...] = OFFICIAL_COMPOSITIONS  # condition encoders built (any condition name)
    misc_dropout: float = 0.5  # per-condition drop probability in training
    p_all_zero: float = 0.1  # per-sample probability of dropping every condition
    p_all_keep: float = 0.1  # per-sample probability of keeping every condition (the
    #                                      official pipeline passes p_all_zero here; same value 0.1)
    use_checkpoint: bool = True  # activation checkpointing per block when grad is enabled
    temporal_conv_dropout: float = 0.1  # dropout inside the temporal convs (hard-coded 0.1 in the reference)
    stc_dropout: float = 0.05  # dropout inside the STC frame transformers
    stc_transformer_layers: int = 1  # the reference's cfg.adapter_transformer_layers
    # STC pooled size: None = 4 × the latent size (128×128 for 32×32 latents, exactly the reference);
    # a fixed (H, W) reproduces the reference's fixed AdaptiveAvgPool2d and only fits one latent size.
    condition_pool_size: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.dim_mult = tuple(int(m) for m in self.dim_mult)
        self.attn_scales = tuple(float(s) for s in self.attn_scales)
        self.video_compositions = tuple(self.video_compositions)
        if self.condition_pool_size is not None:
            size = tuple(int(s) for s in self.condition_pool_size)
            if len(size) != 2:
                raise ValueError(f"condition_pool_size: expected (height, width), got {self.condition_pool_size!r}")
            self.condition_pool_size = (size[0], size[1])
        unknown = [n for n in self.video_compositions if n not in known_condition_names()]
        if unknown:
            raise ValueError(
                f"video_compositions: unknown condition(s) {unknown}; expected names from "
                f"{[c.reference_name for c in CONDITIONS.values()]}"
            )
        if len({normalize_condition(n) for n in self.video_compositions}) != len(self.video_compositions):
            raise ValueError(f"video_compositions: duplicate names in {list(self.video_compositions)}")
        if self.dim <= 0 or self.dim % 32:
            raise ValueError(f"dim: expected a positive multiple of 32 (GroupNorm with 32 groups), got {self.dim}")
        if not self.dim_mult or min(self.dim_mult) < 1:
            raise ValueError(f"dim_mult: expected a non-empty list of positive integers, got {list(self.dim_mult)}")
        bad_widths = [self.dim * m for m in self.dim_mult if (self.dim * m) % self.head_dim]
        if bad_widths:
            raise ValueError(
                f"head_dim: every level width must be a multiple of head_dim={self.head_dim}, got widths {bad_widths}"
            )
        if self.num_res_blocks < 1:
            raise ValueError(f"num_res_blocks: expected >= 1, got {self.num_res_blocks}")
        if self.temporal_attn_times != 1:
            raise ValueError(
                f"temporal_attn_times: only 1 is supported (it only affects the reference's unused "
                f"TemporalAttentionMultiBlock path), got {self.temporal_attn_times}"
            )
        for name in ("dropout", "misc_dropout", "p_all_zero", "p_all_keep", "temporal_conv_dropout", "stc_dropout"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name}: expected a probability in [0, 1], got {getattr(self, name)}")
        if self.condition_pool_size is not None and (
            len(self.condition_pool_size) != 2 or min(self.condition_pool_size) < 1
        ):
            raise ValueError(f"condition_pool_size: expected None or (height, width), got {self.condition_pool_size}")

    @classmethod
    def from_reference_kwargs(cls, kwargs: dict) -> UNetConfig:
        """Build from ``UNetSD_temporal`` constructor kwargs (e.g. a fixture's ``constructor_kwargs``).

        Missing keys take the reference constructor's defaults; ``num_heads=None`` means ``dim // 32``;
        ``inpainting=False`` removes the mask encoder. Unknown keys raise ``ValueError``.
        """
        own = {f.name for f in fields(cls)}
        unknown = set(kwargs) - own - _REFERENCE_NO_EFFECT - _REFERENCE_UNSUPPORTED - {"inpainting"}
        if unknown:
            raise ValueError(f"reference kwargs: unknown key(s) {sorted(unknown)}")
        enabled = sorted(k for k in _REFERENCE_UNSUPPORTED if kwargs.get(k))
        if enabled:
            raise ValueError(
                f"reference kwargs: {enabled} are not supported (no official model uses them); set them to False"
            )
        values = {**_REFERENCE_DEFAULTS, **{k: v for k, v in kwargs.items() if k in own}}
        if values["num_heads"] is None:
            values["num_heads"] = values["dim"] // 32
        if kwargs.get("inpainting", True) is False:
            values["video_compositions"] = tuple(n for n in values["video_compositions"] if n != "mask")
        return cls(**values)


__all__ = ["UNetConfig"]
