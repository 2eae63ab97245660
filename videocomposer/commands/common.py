"""Argument helpers shared by the subcommands: the model options, the device, required files, user errors."""
from __future__ import annotations

import argparse
from pathlib import Path

DTYPES = ("float32", "float16", "bfloat16")
MODEL_CONFIG_HELP = ("JSON/YAML architectures by component ({unet: {...}, clip: {...}, vae: {...}, midas: {...}, "
                     "sketch_cleaner: {...}}), only for non-official weights, e.g. the tiny test models: the file is "
                     "json.dumps(videocomposer.pipelines.tiny.tiny_model_config())")


class UsageError(ValueError):
    """A problem with the command line (printed as one line, exit code 2)."""


def user_errors() -> tuple[type[Exception], ...]:
    """The exceptions that report a user's mistake: the CLI prints them as one line (exit code 2), the UI as
    a message, not a traceback."""
    from ..checkpoints import WeightFileError
    from ..video.reader import VideoReadError

    return (UsageError, FileNotFoundError, FileExistsError, WeightFileError, PermissionError, NotADirectoryError,
            VideoReadError, ValueError)


def device(name: str):
    """``--device``: ``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N`` → ``torch.device``."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: no CUDA device is available here; use --device cpu")
    return torch.device(name)


def existing(flag: str, value: str | None) -> Path | None:
    """A path that must be an existing file (None stays None); ``FileNotFoundError`` naming the flag."""
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"{flag}: file not found: {path.resolve()}")
    return path


def weights_dir(args: argparse.Namespace) -> Path:
    """``--weights-dir``, required; ``toy`` is the built-in toy model."""
    from ..pipelines.toy_model import resolve_weights_dir

    if not args.weights_dir:
        raise UsageError("--weights-dir is required: the folder with the official weight files (see the README), "
                         "one written by `videocomposer convert`, or `toy` for the built-in toy model (text + first "
                         "frame + motion, 8 frames of 64x64), e.g. `videocomposer generate exp02_motion_transfer "
                         "--weights-dir toy --input_video clip.mp4 --image_path first.png --input_text_desc "
                         "\"a red circle moves left over a gray background\"`; `videocomposer demo` runs it on a synthetic clip")
    return resolve_weights_dir(args.weights_dir)


def model_defaults(args: argparse.Namespace) -> dict:
    """The size and sampling settings a ``save_pretrained`` model stores where they differ from the official
    model's (e.g. the toy model's 8 x 64 x 64): they replace the task's, and flags still override them."""
    from ..pipelines.pipeline import DEFAULTS
    from ..pipelines.toy_model import resolve_weights_dir, stored_defaults

    if not args.weights_dir:
        return {}
    official = {**DEFAULTS, "scheduler": "ddim"}
    stored = stored_defaults(resolve_weights_dir(args.weights_dir))
    return {k: v for k, v in stored.items() if k in official and v != official[k]}


def unet_file(value: str | None) -> str | None:
    """``--unet-file``: an existing file as given (e.g. a fine-tuned ``unet.safetensors``), else a name inside --weights-dir."""
    if value is None or not Path(value).is_file():
        return value
    return str(Path(value).resolve())


def add_model_arguments(parser: argparse.ArgumentParser, with_device: bool = True) -> None:
    """``--weights-dir``, ``--model-config`` and (optionally) ``--device``."""
    group = parser.add_argument_group("model")
    group.add_argument("--weights-dir", help="folder with the six official weight files, a `convert` output, or "
                       "`toy` (the built-in toy model)")
    group.add_argument("--model-config", metavar="FILE", help=MODEL_CONFIG_HELP)
    if with_device:
        group.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N (default: auto)")
