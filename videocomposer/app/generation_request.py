"""The ``generate`` request: a task preset (or a task YAML file), its inputs and settings, checked in one place.

    from videocomposer.app import GenerateRequest, generate
    request = GenerateRequest(task="exp02_motion_transfer", weights_dir="toy", video="clip.mp4", image="first.png",
                              prompt="a red circle moves left over a gray background")
    result = generate(request)      # result.files: the MP4s, grid GIFs (and condition records) written
    request.to_command()            # the same run as a `videocomposer generate` command line

A field left None takes the task's value, or the model's own where the model folder stores one (e.g. the
toy model's 8 frames of 64 x 64), else the official model's.
"""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from .checks import DTYPES, at_least, existing_file, model_defaults, one_of, weights_file, whole_at_least
from .errors import RequestError, mention

PathLike = str | os.PathLike
#: The request's file inputs, by registered input name (:data:`videocomposer.conditions.INPUTS`).
INPUT_FIELDS = ("video", "image", "style_image", "sketch", "depth", "mask", "motion")
#: Free composition: the preset whose conditions the request chooses.
FREE_COMPOSITION = "compose"


@dataclass
class GenerateRequest:
    """What to generate. Paths may be ``str`` or ``Path``; None: the task's (or the model's) own value.

    ``task``: a preset name (``videocomposer generate --help`` lists them) or a task YAML file.
    Inputs: ``video`` (source of motion, depth, sketch, mask, first frame), ``image`` (first frame),
    ``style_image``, ``sketch``, ``depth``, ``mask`` (white = regenerate), ``motion`` (a trajectory JSON
    file of drawn strokes, instead of the video's motion). ``conditions`` (a list or ``"y,motion"``)
    replaces the task's. ``weights_dir``: the model folder (official files, a ``convert`` output, or
    ``toy``); ``device``: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``. ``motion_mode``: how the motion condition is
    made from the video or the trajectory (:data:`videocomposer.video.motion.MOTION_MODES`; None: the model's own).
    ``guidance_scale``: one number, or one per condition (``{"y": 7.5, "motion": 3.0}``, the command line's
    ``y=7.5,motion=3``; see :mod:`videocomposer.pipelines.condition_guidance`): each named condition must be among
    the task's, and each run of the task uses the scales of its own conditions.
    """

    task: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    conditions: Sequence[str] | str | None = None
    video: PathLike | None = None
    image: PathLike | None = None
    style_image: PathLike | None = None
    sketch: PathLike | None = None
    depth: PathLike | None = None
    mask: PathLike | None = None
    motion: PathLike | None = None
    seed: int | None = None
    steps: int | None = None
    guidance_scale: float | dict[str, float] | None = None
    min_guidance_scale: float | None = None
    scheduler: str | None = None
    frames: int | None = None
    height: int | None = None
    width: int | None = None
    fps: float | None = None
    motion_mode: str | None = None
    noise_warp: float | None = None
    unet_file: PathLike | None = None
    weights_dir: PathLike | None = None
    model_config: PathLike | None = None
    device: str = "auto"
    dtype: str | None = None
    output_dir: PathLike = "outputs"
    overwrite: bool = False
    progress: bool = True
    save_conditions: bool = False

    def check(self) -> None:
        """The checks that need no file and no model (every action runs them first)."""
        from ..diffusion import SCHEDULERS
        from ..pipelines.presets import available_presets
        from ..video.motion import MOTION_MODES

        if not self.task:
            raise RequestError("task", f"name a task ({', '.join(available_presets())}) or a task YAML file")
        for name in ("steps", "frames", "height", "width"):
            whole_at_least(name, getattr(self, name), 1)
        whole_at_least("seed", self.seed, 0)
        check_guidance_scale(self.guidance_scale)
        at_least("min_guidance_scale", self.min_guidance_scale, 0)
        if self.fps is not None and not (self.fps > 0 and math.isfinite(self.fps)):
            raise RequestError("fps", f"must be a finite number > 0, got {self.fps!r}")
        one_of("scheduler", self.scheduler, sorted(SCHEDULERS))
        one_of("motion_mode", self.motion_mode, MOTION_MODES)
        if self.noise_warp is not None and not 0.0 <= self.noise_warp <= 1.0:
            raise RequestError("noise_warp", f"must be a number in [0, 1] (1: plain noise), got {self.noise_warp!r}")
        one_of("dtype", self.dtype, DTYPES)
        if self.conditions is not None:
            self.condition_names()

    def condition_names(self) -> list[str] | None:
        """``conditions`` as registered names (reference names accepted), None when not given."""
        from ..conditions import normalize_conditions

        if self.conditions is None:
            return None
        try:
            return normalize_conditions(self.conditions)
        except ValueError as exc:
            raise RequestError("conditions", str(exc)) from None

    def to_command(self, absolute: bool = False) -> str:
        """The ``videocomposer generate`` command line of this request, one line that a shell reads back as the
        same arguments (:func:`~videocomposer.app.shell.shell_join`). ``absolute``: every path made absolute
        (:func:`with_absolute_paths`), so that the command runs from any folder (what a run records)."""
        from .shell import shell_join

        request = with_absolute_paths(self) if absolute else self
        return shell_join(["videocomposer", "generate", *command_arguments(request)])


