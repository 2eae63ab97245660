"""Options shared by the commands: the model folder, its architectures, the device, and help texts that
show the model's own defaults."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

MODEL_CONFIG_HELP = (
    "JSON/YAML architectures by component ({unet: {...}, clip: {...}, vae: {...}, midas: {...}, "
    "sketch_cleaner: {...}}), only for non-official weights, e.g. the tiny test models: the file is "
    "json.dumps(videocomposer.pipelines.tiny.tiny_model_config())"
)
WEIGHTS_DIR_HELP = "folder with the six official weight files, a `convert` output, or `toy` (the built-in toy model)"
#: Each model option's request field, as the commands spell it.
MODEL_SPELLING = {"weights_dir": "--weights-dir", "model_config": "--model-config", "device": "--device"}


def add_model_arguments(parser: argparse.ArgumentParser, with_device: bool = True) -> None:
    """``--weights-dir``, ``--model-config`` and (optionally) ``--device``."""
    group = parser.add_argument_group("model")
    group.add_argument("--weights-dir", help=WEIGHTS_DIR_HELP)
    group.add_argument("--model-config", metavar="FILE", help=MODEL_CONFIG_HELP)
    if with_device:
        group.add_argument(
            "--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N (default: auto)"
        )


def given_weights_dir(argv: Sequence[str]) -> Path | None:
    """The model folder ``--weights-dir`` names before any ``--help`` on the command line, if it exists."""
    from ..pipelines.toy_model import resolve_weights_dir

    words = list(argv)
    for index, word in enumerate(words):
        if word in ("-h", "--help"):
            return None
        value = (
            words[index + 1]
            if word == "--weights-dir" and index + 1 < len(words)
            else word.partition("=")[2]
            if word.startswith("--weights-dir=")
            else None
        )
        if value:
            try:
                folder = resolve_weights_dir(value)
            except FileNotFoundError:
                return None
            return folder if folder.is_dir() else None
    return None


def _shown(value: Any) -> str:
    return (
        "none (one scale for every frame)"
        if value is None
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )


def model_default(key: str, argv: Sequence[str], fallback: Path | None = None) -> str:
    """``default: ...`` for a setting whose default is the model's own (``num_inference_steps``, ``guidance_scale``,
    ``min_guidance_scale``, ``scheduler``, ``num_frames``, ``height``, ``width``): that of the model ``--weights-dir``
    names before ``--help`` (else of the ``fallback`` model folder, if any), else the official model's."""
    from ..app.checks import official_defaults
    from ..app.errors import user_errors
    from ..pipelines.toy_model import stored_defaults

    official = official_defaults()[key]
    folder = given_weights_dir(argv) or fallback
    try:
        stored = None if folder is None else stored_defaults(folder)
    except user_errors():  # a broken folder: the command itself reports it, naming the file
        stored = None
    if stored is None:
        return f"default: the model's own; official: {_shown(official)}"
    return f"default: {_shown(stored.get(key, official))}, the model's own"


RequestT = TypeVar("RequestT")


def request_from(request_type: type[RequestT], args: argparse.Namespace, **values: Any) -> RequestT:
    """A request of ``request_type`` (a dataclass of :mod:`videocomposer.app`) from parsed flags: every field the
    command line parsed under the field's own name, then ``values`` over them (fields whose flag says it otherwise,
    e.g. ``progress`` from ``--quiet``)."""
    fields = {field.name for field in dataclasses.fields(request_type)}  # type: ignore[arg-type]
    parsed = {name: value for name, value in vars(args).items() if name in fields}
    return request_type(**{**parsed, **values})
