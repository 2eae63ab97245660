"""``videocomposer convert``: the official weight files → a ``save_pretrained`` folder (safetensors)."""
from __future__ import annotations

import argparse

from .common import add_model_arguments, unet_file, weights_dir


def run(args: argparse.Namespace) -> int:
    from ..conditions import normalize_conditions
    from ..config import read_model_config
    from ..files import claim_output_dir
    from ..pipelines import VideoComposerPipeline

    folder = weights_dir(args)
    output_dir = claim_output_dir(args.output_dir, args.overwrite)
    conditions = normalize_conditions(args.conditions) if args.conditions else None
    pipe = VideoComposerPipeline.from_official(folder, conditions=conditions, config=read_model_config(args.model_config),
                                               unet_file=unet_file(args.unet_file))
    pipe.save_pretrained(output_dir)
    print(output_dir)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "convert", help="convert the official weight files into a save_pretrained folder (safetensors)",
        description="Read the official files (pickles) once and write one folder per component (config.json + "
                    "safetensors) plus model_index.json. `generate` and `extract` take the result as --weights-dir and load it faster.")
    parser.add_argument("--output-dir", "--output_dir", required=True, help="folder to write")
    parser.add_argument("--conditions", help="convert only the models these conditions need (default: all)")
    parser.add_argument("--unet-file", "--unet_file", help="UNet weights: a file name inside --weights-dir (default "
                        "non_ema_228000.pth) or the path of a file, e.g. a fine-tuned unet.safetensors")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier conversion in --output-dir")
    add_model_arguments(parser, with_device=False)
    parser.set_defaults(func=run)
    return parser
