"""Inference task presets: the reference's task YAMLs as data (``videocomposer/configs/*.yaml``).

A preset is a YAML file with ``kind: generate``; any other YAML in the folder (e.g. the training
configs ``train_*.yaml``) is ignored here. Every key is a field of :class:`TaskPreset`; an unknown key
or a value of the wrong type is a ``ConfigError`` (a ``ValueError``) naming it, with a did-you-mean. A user's own file may start from a
preset with ``base: <preset name or path>`` and override keys; command-line flags override both.

``guidances`` is either one list of UNet condition names (one generation) or a mapping
``run name -> list`` (several generations from the same inputs, as the reference's multi-condition
mode ``inference_multi.py``). Reference composition names (``text``, ``mask``, ``depthmap``) are
accepted and normalised to UNet keyword names (``y``, ``masked``, ``depth``). The original
repository's own task YAMLs load too (see :mod:`.reference_config`).
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..conditions import INPUTS, OFFICIAL_COMPOSITIONS, implied_conditions, normalize_conditions
from ..config import CONFIG_DIR, ConfigError, YamlSource, build, is_file, read_layers, shown
from ..diffusion import SCHEDULERS, SchedulerConfig
from .condition_guidance import condition_scales
from .reference_config import REFERENCE_ONLY_KEYS, is_file_name, is_reference_task, map_reference_task

#: Inputs a preset may require, and the CLI flag that provides each (the registered inputs read from files).
INPUT_FLAGS: dict[str, str] = {name: i.flag for name, i in INPUTS.items() if i.flag and i.kind != "text"}
#: The official model's sampling settings: the presets' sampling defaults.
OFFICIAL_SAMPLING = SchedulerConfig()
#: The preset holding the runs of the original's multi-condition mode (``TASK_TYPE: MULTI_TASK``).
MULTI_TASK_PRESET = "exp01_vidcomposer_full"
#: The largest seed (a torch generator's seed is a 64-bit unsigned number).
MAX_SEED = 2**64 - 1
DEFAULT_PROMPT = (
    "A colorful and beautiful fish swimming in a small glass bowl with multicolored piece of stone, Macro Video"
)


@dataclass
class TaskPreset:
    """One generation task. Sampling defaults are the official model's (:data:`OFFICIAL_SAMPLING`, the same for
    every task)."""

    #: Preset name (the YAML file's stem); names the output folder.
    name: str
    #: One line shown by ``videocomposer generate --help``.
    description: str = ""
    #: Condition encoders the UNet is built with (reference names); all eight = the official checkpoint.
    video_compositions: list[str] = field(default_factory=lambda: list(OFFICIAL_COMPOSITIONS))
    #: Conditions fed to the UNet: one list, or ``{run name: list}`` for several runs (default: the text's).
    guidances: Any = field(default_factory=lambda: implied_conditions({"prompt": DEFAULT_PROMPT}))
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
    num_inference_steps: int = OFFICIAL_SAMPLING.num_inference_steps
    #: Classifier-free guidance; None or ≤ 1: none. Or one scale per condition (``{y: 7.5, motion: 3.0}``, each among
    #: the task's conditions): each run is guided with the scales of its own conditions (:meth:`run_guidance_scale`).
    guidance_scale: float | dict[str, float] | None = OFFICIAL_SAMPLING.guidance_scale
    #: Guidance of frame 0, ramped to ``guidance_scale`` on the last frame; None: one scale (the reference).
    min_guidance_scale: float | None = OFFICIAL_SAMPLING.min_guidance_scale
    scheduler: str = OFFICIAL_SAMPLING.scheduler
    #: Frame rate of the written MP4/GIF (the reference's GIFs: 8).
    fps: float = 8.0
    #: Show the source video as the first grid panel.
    save_origin_video: bool = True
    #: Inputs the original's version of this task ignores (generate says so when they are given).
    reference_ignores: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.name or any(c in self.name for c in "/\\\x00") or self.name in (".", "..") or len(self.name) > 200:
            raise self._invalid("name", f"must be a plain name (it names the output folder), got {shown(self.name)}")
        built = self._conditions("video_compositions", self.video_compositions)
        self.guidances = self._guidances()
        for run, conditions in self.runs().items():
            absent = [c for c in conditions if c not in built]
            if absent:
                raise self._invalid(
                    "guidances",
                    f"run {run!r} guides with {absent}, which are not in video_compositions {self.video_compositions}",
                )
        self._check_guidance_scale()
        unknown = [r for r in self.requires + self.reference_ignores if r not in INPUT_FLAGS]
        if unknown:
            raise self._invalid("requires", f"names unknown inputs {unknown}; choose from {list(INPUT_FLAGS)}")
        self._check_numbers()

    def _invalid(self, key: str, message: str) -> ConfigError:
        return ConfigError(f"preset {self.name!r}: {key}: {message}", key=key)

    def _conditions(self, key: str, value: Any, run: str | None = None) -> list[str]:
        """A list of condition names (or one comma-separated text) as UNet names."""
        label = "" if run is None else f"run {run!r}: "
        if not isinstance(value, (str, list, tuple)) or not all(isinstance(v, str) for v in value):
            raise self._invalid(key, f"{label}expected a list of condition names, got {shown(value)}")
        try:
            return normalize_conditions(value)
        except ValueError as exc:
            raise self._invalid(key, f"{label}{exc}") from None

    def _guidances(self) -> list[str] | dict[str, list[str]]:
        """One list of conditions, or ``{run name: list}``."""
        if not isinstance(self.guidances, Mapping):
            return self._conditions("guidances", self.guidances)
        if not self.guidances:
            raise self._invalid("guidances", "expected at least one run")
        return {str(run): self._conditions("guidances", v, str(run)) for run, v in self.guidances.items()}

    def _check_guidance_scale(self) -> None:
        if isinstance(self.guidance_scale, Mapping):
            try:
                self.guidance_scale = condition_scales(self.guidance_scale, f"preset {self.name!r}: guidance_scale")
            except ValueError as exc:
                raise ConfigError(str(exc), key="guidance_scale") from None
            absent = [c for c in self.guidance_scale if c not in self.all_conditions()]
            if absent:
                raise self._invalid(
                    "guidance_scale",
                    f"names {absent}, which no run of the task uses (its conditions: {self.all_conditions()})",
                )
        scales = self.guidance_scale.values() if isinstance(self.guidance_scale, Mapping) else [self.guidance_scale]
        for key, values in (("guidance_scale", scales), ("min_guidance_scale", [self.min_guidance_scale])):
            if any(v is not None and not (math.isfinite(v) and v >= 0) for v in values):
                raise self._invalid(key, f"must be a number >= 0, got {shown(getattr(self, key))}")

    def _check_numbers(self) -> None:
        """Sizes, steps, seed, frame rate, sampler and UNet file: each one the pipeline can take."""
        for key in ("num_frames", "height", "width", "num_inference_steps"):
            if getattr(self, key) < 1:
                raise self._invalid(key, f"must be >= 1, got {getattr(self, key)}")
        if not 0 <= self.seed <= MAX_SEED:
            raise self._invalid("seed", f"must be a whole number from 0 to {MAX_SEED}, got {self.seed}")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise self._invalid("fps", f"must be a number > 0, got {self.fps!r}")
        if self.scheduler not in SCHEDULERS:
            raise self._invalid("scheduler", f"expected one of {', '.join(SCHEDULERS)}, got {shown(self.scheduler)}")
        if not is_file_name(self.unet_file):
            raise self._invalid("unet_file", f"not a file name: {shown(self.unet_file)}")

    def runs(self) -> dict[str, list[str]]:
        """``{run name: conditions}``; a single-run preset has one run named after the preset."""
        return dict(self.guidances) if isinstance(self.guidances, Mapping) else {self.name: list(self.guidances)}

    def run_guidance_scale(self, run: str) -> float | dict[str, float] | None:
        """The guidance scale of one run: the number, or the per-condition scales of the run's conditions."""
        if not isinstance(self.guidance_scale, Mapping):
            return self.guidance_scale
        return {c: s for c, s in self.guidance_scale.items() if c in self.runs()[run]}

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
    def from_dict(cls, data: Mapping[str, Any], name: str, origins: Mapping[str, str] | None = None) -> TaskPreset:
        """Build from a YAML mapping; unknown keys (with a did-you-mean), wrongly typed values and values out of
        range raise ``ConfigError`` naming the key (and, from ``origins``, the file and line that set it)."""
        values = {k: v for k, v in data.items() if k not in ("kind", "base")}
        values.setdefault("name", name)
        located = origins or {}
        try:
            return build(cls, values, f"preset {name!r}", suggest=REFERENCE_ONLY_KEYS, origins=located)
        except ConfigError as exc:
            if exc.key is None or exc.key not in located:
                raise
            raise ConfigError(f"{exc} ({located[exc.key]})", key=exc.key) from None


