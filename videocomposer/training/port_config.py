"""The MindSpore port's training YAMLs (mindone ``examples/videocomposer/configs/train_*.yaml``) mapped onto ours.

A file is read as the port's when it has a key only the port uses (``optim``, ``use_recompute``,
``use_fp16``, ``scheduler``, ``ckpt_save_interval``, ``resume_checkpoint``, ``TASK_TYPE``, ...). Every key
of the file is first checked against the type the port's files give it (:data:`PORT_KEYS`, and our field
types for the keys we share; a wrong type, a single value where the port has a list, or a list where it has
a single value names the key, the file, the line and the type expected). Each port key then becomes our key
(with its value translated), or changes nothing here (MindSpore graph settings, inference-only keys, values
we always use) and is named with the reason in one line ``has no effect here: ...``, or is an error naming
it when it asks for something this implementation does not do. :func:`map_port_config` returns the mapped
values and the lines that say how, which ``videocomposer train`` prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config import ConfigError, YamlSource, coerce_file_value, shown

Translate = Callable[[Any, Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class PortKey:
    """A key of the port's training files: its type there, and ``translate(value, all values) -> {our key: value}``
    (``{}``: no effect here, for the reason ``why``)."""

    hint: Any
    translate: Translate
    why: str = ""


_OPTIMIZERS = {"adamw": "adamw", "adamw_fp32": "adamw", "momentum": "momentum", "sgd": "momentum"}
_SCHEDULES = {"constant": "constant", "cosine_decay": "cosine"}


def _rename(ours: str, convert: Callable[[Any], Any] = lambda v: v) -> Translate:
    return lambda value, _: {ours: convert(value)}


def _choice(key: str, table: Mapping[str, str]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in table:
            raise ConfigError(
                f"{key}: {shown(value)} has no equivalent here; the port's values that do: {sorted(table)}"
            )
        return table[value]

    return convert


def _only(key: str, allowed: Any, meaning: str) -> Translate:
    """A key whose only supported value is ``allowed`` (what this implementation always does)."""

    def check(value: Any, _: Mapping[str, Any]) -> dict[str, Any]:
        if value != allowed:
            raise ConfigError(
                f"{key}: {shown(value)} has no equivalent here ({meaning}); remove the key or set it to {allowed!r}"
            )
        return {}

    return check


def _checkpoint_interval(value: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """``ckpt_save_interval`` counts epochs, or optimizer steps with ``step_mode: true``."""
    if values.get("step_mode"):
        return {"checkpoint_every": value, "checkpoint_every_epochs": 0}
    return {"checkpoint_every": 0, "checkpoint_every_epochs": value}


def _none(value: Any, _: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def _fixed(key: str, allowed: Any, meaning: str) -> PortKey:
    return PortKey(type(allowed), _only(key, allowed, meaning), f"{allowed!r}: {meaning}")


#: Every key of the port's training files that is not ours, with its type there and what it becomes here.
PORT_KEYS: dict[str, PortKey] = {
    "optim": PortKey(str, _rename("optimizer", _choice("optim", _OPTIMIZERS))),
    "optim_eps": PortKey(float, _rename("eps")),
    "use_recompute": PortKey(bool, _rename("gradient_checkpointing")),
    "use_fp16": PortKey(bool, _rename("mixed_precision", lambda v: "fp16" if v else "fp32")),
    "scheduler": PortKey(str, _rename("lr_schedule", _choice("scheduler", _SCHEDULES))),
    "ckpt_save_interval": PortKey(int, _checkpoint_interval),
    "ckpt_max_keep": PortKey(int, _rename("keep_last")),
    "resume_checkpoint": PortKey(str, _rename("unet_checkpoint")),
    "num_parallel_workers": PortKey(int, _rename("num_workers")),
    "loss_scale": PortKey(float, _rename("loss_scale_init")),
    "log_interval": PortKey(int, _rename("log_every")),
    "offload": _fixed("offload", False, "the optimizer state stays on the training device"),
    "network_name": _fixed("network_name", "UNetSD_temporal", "the one UNet"),
    "vit_image_size": _fixed("vit_image_size", 224, "the CLIP image tower's input size"),
    "mvs_visual": _fixed("mvs_visual", False, "no motion-vector previews while training"),
    "use_image_dataset": _fixed("use_image_dataset", False, "video datasets only"),
    "use_fps_condition": _fixed("use_fps_condition", False, "the official UNet has no fps embedding"),
    "save_unet_only": _fixed("save_unet_only", True, "checkpoints hold the UNet (and optimizer state to resume)"),
    "use_parallel": PortKey(bool, _none, "data parallel follows torchrun's WORLD_SIZE"),
    "step_mode": PortKey(bool, _none, "read with ckpt_save_interval"),
    "resume_step": PortKey(int, _none, "a label of the initial checkpoint"),
    "resume": PortKey(bool, _none, "the port's switch to start from resume_checkpoint; a run resumes with --resume"),
    "dataset_sink_mode": PortKey(bool, _none, "a MindSpore data-feeding mode"),
    "ms_mode": PortKey(int, _none, "a MindSpore execution mode"),
    "use_adaptive_pool": PortKey(bool, _none, "a MindSpore pooling choice, equivalent at these sizes"),
    "profile": PortKey(bool, _none, "MindSpore profiling"),
    "TASK_TYPE": PortKey(str, _none, "the port's inference dispatch"),
    "ENABLE": PortKey(bool, _none, "a switch of the port's config loader"),
    "DATASET": PortKey(str, _none, "a dataset label; the data is root_dir"),
    "log_dir": PortKey(str, _none, "logs go to the run folder"),
    "output_dir": PortKey(str | None, _none, "the output folder is --output-dir"),
}
#: Keys of the task files for generation (never of a training config).
_TASK_KEYS = frozenset({"guidances", "read_image", "read_style", "read_sketch", "batch_sizes", "save_origin_video"})
#: Keys only the port's files have (their presence marks a file as the port's).
PORT_ONLY_KEYS = frozenset(PORT_KEYS) - {"use_image_dataset", "use_fps_condition", "profile", "output_dir", "resume"}


def is_port_config(values: Mapping[str, Any]) -> bool:
    """Whether a YAML mapping is one of the port's training files."""
    return bool(PORT_ONLY_KEYS & set(values))


