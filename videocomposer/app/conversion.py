"""The ``convert`` request: the official weight files → a ``save_pretrained`` folder (config.json + safetensors
per component, and ``model_index.json``), which ``generate`` and ``extract`` load faster.

    from videocomposer.app import ConvertRequest, convert
    convert(ConvertRequest(weights_dir="model_weights", output_dir="videocomposer_pretrained"))
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .checks import model_architectures, weights_file, weights_folder
from .errors import RequestError

PathLike = str | os.PathLike


@dataclass
class ConvertRequest:
    """``weights_dir``: the official files; ``conditions``: convert only the models these need (None: all);
    ``unet_file``: a file name inside ``weights_dir`` (default ``non_ema_228000.pth``) or the path of a file;
    ``model_config``: the architectures of non-official weights; ``overwrite``: replace an earlier conversion."""

    weights_dir: PathLike | None = None
    output_dir: PathLike | None = None
    conditions: Sequence[str] | str | None = None
    unet_file: PathLike | None = None
    model_config: PathLike | None = None
    overwrite: bool = False


def convert(request: ConvertRequest) -> Path:
    """Convert as ``request`` says; returns the written folder."""
    from ..conditions import normalize_conditions
    from ..files import claim_output_dir
    from ..pipelines import VideoComposerPipeline

    folder = weights_folder(request.weights_dir)
    if not request.output_dir:
        raise RequestError("output_dir", "the folder to write is required")
    try:
        conditions = normalize_conditions(request.conditions) if request.conditions else None
    except ValueError as exc:
        raise RequestError("conditions", str(exc)) from None
    output_dir = claim_output_dir(request.output_dir, request.overwrite)
    architectures = model_architectures(request.model_config)
    pipe = VideoComposerPipeline.from_official(
        folder, conditions=conditions, config=architectures, unet_file=weights_file(request.unet_file)
    )
    pipe.save_pretrained(output_dir)
    return output_dir