def available_presets() -> dict[str, Path]:
    """``{name: path}`` of every ``kind: generate`` YAML in :data:`CONFIG_DIR`, sorted by name."""
    out = {}
    for path in sorted(CONFIG_DIR.glob("*.yaml")):
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
        if isinstance(data, Mapping) and data.get("kind") == "generate":
            out[path.stem] = path
    return out


def find_preset(name_or_path: str | os.PathLike, report: Callable[[str], None] | None = None) -> Path:
    """A preset's file: by name, by path, or by the original repository's path ``configs/<preset>.yaml``
    (the path its README and ``run_bash.sh`` use) when no such file exists here."""
    presets = available_presets()
    text = str(name_or_path)
    if text in presets:
        return presets[text]
    path = Path(text)
    if is_file(path):
        return path
    if path.suffix in (".yaml", ".yml") and path.stem in presets:
        if report is not None:
            report(f"{text}: no such file here; using our preset {path.stem!r} (the original's configs/{path.name})")
        return presets[path.stem]
    raise ConfigError(
        f"unknown task preset {shown(text)}: not a preset name and no such file; presets are {sorted(presets)}"
    )


def _multi_task_runs() -> dict[str, list[str]]:
    """The original's ``inference_multi.py`` runs, which the ``exp01_vidcomposer_full`` preset holds."""
    return load_preset(MULTI_TASK_PRESET).runs()


