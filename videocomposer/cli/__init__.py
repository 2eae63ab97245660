"""The ``videocomposer`` command line: one module per command, each turning its flags into a request of
:mod:`videocomposer.app`. A command's module is imported only when that command runs or shows its help,
so ``videocomposer --help`` and ``--version`` load neither torch nor any model code."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

DESCRIPTION = """\
Compositional video synthesis (VideoComposer): videos from text, a first frame, a style image, a sketch,
depth, a mask and motion.

  videocomposer demo                                    # the built-in toy model on a synthetic clip, no downloads
  videocomposer generate exp02_motion_transfer --weights-dir model_weights \\
      --input_video motion.mp4 --image_path first_frame.jpg --input_text_desc "A moon on the water"
  videocomposer generate --cfg my_task.yaml --weights-dir model_weights --input_video clip.mp4
  videocomposer extract --input_video clip.mp4 --output-dir conditions --weights-dir model_weights
  videocomposer convert --weights-dir model_weights --output-dir videocomposer_pretrained
  videocomposer train --config train_exp02_motion_transfer --output-dir runs/exp02 \\
      --weights-dir model_weights root_dir=datasets/my_clips
  videocomposer evaluate outputs/exp02_motion_transfer-S08888 --json eval.json
  videocomposer ui                                      # a local web app: compose, draw the motion

--weights-dir is the folder of the six official weight files (see the README), a `convert` output, or `toy`
(the built-in toy model). `videocomposer COMMAND --help` lists a command's options.
"""

#: The commands, in help order, with their one-line help (the module of each: ``videocomposer.cli.<command>``).
COMMANDS = {
    "generate": "generate a video for a task preset (or a task YAML file)",
    "extract": "extract the conditions of a video, or fill a training condition cache (--dataset)",
    "convert": "convert the official weight files into a save_pretrained folder (safetensors)",
    "demo": "run the built-in toy model on a synthetic clip (no downloads), or --random tiny networks",
    "train": "fine-tune the UNet on a video-caption dataset",
    "evaluate": "measure how well generated videos follow their conditions (motion, first frame, ...)",
    "ui": "a local web app: compose a video from any conditions, draw its motion",
}


def command_module(name: str) -> ModuleType:
    """The module of a command: ``configure(parser, argv)``, ``run(args) -> exit code`` and ``SPELLING``
    (each request field as the command spells it, for error messages)."""
    return importlib.import_module(f"{__name__}.{name}")


def named_command(argv: Sequence[str]) -> str | None:
    """The command a command line names (its first word that is not an option), if any."""
    return next((word for word in argv if not word.startswith("-")), None)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The ``videocomposer`` parser. Only the command that ``argv`` names gets its options (its module is
    imported); the others are listed by name and help."""
    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="videocomposer", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"videocomposer {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = named_command(argv)
    for name, help_text in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            command_module(name).configure(subparser, list(argv))
    return parser


def parse_command_line(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a command line as :func:`main` does (argparse errors exit with code 2); ``command_line`` is the
    command as typed (shell-quoted).

    ``train``'s ``key=value`` overrides may also follow its flags (``... root_dir=x --resume latest max_steps=9``),
    which a positional list alone does not allow in argparse."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args, extras = parser.parse_known_args(argv)
    if extras:
        if not isinstance(getattr(args, "overrides", None), list) or any(e.startswith("-") for e in extras):
            parser.parse_args(argv)  # argparse's own "unrecognized arguments" error
        args.overrides += extras
    from ..app.shell import shell_join  # after parsing: --help and --version load no command

    args.command_line = shell_join(["videocomposer", *argv])
    return args


def main(argv: Sequence[str] | None = None) -> int:
    """The ``videocomposer`` command; returns the exit code (2 for a user error, printed as one line)."""
    args = parse_command_line(argv)
    from ..app.errors import RequestError, user_errors

    module = command_module(args.command)
    try:
        return module.run(args)
    except RequestError as exc:
        print(f"videocomposer {args.command}: error: {exc.render(module.SPELLING)}", file=sys.stderr)
        return 2
    except user_errors() as exc:
        print(f"videocomposer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"videocomposer {args.command}: interrupted (no partial output files were left)", file=sys.stderr)
        return 130
