"""Argument helpers shared by the subcommands: the model options, the device, required files."""
from __future__ import annotations

import argparse
from pathlib import Path

DTYPES = ("float32", "float16", "bfloat16")
MODEL_CONFIG_HELP = ("JSON/YAML architectures by component ({unet: {...}, clip: {...}, vae: {...}, midas: {...}, "
                     "sketch_cleaner: {...}}), only for non-official weights, e.g. the tiny test models: the file is "
                     "json.dumps(videocomposer.pipelines.tiny.tiny_model_config())")


class UsageError(ValueError):
    """A problem with the command line (printed as one line, exit code 2)."""


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
    """``--weights-dir``, required."""
    if not args.weights_dir:
        raise UsageError("--weights-dir is required: the folder with the official weight files (see the README), "
                         "or one written by `videocomposer convert`; try `videocomposer demo` to run without weights")
    return Path(args.weights_dir)


def unet_file(value: str | None) -> str | None:
    """``--unet-file``: an existing file as given (e.g. a fine-tuned ``unet.safetensors``), else a name inside --weights-dir."""
    if value is None or not Path(value).is_file():
        return value
    return str(Path(value).resolve())


def add_model_arguments(parser: argparse.ArgumentParser, with_device: bool = True) -> None:
    """``--weights-dir``, ``--model-config`` and (optionally) ``--device``."""
    group = parser.add_argument_group("model")
    group.add_argument("--weights-dir", help="folder with the six official weight files, or a `convert` output")
    group.add_argument("--model-config", metavar="FILE", help=MODEL_CONFIG_HELP)
    if with_device:
        group.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N (default: auto)")
