"""Which model the app serves, loaded once: the built-in toy model, a ``convert`` folder or the official files."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..checkpoints import OFFICIAL_FILES
from ..conditions import CONDITIONS
from ..pipelines.components import components_for, is_pretrained_folder
from ..pipelines.toy_model import (
    PACKAGED_TOY_MODEL,
    TOY_WEIGHTS_NAME,
    resolve_weights_dir,
    stored_defaults,
    toy_model_dir,
)


@dataclass(frozen=True)
class ModelSource:
    """A model folder and how it was chosen. ``kind``: ``toy``, ``converted`` or ``official``."""

    folder: Path
    kind: str
    model_config: Path | None = None

    def request_fields(self) -> dict[str, str | None]:
        """The :class:`~videocomposer.app.GenerateRequest` fields that load this model (``weights_dir``, ``model_config``)."""
        return {
            "weights_dir": TOY_WEIGHTS_NAME if self.kind == "toy" else os.fspath(self.folder),
            "model_config": os.fspath(self.model_config) if self.model_config else None,
        }

    def form_defaults(self) -> dict[str, Any]:
        """Initial form values the model stores (e.g. the toy model's 8 frames of 64x64), by request field."""
        names = {
            "num_frames": "frames",
            "height": "height",
            "width": "width",
            "num_inference_steps": "steps",
            "guidance_scale": "guidance_scale",
            "min_guidance_scale": "min_guidance_scale",
            "scheduler": "scheduler",
        }
        return {names[k]: v for k, v in stored_defaults(self.folder).items() if k in names}

    def loadable_conditions(self) -> list[str] | None:
        """Conditions whose models the official files hold (they may be a subset); None for a ``save_pretrained``
        folder (the toy model, a ``convert`` output), which loads every component it holds."""
        if self.kind != "official":
            return None
        return [
            c
            for c in CONDITIONS
            if all((self.folder / OFFICIAL_FILES[n].filename).is_file() for n in components_for([c])[0])
        ]


def resolve_model(weights_dir: str | None, model_config: str | None, toy: bool) -> ModelSource:
    """``--weights-dir`` (official files, a converted folder, or ``toy``), else the built-in toy model.

    Raises:
        ValueError: both ``--weights-dir`` and ``--toy``; FileNotFoundError: no such folder, or no toy model.
    """
    if weights_dir and toy:
        raise ValueError("give either --weights-dir or --toy, not both")
    config = Path(model_config).resolve() if model_config else None
    if weights_dir:
        folder = resolve_weights_dir(weights_dir).resolve()  # `toy` names the built-in toy model
        if not folder.is_dir():
            raise FileNotFoundError(f"--weights-dir: folder not found: {folder}")
        kind = "toy" if folder == PACKAGED_TOY_MODEL else "converted" if is_pretrained_folder(folder) else "official"
        return ModelSource(folder, kind, config)
    try:
        return ModelSource(toy_model_dir(), "toy", config)
    except FileNotFoundError as exc:
        raise FileNotFoundError(
            f"no model: {exc}; or pass --weights-dir (the official weight files or a "
            f"`videocomposer convert` folder, see the README)"
        ) from None


class ModelHolder:
    """The loaded pipeline, shared by the app's jobs (one at a time: the queue runs one job, and a lock
    guards loading)."""

    def __init__(self, source: ModelSource, device: str = "auto"):
        self.source = source
        self.device = device
        self._pipe: Any = None
        self._lock = threading.Lock()

    def pipeline(self) -> Any:
        """Load on first use: every condition the folder can serve."""
        with self._lock:
            if self._pipe is None:
                from ..app.checks import torch_device
                from ..config import read_model_config
                from ..pipelines import VideoComposerPipeline

                self._pipe = VideoComposerPipeline.load(
                    self.source.folder,
                    conditions=self.source.loadable_conditions(),
                    config=read_model_config(os.fspath(self.source.model_config) if self.source.model_config else None),
                    device=torch_device("device", self.device),
                )
            return self._pipe

    def supported_conditions(self) -> list[str]:
        """The conditions the loaded model serves, in the reference's order: those the UNet has encoders for, and
        the token conditions (text, style) whose CLIP towers are loaded (the toy model has no image tower)."""
        pipe = self.pipeline()
        stc = {c.name for c in pipe.unet.stc_conditions}
        towers = set(pipe.clip.towers) if pipe.clip is not None else set()
        return [
            name
            for name, c in CONDITIONS.items()
            if name in stc
            or (c.layout == "tokens" and {m.split(":", 1)[1] for m in c.models if m.startswith("clip:")} <= towers)
        ]

    def describe(self) -> str:
        """One Markdown line: which model, where, which conditions, on which device."""
        labels = {
            "toy": "built-in toy model (small, trained here; not the official VideoComposer)",
            "converted": "converted folder",
            "official": "official weight files",
        }
        pipe = self.pipeline()
        return (
            f"**Model in use:** {labels[self.source.kind]} — `{self.source.folder}` · device `{pipe.device}` · "
            f"conditions: {', '.join(self.supported_conditions())}"
        )
