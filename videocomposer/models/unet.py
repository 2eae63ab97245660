"""The VideoComposer 3D UNet (the reference's ``UNetSD_temporal``); its configuration is :mod:`.unet_config`.

An SD-2.1-style UNet applied per frame, with a temporal transformer after every spatial one, temporal
convolutions inside every ResBlock, and the spatio-temporal condition (STC) encoders whose summed
features are concatenated to the noisy latent. It predicts ε for ``x`` ``[B, 4, F, h, w]``.

The module tree and parameter names are those of the official ``non_ema_228000.pth`` (1574 tensors,
1,413,435,636 parameters), which loads strictly and unchanged with :meth:`VideoComposerUNet.from_official`.
"""

from __future__ import annotations

import os

import torch
from einops import rearrange
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..checkpoints import load_official
from ..conditions import CONDITIONS, Condition, stc_conditions
from .attention import SpatialTransformer, TemporalTransformer
from .stc import ConditionDropout, ConditionStem, FrameTransformer, encoded_size
from .unet_blocks import Downsample, ResBlock, Upsample, timestep_embedding
from .unet_config import UNetConfig


def _res_block(config: UNetConfig, in_ch: int, out_ch: int) -> ResBlock:
    """A ResBlock ``in_ch`` → ``out_ch`` channels, with the timestep embedding (``4 · dim``) and a temporal conv."""
    return ResBlock(in_ch, out_ch, 4 * config.dim, config.dropout, config.temporal_conv_dropout)


