"""The original repository's task YAMLs (``configs/exp*.yaml`` of ali-vilab/videocomposer, and the same files of
the MindSpore port, mindone ``examples/videocomposer/configs/exp*.yaml``) mapped onto a preset, unchanged.

A file is read as the original's when it has a key only the original uses (``TASK_TYPE``, ``read_image``,
``batch_sizes``, ``num_workers``, ...). Every key of :data:`REFERENCE_KEYS` is first checked against the type
the original's files give it (a wrong type names the key, the file, the line and the type expected; a single
value where the original has a list is one of them). :func:`map_reference_task` then translates it:

* ``TASK_TYPE: SINGLE_TASK`` → one run with ``guidances``; ``MULTI_TASK`` (and exp10's undispatched
  ``VideoComposer_Inference``) → the six runs of ``inference_multi.py`` (our ``exp01`` preset's);
* ``read_image`` / ``read_style`` / ``read_sketch`` → ``requires`` the image, style image or sketch
  input; the inputs it does not read become ``reference_ignores`` (generate warns when given);
  ``MULTI_TASK`` reads only the video;
* ``resume_checkpoint`` → ``unet_file``: the file itself when the path names one (as the original reads it,
  relative to the working folder), else its name inside ``--weights-dir`` (the port's MindSpore conversions of
  the official UNet name the official file);
* ``video_compositions``, ``guidances``, ``save_origin_video`` are ours too and pass as they are;
* every other key changes nothing here and is named, with the reason, in one line ``has no effect here: ...``;
  a value that would ask for something this implementation does not do is an error naming the key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import Any

from ..conditions import INPUTS
from ..config import ConfigError, YamlSource, coerce_file_value, is_file, shown

#: Every key the original's task files and its ``configs/base.yaml`` use, with its type there; the port's
#: inference files use the same keys, plus ``use_fp16`` and ``ms_mode`` (its ``vc/config/base.py``).
REFERENCE_KEYS: dict[str, Any] = {
    "TASK_TYPE": str,
    "ENABLE": bool,
    "DATASET": str,
    "video_compositions": list[str],
    "guidances": list[str],
    "read_image": bool,
    "read_style": bool,
    "read_sketch": bool,
    "save_origin_video": bool,
    "mvs_visual": bool,
    "resume": bool,
    "batch_sizes": dict[int, int],
    "vit_image_size": int,
    "resume_step": int,
    "seed": int,
    "num_workers": int,
    "chunk_size": int,
    "num_steps": int,
    "network_name": str,
    "resume_checkpoint": str,
    "log_dir": str,
    "use_fp16": bool,
    "ms_mode": int,
    "use_fps_condition": bool,
}
#: How a message names the type of a key whose type alone says too little.
_EXPECTED = {
    "batch_sizes": 'a mapping of frame count to batch size, e.g. {"1": 1, "16": 1}',
    "video_compositions": "a list of condition names, e.g. ['text', 'depthmap']",
    "guidances": "a list of condition names, e.g. ['y', 'depth']",
}
#: Keys of ours that the original's files share (they pass as they are).
SHARED_KEYS = ("video_compositions", "guidances", "save_origin_video")
#: Keys only the original's task files have (their presence marks a file as the original's).
REFERENCE_ONLY_KEYS = frozenset(REFERENCE_KEYS) - {*SHARED_KEYS, "seed"}
TASK_TYPES = ("SINGLE_TASK", "MULTI_TASK", "VideoComposer_Inference")
#: Why each key changes nothing here (the reason shown in the "has no effect here" line).
NO_EFFECT = {
    "ENABLE": "a switch of the original's config loader",
    "DATASET": "names the original's training data",
    "batch_sizes": "training batch sizes; a run makes one video",
    "resume": "true selects the official UNet layout, the one built here",
    "resume_step": "the training step of the checkpoint, a label",
    "seed": "the original's --seed, 8888 unless given, always replaces it; use --seed",
    "num_workers": "data-loader processes; the one video is read in this process",
    "chunk_size": "frames per annotator batch; the results do not depend on it",
    "log_dir": "outputs go to --output-dir",
    "num_steps": "the original's inference does not read it",
    "vit_image_size": "224 is the CLIP image tower's input size, always used",
    "network_name": "UNetSD_temporal is the one UNet",
    "mvs_visual": "the original's motion-vector arrow GIF is not written; the grid GIF shows the motion condition",
    "use_fp16": "the precision is --dtype: float16 autocast on accelerators unless given",
    "ms_mode": "a MindSpore execution mode",
    "use_fps_condition": "false is the official UNet's, which has no frame-rate embedding",
}
#: Keys whose only value here is the one given (any other asks for something this implementation does not do).
_ONLY = {"network_name": "UNetSD_temporal", "vit_image_size": 224, "resume": True, "use_fps_condition": False}
#: Keys of the port's training files (never of a task file).
_TRAINING_KEYS = frozenset({"conditions_for_train", "root_dir", "learning_rate", "epochs", "optim", "max_frames"})
_READS = {"read_image": "image", "read_style": "style_image", "read_sketch": "sketch"}
#: Keys a ``MULTI_TASK`` file holds in vain.
_MULTI_IGNORES = {
    **{key: "MULTI_TASK reads only the video" for key in _READS},
    "guidances": "MULTI_TASK runs its six fixed pairs",
}
#: The MindSpore port's conversions of the official UNet (mindone-port.md §5), by the official file they hold.
PORT_UNET_FILES = {
    "non_ema_228000-3bb2ee9a.ckpt": "non_ema_228000.pth",
    "non_ema_228000-7f157ec2.ckpt": "non_ema_228000.pth",
}


def is_reference_task(values: Mapping[str, Any]) -> bool:
    """Whether a YAML mapping is one of the original repository's (or the port's) task files."""
    return bool(REFERENCE_ONLY_KEYS & set(values))


def check_reference_types(values: Mapping[str, Any], source: YamlSource) -> dict[str, Any]:
    """``values`` with each key of :data:`REFERENCE_KEYS` checked (and converted losslessly) to the type the
    original's files give it; a :class:`ConfigError` names the key, the file, the line and the type expected."""
    out = dict(values)
    for key in REFERENCE_KEYS.keys() & values.keys():
        where = f"{key} ({source.at(key)})"
        try:
            out[key] = coerce_file_value(values[key], REFERENCE_KEYS[key], where)
        except ConfigError as exc:
            if key not in _EXPECTED:
                raise
            raise ConfigError(f"{where}: expected {_EXPECTED[key]}, got {shown(values[key])}", key=key) from exc
    return out


