"""Continuing a run from one of its checkpoints (``resume``: ``auto``, ``latest``, a step or a folder).

:func:`resume_run` restores the UNet weights, the optimizer, the loss scaler and the EMA in place, and
returns the counters the run continues from. A checkpoint written under the same process layout
(world size x ``batch_size``) continues exactly, RNG states included; under another layout with the same
global batch it takes the same clips and noise; otherwise it continues at the proportional position of
the epoch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .checkpoint import UNET_FILE, Checkpoint, find_checkpoint, list_checkpoints, load_checkpoint
from .config import ConfigError, TrainConfig, changed_keys
from .distributed import DistInfo, like
from .ema import EMA
from .sharded_checkpoint import has_shards, load_model_weights, load_optimizer_shards

log = logging.getLogger("videocomposer.training")


@dataclass
class ResumedState:
    """Where a resumed run continues: its step, data position ``(epoch, micro-batch)`` and counters.

    ``rng_state`` is this process's saved RNG states; None when the process layout changed (the caller then
    seeds afresh). ``broken_videos`` and ``broken_files`` are this rank's, or under a changed layout the
    totals of every saved rank on rank 0 (and none on the others).
    """

    path: Path
    step: int
    position: tuple[int, int]
    skipped_steps: int
    broken_videos: int = 0
    broken_files: set[str] = field(default_factory=set)
    rng_state: dict[str, Any] | None = None


def checkpoint_to_resume(resume: str, ckpt_root: Path) -> Path | None:
    """The checkpoint that ``resume`` names under ``ckpt_root``; None for ``auto`` when there is none yet."""
    if resume == "auto" and not list_checkpoints(ckpt_root):
        log.info("resume=auto: no checkpoint under %s, starting fresh", ckpt_root)
        return None
    return find_checkpoint("latest" if resume == "auto" else resume, ckpt_root)


def resume_run(
    cfg: TrainConfig,
    ckpt_root: Path,
    dist: DistInfo,
    batches_per_epoch: int,
    unet: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    ema: EMA | None,
) -> ResumedState | None:
    """Restore the checkpoint that ``cfg.resume`` names into ``unet``, ``optimizer``, ``scaler`` and ``ema``
    (every rank; collectives for sharded optimizer state) and return where the run continues.

    Raises:
        ValueError: the weights or the optimizer state do not fit (names the checkpoint and what changed).
        ConfigError: an fsdp2 run of several processes resumes a checkpoint without sharded optimizer state.
    """
    path = checkpoint_to_resume(cfg.resume, ckpt_root)
    if path is None:
        return None
    saved = load_checkpoint(path)
    differ = changed_keys(saved.config, cfg)
    if differ:
        log.warning("resuming %s with changed settings %s; the run will not match an uninterrupted one", path, differ)
    try:
        load_model_weights(unet, saved.unet)
    except ValueError as exc:
        raise ValueError(f"resume={path}: {path / UNET_FILE} does not fit the UNet: {exc}") from exc
    _restore_optimizer(path, saved.state, unet, optimizer, dist.world_size > 1 and cfg.parallelism == "fsdp2")
    scaler.load_state_dict(saved.state["scaler"])
    if ema is not None:
        _restore_ema(saved, ema)
    resumed = _resumed_state(path, saved.state, dist, cfg.batch_size, batches_per_epoch)
    log.info("resumed from %s at step %d (epoch %d, batch %d)", path, resumed.step, *resumed.position)
    return resumed


def _restore_optimizer(
    path: Path, state: dict[str, Any], unet: nn.Module, optimizer: torch.optim.Optimizer, sharded_run: bool
) -> None:
    """The optimizer state: from the checkpoint's shards, else (older checkpoints) from its training state."""
    if not has_shards(path) and sharded_run:
        raise ConfigError(
            f"resume={path}: this checkpoint predates sharded optimizer state; resume it once "
            f"with parallelism=ddp, whose checkpoints any world size and fsdp2 can resume"
        )
    try:
        if has_shards(path):
            load_optimizer_shards(path, unet, optimizer)
        else:
            optimizer.load_state_dict(state["optimizer"])
    except ValueError as exc:
        raise ValueError(
            f"resume={path}: the optimizer state does not fit the trainable parameters ({exc}); "
            f"trainable_patterns or conditions_for_train changed since the checkpoint"
        ) from exc


def _restore_ema(saved: Checkpoint, ema: EMA) -> None:
    """The EMA weights and update count; a checkpoint without them restarts the EMA from the current weights."""
    if saved.ema is None:
        log.warning(
            "resume=%s: the checkpoint has no EMA weights; the EMA restarts from the current weights", saved.path
        )
        return
    ema.load_state_dict(
        {
            "num_updates": saved.state.get("ema_updates", 0),
            "shadow": {n: like(saved.ema[n], v) for n, v in ema.shadow.items()},
        }
    )


def _resumed_state(
    path: Path, state: dict[str, Any], dist: DistInfo, batch_size: int, batches_per_epoch: int
) -> ResumedState:
    """The counters of ``state`` as this rank continues them (see :class:`ResumedState`)."""
    epoch, batch = state["data_position"]
    resumed = ResumedState(path, int(state["step"]), (epoch, batch), int(state["skipped_steps"]))
    ranks = state["ranks"]
    if (state["world_size"], state["batch_size"]) == (dist.world_size, batch_size):
        own = ranks[dist.rank]
        resumed.rng_state = own["rng"]
        resumed.broken_videos, resumed.broken_files = int(own["broken_videos"]), set(own["broken_files"])
        return resumed
    resumed.position = _position_in_new_layout(path, state, dist.world_size, batch_size, batches_per_epoch)
    if dist.is_main:  # keep the totals once
        resumed.broken_videos = sum(int(r["broken_videos"]) for r in ranks)
        resumed.broken_files = {f for r in ranks for f in r["broken_files"]}
    return resumed


def _position_in_new_layout(
    path: Path, state: dict[str, Any], world_size: int, batch_size: int, batches_per_epoch: int
) -> tuple[int, int]:
    """The data position of a checkpoint written under another process layout (``world_size`` x
    ``batch_size`` of ``state``) as ``world_size`` processes of ``batch_size`` clips continue it."""
    epoch, batch = state["data_position"]
    saved_global, now_global = state["world_size"] * state["batch_size"], world_size * batch_size
    if saved_global == now_global:  # rank r of N takes every N-th clip: the same clips form each step
        log.warning(
            "resume=%s: saved with %d process(es) x batch_size %d, now %d x %d: the same global batch, "
            "so the same clips and noise; dropout draws restart per process",
            path,
            state["world_size"],
            state["batch_size"],
            world_size,
            batch_size,
        )
        return (epoch, batch)
    position = (epoch, min(batch * saved_global // now_global, batches_per_epoch - 1))
    log.warning(
        "resume=%s: saved with a global batch of %d clips, now %d: continuing at epoch %d batch %d; "
        "the data order differs from an uninterrupted run",
        path,
        saved_global,
        now_global,
        *position,
    )
    return position
