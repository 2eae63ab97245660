"""The ``videocomposer`` command: generate, extract, convert, demo, train, evaluate, ui.

    videocomposer demo                                    # no downloads: the built-in toy model, seconds on a CPU
    videocomposer generate exp02_motion_transfer --weights-dir model_weights \\
        --input_video motion.mp4 --image_path first_frame.jpg --input_text_desc "A moon on the water"
    videocomposer generate --cfg my_task.yaml --weights-dir model_weights --input_video clip.mp4
    videocomposer generate --cfg configs/exp02_motion_transfer.yaml ...   # the original's paths and YAMLs work too
    videocomposer extract --input_video clip.mp4 --output-dir conditions --weights-dir model_weights
    videocomposer convert --weights-dir model_weights --output-dir videocomposer_pretrained
    videocomposer train --config train_exp02_motion_transfer --output-dir runs/exp02 \\
        --weights-dir model_weights root_dir=datasets/my_clips
    videocomposer ui                                      # a local web app (the ui extra): compose, draw the motion

--weights-dir is the folder of the six official weight files (see the README), a `convert` output, or `toy`.
--model-config FILE gives the architectures of non-official weights, e.g. the tiny test models
(`videocomposer.pipelines.tiny`). `videocomposer COMMAND --help` lists each command's options. Each command lives in its own module
(videocomposer/commands/, videocomposer/training/cli.py, videocomposer/ui/cli.py) with add_parser(subparsers) and run(args).
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from types import ModuleType

from .commands import convert, demo, extract, generate
from .commands.common import user_errors
from .evaluation import cli as evaluate
from .training import cli as train
from .ui import cli as ui

#: The subcommands, in help order: modules exposing ``add_parser(subparsers)`` and ``run(args) -> int``.
SUBCOMMANDS: tuple[ModuleType, ...] = (generate, extract, convert, demo, train, evaluate, ui)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videocomposer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in SUBCOMMANDS:
        command.add_parser(subparsers)
    return parser


def parse_command_line(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a command line as ``main`` does (argparse errors exit with code 2).

    ``train``'s ``key=value`` overrides may also follow its flags (``... root_dir=x --resume latest max_steps=9``),
    which a positional list alone does not allow in argparse."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        if not isinstance(getattr(args, "overrides", None), list) or any(e.startswith("-") for e in extras):
            parser.parse_args(argv)  # argparse's own "unrecognized arguments" error
        args.overrides += extras
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code (2 for a user error, with a one-line message)."""
    args = parse_command_line(argv)
    try:
        return args.func(args)
    except user_errors() as exc:
        print(f"videocomposer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"videocomposer {args.command}: interrupted (no partial output files were left)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
