"""The fine-tuning loop: ε-MSE on VAE latents at uniform timesteps, conditions extracted on the fly.

One optimizer step = ``gradient_accumulation_steps`` micro-batches of ``batch_size`` clips per process:

1. the frozen networks (VAE, CLIP, annotators; eval mode, no grad) turn each micro-batch into latents
   ``[B, 4, F, h, w]`` and the UNet condition kwargs of ``conditions_for_train``;
2. ``t`` ~ U{0..999}, ``noise`` and the VAE posterior draw come from generators keyed by
   ``(seed, epoch, clip slot)``, so batching, workers, ranks and resumption never change them;
3. the UNet (train mode: its condition dropout and dropout are on) predicts ε under autocast; the
   per-clip MSE is averaged over the micro-batch, divided by the accumulation count and back-propagated
   (through the fp16 loss scaler, which is a no-op otherwise; DDP syncs only on the last micro-batch);
4. gradients are unscaled, their global norm clipped, the optimizer steps (a step whose gradients are
   not finite is skipped and counted), the EMA follows, the learning rate comes from the schedule.

Checkpoints hold everything needed to continue exactly: after ``resume`` the loss sequence equals the
uninterrupted run's.
"""
from __future__ import annotations

import json
import logging
import math
import resource
import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..conditions import normalize_conditions
from ..diffusion import NoiseSchedule, loss_weights, mix_frame_noise, training_loss
from ..files import ensure_writable_dir, write_text
from ..models.vae import encode_video
from ..video.clip import VideoClip
from .cache import CachedClipLoader, collate_cached, describe_size, features_from_cache, is_cached, open_cache
from .checkpoint import (
    UNET_FILE,
    capture_rng_state,
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    prune_checkpoints,
    remove_partial_saves,
    restore_rng_state,
    save_checkpoint,
)
from .components import build_models, check_model_config, untrained_encoder_prefixes
from .config import ConfigError, TrainConfig, changed_keys, dump_config
from .data import ClipLoaderSpec, EpochBatchSampler, VideoCaptionDataset, collate, keyed_seed, read_annotations
from .distributed import (
    DistInfo,
    RankFailure,
    clip_grad_norm,
    describe_samples,
    full_tensor,
    gradient_sync,
    like,
    refresh_parameters,
    setup_distributed,
    wrap_model,
)
from .ema import EMA
from .metrics import MetricsLog
from .optim import build_optimizer, learning_rate_at, select_trainable, set_learning_rate
from .sharded_checkpoint import (
    full_model_state,
    has_shards,
    load_model_weights,
    load_optimizer_shards,
    save_optimizer_shards,
)

log = logging.getLogger("videocomposer.training")

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainSummary:
    """What a run did. ``losses`` holds the loss of every optimizer step of this run, in order."""

    output_dir: str
    steps: int
    steps_this_run: int
    total_steps: int
    samples_this_run: int
    seconds: float
    s_per_step: float
    first_loss: float
    last_loss: float
    skipped_steps: int
    broken_videos: int
    broken_files: list[str]
    checkpoints: list[str]
    peak_memory_gb: float
    trainable_parameters: int
    losses: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (f"trained {self.steps_this_run} steps (now at {self.steps}/{self.total_steps}) in {self.seconds:.1f} s, "
                f"{self.s_per_step:.3f} s/step; loss {self.first_loss:.4f} -> {self.last_loss:.4f}; "
                f"skipped steps {self.skipped_steps}; broken videos {self.broken_videos}"
                f"{' (' + ', '.join(self.broken_files[:5]) + ')' if self.broken_files else ''}; "
                f"peak memory {self.peak_memory_gb:.2f} GB; trainable parameters {self.trainable_parameters:,}; "
                f"last checkpoint {self.checkpoints[-1] if self.checkpoints else '-'}")


