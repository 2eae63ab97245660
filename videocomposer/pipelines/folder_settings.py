"""What a model folder says about how to sample it and at what size.

A ``save_pretrained`` folder holds its sampling settings as the ``scheduler`` component,
``scheduler/scheduler_config.json`` (a :class:`~videocomposer.diffusion.SchedulerConfig`), and its output size
(``num_frames``, ``height``, ``width``, the annotator frame side ``misc_size``) in ``model_index.json``'s
``pipeline_config``. Folders of the older layout kept the sampling settings in ``pipeline_config`` too: they load
with the same settings, and a warning (once per folder) says how to update them. A folder of official weight
files (no ``model_index.json``) samples as the official model, ``SchedulerConfig()``.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import ConfigError
from ..diffusion import SchedulerConfig
from ..video.motion import MotionSettings
from .components import INDEX_NAME, SCHEDULER_INDEX_ENTRY, is_pretrained_folder, read_index

#: The output-size defaults ``pipeline_config`` may hold (the rest of it: ``unet_file``, the UNet's source file).
OUTPUT_KEYS = ("num_frames", "height", "width", "misc_size")
_SCHEDULER_FIELDS = frozenset(f.name for f in dataclasses.fields(SchedulerConfig))
_WARNED: set[Path] = set()  # the older-layout folders already reported in this process


def scheduler_config_path(folder: str | os.PathLike) -> Path:
    """``folder/scheduler/scheduler_config.json``."""
    return Path(folder) / SchedulerConfig.folder_name / SchedulerConfig.file_name


def save_scheduler_config(config: SchedulerConfig, folder: str | os.PathLike) -> Path:
    """Write ``config`` as the folder's scheduler component (atomically)."""
    return config.to_json_file(scheduler_config_path(folder))


def load_scheduler_config(folder: str | os.PathLike) -> SchedulerConfig:
    """How the model in ``folder`` samples: its ``scheduler/scheduler_config.json``; for an older-layout folder the
    settings in ``model_index.json`` (with a warning, once per folder); ``SchedulerConfig()`` for official files.

    Raises:
        ConfigError: a value is unknown, mistyped or out of range (the message names the file and the field).
        FileNotFoundError: ``model_index.json`` lists a scheduler component whose file is missing.
    """
    folder = Path(folder)
    if not is_pretrained_folder(folder):
        return SchedulerConfig()
    path = scheduler_config_path(folder)
    index = read_index(folder)
    recorded = index.get("scheduler")
    if recorded is not None and recorded != SCHEDULER_INDEX_ENTRY:
        raise ConfigError(
            f"{folder / INDEX_NAME} records the scheduler as {recorded!r}; this version reads "
            f"{SCHEDULER_INDEX_ENTRY} (save the model again with this version)"
        )
    if path.is_file():
        return SchedulerConfig.from_json_file(path)
    if recorded is not None:
        raise FileNotFoundError(
            f"{path} not found, though {folder / INDEX_NAME} lists a scheduler component: "
            "copy the whole model folder again"
        )
    settings = index.get("pipeline_config", {})
    config = SchedulerConfig.from_dict(
        {k: v for k, v in settings.items() if k in _SCHEDULER_FIELDS}, f"{folder / INDEX_NAME} (pipeline_config)"
    )
    _warn_older_layout(folder)
    return config


def _warn_older_layout(folder: Path) -> None:
    key = folder.resolve()
    if key in _WARNED:
        return
    _WARNED.add(key)
    warnings.warn(
        f"{folder} keeps its sampling settings in {INDEX_NAME} (pipeline_config), an older layout without "
        f"a scheduler component; they are used as they are. To update the folder, save it again: "
        f"VideoComposerPipeline.from_pretrained(folder).save_pretrained(folder) writes "
        f"{SchedulerConfig.folder_name}/{SchedulerConfig.file_name}",
        FutureWarning,
        stacklevel=3,
    )


def output_defaults(pipeline_config: Mapping[str, Any], source: str = "pipeline_config") -> dict[str, Any]:
    """The output-size defaults among a ``pipeline_config``'s entries (:data:`OUTPUT_KEYS`), each a whole number of at
    least 1; a :class:`~videocomposer.config.ConfigError` naming ``source`` and the entry otherwise."""
    defaults = {k: pipeline_config[k] for k in OUTPUT_KEYS if k in pipeline_config}
    for key, value in defaults.items():
        if type(value) is not int or value < 1:
            raise ConfigError(f"{source}: {key} must be a whole number of at least 1, got {value!r}")
    return defaults


def stored_settings(folder: str | os.PathLike) -> dict[str, Any]:
    """Everything a ``save_pretrained`` folder stores about sampling it: ``pipeline_config``'s entries (output
    size, ``unet_file``) and every :class:`SchedulerConfig` field (``scheduler``, ``num_inference_steps``,
    ``guidance_scale``, ``min_guidance_scale``, ...), from either layout; empty for a folder of official files."""
    if not is_pretrained_folder(folder):
        return {}
    pipeline_config = read_index(folder).get("pipeline_config", {})
    output_defaults(pipeline_config, f"{Path(folder) / INDEX_NAME}: pipeline_config")
    return {
        **{k: v for k, v in pipeline_config.items() if k not in _SCHEDULER_FIELDS},
        **load_scheduler_config(folder).to_dict(),
    }


def load_motion_settings(folder: str | os.PathLike) -> MotionSettings:
    """How the model in ``folder`` makes its motion condition: ``model_index.json``'s
    ``pipeline_config.motion_condition``; the reference's way (``MotionSettings()``) when the folder has none
    (official files, folders saved without it). A bad value is a :class:`~videocomposer.config.ConfigError` (a
    ``ValueError``) naming the file and field."""
    folder = Path(folder)
    if not is_pretrained_folder(folder):
        return MotionSettings()
    settings = read_index(folder).get("pipeline_config", {})
    if "motion_condition" not in settings:
        return MotionSettings()
    try:
        return MotionSettings.from_dict(
            settings["motion_condition"], f"{folder / INDEX_NAME}: pipeline_config.motion_condition"
        )
    except ValueError as exc:  # it names the file and the field
        raise ConfigError(str(exc)) from None
