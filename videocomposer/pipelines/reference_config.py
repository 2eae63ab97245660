"""The original repository's task YAMLs (``configs/exp*.yaml`` of ali-vilab/videocomposer) mapped onto a preset.

A file is read as the original's when it has a key only the original uses (``TASK_TYPE``,
``read_image``, ``read_style``, ``read_sketch``, ...). :func:`map_reference_task` translates it:

* ``TASK_TYPE: SINGLE_TASK`` → one run with ``guidances``; ``MULTI_TASK`` (and exp10's undispatched
  ``VideoComposer_Inference``) → the six runs of ``inference_multi.py`` (our ``exp01`` preset's);
* ``read_image`` / ``read_style`` / ``read_sketch`` → ``requires`` the image, style image or sketch
  input; the inputs it does not read become ``reference_ignores`` (generate warns when given);
  ``MULTI_TASK`` reads only the video;
* ``resume_checkpoint`` → ``unet_file`` (the file name, looked up in ``--weights-dir``);
* ``seed`` is dropped: the original's ``--seed`` (default 8888) always overrides it;
* keys that change nothing here (``ENABLE``, ``batch_sizes``, ``log_dir``, ...) are dropped; a value
  that would ask for something this implementation does not do is an error naming the key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import PurePath
from typing import Any

from ..conditions import INPUTS
from ..config import ConfigError

#: Keys only the original's task YAMLs have.
REFERENCE_ONLY_KEYS = frozenset(
    {
        "TASK_TYPE",
        "read_image",
        "read_style",
        "read_sketch",
        "ENABLE",
        "DATASET",
        "batch_sizes",
        "network_name",
        "resume_checkpoint",
        "resume_step",
        "log_dir",
        "num_steps",
        "mvs_visual",
        "vit_image_size",
        "chunk_size",
        "resume",
    }
)
_READS = {"read_image": "image", "read_style": "style_image", "read_sketch": "sketch"}
_NO_EFFECT = {"ENABLE", "DATASET", "batch_sizes", "resume", "resume_step", "chunk_size", "log_dir", "num_steps"}
_ONLY = {"network_name": "UNetSD_temporal", "vit_image_size": 224, "mvs_visual": False, "use_fps_condition": False}


def is_reference_task(values: Mapping[str, Any]) -> bool:
    """Whether a YAML mapping is one of the original repository's task files."""
    return bool(REFERENCE_ONLY_KEYS & set(values))


def map_reference_task(
    values: Mapping[str, Any], source: str, multi_task_runs: Callable[[], Mapping[str, list[str]]]
) -> tuple[dict[str, Any], list[str]]:
    """The original's task keys as preset keys; returns (values, one line per key for the user).

    ``multi_task_runs()`` gives the runs of ``inference_multi.py`` (``{run name: conditions}``), the
    ``guidances`` of a ``MULTI_TASK`` file; it is called only for one.
    """
    lines = [f"{source}: the original repository's task YAML, mapped onto a preset:"]
    out: dict[str, Any] = {"kind": "generate"}
    task_type = values.get("TASK_TYPE", "SINGLE_TASK")
    multi = task_type in ("MULTI_TASK", "VideoComposer_Inference")
    if task_type not in ("SINGLE_TASK", "MULTI_TASK", "VideoComposer_Inference"):
        raise ConfigError(f"TASK_TYPE ({source}): {task_type!r} is not one of SINGLE_TASK, MULTI_TASK")
    reads = [] if multi else [_READS[k] for k in _READS if values.get(k)]
    out["requires"] = ["video"] if multi else reads
    out["reference_ignores"] = [i for i in _READS.values() if i not in reads]
    if multi:
        out["guidances"] = dict(multi_task_runs())
    for key, value in values.items():
        if key == "TASK_TYPE":
            said = "the six runs of inference_multi.py" if multi else "one run with guidances"
        elif key == "guidances" and multi:
            said = "ignored: MULTI_TASK runs its six fixed pairs"
        elif key in _READS:
            said = (
                f"requires {_READS[key]}"
                if _READS[key] in reads
                else f"the original ignores {INPUTS[_READS[key]].flag}"
            )
        elif key == "resume_checkpoint":
            out["unet_file"] = PurePath(str(value)).name
            said = f"unet_file: {out['unet_file']!r} (inside --weights-dir)"
        elif key == "seed":
            said = "dropped: the original's --seed (default 8888) always overrides it; use --seed"
        elif key in _NO_EFFECT:
            said = "no effect here (dropped)"
        elif key in _ONLY:
            if value != _ONLY[key]:
                raise ConfigError(
                    f"{key} ({source}): {value!r} has no equivalent here; remove it or set {_ONLY[key]!r}"
                )
            said = "no effect here (dropped)"
        else:
            out.setdefault(key, value)
            continue
        lines.append(f"  {key}: {value!r} -> {said}")
    lines.append(f"  -> requires {out['requires']}, reference_ignores {out['reference_ignores']}")
    return out, lines
