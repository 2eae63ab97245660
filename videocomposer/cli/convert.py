"""``videocomposer convert``: the command line of a :class:`~videocomposer.app.ConvertRequest`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .options import MODEL_SPELLING, add_model_arguments, request_from

#: Each request field as this command spells it.
SPELLING = {
    **MODEL_SPELLING,
    "output_dir": "--output-dir",
    "conditions": "--conditions",
    "unet_file": "--unet-file",
    "overwrite": "--overwrite",
}


def configure(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    parser.description = (
        "Read the official files (pickles) once and write one folder per component (config.json + "
        "safetensors) plus model_index.json. `generate` and `extract` take the result as "
        "--weights-dir and load it faster."
    )
    parser.add_argument("--output-dir", "--output_dir", required=True, help="folder to write")
    parser.add_argument("--conditions", help="convert only the models these conditions need (default: all)")
    parser.add_argument(
        "--unet-file",
        "--unet_file",
        help="UNet weights: a file name inside --weights-dir (default "
        "non_ema_228000.pth) or the path of a file, e.g. a fine-tuned unet.safetensors",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier conversion in --output-dir")
    add_model_arguments(parser, with_device=False)


def run(args: argparse.Namespace) -> int:
    from ..app.conversion import ConvertRequest, convert

    print(Path(convert(request_from(ConvertRequest, args))).absolute())
    return 0
