"""``videocomposer train``: the command line of a :class:`~videocomposer.app.TrainRequest`, in one process or
one per GPU under ``torchrun --nproc_per_node N -m videocomposer.cli train ...``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Sequence

from .options import request_from

#: Each request field as this command spells it.
SPELLING = {
    "config": "--config",
    "output_dir": "--output-dir",
    "weights_dir": "--weights-dir",
    "model_config": "--model-config",
    "resume": "--resume",
    "overrides": "key=value",
}

DESCRIPTION = """\
Fine-tune the UNet from a task config.

  videocomposer train --config train_exp02_motion_transfer --output-dir runs/exp02 \\
      --weights-dir model_weights root_dir=datasets/webvid5 max_steps=1000 mixed_precision=bf16
  torchrun --nproc_per_node 8 -m videocomposer.cli train --config ...   # data parallel, one process per GPU

Settings: the preset (or YAML file) over configs/train_base.yaml, then key=value overrides (dotted keys reach
into unet / frozen_models), then the flags. To continue an interrupted run exactly, run the same command again
with --resume latest (the newest checkpoint in the output folder).
"""


def _epilog() -> str:
    from ..app.training import task_presets
    from ..training.config import BASE_CONFIG

    listing = "".join(f"\n  {name}" for name in task_presets())
    return f"presets:{listing}\nevery key is documented in videocomposer/configs/{BASE_CONFIG.name}"


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options of ``train`` (also for a parser of its own)."""
    parser.add_argument(
        "--config",
        "-c",
        "--cfg",
        required=True,
        help="training preset name (e.g. "
        "train_exp02_motion_transfer) or a YAML file: this package's, or the MindSpore port's (-c "
        "configs/train_exp02_motion_transfer.yaml; its keys are mapped and the mapping printed)",
    )
    parser.add_argument("--output-dir", required=True, help="folder for checkpoints, logs and the resolved config")
    parser.add_argument("--weights-dir", help="folder with the official weight files (sets weights_dir)")
    parser.add_argument(
        "--model-config",
        metavar="FILE",
        help="the architectures of non-official weights, the file "
        "`videocomposer generate --model-config` takes (e.g. the tiny test models): sets unet and "
        "frozen_models (UNet keys the training config owns, like misc_dropout, are left to it)",
    )
    parser.add_argument(
        "--resume",
        help="checkpoint folder, 'latest' (error if none) or 'auto' (latest if any); repeat the run's other arguments",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the resolved config after checking it, and exit")
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="config overrides, e.g. learning_rate=1e-5 unet.dim=64"
    )
    return parser


def configure(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    parser.description, parser.epilog = DESCRIPTION, _epilog()
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_arguments(parser)


def _rank() -> int:
    return int(os.environ.get("RANK", "0"))


def _report(line: str) -> None:
    if _rank() == 0:
        print(line, file=sys.stderr)


def _train(args: argparse.Namespace) -> None:
    import yaml

    from ..app.training import TrainRequest, train, train_config

    request = request_from(TrainRequest, args)
    if args.dry_run:
        print(yaml.safe_dump(train_config(request, report=_report).to_dict(), sort_keys=False), end="")
        return
    summary = train(request, report=_report)
    if _rank() == 0:
        print(summary.describe())


def run(args: argparse.Namespace) -> int:
    """Train; a user error prints one line and returns 2. Under torchrun a failed process says which rank it is
    and exits at once (torchrun then stops the others), and every process leaves without the interpreter's teardown."""
    from ..app.errors import RequestError, user_errors

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    code = 0
    try:
        _train(args)
    except user_errors() as exc:
        message = exc.render(SPELLING) if isinstance(exc, RequestError) else str(exc)
        print(f"videocomposer train: error: {message}", file=sys.stderr)
        code = 2
    except BaseException:
        if int(os.environ.get("WORLD_SIZE", "1")) == 1:
            raise
        # one process failed: say which and exit at once; torchrun then stops the others (a barrier would hang)
        print(f"videocomposer train: rank {os.environ.get('RANK')} failed:\n{traceback.format_exc()}", file=sys.stderr)
        sys.stderr.flush()
        os._exit(1)
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        from ..training.distributed import shutdown_distributed

        # torchrun + gloo can abort a rank at interpreter exit after destroy_process_group: leave the group after
        # a barrier, flush, and exit without running the interpreter's teardown.
        shutdown_distributed()
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
