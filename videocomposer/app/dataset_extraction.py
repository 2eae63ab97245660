"""The ``extract --dataset`` request: fill the condition cache that a training run reads.

The task config and ``key=value`` overrides must match the training run's (frames, resolution, misc size,
frame rate, chunk size, device, precision and the frozen weights are part of every entry's key; a
mismatch only means misses). Entries already present are skipped, so an interrupted extraction resumes,
and several processes or machines may fill one cache at once (under ``torchrun`` each process takes
every N-th video).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import RequestError, mention
from .training import model_config_values

PathLike = str | os.PathLike


@dataclass
class DatasetExtractRequest:
    """``dataset``: the folder with ``*.csv`` / ``*.json`` annotations (sets ``root_dir``); ``cache``: the
    condition cache folder to fill (training reads it with ``condition_cache=DIR``); ``config``: the
    training preset or YAML (decides the conditions and sizes); ``overrides``: ``key=value`` settings as
    for ``train``; ``weights_dir``: the frozen VAE and CLIP weights; ``device``: ``auto``, ``cpu`` or ``cuda``."""

    dataset: PathLike
    cache: PathLike | None = None
    config: str | None = None
    overrides: Sequence[str] = field(default_factory=list)
    weights_dir: PathLike | None = None
    model_config: PathLike | None = None
    device: str = "auto"

    def check(self) -> None:
        missing = [name for name in ("cache", "config") if not getattr(self, name)]
        if missing:
            raise RequestError(missing[0], f"{mention('dataset')} needs {' and '.join(map(mention, missing))}")


@dataclass
class DatasetExtractResult:
    """What one process did: videos seen, new cache entries, failures (one line each), seconds, cache size."""

    rank: int
    world_size: int
    videos: int
    written: int
    failed: list[str]
    seconds: float
    cache_size: str


def _train_config(request: DatasetExtractRequest) -> Any:
    from ..training.config import load_train_config

    request.check()
    values: dict[str, Any] = {"root_dir": os.fspath(request.dataset), **model_config_values(request.model_config)}
    if request.weights_dir:
        values["weights_dir"] = os.fspath(request.weights_dir)
    if request.device in ("cpu", "cuda"):
        values["device"] = request.device
    cfg = load_train_config(request.config, list(request.overrides), **values)
    if cfg.weights_dir is None:
        raise RequestError("weights_dir", "required (the frozen VAE and CLIP weights)")
    return cfg


def extract_dataset(request: DatasetExtractRequest, progress: bool = True) -> DatasetExtractResult:
    """Fill ``request.cache`` for every clip of ``request.dataset`` (this process's share under torchrun)."""
    import torch
    from tqdm.auto import tqdm

    from ..training.cache import describe_size, fill_clip, open_cache
    from ..training.components import build_models
    from ..training.data import read_annotations
    from ..training.distributed import setup_distributed
    from ..training.setup import clip_loader_spec

    cfg = _train_config(request)
    info = setup_distributed(cfg.device, cfg.dist_timeout_minutes)
    rows = read_annotations(cfg.root_dir, cfg.skip_missing_videos)[info.rank :: info.world_size]
    spec = clip_loader_spec(cfg)
    models = build_models(cfg, with_unet=False)
    vae = models.vae.to(info.device)
    for name in ("clip", "midas", "pidinet", "sketch_cleaner"):
        if getattr(models.conditions, name) is not None:
            getattr(models.conditions, name).to(info.device)
    cache = open_cache(request.cache, spec, cfg.chunk_size, info.device, cfg.mixed_precision, vae, models.conditions)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.mixed_precision)

    def autocast():
        return torch.autocast(info.device.type, dtype=dtype, enabled=dtype is not None)

    began, written, failed = time.perf_counter(), 0, []
    for row in tqdm(rows, desc="extract", disable=not progress or info.rank != 0, file=sys.stderr):
        try:
            written += fill_clip(cache, row, spec, vae, models.conditions, cfg.chunk_size, info.device, autocast)
        except Exception as exc:  # a broken video is reported and skipped; training loads it online (and skips it)
            failed.append(f"{row.video} ({row.source}): {type(exc).__name__}: {exc}")
    return DatasetExtractResult(
        info.rank, info.world_size, len(rows), written, failed, time.perf_counter() - began, describe_size(cache)
    )