def _attention(config: UNetConfig, ch: int) -> list[nn.Module]:
    """The attention after a ResBlock of ``ch`` channels: spatial (cross-attending the context), then temporal."""
    layers: list[nn.Module] = [SpatialTransformer(ch, ch // config.head_dim, config.head_dim, config.context_dim)]
    if config.temporal_attention:
        layers.append(TemporalTransformer(ch, ch // config.head_dim, config.head_dim))
    return layers


def _attention_at(config: UNetConfig, ch: int, scale: float) -> list[nn.Module]:
    """:func:`_attention` at the resolutions ``attn_scales`` lists (``scale`` 1 = the full latent), else none."""
    return _attention(config, ch) if scale in config.attn_scales else []


def _encoder_blocks(config: UNetConfig) -> tuple[nn.ModuleList, list[int]]:
    """``input_blocks``: the stem conv on ``[x, STC features]`` (+ a temporal transformer), then per level
    ``num_res_blocks`` ResBlocks (+ attention) and a Downsample (none after the last level).

    Returns the blocks and the output channels of each, which the decoder takes back as skip connections.
    """
    dim = config.dim
    widths = [dim * m for m in (1, *config.dim_mult)]
    stem: list[nn.Module] = [nn.Conv2d(config.in_dim + config.concat_dim, dim, 3, padding=1)]
    if config.temporal_attention:
        stem.append(TemporalTransformer(dim, config.num_heads, config.head_dim))
    blocks = nn.ModuleList([nn.ModuleList(stem)])
    skip_channels = [dim]
    last_level = len(config.dim_mult) - 1
    for level, (in_ch, out_ch) in enumerate(zip(widths[:-1], widths[1:])):
        for _ in range(config.num_res_blocks):
            blocks.append(
                nn.ModuleList([_res_block(config, in_ch, out_ch), *_attention_at(config, out_ch, 0.5**level)])
            )
            skip_channels.append(out_ch)
            in_ch = out_ch
        if level != last_level:
            blocks.append(Downsample(out_ch))  # stored bare: key input_blocks.N.op
            skip_channels.append(out_ch)
    return blocks, skip_channels


def _decoder_blocks(config: UNetConfig, skip_channels: list[int]) -> nn.ModuleList:
    """``output_blocks``: per level (deepest first) ``num_res_blocks + 1`` ResBlocks on ``[x, skip]``
    (+ attention), the last of each level but the final one ending in an Upsample."""
    widths = [config.dim * m for m in (config.dim_mult[-1], *reversed(config.dim_mult))]
    skips = list(skip_channels)
    blocks = nn.ModuleList()
    last_level = len(config.dim_mult) - 1
    for level, (in_ch, out_ch) in enumerate(zip(widths[:-1], widths[1:])):
        scale = 0.5 ** (last_level - level)
        for j in range(config.num_res_blocks + 1):
            layers = [_res_block(config, in_ch + skips.pop(), out_ch), *_attention_at(config, out_ch, scale)]
            if level != last_level and j == config.num_res_blocks:
                layers.append(Upsample(out_ch))
            blocks.append(nn.ModuleList(layers))
            in_ch = out_ch
    return blocks


class VideoComposerUNet(nn.Module):
    """3D UNet predicting ε from a noisy latent video, the timestep and any subset of the conditions.

    ``zero_y`` ``[1, L, context_dim]`` (the text embedding of the empty caption) is the context used
    when no ``y`` is given; it is a non-persistent buffer (not in the state dict). Until it is set
    (:meth:`set_zero_y`, which :class:`~videocomposer.pipelines.VideoComposerPipeline` and the trainer
    do from the CLIP text tower), using it is an error rather than a silent zero context.
    """

    zero_y: torch.Tensor

    def __init__(self, config: UNetConfig | None = None, zero_y: torch.Tensor | None = None):
        super().__init__()
        self.config = config = config if config is not None else UNetConfig.official()
        dim, context_dim = config.dim, config.context_dim

        # 1. embeddings: timestep MLP and the style-image token MLP
        self.time_embed = nn.Sequential(nn.Linear(dim, 4 * dim), nn.SiLU(), nn.Linear(4 * dim, 4 * dim))
        self.pre_image_condition = nn.Sequential(
            nn.Linear(context_dim, context_dim), nn.SiLU(), nn.Linear(context_dim, context_dim)
        )

        # 2. STC encoders, one stem + frame transformer per configured spatial condition
        self.stc_conditions: tuple[Condition, ...] = tuple(stc_conditions(config.video_compositions))
        for cond in self.stc_conditions:
            stc = cond.stc_encoder
            self.add_module(stc.stem_key, ConditionStem(stc.in_channels, config.concat_dim))
            self.add_module(
                stc.frames_key,
                FrameTransformer(config.concat_dim, config.stc_transformer_layers, dropout=config.stc_dropout),
            )
        self.condition_dropout = ConditionDropout(config.misc_dropout, config.p_all_zero, config.p_all_keep)
        self.register_buffer("zero_y", torch.zeros(1, 77, context_dim), persistent=False)
        self.zero_y_is_set = False
        if zero_y is not None:
            self.set_zero_y(zero_y)

        # 3. encoder, 4. middle: ResBlock, attention (always), ResBlock, 5. decoder
        self.input_blocks, skip_channels = _encoder_blocks(config)
        mid = dim * config.dim_mult[-1]
        self.middle_block = nn.ModuleList(
            [_res_block(config, mid, mid), *_attention(config, mid), _res_block(config, mid, mid)]
        )
        self.output_blocks = _decoder_blocks(config, skip_channels)

        # 6. head
        out_ch = dim * config.dim_mult[0]
        self.out = nn.Sequential(nn.GroupNorm(32, out_ch), nn.SiLU(), nn.Conv2d(out_ch, config.out_dim, 3, padding=1))

    # ------------------------------------------------------------------ loading and zero_y

    def set_zero_y(self, zero_y: torch.Tensor) -> None:
        """Set the empty-caption context ``[1, L, context_dim]`` (or ``[L, context_dim]``)."""
        if zero_y.ndim == 2:
            zero_y = zero_y[None]
        if zero_y.ndim != 3 or zero_y.shape[0] != 1 or zero_y.shape[2] != self.config.context_dim:
            raise ValueError(f"zero_y: expected shape [1, L, {self.config.context_dim}], got {tuple(zero_y.shape)}")
        self.zero_y = zero_y.detach().to(device=self.zero_y.device, dtype=self.zero_y.dtype).clone()
        self.zero_y_is_set = True

    def empty_caption(self) -> torch.Tensor:
        """``zero_y`` ``[1, L, context_dim]``; a ``ValueError`` saying how to set it when it was never set."""
        if not self.zero_y_is_set:
            raise ValueError(
                "this UNet has no empty-caption embedding (zero_y), which the unconditional pass and any "
                'call without y use: set it with unet.set_zero_y(clip_text_context_of("")) [1, 77, '
                f'{self.config.context_dim}], e.g. ConditionBuilder(tokenizer, clip).encode_prompt(""), '
                "or load the UNet through VideoComposerPipeline, which sets it from the CLIP text tower"
            )
        return self.zero_y

    @classmethod
    def from_official(
        cls, path: str | os.PathLike, config: UNetConfig | None = None, zero_y: torch.Tensor | None = None
    ) -> VideoComposerUNet:
        """Load a flat UNet state dict (``non_ema_228000.pth``, a ``.safetensors`` conversion, or a
        folder holding ``non_ema_228000.pth``) strictly; returns the model in eval mode.

        ``zero_y`` (the empty caption's text context) is not in the file: pass it, or call :meth:`set_zero_y`
        before using the UNet without ``y``. Wrapper prefixes (``module.``, ``_orig_mod.``) are stripped. Missing, unexpected or mis-shaped
        keys raise one :class:`~videocomposer.checkpoints.WeightFileError` naming the file.
        """
        # built on meta: no random init of 1.4 B parameters that are about to be overwritten; trainable
        model = load_official(lambda: cls(config), path, "unet", frozen=False)
        if zero_y is not None:
            model.set_zero_y(zero_y)
        return model

    # ------------------------------------------------------------------ forward

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | None = None,
        image: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        **spatial: torch.Tensor | None,
    ) -> torch.Tensor:
        """Predict ε.

        Args:
            x: noisy latent ``[B, in_dim, F, h, w]``; ``h, w`` multiples of ``2^(len(dim_mult)-1)``.
            t: timesteps ``[B]`` (or a scalar), integers in [0, 1000), not rescaled.
            y: text context ``[B, L, context_dim]``; when None, ``zero_y`` repeated over the batch.
            image: style-image embedding ``[B, N, context_dim]`` (N = 1 officially), appended to the
                context after the ``pre_image_condition`` MLP.
            spatial: the spatial conditions by UNet kwarg (``local_image``, ``depth``, ``sketch``,
                ``single_sketch``, ``masked``, ``motion``, or any registered one), ``[B, C, F, H, W]`` of any
                ``H×W`` (channels and value ranges in each condition's record, ``Condition.stc``).
            generator: CPU generator for the training-mode condition dropout (default: global RNG).
        Returns:
            ε ``[B, out_dim, F, h, w]``.
        """
        t = self._check_inputs(x, t, y, image, spatial)
        batch, _, frames, height, width = x.shape

        # 1. condition-dropout groups (all False in eval mode)
        zero, keep = self.condition_dropout.sample_groups(batch, x.device, generator)

        def drop(features: torch.Tensor) -> torch.Tensor:
            return self.condition_dropout(features, zero, keep, generator)

        # 2. STC features, summed into the concat channels (zeros when no condition is given)
        pooled_size = self.config.condition_pool_size or (4 * height, 4 * width)
        concat = x.new_zeros(batch, self.config.concat_dim, frames, height, width)
        for cond in self.stc_conditions:
            video = spatial.get(cond.name)
            if video is not None:
                features = getattr(self, cond.stc_encoder.stem_key)(video, pooled_size)
                concat = concat + drop(getattr(self, cond.stc_encoder.frames_key)(features))
        h = torch.cat([x, concat], dim=1)

        # 3. timestep embedding and cross-attention context, repeated per frame (row b·F + f)
        emb = self.time_embed(timestep_embedding(t, self.config.dim))
        context = drop(y) if y is not None else self.empty_caption().repeat(batch, 1, 1)
        if image is not None:
            context = torch.cat([context, drop(self.pre_image_condition(image))], dim=1)
        emb = emb.repeat_interleave(frames, dim=0)
        context = context.repeat_interleave(frames, dim=0)

        # 4. UNet on frames folded into the batch
        h = self._run_unet(rearrange(h, "b c f h w -> (b f) c h w"), emb, context, frames)
        return rearrange(h, "(b f) c h w -> b c f h w", b=batch)

    def _run_unet(self, h: torch.Tensor, emb: torch.Tensor, context: torch.Tensor, frames: int) -> torch.Tensor:
        """Input blocks, middle block, output blocks (with the skip connections) and the output head.

        ``h``: ``[B·F, in_dim + concat_dim, h, w]``; ``emb``: ``[B·F, 4·dim]``; ``context``:
        ``[B·F, L, context_dim]`` (row b·F + f throughout). Returns ``[B·F, out_dim, h, w]``.
        """
        skips = []
        for block in self.input_blocks:
            h = self._run_block(block, h, emb, context, frames)
            skips.append(h)
        h = self._run_block(self.middle_block, h, emb, context, frames)
        for block in self.output_blocks:
            h = self._run_block(block, torch.cat([h, skips.pop()], dim=1), emb, context, frames)
        return self.out(h)

    def _run_block(
        self, block: nn.Module, h: torch.Tensor, emb: torch.Tensor, context: torch.Tensor, frames: int
    ) -> torch.Tensor:
        """Apply one input/middle/output block (a ModuleList or a bare Downsample) layer by layer.

        ResBlocks and transformers are activation-checkpointed when ``use_checkpoint`` and grad are on.
        """
        for layer in block if isinstance(block, nn.ModuleList) else [block]:
            if isinstance(layer, ResBlock):
                args: tuple = (h, emb, frames)
            elif isinstance(layer, SpatialTransformer):
                args = (h, context)
            elif isinstance(layer, TemporalTransformer):
                args = (h, frames)
            else:  # stem conv, Downsample, Upsample
                h = layer(h)
                continue
            if self.config.use_checkpoint and torch.is_grad_enabled():
                h = checkpoint(layer, *args, use_reentrant=False)
            else:
                h = layer(*args)
        return h

    def _check_inputs(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        y: torch.Tensor | None,
        image: torch.Tensor | None,
        spatial: dict[str, torch.Tensor | None],
    ) -> torch.Tensor:
        """Validate shapes against the config; returns ``t`` as ``[B]``. Raises ``ValueError`` naming the argument."""
        cfg = self.config
        if x.ndim != 5 or x.shape[1] != cfg.in_dim:
            raise ValueError(f"x: expected a latent video [B, {cfg.in_dim}, F, h, w], got shape {tuple(x.shape)}")
        batch, _, frames, height, width = x.shape
        factor = 2 ** (len(cfg.dim_mult) - 1)
        if height % factor or width % factor:
            raise ValueError(
                f"x: latent height and width must be multiples of {factor} ({len(cfg.dim_mult)} UNet levels), "
                f"got shape {tuple(x.shape)}"
            )
        t = torch.as_tensor(t, device=x.device)
        if t.ndim == 0:
            t = t.expand(batch)
        if t.shape != (batch,):
            raise ValueError(f"t: expected shape [{batch}] (one timestep per sample), got {tuple(t.shape)}")
        for name, tokens in (("y", y), ("image", image)):
            if tokens is not None and (
                tokens.ndim != 3 or tokens.shape[0] != batch or tokens.shape[2] != cfg.context_dim
            ):
                raise ValueError(f"{name}: expected shape [{batch}, L, {cfg.context_dim}], got {tuple(tokens.shape)}")
        encoders = {c.name: c for c in self.stc_conditions}
        for kwarg, video in spatial.items():
            if kwarg not in CONDITIONS or CONDITIONS[kwarg].stc is None:
                spatial_names = [c.name for c in stc_conditions()]
                raise TypeError(
                    f"VideoComposerUNet.forward() got an unexpected keyword argument {kwarg!r}; the spatial "
                    f"conditions are {spatial_names}"
                )
            if video is None:
                continue
            if kwarg not in encoders:
                name = CONDITIONS[kwarg].reference_name
                raise ValueError(
                    f"{kwarg}: this model has no encoder for condition {name!r} (video_compositions = "
                    f"{list(cfg.video_compositions)}); leave {kwarg}=None or add {name!r} to the config"
                )
            channels = encoders[kwarg].stc_encoder.in_channels
            if video.ndim != 5 or video.shape[:3] != (batch, channels, frames):
                raise ValueError(
                    f"{kwarg}: expected shape [{batch}, {channels}, {frames}, H, W] (batch, channels and "
                    f"frames of x), got {tuple(video.shape)}"
                )
        if cfg.condition_pool_size is not None and any(v is not None for v in spatial.values()):
            reached = tuple(encoded_size(s) for s in cfg.condition_pool_size)
            if reached != (height, width):
                raise ValueError(
                    f"x: the condition encoders pool to {cfg.condition_pool_size} and reach {reached[0]}x{reached[1]} "
                    f"latents, but x has shape {tuple(x.shape)}; set condition_pool_size=None to follow the latent size"
                )
        return t


__all__ = ["UNetConfig", "VideoComposerUNet"]