#: How ``videocomposer generate`` spells each field: the command line :meth:`GenerateRequest.to_command`
#: writes and the command-line parser reads (``TASK`` is positional; a YAML file is given as ``--cfg``).
FLAGS: dict[str, str] = {
    "task": "TASK",
    "weights_dir": "--weights-dir",
    "model_config": "--model-config",
    "prompt": "--input_text_desc",
    "negative_prompt": "--negative_prompt",
    "video": "--input_video",
    "image": "--image_path",
    "style_image": "--style_image",
    "sketch": "--sketch_path",
    "depth": "--depth_path",
    "mask": "--mask_path",
    "motion": "--trajectory",
    "conditions": "--conditions",
    "steps": "--steps",
    "guidance_scale": "--guidance-scale",
    "min_guidance_scale": "--min-guidance-scale",
    "scheduler": "--scheduler",
    "seed": "--seed",
    "frames": "--frames",
    "height": "--height",
    "width": "--width",
    "fps": "--fps",
    "motion_mode": "--motion-mode",
    "noise_warp": "--noise-warp",
    "unet_file": "--unet-file",
    "device": "--device",
    "dtype": "--dtype",
    "save_conditions": "--save-conditions",
    "overwrite": "--overwrite",
    "progress": "--quiet",
    "output_dir": "--output-dir",
}


def check_guidance_scale(value: Any) -> float | dict[str, float] | None:
    """A request's ``guidance_scale``: a number >= 0, or ``{condition: number >= 0}`` with registered names
    (returned as the registry's); a :class:`RequestError` naming the field otherwise."""
    from ..pipelines.condition_guidance import condition_scales

    if isinstance(value, Mapping):
        try:
            return condition_scales(value, "guidance_scale")
        except ValueError as exc:
            raise RequestError("guidance_scale", str(exc).removeprefix("guidance_scale: ")) from None
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise RequestError("guidance_scale", f"expected a number or {{condition: number}}, got {value!r}")
    at_least("guidance_scale", value, 0)
    return value


def _flag_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, Mapping):
        return ",".join(f"{name}={scale:g}" for name, scale in value.items())
    if isinstance(value, (list, tuple)):
        return ",".join(value)
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def _option(flag: str, value: Any) -> list[str]:
    """``[flag, value]``, or ``[flag=value]`` for a value that starts with ``-`` (read as a value, not an option)."""
    text = _flag_value(value)
    return [f"{flag}={text}"] if text.startswith("-") else [flag, text]


def command_arguments(request: GenerateRequest) -> list[str]:
    """The ``generate`` arguments of a request, in :data:`FLAGS` order (the output folder last)."""
    from ..pipelines.presets import available_presets

    defaults = {f.name: f.default for f in fields(GenerateRequest)}
    argv: list[str] = []
    for name, flag in FLAGS.items():
        value = getattr(request, name)
        if name == "task":
            argv += [value] if value in available_presets() else _option("--cfg", value)
        elif name == "output_dir":
            argv += _option(flag, value)
        elif isinstance(value, bool):
            argv += [flag] if value != defaults[name] else []
        elif value is not None and value != defaults[name]:
            argv += _option(flag, value)
    return argv


