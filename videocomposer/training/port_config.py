"""The MindSpore port's training YAMLs (mindone ``examples/videocomposer/configs/train_*.yaml``) mapped onto ours.

A file is read as the port's when it has a key only the port uses (``optim``, ``use_recompute``,
``use_fp16``, ``scheduler``, ``ckpt_save_interval``, ``resume_checkpoint``, ``TASK_TYPE``, ...). Each
port key then becomes our key (with its value translated), or is dropped when it changes nothing
here (MindSpore graph settings, inference-only keys, values we always use), or is an error naming it
when it asks for something this implementation does not do. :func:`map_port_config` returns the
mapped values and one line per key, which ``videocomposer train`` prints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..config import ConfigError

#: Keys only the port's files have (their presence marks a file as the port's).
PORT_ONLY_KEYS = frozenset(
    {
        "TASK_TYPE",
        "ENABLE",
        "DATASET",
        "optim",
        "optim_eps",
        "use_recompute",
        "use_fp16",
        "scheduler",
        "ckpt_save_interval",
        "ckpt_max_keep",
        "resume_checkpoint",
        "resume_step",
        "step_mode",
        "dataset_sink_mode",
        "num_parallel_workers",
        "loss_scale",
        "log_interval",
        "network_name",
        "offload",
        "ms_mode",
        "use_parallel",
        "save_unet_only",
        "use_adaptive_pool",
        "log_dir",
        "mvs_visual",
        "vit_image_size",
    }
)

_OPTIMIZERS = {"adamw": "adamw", "adamw_fp32": "adamw", "momentum": "momentum", "sgd": "momentum"}
_SCHEDULES = {"constant": "constant", "cosine_decay": "cosine"}


def _rename(
    ours: str, convert: Callable[[Any], Any] = lambda v: v
) -> Callable[[Any, Mapping[str, Any]], dict[str, Any]]:
    return lambda value, _: {ours: convert(value)}


def _choice(key: str, table: Mapping[str, str]) -> Callable[[Any], str]:
    def convert(value: Any) -> str:
        if value not in table:
            raise ConfigError(f"{key}: {value!r} has no equivalent here; the port's values that do: {sorted(table)}")
        return table[value]

    return convert


def _only(key: str, allowed: Any, meaning: str) -> Callable[[Any, Mapping[str, Any]], dict[str, Any]]:
    """A key whose only supported value is ``allowed`` (what this implementation always does)."""

    def check(value: Any, _: Mapping[str, Any]) -> dict[str, Any]:
        if value != allowed:
            raise ConfigError(
                f"{key}: {value!r} has no equivalent here ({meaning}); remove the key or set it to {allowed!r}"
            )
        return {}

    return check


def _checkpoint_interval(value: Any, values: Mapping[str, Any]) -> dict[str, Any]:
    """``ckpt_save_interval`` counts epochs, or optimizer steps with ``step_mode: true``."""
    if values.get("step_mode"):
        return {"checkpoint_every": value, "checkpoint_every_epochs": 0}
    return {"checkpoint_every": 0, "checkpoint_every_epochs": value}


#: Port key → ``fn(value, all values) -> {our key: value}`` ({} = accepted, no effect here).
PORT_KEYS: dict[str, Callable[[Any, Mapping[str, Any]], dict[str, Any]]] = {
    "optim": _rename("optimizer", _choice("optim", _OPTIMIZERS)),
    "optim_eps": _rename("eps"),
    "use_recompute": _rename("gradient_checkpointing", bool),
    "use_fp16": _rename("mixed_precision", lambda v: "fp16" if v else "fp32"),
    "scheduler": _rename("lr_schedule", _choice("scheduler", _SCHEDULES)),
    "ckpt_save_interval": _checkpoint_interval,
    "ckpt_max_keep": _rename("keep_last"),
    "resume_checkpoint": _rename("unet_checkpoint"),
    "num_parallel_workers": _rename("num_workers"),
    "loss_scale": _rename("loss_scale_init"),
    "log_interval": _rename("log_every"),
    "offload": _only("offload", False, "the optimizer state stays on the training device"),
    "network_name": _only("network_name", "UNetSD_temporal", "the one UNet"),
    "vit_image_size": _only("vit_image_size", 224, "the CLIP image tower's input size"),
    "mvs_visual": _only("mvs_visual", False, "no motion-vector previews while training"),
    "use_image_dataset": _only("use_image_dataset", False, "video datasets only"),
    "use_fps_condition": _only("use_fps_condition", False, "the official UNet has no fps embedding"),
    "save_unet_only": _only("save_unet_only", True, "checkpoints hold the UNet (and optimizer state to resume)"),
    "use_parallel": lambda v, _: {},  # data parallel follows torchrun's WORLD_SIZE
    "step_mode": lambda v, _: {},  # read by ckpt_save_interval
    "resume_step": lambda v, _: {},  # a label of the initial checkpoint
    "resume": lambda v, _: {},  # the port's "start from resume_checkpoint" switch (our resume is a run folder)
    "dataset_sink_mode": lambda v, _: {},
    "ms_mode": lambda v, _: {},
    "use_adaptive_pool": lambda v, _: {},
    "profile": lambda v, _: {},
    "TASK_TYPE": lambda v, _: {},
    "ENABLE": lambda v, _: {},
    "DATASET": lambda v, _: {},
    "log_dir": lambda v, _: {},
    "output_dir": lambda v, _: {},  # the output folder is --output-dir
}


def is_port_config(values: Mapping[str, Any]) -> bool:
    """Whether a YAML mapping is one of the port's training files."""
    return bool(PORT_ONLY_KEYS & set(values))


def map_port_config(values: Mapping[str, Any], source: str) -> tuple[dict[str, Any], list[str]]:
    """The port's keys translated onto ours; returns (values, one line per translated or dropped key).

    Keys that are already ours pass unchanged. A key that is neither ours nor a known port key is left
    in place (the caller's unknown-key check names it, with a did-you-mean).
    """
    mapped: dict[str, Any] = {}
    lines = [f"{source}: the MindSpore port's training config, mapped onto ours:"]
    for key, value in values.items():
        if key in PORT_KEYS:
            translated = PORT_KEYS[key](value, values)
            said = ", ".join(f"{k}: {v!r}" for k, v in translated.items()) or "no effect here (dropped)"
            lines.append(f"  {key}: {value!r} -> {said}")
            mapped.update(translated)
        else:
            mapped.setdefault(key, value)
    return mapped, lines
