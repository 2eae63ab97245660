"""The ``train`` request: fine-tune the UNet from a task config.

    from videocomposer.app import TrainRequest, train
    summary = train(TrainRequest(config="train_exp02_motion_transfer", output_dir="runs/exp02",
                                 weights_dir="model_weights", overrides=["root_dir=datasets/webvid5", "max_steps=1000"]))

Settings: the preset (or YAML file) over ``configs/train_base.yaml``, then the ``key=value`` overrides
(dotted keys reach into ``unet`` / ``frozen_models``), then the request's fields. To continue an
interrupted run exactly, repeat the request with ``resume="latest"``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .checks import model_architectures
from .errors import RequestError

PathLike = str | os.PathLike


@dataclass
class TrainRequest:
    """A training run. ``config``: a training preset (``train_exp02_motion_transfer``) or a YAML file (ours,
    or the MindSpore port's); ``model_config``: the architectures of non-official weights (the file
    ``generate`` takes: sets ``unet`` and ``frozen_models``); ``resume``: a checkpoint folder, ``latest``
    or ``auto``; ``overrides``: ``key=value`` config settings."""

    config: str | None = None
    output_dir: PathLike | None = None
    weights_dir: PathLike | None = None
    model_config: PathLike | None = None
    resume: str | None = None
    overrides: Sequence[str] = field(default_factory=list)

    def check(self) -> None:
        if not self.config:
            raise RequestError(
                "config", "a training preset (e.g. train_exp02_motion_transfer) or a YAML file is required"
            )
        if not self.output_dir:
            raise RequestError("output_dir", "the folder for checkpoints, logs and the resolved config is required")
        bad = [o for o in self.overrides if "=" not in o]
        if bad:
            raise RequestError("overrides", f"expected key=value settings, got {bad}")


def task_presets() -> list[str]:
    """The training task presets (``configs/train_*.yaml`` except the base they all build on)."""
    from ..training.config import BASE_CONFIG, CONFIG_DIR

    return sorted(p.stem for p in CONFIG_DIR.glob("train_*.yaml") if p != BASE_CONFIG)


def model_config_values(path: PathLike | None) -> dict[str, dict]:
    """A model-config file → ``{"unet": {...}, "frozen_models": {...}}`` config values (empty without a file).
    UNet keys the training config owns (e.g. ``misc_dropout``) are left to it."""
    from ..training.config import UNET_KEYS_SET_BY_TRAINING

    data = model_architectures(path) or {}
    values: dict[str, dict] = {}
    if "unet" in data:
        values["unet"] = {k: v for k, v in data["unet"].items() if k not in UNET_KEYS_SET_BY_TRAINING}
    frozen = {k: v for k, v in data.items() if k != "unet"}
    if frozen:
        values["frozen_models"] = frozen
    return values


def train_config(request: TrainRequest, report: Callable[[str], None] | None = None) -> Any:
    """The resolved and checked :class:`~videocomposer.training.TrainConfig` of a request (nothing is read
    but config files). ``report`` receives the mapping of a MindSpore-port YAML, a line at a time."""
    from ..training.components import check_model_config
    from ..training.config import load_train_config

    request.check()
    values: dict[str, Any] = {"output_dir": os.fspath(request.output_dir)}
    if request.weights_dir:
        values["weights_dir"] = os.fspath(request.weights_dir)
    if request.resume:
        values["resume"] = request.resume
    values.update(model_config_values(request.model_config))
    cfg = load_train_config(request.config, list(request.overrides), report=report, **values)
    check_model_config(cfg)
    return cfg


def train(request: TrainRequest, report: Callable[[str], None] | None = None) -> Any:
    """Train as ``request`` says; returns the :class:`~videocomposer.training.TrainSummary`."""
    from ..training.trainer import train as run_training

    return run_training(train_config(request, report))