def map_reference_task(
    values: Mapping[str, Any], source: YamlSource, multi_task_runs: Callable[[], Mapping[str, list[str]]]
) -> tuple[dict[str, Any], list[str]]:
    """The original's task keys as preset keys; returns (values, the lines that tell the user how).

    ``multi_task_runs()`` gives the runs of ``inference_multi.py`` (``{run name: conditions}``), the
    ``guidances`` of a ``MULTI_TASK`` file; it is called only for one.
    """
    values = _checked(values, source)
    multi = values.get("TASK_TYPE", "SINGLE_TASK") != "SINGLE_TASK"
    out, lines = _task_runs(values, multi, multi_task_runs)
    if "resume_checkpoint" in values:
        out["unet_file"], said = unet_file_of(values["resume_checkpoint"])
        if not is_file_name(out["unet_file"]):
            where = f"resume_checkpoint ({source.at('resume_checkpoint')})"
            raise ConfigError(f"{where}: expected the path of a weights file, got {shown(values['resume_checkpoint'])}")
        lines.append(f"  resume_checkpoint: {values['resume_checkpoint']!r} -> {said}")
    no_effect = {k: NO_EFFECT[k] for k in values if k in NO_EFFECT}
    if multi:
        no_effect |= {k: why for k, why in _MULTI_IGNORES.items() if k in values}
    passed = [k for k in SHARED_KEYS if k in values and k not in no_effect]
    for key, value in values.items():
        if key not in REFERENCE_KEYS or key in passed:
            out.setdefault(key, value)
    if passed:
        lines.append(f"  {', '.join(passed)}: used as they are")
    if no_effect:
        lines.append("  has no effect here: " + ", ".join(f"{k} ({why})" for k, why in no_effect.items()))
    lines.append(f"  -> requires {out['requires']}, reference_ignores {out['reference_ignores']}")
    head = f"{source.path}: a task YAML of the original repository (or of its MindSpore port), mapped onto a preset:"
    return out, [head, *lines]


