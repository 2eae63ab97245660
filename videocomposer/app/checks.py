"""Checks shared by the requests: files, numbers, choices, the device, the model folder and its defaults.

Every check raises :class:`~videocomposer.app.errors.RequestError` naming the request's field.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .errors import RequestError, mention

#: Autocast precisions on accelerators (the CPU always runs float32).
DTYPES = ("float32", "float16", "bfloat16")
#: What a ``weights_dir`` may be, for messages.
WEIGHTS_DIR_KINDS = (
    "the folder with the official weight files (see the README), one written by "
    "`videocomposer convert`, or `toy` for the built-in toy model"
)


def existing_file(field: str, value: str | os.PathLike | None) -> Path | None:
    """``value`` as a Path that must be an existing file (None stays None)."""
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise RequestError(field, f"file not found: {path.resolve()}")
    return path


def at_least(field: str, value: float | None, minimum: float, what: str = "a number") -> None:
    """``value`` (None: not given) is a finite number of at least ``minimum``."""
    if value is not None and (isinstance(value, bool) or not value >= minimum):
        raise RequestError(field, f"must be {what} >= {minimum:g}, got {value!r}")
    if value is not None and not math.isfinite(value):
        raise RequestError(field, f"must be a finite number, got {value!r}")


def whole_at_least(field: str, value: Any, minimum: int) -> None:
    """``value`` (None: not given) is a whole number of at least ``minimum``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RequestError(field, f"must be a whole number, got {value!r}")
    at_least(field, value, minimum, "a whole number")


def one_of(field: str, value: str | None, choices: Iterable[str]) -> None:
    """``value`` (None: not given) is one of ``choices``."""
    choices = list(choices)
    if value is not None and value not in choices:
        raise RequestError(field, f"unknown {value!r}; choose from {', '.join(choices)}")


def torch_device(field: str, name: str) -> Any:
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N`` → ``torch.device``."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RequestError(field, f"{name}: no CUDA device is available here; use cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise RequestError(field, f"{name!r} is not a device: auto, cpu, cuda or cuda:N ({exc})") from None


def weights_folder(value: str | os.PathLike | None, field: str = "weights_dir", example: str = "") -> Path:
    """The model folder named by ``value`` (``toy``: the built-in toy model); required."""
    from ..pipelines.toy_model import resolve_weights_dir

    if not value:
        raise RequestError(field, f"{mention(field)} is required: {WEIGHTS_DIR_KINDS}{example}")
    return resolve_weights_dir(value)


def model_architectures(value: str | os.PathLike | None, field: str = "model_config") -> dict[str, Any] | None:
    """The architectures file of non-official weights (``{component: {fields}}``); None: the official ones."""
    from ..config import read_model_config

    return read_model_config(existing_file(field, value))


def official_defaults() -> dict[str, Any]:
    """The official model's output size and sampling settings (``num_frames``, ``height``, ``width``,
    ``num_inference_steps``, ``guidance_scale``, ``min_guidance_scale``, ``scheduler``)."""
    from ..diffusion import SchedulerConfig
    from ..pipelines.settings import DEFAULTS

    return {**DEFAULTS, "scheduler": SchedulerConfig().scheduler}


def model_defaults(weights_dir: str | os.PathLike | None) -> dict[str, Any]:
    """The size and sampling settings a ``save_pretrained`` model stores where they differ from the official
    model's (e.g. the toy model's 8 x 64 x 64): they replace a task's, and a request's own values replace them."""
    from ..pipelines.toy_model import resolve_weights_dir, stored_defaults

    if not weights_dir:
        return {}
    official = official_defaults()
    stored = stored_defaults(resolve_weights_dir(weights_dir))
    return {k: v for k, v in stored.items() if k in official and v != official[k]}


def weights_file(value: str | os.PathLike | None) -> str | None:
    """A UNet weights file: an existing file as an absolute path (e.g. a fine-tuned ``unet.safetensors``),
    anything else as given (a file name inside the model folder)."""
    if value is None or not Path(value).is_file():
        return None if value is None else os.fspath(value)
    return str(Path(value).resolve())
