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
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from ..conditions import motion_field_condition, normalize_conditions
from ..diffusion import NoiseSchedule, loss_weights, training_loss
from ..files import ensure_writable_dir, missing_folders, remove_empty_folders, write_text
from ..models.vae import encode_video
from ..video.clip import VideoClip
from .cache import collate_cached, features_from_cache, is_cached
from .checkpoint import capture_rng_state, prune_checkpoints, remove_partial_saves, restore_rng_state, save_checkpoint
from .components import check_model_config
from .config import ConfigError, TrainConfig, dump_config
from .data import EpochBatchSampler, collate, keyed_seed
from .distributed import (
    DistInfo,
    RankFailure,
    clip_grad_norm,
    describe_samples,
    full_tensor,
    gradient_sync,
    refresh_parameters,
    setup_distributed,
    wrap_model,
)
from .metrics import MetricsLog
from .moving_regions import moving_region_weights
from .noise import keyed_noise, keyed_warped_noise
from .optim import learning_rate_at, set_learning_rate
from .resume import resume_run
from .setup import (
    attach_condition_cache,
    attach_train_log,
    build_data,
    build_optimization,
    detach_train_log,
    latent_shape,
    models_on_device,
    trainable_parameters,
)
from .sharded_checkpoint import full_model_state, save_optimizer_shards
from .sparse_strokes import sparse_strokes
from .summary import TrainSummary, broken_totals, peak_memory_gb

