"""``videocomposer extract --dataset ROOT --cache DIR --config TASK``: fill the condition cache of a task.

    videocomposer extract --dataset datasets/webvid5 --cache cache/exp02 --config train_exp02_motion_transfer \\
        --weights-dir model_weights max_frames=16 mixed_precision=bf16
    torchrun --nproc_per_node 8 -m videocomposer.training.cache_cli --dataset ... (each process takes every N-th video)

The task config and ``key=value`` overrides must match the training run's (frames, resolution, misc size,
frame rate, chunk size, device, precision and the frozen weights are part of every entry's key; a
mismatch only means misses). Entries already present are skipped, so an interrupted extraction resumes,
and several processes or machines may fill one cache at once. The cache's size is printed at the end.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Sequence

from tqdm.auto import tqdm

log = logging.getLogger("videocomposer.training")


def add_dataset_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``--dataset`` mode's flags (``--config``, ``--cache``; ``--weights-dir`` / ``--model-config`` are shared)."""
    group = parser.add_argument_group("dataset mode (fills a training condition cache; replaces --input_video)")
    group.add_argument("--dataset", metavar="ROOT", help="dataset folder with *.csv / *.json annotations (sets root_dir)")
    group.add_argument("--cache", metavar="DIR", help="condition cache folder to fill (training reads it with condition_cache=DIR)")
    group.add_argument("--config", metavar="TASK", help="training preset or YAML (decides the conditions and sizes)")
    group.add_argument("overrides", nargs="*", metavar="key=value", help="training config overrides, as for train")


def run_dataset_extract(args: argparse.Namespace) -> int:
    """Fill ``args.cache`` for every clip of ``args.dataset`` under ``args.config``; print counts and size."""
    import torch

    from ..commands.common import UsageError
    from .cache import describe_size, fill_clip, open_cache
    from .cli import _model_config_values
    from .components import build_models
    from .config import load_train_config
    from .data import ClipLoaderSpec, read_annotations
    from .distributed import setup_distributed

    missing = [flag for flag, value in (("--cache", args.cache), ("--config", args.config)) if not value]
    if missing:
        raise UsageError(f"--dataset needs {' and '.join(missing)}")
    values = {"root_dir": args.dataset, **_model_config_values(getattr(args, "model_config", None))}
    if getattr(args, "weights_dir", None):
        values["weights_dir"] = args.weights_dir
    if getattr(args, "device", "auto") in ("cpu", "cuda"):
        values["device"] = args.device
    cfg = load_train_config(args.config, args.overrides or [], **values)
    if cfg.weights_dir is None:
        raise UsageError("--weights-dir: required (the frozen VAE and CLIP weights)")
    info = setup_distributed(cfg.device, cfg.dist_timeout_minutes)
    rows = read_annotations(cfg.root_dir, cfg.skip_missing_videos)[info.rank::info.world_size]
    spec = ClipLoaderSpec(tuple(cfg.conditions_for_train), cfg.max_frames, cfg.resolution, cfg.misc_size,
                          cfg.feature_framerate)
    models = build_models(cfg, with_unet=False)
    vae = models.vae.to(info.device)
    for name in ("clip", "midas", "pidinet", "sketch_cleaner"):
        if getattr(models.conditions, name) is not None:
            getattr(models.conditions, name).to(info.device)
    cache = open_cache(args.cache, spec, cfg.chunk_size, info.device, cfg.mixed_precision, vae, models.conditions)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.mixed_precision)

    def autocast():
        return torch.autocast(info.device.type, dtype=dtype, enabled=dtype is not None)

    began, written, failed = time.perf_counter(), 0, []
    for row in tqdm(rows, desc="extract", disable=info.rank != 0, file=sys.stderr):
        try:
            written += fill_clip(cache, row, spec, vae, models.conditions, cfg.chunk_size, info.device, autocast)
        except Exception as exc:  # a broken video is reported and skipped; training loads it online (and skips it)
            failed.append(f"{row.video} ({row.source}): {type(exc).__name__}: {exc}")
    for line in failed:
        print(f"videocomposer extract: skipped {line}", file=sys.stderr)
    print(f"rank {info.rank}: " if info.world_size > 1 else "", end="")
    print(f"{len(rows)} videos, {written} new entries, {len(failed)} failed, {time.perf_counter() - began:.1f} s; "
          f"cache: {describe_size(cache)}")
    return 1 if failed and len(failed) == len(rows) else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry (``python -m videocomposer.training.cache_cli``, e.g. under torchrun)."""
    parser = argparse.ArgumentParser(prog="videocomposer extract --dataset", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights-dir")
    parser.add_argument("--model-config")
    add_dataset_arguments(parser)
    args = parser.parse_intermixed_args(argv)
    code = run_dataset_extract(args)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from .distributed import shutdown_distributed

        shutdown_distributed()
        sys.stdout.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