def with_absolute_paths(request: GenerateRequest) -> GenerateRequest:
    """``request`` with every path absolute: the inputs, ``model_config``, ``output_dir``, a task YAML file, an
    existing ``unet_file`` and ``weights_dir``; a preset name, ``toy`` (the built-in model) and a UNet file name inside
    the model folder stay as they are."""
    from ..pipelines.presets import available_presets
    from ..pipelines.toy_model import TOY_WEIGHTS_NAME

    def absolute(value: PathLike | None) -> str | None:
        return None if value is None else os.path.abspath(value)

    task, weights_dir, unet_file = request.task, request.weights_dir, request.unet_file
    toy = weights_dir is not None and os.fspath(weights_dir) == TOY_WEIGHTS_NAME and not Path(weights_dir).is_dir()
    return dataclasses.replace(
        request,
        **{name: absolute(getattr(request, name)) for name in (*INPUT_FIELDS, "model_config")},
        output_dir=absolute(request.output_dir),
        task=task if task is None or task in available_presets() else absolute(task),
        weights_dir=weights_dir if toy else absolute(weights_dir),
        unet_file=absolute(unet_file) if unet_file is not None and Path(unet_file).is_file() else unet_file,
    )


def task_preset(request: GenerateRequest, report=None):
    """The request's task preset with the model's stored defaults, then the request's own settings, over it.

    ``report`` receives a line per setting mapped from an original-repository YAML (default: stderr)."""
    from ..pipelines.presets import load_preset

    request.check()
    overrides = {
        "seed": request.seed,
        "prompt": request.prompt,
        "negative_prompt": request.negative_prompt,
        "guidances": request.condition_names(),
        "num_inference_steps": request.steps,
        "guidance_scale": request.guidance_scale,
        "min_guidance_scale": request.min_guidance_scale,
        "scheduler": request.scheduler,
        "num_frames": request.frames,
        "height": request.height,
        "width": request.width,
        "fps": request.fps,
        "unet_file": weights_file(request.unet_file),
    }
    given = {k: v for k, v in overrides.items() if v is not None and not isinstance(v, Mapping)}
    preset = load_preset(
        request.task,
        {**model_defaults(request.weights_dir), **given},
        report=report or (lambda line: print(line, file=sys.stderr)),
    )
    scales = check_guidance_scale(request.guidance_scale)
    if not isinstance(scales, Mapping):
        return preset
    unused = [name for name in scales if name not in preset.all_conditions()]
    if unused:
        raise RequestError(
            "guidance_scale",
            f"names {unused}, which task {preset.name} does not use (its conditions: "
            f"{', '.join(preset.all_conditions())}; {mention('conditions')} chooses them)",
        )
    return dataclasses.replace(preset, guidance_scale=scales)


def given_inputs(request: GenerateRequest, check_files: bool = True) -> dict[str, Path | None]:
    """The request's file inputs by registered name (None where absent); with ``check_files`` each must exist."""
    if check_files:
        return {name: existing_file(name, getattr(request, name)) for name in INPUT_FIELDS}
    return {name: None if getattr(request, name) is None else Path(getattr(request, name)) for name in INPUT_FIELDS}


def check_task_inputs(preset, given: dict[str, Any]) -> None:
    """The preset's required inputs and every run's condition sources are given, before any compute."""
    from ..conditions import CONDITIONS

    # a drawn trajectory (motion) stands in for a required video; a condition that still needs the video
    # (depth, sketch, ...) is reported per run below
    stand_ins = {**given, "video": given.get("video") or given.get("motion")}
    missing = [name for name in preset.requires if stand_ins.get(name) is None]
    if missing:
        raise RequestError(
            missing[0],
            f"task {preset.name} needs {' and '.join(map(mention, missing))} (it reads: "
            f"{', '.join(map(mention, preset.requires))})",
        )
    for run, conditions in preset.runs().items():
        for condition in conditions:
            sources = [s for s in CONDITIONS[condition].inputs if s in INPUT_FIELDS]
            if sources and all(given.get(source) is None for source in sources):
                raise RequestError(
                    sources[0], f"run {run}: condition '{condition}' needs {' or '.join(map(mention, sources))}"
                )


def run_folder(output_dir: PathLike, preset, video: Path | None) -> Path:
    """``OUTPUT_DIR/<task>[-<video stem>]-S<seed>``: the source's stem keeps runs on different videos apart."""
    stem = f"-{video.stem}" if video is not None else ""
    return Path(output_dir) / f"{preset.name}{stem}-S{preset.seed:05d}"
