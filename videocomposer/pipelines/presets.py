"""Inference task presets: the reference's task YAMLs as data (``videocomposer/configs/*.yaml``).

A preset is a YAML file with ``kind: generate``; any other YAML in the folder (e.g. the training
configs ``train_*.yaml``) is ignored here. Every key is a field of :class:`TaskPreset`; an unknown key
or a value of the wrong type is a ``ValueError`` naming it. A user's own file may start from a
preset with ``base: <preset name or path>`` and override keys; command-line flags override both.

``guidances`` is either one list of UNet condition names (one generation) or a mapping
``run name -> list`` (several generations from the same inputs, as the reference's multi-condition
mode ``inference_multi.py``). Reference composition names (``text``, ``mask``, ``depthmap``) are
accepted and normalised to UNet keyword names (``y``, ``masked``, ``depth``).
"""
from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..conditions import INPUTS, OFFICIAL_COMPOSITIONS, normalize_conditions

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"

#: Inputs a preset may require, and the CLI flag that provides each (the registered inputs read from files).
INPUT_FLAGS: dict[str, str] = {name: i.flag for name, i in INPUTS.items() if i.flag and i.kind != "text"}
DEFAULT_PROMPT = ("A colorful and beautiful fish swimming in a small glass bowl with multicolored piece of stone, "
                  "Macro Video")


@dataclass
class TaskPreset:
    """One generation task. Sampling defaults are the reference's (the same for every task)."""

    #: Preset name (the YAML file's stem); names the output folder.
    name: str
    #: One line shown by ``videocomposer generate --help``.
    description: str = ""
    #: Condition encoders the UNet is built with (reference names); all eight = the official checkpoint.
    video_compositions: list[str] = field(default_factory=lambda: list(OFFICIAL_COMPOSITIONS))
    #: Conditions fed to the UNet: one list, or ``{run name: list}`` for several runs.
    guidances: Any = field(default_factory=lambda: ["y"])
    #: Inputs the task needs (keys of :data:`INPUT_FLAGS`).
    requires: list[str] = field(default_factory=list)
    #: UNet weight file name inside the weights folder.
    unet_file: str = "non_ema_228000.pth"
    seed: int = 8888
    prompt: str = DEFAULT_PROMPT
    negative_prompt: str | None = None
    num_frames: int = 16
    height: int = 256
    width: int = 256
    num_inference_steps: int = 50
    guidance_scale: float = 9.0
    scheduler: str = "ddim"
    #: Frame rate of the written MP4/GIF (the reference's GIFs: 8).
    fps: float = 8.0
    #: Show the source video as the first grid panel.
    save_origin_video: bool = True

    def __post_init__(self) -> None:
        built = set(normalize_conditions(self.video_compositions))  # also validates the names
        runs = self.guidances if isinstance(self.guidances, Mapping) else {self.name: self.guidances}
        if not runs:
            raise ValueError(f"preset {self.name!r}: guidances is empty")
        self.guidances = {str(k): normalize_conditions(v) for k, v in runs.items()} \
            if isinstance(self.guidances, Mapping) else normalize_conditions(self.guidances)
        for run, conditions in self.runs().items():
            absent = [c for c in conditions if c not in built]
            if absent:
                raise ValueError(f"preset {self.name!r}: run {run!r} guides with {absent}, which are not in "
                                 f"video_compositions {self.video_compositions}")
        unknown = [r for r in self.requires if r not in INPUT_FLAGS]
        if unknown:
            raise ValueError(f"preset {self.name!r}: requires names unknown inputs {unknown}; choose from {list(INPUT_FLAGS)}")
        for key in ("num_frames", "height", "width", "num_inference_steps"):
            if getattr(self, key) < 1:
                raise ValueError(f"preset {self.name!r}: {key} must be >= 1, got {getattr(self, key)}")

    def runs(self) -> dict[str, list[str]]:
        """``{run name: conditions}``; a single-run preset has one run named after the preset."""
        return dict(self.guidances) if isinstance(self.guidances, Mapping) else {self.name: list(self.guidances)}

    def all_conditions(self) -> list[str]:
        """The union of the conditions of every run, in first-use order."""
        out: list[str] = []
        for conditions in self.runs().values():
            out += [c for c in conditions if c not in out]
        return out

    def missing_inputs(self, given: Mapping[str, Any]) -> list[str]:
        """The CLI flags still needed: ``requires`` entries whose value in ``given`` is None."""
        return [INPUT_FLAGS[r] for r in self.requires if given.get(r) is None]

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], name: str) -> "TaskPreset":
        """Build from a YAML mapping; unknown keys and wrongly typed values raise ``ValueError``."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k not in ("kind", "base")}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise ValueError(f"preset {name!r}: unknown key(s) {unknown}; valid keys are {sorted(fields)}")
        hints = typing.get_type_hints(cls)
        for key, value in values.items():
            _check_type(name, key, value, hints[key])
        values.setdefault("name", name)
        return cls(**values)


def _check_type(preset: str, key: str, value: Any, hint: Any) -> None:
    """Reject values whose type does not fit the field (ints are accepted for floats)."""
    if hint is Any:
        return
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    for option in options:
        base = typing.get_origin(option) or option
        if option is type(None) and value is None:
            return
        if base is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return
        if base is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if base not in (int, float) and isinstance(base, type) and isinstance(value, base):
            return
    raise ValueError(f"preset {preset!r}: {key} must be {hint}, got {value!r}")


def available_presets() -> dict[str, Path]:
    """``{name: path}`` of every ``kind: generate`` YAML in :data:`CONFIG_DIR`, sorted by name."""
    out = {}
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if isinstance(data, Mapping) and data.get("kind") == "generate":
            out[path.stem] = path
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        raise ValueError(f"{path} is not valid YAML: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ValueError(f"{path} must hold a mapping of keys, found {type(data).__name__}")
    return dict(data)


def _resolve(name_or_path: str | os.PathLike, seen: tuple[Path, ...] = ()) -> tuple[dict[str, Any], str]:
    """Read a preset (by name or path) merged over its ``base:`` chain; returns (mapping, name)."""
    presets = available_presets()
    text = str(name_or_path)
    if text in presets:
        path = presets[text]
    else:
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"unknown task preset {text!r}: not a preset name and no such file; "
                             f"presets are {sorted(presets)}")
    path = path.resolve()
    if path in seen:
        raise ValueError(f"preset {path} includes itself through 'base:'")
    data = _read_yaml(path)
    if "base" in data:
        base, _ = _resolve(data["base"], seen + (path,))
        data = {**base, **data}
    return data, path.stem


def load_preset(name_or_path: str | os.PathLike, overrides: Mapping[str, Any] | None = None) -> TaskPreset:
    """Load a preset by name (see :func:`available_presets`) or from a YAML path, then apply ``overrides``.

    Overrides with value ``None`` are ignored, so argparse results can be passed directly.
    """
    data, name = _resolve(name_or_path)
    data.setdefault("name", name)
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return TaskPreset.from_dict(data, name=data["name"])
