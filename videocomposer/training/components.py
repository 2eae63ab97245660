"""The networks of a training run, loaded from the official weight files like the pipeline loads them.

The trainable UNet starts from ``unet_checkpoint`` (an official ``non_ema_228000.pth`` or a checkpoint
this trainer wrote) or ``weights_dir/non_ema_228000.pth``. The frozen VAE, CLIP towers and annotators come
from ``weights_dir``, only those that the trained conditions need (plus the CLIP text tower, whose
empty-caption embedding is the UNet's ``zero_y``). ``unet`` and ``frozen_models`` override architectures
(``frozen_models``: ``vae`` = VAEConfig fields, ``clip`` = an open_clip model config, ``midas`` =
MidasConfig fields, ``sketch_cleaner`` = SketchCleanerConfig fields), e.g. for the tiny test models of :mod:`videocomposer.pipelines.tiny`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..annotators.midas import MidasConfig
from ..annotators.sketch import SketchCleanerConfig
from ..conditions import CONDITIONS, ConditionBuilder, normalize_conditions
from ..config import build
from ..models.clip import OpenCLIPConfig
from ..models.tokenizer import default_tokenizer
from ..models.unet import UNetConfig, VideoComposerUNet
from ..models.vae import VAEConfig
from ..pipelines.components import components_for, load_official_component, official_paths
from .config import ConfigError, TrainConfig

#: ``frozen_models`` keys and the parser of each architecture.
FROZEN_CONFIGS = {
    "vae": VAEConfig.from_dict,
    "clip": OpenCLIPConfig.from_dict,
    "midas": MidasConfig.from_dict,
    "sketch_cleaner": SketchCleanerConfig.from_dict,
}


@dataclass
class TrainingModels:
    """The trainable UNet (train mode) and the frozen networks (eval mode, no gradients)."""

    unet: VideoComposerUNet | None
    vae: nn.Module
    conditions: ConditionBuilder


def unet_config(cfg: TrainConfig) -> UNetConfig:
    """The official UNet config with ``cfg.unet`` overrides (keys and types checked) and the training keys applied."""
    values = {
        **cfg.unet,
        "video_compositions": tuple(cfg.video_compositions),
        "misc_dropout": cfg.misc_dropout,
        "p_all_zero": cfg.p_all_zero,
        "p_all_keep": cfg.p_all_keep,
        "use_checkpoint": cfg.gradient_checkpointing,
    }
    try:
        return build(UNetConfig, values, "unet")
    except ValueError as exc:
        raise ConfigError(f"unet: {exc}") from exc


def frozen_configs(cfg: TrainConfig) -> dict[str, object]:
    """``cfg.frozen_models`` parsed per component (checked, not yet used to build anything)."""
    unknown = sorted(set(cfg.frozen_models) - set(FROZEN_CONFIGS))
    if unknown:
        raise ConfigError(f"frozen_models: unknown component(s) {unknown}; expected some of {list(FROZEN_CONFIGS)}")
    parsed = {}
    for name, values in cfg.frozen_models.items():
        try:
            parsed[name] = FROZEN_CONFIGS[name](values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"frozen_models.{name}: {exc}") from exc
    return parsed


def check_model_config(cfg: TrainConfig) -> None:
    """Validate the architecture keys without building or reading anything."""
    unet_config(cfg)
    frozen_configs(cfg)
    if cfg.weights_dir is None:
        raise ConfigError(
            "weights_dir: required: the folder with the official weight files "
            "(non_ema_228000.pth, v2-1_512-ema-pruned.ckpt, open_clip_pytorch_model.bin, ...)"
        )


def build_models(cfg: TrainConfig, with_unet: bool = True) -> TrainingModels:
    """Load the UNet (unless ``with_unet`` is false) and the frozen networks the trained conditions need
    (all on the CPU).

    Raises:
        WeightFileError: one error listing every missing weight file, or one listing mismatched keys.
    """
    names, towers = components_for(normalize_conditions(cfg.conditions_for_train))
    unet_file = Path(cfg.unet_checkpoint) if cfg.unet_checkpoint else None
    paths = official_paths(cfg.weights_dir, [n for n in names if n != "unet" or (with_unet and unet_file is None)])
    archs = frozen_configs(cfg)
    unet = load_official_component("unet", unet_file or paths["unet"], unet_config(cfg)).train() if with_unet else None
    frozen = {n: load_official_component(n, paths[n], archs.get(n), towers) for n in names if n != "unet"}
    conditions = ConditionBuilder(
        default_tokenizer(),
        frozen.get("clip"),
        frozen.get("midas"),
        frozen.get("pidinet"),
        frozen.get("sketch_cleaner"),
        annotator_chunk_size=cfg.chunk_size,
    )
    return TrainingModels(unet=unet, vae=frozen["vae"], conditions=conditions)


def untrained_encoder_prefixes(unet: VideoComposerUNet, conditions: list[str]) -> tuple[str, ...]:
    """State-dict prefixes of the condition encoders built into the UNet (``video_compositions``) whose
    conditions are not trained: they get no gradient, so they stay frozen (weight decay would move them)."""
    trained = set(normalize_conditions(conditions))
    unused = []
    for cond in unet.stc_conditions:
        if cond.name not in trained:
            unused += [f"{cond.stc_encoder.stem_key}.", f"{cond.stc_encoder.frames_key}."]
    for cond in CONDITIONS.values():  # UNet modules only one condition feeds (the style tokens' MLP)
        if cond.name not in trained:
            unused += [f"{key}." for key in cond.unet_keys]
    return tuple(unused)