def load_preset(
    name_or_path: str | os.PathLike,
    overrides: Mapping[str, Any] | None = None,
    report: Callable[[str], None] | None = None,
) -> TaskPreset:
    """Load a preset by name (see :func:`available_presets`) or from a YAML path, then apply ``overrides``.

    The file may be ours (``base: <preset or path>`` inherits one) or the original repository's task
    YAML (mapped by :mod:`~videocomposer.pipelines.reference_config`; the mapping goes to ``report``).
    Overrides with value ``None`` are ignored, so argparse results can be passed directly.
    """

    def layer(values: dict[str, Any], source: YamlSource) -> dict[str, Any]:
        if is_reference_task(values):
            values, lines = map_reference_task(values, source, multi_task_runs=_multi_task_runs)
            for line in lines:
                (report or (lambda _: None))(line)
        return values

    path = find_preset(name_or_path, report)
    origins: dict[str, str] = {}
    try:
        data = read_layers(path, find_preset, transform=layer, deep=False, origins=origins)
    except ConfigError as exc:
        if str(path.resolve()) in str(exc):
            raise
        raise ConfigError(f"preset {path}: {exc}", key=exc.key) from None
    data.setdefault("name", path.stem)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    data.update(given)
    name = data["name"] if isinstance(data["name"], str) and data["name"] else path.stem
    return TaskPreset.from_dict(data, name=name, origins={k: v for k, v in origins.items() if k not in given})
