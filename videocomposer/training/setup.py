"""What a training run builds before its first step, from its :class:`~videocomposer.training.TrainConfig`.

* :func:`build_data`: the annotated clips (their errors surface before any weight is read) and the step count;
* :func:`models_on_device`: the trainable UNet and the frozen networks on the run's device;
* :func:`attach_condition_cache`: cached clips skip the frozen encoders;
* :func:`trainable_parameters`: what trains (encoders of conditions that are not trained stay frozen);
* :func:`build_optimization`: the optimizer, the fp16 loss scaler and the EMA;
* :func:`attach_train_log`: rank 0 logs to ``train.log``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from .cache import CachedClipLoader, describe_size, open_cache
from .components import TrainingModels, build_models, untrained_encoder_prefixes
from .config import ConfigError, TrainConfig
from .data import Annotation, ClipLoaderSpec, EpochBatchSampler, VideoCaptionDataset, read_annotations
from .distributed import DistInfo
from .ema import EMA
from .optim import build_optimizer, select_trainable

log = logging.getLogger("videocomposer.training")

#: The frozen networks of a :class:`~videocomposer.conditions.ConditionBuilder` (None where not needed).
FROZEN_NETWORKS = ("clip", "midas", "pidinet", "sketch_cleaner")


@dataclass
class TrainingData:
    """The clips of a run and how many steps they make."""

    annotations: list[Annotation]
    loader_spec: ClipLoaderSpec
    dataset: VideoCaptionDataset
    batches_per_epoch: int  # micro-batches of this rank per epoch
    total_steps: int  # optimizer steps of the whole run


def clip_loader_spec(cfg: TrainConfig) -> ClipLoaderSpec:
    """How the run samples a clip and its condition streams (the trainer's data and the condition cache share it)."""
    return ClipLoaderSpec(
        tuple(cfg.conditions_for_train),
        cfg.max_frames,
        cfg.resolution,
        cfg.misc_size,
        cfg.feature_framerate,
        cfg.motion_settings(),
    )


def build_data(cfg: TrainConfig, dist: DistInfo) -> TrainingData:
    """Read the annotations of ``cfg.root_dir`` and count the micro-batches per epoch and the optimizer steps."""
    annotations = read_annotations(cfg.root_dir, cfg.skip_missing_videos)
    loader_spec = clip_loader_spec(cfg)
    dataset = VideoCaptionDataset(annotations, loader_spec, cfg.seed)
    batches_per_epoch = EpochBatchSampler(
        len(dataset), cfg.batch_size, cfg.seed, cfg.shuffle, dist.rank, dist.world_size
    ).batches_per_epoch
    total_steps = cfg.max_steps or max(1, cfg.epochs * batches_per_epoch // cfg.gradient_accumulation_steps)
    return TrainingData(annotations, loader_spec, dataset, batches_per_epoch, total_steps)


def models_on_device(cfg: TrainConfig, device: torch.device) -> TrainingModels:
    """The networks of :func:`~videocomposer.training.components.build_models` on ``device``: the UNet in
    train mode with its empty-caption context ``zero_y`` set from the CLIP text tower, the frozen ones in eval mode."""
    models = build_models(cfg)
    unet = models.unet.to(device).train()
    models.unet, models.vae = unet, models.vae.to(device)
    for name in FROZEN_NETWORKS:
        network = getattr(models.conditions, name)
        if network is not None:
            network.to(device)
    unet.set_zero_y(models.conditions.encode_prompt([""], device))
    return models


def attach_condition_cache(
    cfg: TrainConfig, data: TrainingData, models: TrainingModels, device: torch.device, is_main: bool
) -> None:
    """With ``cfg.condition_cache``, the dataset reads cached clips (latent posteriors and condition
    inputs) and loads the missing ones online; without it, nothing changes."""
    if not cfg.condition_cache:
        return
    cache = open_cache(
        cfg.condition_cache,
        data.loader_spec,
        cfg.chunk_size,
        device,
        cfg.mixed_precision,
        models.vae,
        models.conditions,
    )
    data.dataset.load_clip = CachedClipLoader(data.loader_spec, cache)
    if is_main:
        log.info("condition cache: %s", describe_size(cache))


def trainable_parameters(unet: nn.Module, cfg: TrainConfig) -> list[tuple[str, nn.Parameter]]:
    """The ``(name, parameter)`` pairs that ``cfg.trainable_patterns`` select, less the encoders of the
    conditions not in ``cfg.conditions_for_train`` (they get no gradient, so they are frozen).

    Raises:
        ConfigError: the patterns select nothing but such encoders.
    """
    selected = select_trainable(unet, cfg.trainable_patterns)
    unused = untrained_encoder_prefixes(unet, cfg.conditions_for_train)
    trainable = []
    for name, param in selected:
        if name.startswith(unused):
            param.requires_grad_(False)
        else:
            trainable.append((name, param))
    if not trainable:
        raise ConfigError(
            f"trainable_patterns: {cfg.trainable_patterns} select only encoders of conditions that are "
            f"not trained ({cfg.conditions_for_train}); nothing would train"
        )
    return trainable


def latent_shape(vae: nn.Module, cfg: TrainConfig) -> tuple[int, int, int, int]:
    """``(C, F, h, w)`` of one clip's latents: the VAE downsamples by 2 per level after the first (SD's VAE: 8x)."""
    side = cfg.resolution // 2 ** (len(vae.config.block_out_channels) - 1)
    return (vae.config.latent_channels, cfg.max_frames, side, side)


def build_optimization(
    cfg: TrainConfig, trainable: list[tuple[str, nn.Parameter]], device: torch.device
) -> tuple[torch.optim.Optimizer, torch.amp.GradScaler, EMA | None]:
    """The optimizer over ``trainable``, the loss scaler (active with ``mixed_precision=fp16`` only) and the
    EMA of the trainable weights (with ``use_ema``)."""
    optimizer = build_optimizer(trainable, cfg)
    scaler = torch.amp.GradScaler(
        device.type,
        init_scale=cfg.loss_scale_init,
        growth_interval=cfg.loss_scale_growth_interval,
        enabled=cfg.mixed_precision == "fp16",
    )
    ema = EMA(trainable, cfg.ema_decay) if cfg.use_ema else None
    return optimizer, scaler, ema


def attach_train_log(output_dir: Path, is_main: bool) -> logging.Handler | None:
    """Rank 0 logs the package at INFO to stderr (if the application configured logging) and to
    ``output_dir/train.log`` (the handler returned, for :func:`detach_train_log`); other ranks log warnings only."""
    package = logging.getLogger("videocomposer")
    if not is_main:
        package.setLevel(logging.WARNING)
        return None
    output_dir.mkdir(parents=True, exist_ok=True)
    package.setLevel(logging.INFO)
    handler = logging.FileHandler(output_dir / "train.log")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package.addHandler(handler)
    return handler


def detach_train_log(handler: logging.Handler | None) -> None:
    """Remove and close the handler of :func:`attach_train_log` (None: nothing to do)."""
    if handler is not None:
        logging.getLogger("videocomposer").removeHandler(handler)
        handler.close()