def keyed_noise(keys: Sequence[tuple[int, int]], latent_shape: Sequence[int], seed: int, num_timesteps: int,
                noise_offset: float = 0.0, noise_correlation: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per clip slot ``(epoch, index)``: a timestep, the diffusion noise and the VAE posterior draw.

    ``noise_correlation`` > 0 correlates the diffusion noise of the frames (``latent_shape`` ``[C, F, h, w]``;
    :func:`~videocomposer.diffusion.mix_frame_noise`). ``noise_offset`` > 0 then adds "offset noise"
    (Guttenberg, 2023): per sample and latent channel one constant of std ``noise_offset``, shared by every
    frame and pixel. The draws of either come after the rest, so the other draws do not change. Returns ``t``
    int64 ``[B]``, ``noise`` and ``posterior`` float32 ``[B, *latent_shape]`` on the CPU.
    """
    ts, noises, posteriors = [], [], []
    for epoch, index in keys:
        gen = torch.Generator().manual_seed(keyed_seed("noise", seed, epoch, index))
        ts.append(torch.randint(num_timesteps, (1,), generator=gen))
        noises.append(torch.randn(tuple(latent_shape), generator=gen))
        posteriors.append(torch.randn(tuple(latent_shape), generator=gen))
        offset = torch.randn(latent_shape[0], generator=gen) * noise_offset if noise_offset else None
        if noise_correlation:
            shared = torch.randn((*latent_shape[:-3], 1, *latent_shape[-2:]), generator=gen)
            noises[-1] = mix_frame_noise(noises[-1], shared, noise_correlation)
        if offset is not None:
            noises[-1] += offset.view(-1, *([1] * (len(latent_shape) - 1)))
    return torch.cat(ts), torch.stack(noises), torch.stack(posteriors)


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # each worker decodes one clip; leave the cores to the training process


def _peak_memory_gb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


class Trainer:
    """Builds everything from a :class:`TrainConfig` (validated first, before any weight or video is
    read), restores a checkpoint when ``resume`` is set, and trains with :meth:`run`."""

    def __init__(self, cfg: TrainConfig):
        check_model_config(cfg)
        if cfg.output_dir is None:
            raise ConfigError("output_dir: required (videocomposer train --output-dir DIR)")
        if cfg.root_dir is None:
            raise ConfigError("root_dir: required: the dataset folder with *.csv (video,caption) or *.json annotations")
        self.cfg = cfg
        self.dist: DistInfo = setup_distributed(cfg.device, cfg.dist_timeout_minutes)
        self.device = self.dist.device
        self.output_dir = ensure_writable_dir(cfg.output_dir) if self.dist.is_main else Path(cfg.output_dir)
        self.ckpt_root = self.output_dir / "checkpoints"
        self._setup_logging()
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        cfg = self.cfg
        if cfg.mixed_precision != "fp32" and self.device.type == "cpu":
            log.warning("mixed_precision=%s on CPU: autocast in reduced precision is usually much slower than fp32 "
                        "on CPUs (set mixed_precision=fp32)", cfg.mixed_precision)

        # data (annotation errors surface before any model is built)
        self.annotations = read_annotations(cfg.root_dir, cfg.skip_missing_videos)
        loader_spec = ClipLoaderSpec(tuple(cfg.conditions_for_train), cfg.max_frames, cfg.resolution, cfg.misc_size,
                                     cfg.feature_framerate)
        self.dataset = VideoCaptionDataset(self.annotations, loader_spec, cfg.seed)
        self.batches_per_epoch = EpochBatchSampler(len(self.dataset), cfg.batch_size, cfg.seed, cfg.shuffle,
                                                   self.dist.rank, self.dist.world_size).batches_per_epoch
        self.total_steps = cfg.max_steps or max(1, cfg.epochs * self.batches_per_epoch // cfg.gradient_accumulation_steps)

        # models
        models = build_models(cfg)
        self.unet = models.unet.to(self.device).train()
        self.vae = models.vae.to(self.device)
        self.conditions = models.conditions
        for name in ("clip", "midas", "pidinet", "sketch_cleaner"):
            if getattr(self.conditions, name) is not None:
                getattr(self.conditions, name).to(self.device)
        self.unet.set_zero_y(self.conditions.encode_prompt([""], self.device))
        self.condition_names = normalize_conditions(cfg.conditions_for_train)
        if cfg.condition_cache:  # cached clips skip the frozen encoders; missing ones load online
            cache = open_cache(cfg.condition_cache, loader_spec, cfg.chunk_size, self.device, cfg.mixed_precision,
                               self.vae, self.conditions)
            self.dataset.load_clip = CachedClipLoader(loader_spec, cache)
            if self.dist.is_main:
                log.info("condition cache: %s", describe_size(cache))
        self.trainable = self._select_trainable()
        self.wrapped = wrap_model(self.unet, cfg.parallelism, self.dist, cfg.mixed_precision, cfg.fsdp_cpu_offload)
        self.trainable = refresh_parameters(self.unet, self.trainable)  # fsdp2 put sharded parameters in place
        # static shapes: inductor's dynamic-shape trace of the UNet fails on CPU ("cannot determine truth value of
        # Relational"); a run's micro-batches share one shape, so nothing recompiles
        self.model: torch.nn.Module = torch.compile(self.wrapped, dynamic=False) if cfg.compile else self.wrapped
        self.schedule = NoiseSchedule.for_training(cfg.zero_terminal_snr)
        self.autocast_dtype = AUTOCAST_DTYPES.get(cfg.mixed_precision)
        scale = self.cfg.resolution // 2 ** (len(self.vae.config.block_out_channels) - 1)  # SD's VAE: 8x
        self.latent_shape = (self.vae.config.latent_channels, cfg.max_frames, scale, scale)

        # optimisation state
        self.optimizer = build_optimizer(self.trainable, cfg)
        self.scaler = torch.amp.GradScaler(self.device.type, init_scale=cfg.loss_scale_init,
                                           growth_interval=cfg.loss_scale_growth_interval,
                                           enabled=cfg.mixed_precision == "fp16")
        self.ema = EMA(self.trainable, cfg.ema_decay) if cfg.use_ema else None
        self.step, self.position = 0, (0, 0)
        self.skipped_steps = self.broken_videos = 0
        self.broken_files: set[str] = set()
        self.rng_state: dict[str, Any] | None = None
        self.resumed_from = self._resume() if cfg.resume else None
        if self.rng_state is None:
            torch.manual_seed(keyed_seed("train", cfg.seed, self.dist.rank))  # dropout differs per rank

        if self.dist.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            dump_config(cfg, self.output_dir / "config.yaml")
            remove_partial_saves(self.ckpt_root)
            counts = sum(p.numel() for p in self.unet.parameters()), sum(p.numel() for _, p in self.trainable)
            log.info("UNet parameters %s, trainable %s; conditions %s; %d clips, %d micro-batches per epoch; "
                     "%d optimizer steps; world size %d (%s); device %s; precision %s", f"{counts[0]:,}", f"{counts[1]:,}",
                     cfg.conditions_for_train, len(self.dataset), self.batches_per_epoch, self.total_steps,
                     self.dist.world_size, cfg.parallelism if self.dist.world_size > 1 else "one process", self.device,
                     cfg.mixed_precision)

    # ------------------------------------------------------------------------------ setup helpers

    def _setup_logging(self) -> None:
        """Rank 0 logs at INFO to stderr (if the application configured logging) and to ``train.log``."""
        self._log_handler: logging.Handler | None = None
        package = logging.getLogger("videocomposer")
        if not self.dist.is_main:
            package.setLevel(logging.WARNING)
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        package.setLevel(logging.INFO)
        self._log_handler = logging.FileHandler(self.output_dir / "train.log")
        self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        package.addHandler(self._log_handler)

    def close(self) -> None:
        """Detach the ``train.log`` handler (call when done; :func:`train` does)."""
        if self._log_handler is not None:
            logging.getLogger("videocomposer").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def _select_trainable(self) -> list[tuple[str, torch.nn.Parameter]]:
        selected = select_trainable(self.unet, self.cfg.trainable_patterns)
        unused = untrained_encoder_prefixes(self.unet, self.cfg.conditions_for_train)
        trainable = []
        for name, param in selected:
            if name.startswith(unused):  # encoders of conditions not trained get no gradient: keep them frozen
                param.requires_grad_(False)
            else:
                trainable.append((name, param))
        if not trainable:
            raise ConfigError(f"trainable_patterns: {self.cfg.trainable_patterns} select only encoders of conditions that are "
                              f"not trained ({self.cfg.conditions_for_train}); nothing would train")
        return trainable

    def _resume(self) -> Path | None:
        cfg = self.cfg
        if cfg.resume == "auto" and not list_checkpoints(self.ckpt_root):
            log.info("resume=auto: no checkpoint under %s, starting fresh", self.ckpt_root)
            return None
        path = find_checkpoint("latest" if cfg.resume == "auto" else cfg.resume, self.ckpt_root)
        saved = load_checkpoint(path)
        differ = changed_keys(saved.config, cfg)
        if differ:
            log.warning("resuming %s with changed settings %s; the run will not match an uninterrupted one", path, differ)
        try:
            load_model_weights(self.unet, saved.unet)
        except ValueError as exc:
            raise ValueError(f"resume={path}: {path / UNET_FILE} does not fit the UNet: {exc}") from exc
        state = saved.state
        if not has_shards(path) and self.dist.world_size > 1 and cfg.parallelism == "fsdp2":
            raise ConfigError(f"resume={path}: this checkpoint predates sharded optimizer state; resume it once "
                              f"with parallelism=ddp, whose checkpoints any world size and fsdp2 can resume")
        try:
            if has_shards(path):
                load_optimizer_shards(path, self.unet, self.optimizer)
            else:
                self.optimizer.load_state_dict(state["optimizer"])
        except ValueError as exc:
            raise ValueError(f"resume={path}: the optimizer state does not fit the trainable parameters ({exc}); "
                             f"trainable_patterns or conditions_for_train changed since the checkpoint") from exc
        self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None:
            if saved.ema is None:
                log.warning("resume=%s: the checkpoint has no EMA weights; the EMA restarts from the current weights", path)
            else:
                self.ema.load_state_dict({"num_updates": state.get("ema_updates", 0),
                                          "shadow": {n: like(saved.ema[n], v) for n, v in self.ema.shadow.items()}})
        self.step = int(state["step"])
        self.position = tuple(state["data_position"])
        self.skipped_steps = int(state["skipped_steps"])
        ranks = state["ranks"]
        if (state["world_size"], state["batch_size"]) != (self.dist.world_size, cfg.batch_size):
            saved_global, now_global = state["world_size"] * state["batch_size"], self.dist.world_size * cfg.batch_size
            if saved_global == now_global:  # rank r of N takes every N-th clip: the same clips form each step
                log.warning("resume=%s: saved with %d process(es) x batch_size %d, now %d x %d: the same global batch, "
                            "so the same clips and noise; dropout draws restart per process", path,
                            state["world_size"], state["batch_size"], self.dist.world_size, cfg.batch_size)
            else:
                epoch, batch = self.position
                self.position = (epoch, min(batch * saved_global // now_global, self.batches_per_epoch - 1))
                log.warning("resume=%s: saved with a global batch of %d clips, now %d: continuing at epoch %d batch %d; "
                            "the data order differs from an uninterrupted run", path, saved_global, now_global,
                            *self.position)
            if self.dist.is_main:  # keep the totals once
                self.broken_videos = sum(int(r["broken_videos"]) for r in ranks)
                self.broken_files = {f for r in ranks for f in r["broken_files"]}
        else:
            own = ranks[self.dist.rank]
            self.rng_state = own["rng"]
            self.broken_videos, self.broken_files = int(own["broken_videos"]), set(own["broken_files"])
        log.info("resumed from %s at step %d (epoch %d, batch %d)", path, self.step, *self.position)
        return path

    def _loader(self) -> DataLoader:
        cfg = self.cfg
        sampler = EpochBatchSampler(len(self.dataset), cfg.batch_size, cfg.seed, cfg.shuffle, self.dist.rank,
                                    self.dist.world_size, start=self.position)
        workers = cfg.num_workers
        return DataLoader(self.dataset, batch_sampler=sampler, num_workers=workers,
                          collate_fn=collate_cached if cfg.condition_cache else collate,
                          pin_memory=self.device.type == "cuda", worker_init_fn=_worker_init if workers else None,
                          prefetch_factor=cfg.prefetch_factor if workers else None,
                          # a forked worker can inherit a lock held by one of FFmpeg's threads in this process and
                          # hang in its first decode: workers start as fresh interpreters
                          multiprocessing_context="spawn" if workers else None,
                          generator=torch.Generator().manual_seed(cfg.seed))  # never touches the global RNG

    # ------------------------------------------------------------------------------ one step

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _features(self, batch: dict[str, Any], posterior: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The frozen networks' work: latents ``[B, 4, F, h, w]`` and the UNet condition kwargs, from the
        clips (online), from the condition cache, or clip by clip for a micro-batch mixing both."""
        if "parts" in batch:
            parts = [self._features(part, posterior[i:i + 1]) for i, part in enumerate(batch["parts"])]
            return torch.cat([p[0] for p in parts]), {k: torch.cat([p[1][k] for p in parts]) for k in parts[0][1]}
        with torch.no_grad(), self._autocast():
            if is_cached(batch):
                return features_from_cache(batch, self.condition_names, self.conditions, self.vae.config.scaling_factor,
                                           posterior, self.device)
            video = batch["video"].to(self.device, non_blocking=True)  # [B, F, 3, R, R] in [-1, 1]
            streams = {k: batch[k].to(self.device, non_blocking=True) if k in batch else None
                       for k in ("misc", "motion", "vit_image", "mask")}
            latents = encode_video(self.vae, video, self.cfg.chunk_size, noise=posterior.to(self.device)).float()
            kwargs = self.conditions.build(self.condition_names, video=VideoClip(video=video, **streams),
                                           prompt=batch["caption"], device=self.device)
        return latents, kwargs

    def _micro_batch_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        """Forward and backward of one micro-batch; returns its mean loss (detached)."""
        cfg = self.cfg
        keys = list(zip(batch["epoch"], batch["index"]))
        t, noise, posterior = keyed_noise(keys, self.latent_shape, cfg.seed, self.schedule.num_timesteps, cfg.noise_offset,
                                          cfg.noise_correlation)
        latents, kwargs = self._features(batch, posterior)
        with self._autocast():
            losses = training_loss(self.model, self.schedule, latents, t.to(self.device), kwargs, noise.to(self.device),
                                   prediction_type=cfg.prediction_type)
        weights = loss_weights(self.schedule, t.to(self.device), cfg.loss_weighting, cfg.loss_weighting_gamma)
        loss = (losses.float() * weights).mean()
        self.scaler.scale(loss / cfg.gradient_accumulation_steps).backward()
        return loss.detach()

    def _advance_position(self) -> None:
        epoch, batch = self.position
        self.position = (epoch + 1, 0) if batch + 1 == self.batches_per_epoch else (epoch, batch + 1)

    def _optimizer_step(self) -> tuple[float, float, bool]:
        """Unscale, clip, step (or skip), update the EMA. Returns (lr, grad norm, skipped)."""
        lr = learning_rate_at(self.step, self.cfg, self.total_steps)
        set_learning_rate(self.optimizer, lr)
        self.scaler.unscale_(self.optimizer)
        max_norm = self.cfg.max_grad_norm or math.inf
        grad_norm = clip_grad_norm([p for _, p in self.trainable], max_norm)
        if self.scaler.is_enabled():
            scale = self.scaler.get_scale()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            skipped = self.scaler.get_scale() < scale
        else:
            skipped = not math.isfinite(grad_norm)
            if not skipped:
                self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        if skipped:
            self.skipped_steps += 1
            log.warning("step %d skipped: non-finite gradients (norm %s)%s", self.step + 1, grad_norm,
                        "; the fp16 loss scale was lowered" if self.scaler.is_enabled() else
                        "; check the data and the learning rate, or use mixed_precision=fp32")
        elif self.ema is not None:
            self.ema.update(self.trainable)
        return lr, grad_norm, skipped

    # ------------------------------------------------------------------------------ checkpoints

    def save(self) -> Path | None:
        """Write a checkpoint of the current step (rank 0 writes; every rank contributes its RNG state)."""
        own = {"rng": capture_rng_state(), "broken_videos": self.broken_videos, "broken_files": sorted(self.broken_files)}
        ranks = [own]
        if self.dist.world_size > 1:
            ranks = [None] * self.dist.world_size
            dist.all_gather_object(ranks, own)
        # collectives first (every rank): optimizer shards, the consolidated weights and EMA
        shards = save_optimizer_shards(self.ckpt_root, self.step, self.unet, self.optimizer)
        weights = full_model_state(self.unet)
        ema = ({n: full_tensor(v) for n, v in self.ema.full_state_dict(self.unet).items()}
               if self.ema is not None else None)
        path = None
        if self.dist.is_main:
            state = {"step": self.step, "data_position": list(self.position),
                     "scaler": self.scaler.state_dict(), "ema_updates": self.ema.num_updates if self.ema else 0,
                     "skipped_steps": self.skipped_steps, "ranks": ranks,
                     "world_size": self.dist.world_size, "batch_size": self.cfg.batch_size}
            path = save_checkpoint(self.ckpt_root, self.step, weights, ema, state, self.cfg.to_dict(),
                                        move_in={"sharded": shards})
            for old in prune_checkpoints(self.ckpt_root, self.cfg.keep_last):
                log.info("removed old checkpoint %s (keep_last=%d)", old, self.cfg.keep_last)
            log.info("saved checkpoint %s", path)
        if self.dist.world_size > 1:
            dist.barrier()
        return path

    # ------------------------------------------------------------------------------ the loop

    def run(self) -> TrainSummary:
        cfg, main = self.cfg, self.dist.is_main
        start_step = self.step
        metrics = MetricsLog(self.output_dir, start_step, cfg.tensorboard) if main else None
        batches = iter(self._loader())
        if self.rng_state is not None:
            restore_rng_state(self.rng_state)
        bar = tqdm(total=self.total_steps, initial=self.step, disable=not (main and cfg.progress_bar),
                   desc="train", dynamic_ncols=True, file=sys.stderr)
        losses, step_times, checkpoints = [], [], []
        steps_per_epoch = max(1, self.batches_per_epoch // cfg.gradient_accumulation_steps)
        began = time.perf_counter()
        while self.step < self.total_steps:
            tick, data_s, loss_sum = time.perf_counter(), 0.0, torch.zeros((), device=self.device)
            for micro in range(cfg.gradient_accumulation_steps):
                wait = time.perf_counter()
                try:
                    batch = next(batches)
                except Exception as exc:
                    raise RankFailure(f"rank {self.dist.rank} of {self.dist.world_size} failed loading the clips of "
                                      f"step {self.step + 1}: {type(exc).__name__}: {exc}") from exc
                data_s += time.perf_counter() - wait
                self._advance_position()
                self.broken_videos += len(batch["broken"])
                self.broken_files.update(item["video"] for item in batch["broken"])
                last = micro == cfg.gradient_accumulation_steps - 1
                with gradient_sync(self.wrapped, last):
                    try:
                        loss_sum += self._micro_batch_loss(batch)
                    except Exception as exc:
                        raise RankFailure(
                            f"rank {self.dist.rank} of {self.dist.world_size} failed at step {self.step + 1} on "
                            f"{describe_samples(batch, self.dataset.annotations)}: {type(exc).__name__}: {exc}") from exc
            lr, grad_norm, skipped = self._optimizer_step()
            self.step += 1
            stats = torch.stack([loss_sum / cfg.gradient_accumulation_steps,
                                 torch.tensor(float(self.broken_videos), device=self.device)])
            if self.dist.world_size > 1:
                dist.all_reduce(stats)
                stats[0] /= self.dist.world_size
            losses.append(float(stats[0]))
            broken_total = int(stats[1])
            step_times.append(time.perf_counter() - tick)
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{lr:.2e}", s_per_step=f"{step_times[-1]:.2f}")
            if metrics is not None and (self.step % cfg.log_every == 0 or self.step == self.total_steps):
                samples = cfg.batch_size * cfg.gradient_accumulation_steps * self.dist.world_size
                metrics.write({"step": self.step, "epoch": self.position[0], "loss": losses[-1], "lr": lr,
                               "grad_norm": grad_norm, "loss_scale": self.scaler.get_scale(),
                               "skipped_steps": self.skipped_steps, "broken_videos": broken_total,
                               "s_per_step": step_times[-1], "data_s": data_s, "samples_per_s": samples / step_times[-1]})
            if (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0) or self.step == self.total_steps or \
                    (cfg.checkpoint_every_epochs and self.step % (cfg.checkpoint_every_epochs * steps_per_epoch) == 0):
                saved = self.save()
                if saved is not None:
                    checkpoints.append(str(saved))
        bar.close()
        if metrics is not None:
            metrics.close()
        return self._summary(start_step, losses, step_times, checkpoints, time.perf_counter() - began)

    def _summary(self, start_step: int, losses: list[float], step_times: list[float], checkpoints: list[str],
                 seconds: float) -> TrainSummary:
        broken = torch.tensor(self.broken_videos)
        files: list[Any] = [sorted(self.broken_files)]
        if self.dist.world_size > 1:
            dist.all_reduce(broken)
            files = [None] * self.dist.world_size
            dist.all_gather_object(files, sorted(self.broken_files))
        steady = step_times[1:] or step_times  # the first step includes warm-up (workers, compile)
        summary = TrainSummary(
            output_dir=str(self.output_dir), steps=self.step, steps_this_run=self.step - start_step,
            total_steps=self.total_steps,
            samples_this_run=(self.step - start_step) * self.cfg.batch_size * self.cfg.gradient_accumulation_steps * self.dist.world_size,
            seconds=seconds, s_per_step=sum(steady) / len(steady) if steady else 0.0,
            first_loss=losses[0] if losses else math.nan, last_loss=losses[-1] if losses else math.nan,
            skipped_steps=self.skipped_steps, broken_videos=int(broken), broken_files=sorted({f for r in files for f in r}),
            checkpoints=checkpoints,
            peak_memory_gb=_peak_memory_gb(self.device), trainable_parameters=sum(p.numel() for _, p in self.trainable),
            losses=losses)
        if self.dist.is_main:
            write_text(self.output_dir / "summary.json", json.dumps(summary.to_dict(), indent=2))
            log.info("%s", summary.describe())
        return summary


def train(cfg: TrainConfig) -> TrainSummary:
    """Train with ``cfg`` (see :class:`Trainer`) and return the summary."""
    trainer = Trainer(cfg)
    try:
        return trainer.run()
    finally:
        trainer.close()