def _checked(values: Mapping[str, Any], source: YamlSource) -> dict[str, Any]:
    """``values`` typed (:func:`check_reference_types`), after the checks that the file is a task file and that
    each value asks for something this implementation does."""
    training = sorted(_TRAINING_KEYS & values.keys())
    if training:
        raise ConfigError(
            f"{source.path}: a training config (it sets {', '.join(training)}), not a task file: "
            f"train with it (videocomposer train -c {source.path}), or generate with a task file"
        )
    values = check_reference_types(values, source)
    task_type = values.get("TASK_TYPE", "SINGLE_TASK")
    if task_type not in TASK_TYPES:
        raise ConfigError(
            f"TASK_TYPE ({source.at('TASK_TYPE')}): {shown(task_type)} is not one of {', '.join(TASK_TYPES)}",
            key="TASK_TYPE",
        )
    for key, allowed in _ONLY.items():
        if key in values and values[key] != allowed:
            raise ConfigError(
                f"{key} ({source.at(key)}): {shown(values[key])} has no equivalent here; remove it or set {allowed!r}",
                key=key,
            )
    return values


def _task_runs(
    values: Mapping[str, Any], multi: bool, multi_task_runs: Callable[[], Mapping[str, list[str]]]
) -> tuple[dict[str, Any], list[str]]:
    """The runs and required inputs that ``TASK_TYPE`` and ``read_*`` ask for, and one line for each key."""
    task_type = values.get("TASK_TYPE", "SINGLE_TASK")
    reads = [] if multi else [_READS[k] for k in _READS if values.get(k)]
    out: dict[str, Any] = {
        "kind": "generate",
        "requires": ["video"] if multi else reads,
        "reference_ignores": [i for i in _READS.values() if i not in reads],
    }
    lines = []
    if multi:
        out["guidances"] = dict(multi_task_runs())
        why = " (the original stops with 'Not suport task')" if task_type == "VideoComposer_Inference" else ""
        lines.append(f"  TASK_TYPE: {task_type!r}{why} -> the six runs of inference_multi.py")
    else:
        lines.append(f"  TASK_TYPE: {task_type!r} -> one run with guidances")
        for key, name in _READS.items():
            if key in values:
                said = f"requires {name}" if name in reads else f"the original ignores {INPUTS[name].flag}"
                lines.append(f"  {key}: {values[key]!r} -> {said}")
    return out, lines


def is_file_name(path: str) -> bool:
    """Whether ``path`` could name a file: not empty, no NUL character, at most 4096 bytes with a last part of at
    most 255."""
    try:
        name = os.fsencode(PurePath(path).name)
        return bool(path) and "\x00" not in path and 0 < len(name) <= 255 and len(os.fsencode(path)) <= 4096
    except UnicodeError:  # a lone surrogate: no file system name
        return False


def unet_file_of(resume_checkpoint: str) -> tuple[str, str]:
    """The ``unet_file`` a ``resume_checkpoint`` names, and how: the file itself when the path names one (the
    original reads it relative to the working folder), else its name inside ``--weights-dir``."""
    if is_file(resume_checkpoint):
        path = str(Path(resume_checkpoint).resolve())
        return path, f"unet_file: {path!r} (the file itself)"
    name = PurePath(resume_checkpoint).name
    if name in PORT_UNET_FILES:
        official = PORT_UNET_FILES[name]
        return official, f"unet_file: {official!r} (inside --weights-dir; {name} is the port's conversion of it)"
    return name, f"unet_file: {name!r} (inside --weights-dir)"
