"""Which UNet parameters train, the optimizer over them, and the learning-rate schedule."""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Sequence

import torch
from torch import nn

from .config import ConfigError, TrainConfig


def select_trainable(model: nn.Module, patterns: Sequence[str]) -> list[tuple[str, nn.Parameter]]:
    """Set ``requires_grad`` on the parameters whose name matches a glob in ``patterns`` (all of them
    when ``patterns`` is empty) and clear it on the rest; return the trainable ``(name, parameter)`` pairs.

    Raises:
        ConfigError: a pattern matches no parameter (names it, with a few example parameter names).
    """
    named = list(model.named_parameters())
    if not patterns:
        for _, param in named:
            param.requires_grad_(True)
        return named
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(name, p) for name, _ in named)]
    if unmatched:
        examples = ", ".join(name for name, _ in named[:: max(1, len(named) // 6)][:6])
        raise ConfigError(f"trainable_patterns: {unmatched} match no UNet parameter (names look like: {examples})")
    selected = []
    for name, param in named:
        keep = any(fnmatch.fnmatchcase(name, p) for p in patterns)
        param.requires_grad_(keep)
        if keep:
            selected.append((name, param))
    return selected


def build_optimizer(named_params: Sequence[tuple[str, nn.Parameter]], cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or SGD-momentum over ``named_params``.

    Weight decay applies to matrices and kernels only; biases and norm scales (1-D tensors) get none.
    The learning rate is set every step by :func:`learning_rate_at`.
    """
    decay = [p for _, p in named_params if p.ndim >= 2]
    no_decay = [p for _, p in named_params if p.ndim < 2]
    groups = [
        g
        for g in ({"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0})
        if g["params"]
    ]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=tuple(cfg.betas), eps=cfg.eps)
    if cfg.optimizer == "momentum":
        return torch.optim.SGD(groups, lr=cfg.learning_rate, momentum=cfg.momentum)
    raise ConfigError(f"optimizer: expected 'adamw' or 'momentum', got {cfg.optimizer!r}")


def learning_rate_at(step: int, cfg: TrainConfig, total_steps: int) -> float:
    """Learning rate for optimizer step ``step`` (0-based) of ``total_steps``.

    Linear warmup from 0 to ``learning_rate`` over ``warmup_steps`` (step ``s`` uses ``(s+1)/warmup``),
    then ``constant``, or ``cosine`` from ``learning_rate`` down to ``end_learning_rate`` at the last step.
    """
    if step < cfg.warmup_steps:
        return cfg.learning_rate * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return cfg.learning_rate
    decay_steps = max(1, total_steps - cfg.warmup_steps - 1)
    progress = min(1.0, (step - cfg.warmup_steps) / decay_steps)
    return cfg.end_learning_rate + 0.5 * (cfg.learning_rate - cfg.end_learning_rate) * (
        1 + math.cos(math.pi * progress)
    )


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr
