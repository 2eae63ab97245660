"""``videocomposer train``: fine-tune the UNet from a task config.

    videocomposer train --config train_exp02_motion_transfer --output-dir runs/exp02 \\
        --weights-dir model_weights root_dir=datasets/webvid5 max_steps=1000 mixed_precision=bf16
    torchrun --nproc_per_node 8 -m videocomposer.training --config ... (data parallel)

Settings: the preset (or YAML file) over ``configs/train_base.yaml``, then ``key=value`` overrides (dotted
keys reach into ``unet`` / ``frozen_models``), then the flags. To continue an interrupted run exactly, run
the same command again with ``--resume latest`` (the newest checkpoint in the output folder).
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

import yaml

from ..checkpoints import WeightFileError
from ..config import read_model_config
from .components import check_model_config
from .config import BASE_CONFIG, CONFIG_DIR, UNET_KEYS_SET_BY_TRAINING, ConfigError, load_train_config
from .distributed import shutdown_distributed
from .trainer import train


#: UNet fields that the training config sets from its own top-level keys (dropped from a --model-config file).
def task_presets() -> list[str]:
    """The training task presets (``configs/train_*.yaml`` except the base they all build on)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("train_*.yaml") if p != BASE_CONFIG)


def _epilog() -> str:
    listing = "".join(f"\n  {name}" for name in task_presets())
    return f"presets:{listing}\nevery key is documented in videocomposer/configs/{BASE_CONFIG.name}"


def add_train_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--config", "-c", "--cfg", required=True, help="training preset name (e.g. train_exp02_motion_transfer) "
                        "or a YAML file: ours, or the MindSpore port's (-c configs/train_exp02_motion_transfer.yaml; its "
                        "keys are mapped onto ours and the mapping printed)")
    parser.add_argument("--output-dir", required=True, help="folder for checkpoints, logs and the resolved config")
    parser.add_argument("--weights-dir", help="folder with the official weight files (sets weights_dir)")
    parser.add_argument("--model-config", metavar="FILE", help="the architectures of non-official weights, the file "
                        "`videocomposer generate --model-config` takes (e.g. the tiny test models): sets unet and "
                        "frozen_models (UNet keys the training config owns, like misc_dropout, are left to it)")
    parser.add_argument("--resume", help="checkpoint folder, 'latest' (error if none) or 'auto' (latest if any); "
                        "repeat the run's other arguments")
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config after checking it, and exit")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="config overrides, e.g. learning_rate=1e-5 unet.dim=64")
    return parser


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the ``train`` subcommand; its handler is ``args.func(args) -> exit code``."""
    parser = subparsers.add_parser("train", help="fine-tune the UNet on a video-caption dataset",
                                   description=__doc__, epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run a parsed ``train`` command; errors in the user's input print one line and return 2."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    values = {"output_dir": args.output_dir}
    if args.weights_dir:
        values["weights_dir"] = args.weights_dir
    if args.resume:
        values["resume"] = args.resume
    code = 0
    try:
        values.update(_model_config_values(args.model_config))
        cfg = load_train_config(args.config, args.overrides, report=_report, **values)
        check_model_config(cfg)
        if args.dry_run:
            print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
        else:
            summary = train(cfg)
            if int(os.environ.get("RANK", "0")) == 0:
                print(summary.describe())
    except (ConfigError, FileNotFoundError, PermissionError, NotADirectoryError, WeightFileError, ValueError) as exc:
        print(f"videocomposer train: error: {exc}", file=sys.stderr)
        code = 2
    except BaseException:
        if int(os.environ.get("WORLD_SIZE", "1")) == 1:
            raise
        # one process failed: say which and exit at once; torchrun then stops the others (a barrier would hang)
        print(f"videocomposer train: rank {os.environ.get('RANK')} failed:\n{traceback.format_exc()}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # torchrun + gloo can abort a rank at interpreter exit after destroy_process_group (docs/README.md):
        # leave the group after a barrier, flush, and exit without running the interpreter's teardown.
        shutdown_distributed()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _report(line: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        print(line, file=sys.stderr)


def _model_config_values(path: str | None) -> dict[str, dict]:
    """``--model-config`` → ``{"unet": {...}, "frozen_models": {...}}`` config values (empty without a file)."""
    data = read_model_config(path) or {}
    values: dict[str, dict] = {}
    if "unet" in data:
        values["unet"] = {k: v for k, v in data["unet"].items() if k not in UNET_KEYS_SET_BY_TRAINING}
    frozen = {k: v for k, v in data.items() if k != "unet"}
    if frozen:
        values["frozen_models"] = frozen
    return values


def cli_main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry point (``python -m videocomposer.training ...``, e.g. under torchrun)."""
    parser = add_train_arguments(argparse.ArgumentParser(prog="videocomposer train", description=__doc__, epilog=_epilog(),
                                                         formatter_class=argparse.RawDescriptionHelpFormatter))
    return run(parser.parse_intermixed_args(argv))  # key=value overrides may also follow the flags