def check_port_types(values: Mapping[str, Any], source: YamlSource, our_types: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` with every port key (and every key of ours, typed by ``our_types``) checked against its type, as
    in a YAML file (see :func:`~videocomposer.config.coerce_file_value`); the error names key, file and line."""
    out = dict(values)
    for key, value in values.items():
        hint = PORT_KEYS[key].hint if key in PORT_KEYS else our_types.get(key)
        if hint is not None:
            out[key] = coerce_file_value(value, hint, f"{key} ({source.at(key)})")
    return out


def map_port_config(
    values: Mapping[str, Any], source: YamlSource, our_types: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The port's keys translated onto ours; returns (values, the lines that say how).

    Keys that are already ours pass unchanged. A key that is neither ours nor a known port key is left
    in place (the caller's unknown-key check names it, with a did-you-mean).
    """
    task = sorted(_TASK_KEYS & values.keys())
    if task:
        raise ConfigError(
            f"{source.path}: a task file for generation (it sets {', '.join(task)}), not a training config: "
            f"generate with it (videocomposer generate --cfg {source.path}), or train with a training config"
        )
    values = check_port_types(values, source, our_types)
    mapped: dict[str, Any] = {}
    lines = [f"{source.path}: the MindSpore port's training config, mapped onto ours:"]
    no_effect = []
    for key, value in values.items():
        if key not in PORT_KEYS:
            mapped.setdefault(key, value)
            continue
        try:
            translated = PORT_KEYS[key].translate(value, values)
        except ConfigError as exc:
            raise ConfigError(f"{exc} ({source.at(key)})", key=key) from None
        if translated:
            lines.append(f"  {key}: {value!r} -> {', '.join(f'{k}: {v!r}' for k, v in translated.items())}")
        else:
            no_effect.append(f"{key} ({PORT_KEYS[key].why})")
        mapped.update(translated)
    if no_effect:
        lines.append(f"  has no effect here: {', '.join(no_effect)}")
    return mapped, lines