log = logging.getLogger("videocomposer.training")

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # each worker decodes one clip; leave the cores to the training process


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
        created = missing_folders(cfg.output_dir) if self.dist.is_main else []
        self.output_dir = ensure_writable_dir(cfg.output_dir) if self.dist.is_main else Path(cfg.output_dir)
        self.ckpt_root = self.output_dir / "checkpoints"
        self._log_handler = attach_train_log(self.output_dir, self.dist.is_main)
        try:
            self._build()
        except BaseException:
            self.close()
            if created:  # a run that could not start leaves no folder of its own behind
                (self.output_dir / "train.log").unlink(missing_ok=True)
                remove_empty_folders(created)
            raise

    def _build(self) -> None:
        """Data first (annotation errors surface before any model is built), then the networks, the
        optimisation state, and the checkpoint to resume."""
        cfg = self.cfg
        if cfg.mixed_precision != "fp32" and self.device.type == "cpu":
            log.warning(
                "mixed_precision=%s on CPU: autocast in reduced precision is usually much slower than fp32 "
                "on CPUs (set mixed_precision=fp32)",
                cfg.mixed_precision,
            )
        data = build_data(cfg, self.dist)
        self.annotations, self.dataset = data.annotations, data.dataset
        self.batches_per_epoch, self.total_steps = data.batches_per_epoch, data.total_steps
        models = models_on_device(cfg, self.device)
        self.unet, self.vae, self.conditions = models.unet, models.vae, models.conditions
        self.condition_names = normalize_conditions(cfg.conditions_for_train)
        attach_condition_cache(cfg, data, models, self.device, self.dist.is_main)  # missing clips load online
        self.trainable = trainable_parameters(self.unet, cfg)
        self.wrapped = wrap_model(self.unet, cfg.parallelism, self.dist, cfg.mixed_precision, cfg.fsdp_cpu_offload)
        self.trainable = refresh_parameters(self.unet, self.trainable)  # fsdp2 put sharded parameters in place
        # static shapes: inductor's dynamic-shape trace of the UNet fails on CPU ("cannot determine truth value of
        # Relational"); a run's micro-batches share one shape, so nothing recompiles
        self.model: torch.nn.Module = torch.compile(self.wrapped, dynamic=False) if cfg.compile else self.wrapped
        self.schedule = NoiseSchedule.for_training(cfg.zero_terminal_snr)
        self.autocast_dtype = AUTOCAST_DTYPES.get(cfg.mixed_precision)
        self.latent_shape = latent_shape(self.vae, cfg)
        self.optimizer, self.scaler, self.ema = build_optimization(cfg, self.trainable, self.device)
        self._restore_progress()
        if self.dist.is_main:
            self._prepare_output()

    def _restore_progress(self) -> None:
        """The step, data position and counters: from the checkpoint ``resume`` names, else from the start
        (with the global RNG seeded per rank, so that dropout differs between ranks)."""
        self.step, self.position = 0, (0, 0)
        self.skipped_steps = self.broken_videos = 0
        self.broken_files: set[str] = set()
        self.rng_state: dict[str, Any] | None = None
        resumed = None
        if self.cfg.resume:
            resumed = resume_run(
                self.cfg,
                self.ckpt_root,
                self.dist,
                self.batches_per_epoch,
                self.unet,
                self.optimizer,
                self.scaler,
                self.ema,
            )
        self.resumed_from = resumed.path if resumed is not None else None
        if resumed is not None:
            self.step, self.position, self.skipped_steps = resumed.step, resumed.position, resumed.skipped_steps
            self.broken_videos, self.broken_files = resumed.broken_videos, resumed.broken_files
            self.rng_state = resumed.rng_state
        if self.rng_state is None:
            torch.manual_seed(keyed_seed("train", self.cfg.seed, self.dist.rank))

    def _prepare_output(self) -> None:
        """Rank 0: the resolved ``config.yaml``, no half-written checkpoint left over, and the run's plan logged."""
        cfg = self.cfg
        self.output_dir.mkdir(parents=True, exist_ok=True)
        dump_config(cfg, self.output_dir / "config.yaml")
        remove_partial_saves(self.ckpt_root)
        counts = sum(p.numel() for p in self.unet.parameters()), sum(p.numel() for _, p in self.trainable)
        log.info(
            "UNet parameters %s, trainable %s; conditions %s; %d clips, %d micro-batches per epoch; "
            "%d optimizer steps; world size %d (%s); device %s; precision %s",
            f"{counts[0]:,}",
            f"{counts[1]:,}",
            cfg.conditions_for_train,
            len(self.dataset),
            self.batches_per_epoch,
            self.total_steps,
            self.dist.world_size,
            cfg.parallelism if self.dist.world_size > 1 else "one process",
            self.device,
            cfg.mixed_precision,
        )

    def close(self) -> None:
        """Detach the ``train.log`` handler (call when done; :func:`train` does)."""
        detach_train_log(self._log_handler)
        self._log_handler = None

    def _loader(self) -> DataLoader:
        cfg = self.cfg
        sampler = EpochBatchSampler(
            len(self.dataset),
            cfg.batch_size,
            cfg.seed,
            cfg.shuffle,
            self.dist.rank,
            self.dist.world_size,
            start=self.position,
        )
        workers = cfg.num_workers
        return DataLoader(
            self.dataset,
            batch_sampler=sampler,
            num_workers=workers,
            collate_fn=collate_cached if cfg.condition_cache else collate,
            pin_memory=self.device.type == "cuda",
            worker_init_fn=_worker_init if workers else None,
            prefetch_factor=cfg.prefetch_factor if workers else None,
            # a forked worker can inherit a lock held by one of FFmpeg's threads in this process and
            # hang in its first decode: workers start as fresh interpreters
            multiprocessing_context="spawn" if workers else None,
            generator=torch.Generator().manual_seed(cfg.seed),
        )  # never touches the global RNG

    # ------------------------------------------------------------------------------ one step

    def _autocast(self):
        if self.autocast_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.autocast_dtype)

    def _features(self, batch: dict[str, Any], posterior: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The frozen networks' work: latents ``[B, 4, F, h, w]`` and the UNet condition kwargs, from the
        clips (online), from the condition cache, or clip by clip for a micro-batch mixing both."""
        if "parts" in batch:
            parts = [self._features(part, posterior[i : i + 1]) for i, part in enumerate(batch["parts"])]
            return torch.cat([p[0] for p in parts]), {k: torch.cat([p[1][k] for p in parts]) for k in parts[0][1]}
        with torch.no_grad(), self._autocast():
            if is_cached(batch):
                return features_from_cache(
                    batch, self.condition_names, self.conditions, self.vae.config.scaling_factor, posterior, self.device
                )
            video = batch["video"].to(self.device, non_blocking=True)  # [B, F, 3, R, R] in [-1, 1]
            streams = {
                k: batch[k].to(self.device, non_blocking=True) if k in batch else None
                for k in ("misc", "motion", "vit_image", "mask")
            }
            latents = encode_video(self.vae, video, self.cfg.chunk_size, noise=posterior.to(self.device)).float()
            kwargs = self.conditions.build(
                self.condition_names,
                video=VideoClip(video=video, **streams),
                prompt=batch["caption"],
                device=self.device,
            )
        return latents, kwargs

    def _with_sparse_strokes(
        self, kwargs: dict[str, torch.Tensor], keys: list[tuple[Any, Any]]
    ) -> dict[str, torch.Tensor]:
        """``kwargs`` with the motion field of some samples replaced by a stroke drawn from it (``sparse_stroke_prob``)."""
        name = motion_field_condition(list(kwargs))
        if not self.cfg.sparse_stroke_prob or name is None:
            return kwargs
        seeds = [keyed_seed(self.cfg.seed, "stroke", int(epoch), int(index)) for epoch, index in keys]
        field = sparse_strokes(kwargs[name], self.cfg.sparse_stroke_prob, self.cfg.motion_source_size, seeds)
        return {**kwargs, name: field}

    def _warped(
        self, noise: torch.Tensor, kwargs: dict[str, torch.Tensor], keys: list[tuple[Any, Any]]
    ) -> torch.Tensor:
        """The diffusion noise carried along the clips' motion condition (``noise_warp``), or as it is."""
        name = motion_field_condition(list(kwargs))
        if self.cfg.noise_warp is None or name is None:
            return noise
        return keyed_warped_noise(
            noise, kwargs[name], self.cfg.noise_warp, self.cfg.motion_source_size, keys, self.cfg.seed
        )

    def _micro_batch_loss(self, batch: dict[str, Any]) -> torch.Tensor:
        """Forward and backward of one micro-batch; returns its mean loss (detached)."""
        cfg = self.cfg
        keys = list(zip(batch["epoch"], batch["index"]))
        t, noise, posterior = keyed_noise(
            keys, self.latent_shape, cfg.seed, self.schedule.num_timesteps, cfg.noise_offset, cfg.noise_correlation
        )
        latents, kwargs = self._features(batch, posterior)
        kwargs = self._with_sparse_strokes(kwargs, keys)
        noise = self._warped(noise, kwargs, keys)
        regions = moving_region_weights(latents, cfg.moving_region_weight) if cfg.moving_region_weight else None
        with self._autocast():
            losses = training_loss(
                self.model,
                self.schedule,
                latents,
                t.to(self.device),
                kwargs,
                noise.to(self.device),
                prediction_type=cfg.prediction_type,
                element_weights=regions,
            )
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
            log.warning(
                "step %d skipped: non-finite gradients (norm %s)%s",
                self.step + 1,
                grad_norm,
                "; the fp16 loss scale was lowered"
                if self.scaler.is_enabled()
                else "; check the data and the learning rate, or use mixed_precision=fp32",
            )
        elif self.ema is not None:
            self.ema.update(self.trainable)
        return lr, grad_norm, skipped

    # ------------------------------------------------------------------------------ checkpoints

    def save(self) -> Path | None:
        """Write a checkpoint of the current step (rank 0 writes; every rank contributes its RNG state)."""
        own = {
            "rng": capture_rng_state(),
            "broken_videos": self.broken_videos,
            "broken_files": sorted(self.broken_files),
        }
        ranks = [own]
        if self.dist.world_size > 1:
            ranks = [None] * self.dist.world_size
            dist.all_gather_object(ranks, own)
        # collectives first (every rank): optimizer shards, the consolidated weights and EMA
        shards = save_optimizer_shards(self.ckpt_root, self.step, self.unet, self.optimizer)
        weights = full_model_state(self.unet)
        ema = (
            {n: full_tensor(v) for n, v in self.ema.full_state_dict(self.unet).items()}
            if self.ema is not None
            else None
        )
        path = None
        if self.dist.is_main:
            state = {
                "step": self.step,
                "data_position": list(self.position),
                "scaler": self.scaler.state_dict(),
                "ema_updates": self.ema.num_updates if self.ema else 0,
                "skipped_steps": self.skipped_steps,
                "ranks": ranks,
                "world_size": self.dist.world_size,
                "batch_size": self.cfg.batch_size,
            }
            path = save_checkpoint(
                self.ckpt_root, self.step, weights, ema, state, self.cfg.to_dict(), move_in={"sharded": shards}
            )
            for old in prune_checkpoints(self.ckpt_root, self.cfg.keep_last):
                log.info("removed old checkpoint %s (keep_last=%d)", old, self.cfg.keep_last)
            log.info("saved checkpoint %s", path)
        if self.dist.world_size > 1:
            dist.barrier()
        return path

    # ------------------------------------------------------------------------------ the loop

    def run(self) -> TrainSummary:
        """Train up to ``total_steps`` optimizer steps, checkpointing as configured; returns this run's summary."""
        cfg, main = self.cfg, self.dist.is_main
        start_step = self.step
        metrics = MetricsLog(self.output_dir, start_step, cfg.tensorboard) if main else None
        batches = iter(self._loader())
        if self.rng_state is not None:
            restore_rng_state(self.rng_state)
        bar = tqdm(
            total=self.total_steps,
            initial=self.step,
            disable=not (main and cfg.progress_bar),
            desc="train",
            dynamic_ncols=True,
            file=sys.stderr,
        )
        losses: list[float] = []
        step_times: list[float] = []
        checkpoints: list[str] = []
        began = time.perf_counter()
        while self.step < self.total_steps:
            tick = time.perf_counter()
            loss_sum, data_s = self._accumulate_gradients(batches)
            lr, grad_norm, _ = self._optimizer_step()
            self.step += 1
            loss, broken_total = self._step_totals(loss_sum)
            losses.append(loss)
            step_times.append(time.perf_counter() - tick)
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.4f}", lr=f"{lr:.2e}", s_per_step=f"{step_times[-1]:.2f}")
            if metrics is not None and (self.step % cfg.log_every == 0 or self.step == self.total_steps):
                samples = cfg.batch_size * cfg.gradient_accumulation_steps * self.dist.world_size
                metrics.write(
                    {
                        "step": self.step,
                        "epoch": self.position[0],
                        "loss": losses[-1],
                        "lr": lr,
                        "grad_norm": grad_norm,
                        "loss_scale": self.scaler.get_scale(),
                        "skipped_steps": self.skipped_steps,
                        "broken_videos": broken_total,
                        "s_per_step": step_times[-1],
                        "data_s": data_s,
                        "samples_per_s": samples / step_times[-1],
                    }
                )
            if self._checkpoint_due():
                saved = self.save()
                if saved is not None:
                    checkpoints.append(str(saved))
        bar.close()
        if metrics is not None:
            metrics.close()
        return self._summary(start_step, losses, step_times, checkpoints, time.perf_counter() - began)

    def _next_batch(self, batches: Iterator[dict[str, Any]]) -> dict[str, Any]:
        """The next micro-batch of this rank; a loading failure becomes a :class:`RankFailure` naming the rank."""
        try:
            return next(batches)
        except Exception as exc:
            raise RankFailure(
                f"rank {self.dist.rank} of {self.dist.world_size} failed loading the clips of "
                f"step {self.step + 1}: {type(exc).__name__}: {exc}"
            ) from exc

    def _accumulate_gradients(self, batches: Iterator[dict[str, Any]]) -> tuple[torch.Tensor, float]:
        """Forward and backward of the ``gradient_accumulation_steps`` micro-batches of one optimizer step
        (DDP syncs on the last). Returns the sum of their mean losses (a 0-d tensor) and the seconds spent
        waiting for data."""
        accumulation = self.cfg.gradient_accumulation_steps
        loss_sum, data_s = torch.zeros((), device=self.device), 0.0
        for micro in range(accumulation):
            wait = time.perf_counter()
            batch = self._next_batch(batches)
            data_s += time.perf_counter() - wait
            self._advance_position()
            self.broken_videos += len(batch["broken"])
            self.broken_files.update(item["video"] for item in batch["broken"])
            with gradient_sync(self.wrapped, micro == accumulation - 1):
                try:
                    loss_sum += self._micro_batch_loss(batch)
                except Exception as exc:
                    raise RankFailure(
                        f"rank {self.dist.rank} of {self.dist.world_size} failed at step {self.step + 1} on "
                        f"{describe_samples(batch, self.dataset.annotations)}: {type(exc).__name__}: {exc}"
                    ) from exc
        return loss_sum, data_s

    def _step_totals(self, loss_sum: torch.Tensor) -> tuple[float, int]:
        """The step's loss (averaged over micro-batches and ranks) and the broken videos of every rank so far."""
        stats = torch.stack(
            [
                loss_sum / self.cfg.gradient_accumulation_steps,
                torch.tensor(float(self.broken_videos), device=self.device),
            ]
        )
        if self.dist.world_size > 1:
            dist.all_reduce(stats)
            stats[0] /= self.dist.world_size
        return float(stats[0]), int(stats[1])

    def _checkpoint_due(self) -> bool:
        """Whether the step just taken is saved: every ``checkpoint_every`` steps, every
        ``checkpoint_every_epochs`` epochs, and the last step."""
        cfg = self.cfg
        steps_per_epoch = max(1, self.batches_per_epoch // cfg.gradient_accumulation_steps)
        return bool(
            (cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0)
            or self.step == self.total_steps
            or (cfg.checkpoint_every_epochs and self.step % (cfg.checkpoint_every_epochs * steps_per_epoch) == 0)
        )

    def _summary(
        self, start_step: int, losses: list[float], step_times: list[float], checkpoints: list[str], seconds: float
    ) -> TrainSummary:
        broken_videos, broken_files = broken_totals(self.broken_videos, self.broken_files, self.dist.world_size)
        steady = step_times[1:] or step_times  # the first step includes warm-up (workers, compile)
        steps_this_run = self.step - start_step
        summary = TrainSummary(
            output_dir=str(self.output_dir),
            steps=self.step,
            steps_this_run=steps_this_run,
            total_steps=self.total_steps,
            samples_this_run=steps_this_run
            * self.cfg.batch_size
            * self.cfg.gradient_accumulation_steps
            * self.dist.world_size,
            seconds=seconds,
            s_per_step=sum(steady) / len(steady) if steady else 0.0,
            first_loss=losses[0] if losses else math.nan,
            last_loss=losses[-1] if losses else math.nan,
            skipped_steps=self.skipped_steps,
            broken_videos=broken_videos,
            broken_files=broken_files,
            checkpoints=checkpoints,
            peak_memory_gb=peak_memory_gb(self.device),
            trainable_parameters=sum(p.numel() for _, p in self.trainable),
            losses=losses,
        )
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
