"""Running a :class:`~videocomposer.app.generation_request.GenerateRequest`: read and check every input, load the model,
build the conditions once, sample each run of the task and write its files."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .checks import RequestError, model_architectures, torch_device, weights_folder
from .generation_request import GenerateRequest, check_task_inputs, given_inputs, run_folder, task_preset

WEIGHTS_EXAMPLE = (
    ", e.g. `videocomposer generate exp02_motion_transfer --weights-dir toy --input_video clip.mp4 "
    '--image_path first.png --input_text_desc "a red circle moves left over a gray background"`; '
    "`videocomposer demo` runs it on a synthetic clip"
)


#: The request's fields that a run's ``config.yaml`` holds (the task's resolved settings) and that a model's own
#: defaults do not replace.
RECORDED_IN_CONFIG = ("prompt", "negative_prompt", "conditions", "seed", "fps", "unet_file")
#: The request's fields that a model's stored defaults replace in a task file, by the task's setting: a rerun of a
#: ``config.yaml`` gives them as flags.
MODEL_DEFAULT_FIELDS = {
    "steps": "num_inference_steps",
    "guidance_scale": "guidance_scale",
    "min_guidance_scale": "min_guidance_scale",
    "scheduler": "scheduler",
    "frames": "num_frames",
    "height": "height",
    "width": "width",
}


def _note(line: str) -> None:
    print(f"note: {line}", file=sys.stderr)


@dataclass
class PreparedGeneration:
    """A request ready to sample: the task, the pipeline, its built conditions and where files go."""

    preset: Any  # TaskPreset
    pipe: Any  # VideoComposerPipeline
    prepared: Any  # PreparedConditions
    inputs: dict[str, Any]  # the read file inputs, by registered name (without the video)
    output_dir: Path
    video: Path | None = None
    video_probe: Any = None  # VideoProbe of the source video
    motion_mode: str | None = None  # the request's (None: the model's)
    created_folders: list[Path] = field(default_factory=list)  # made for output_dir, removed if left empty

    def source(self) -> Any:
        """The clip's frames ``[B, 3, F, M, M]`` in [0, 1] for the grid's source panel, or None."""
        return self.prepared.source_video() if self.preset.save_origin_video else None

    def source_description(self) -> Any:
        """What the conditions came from, for the condition records: the video's probe (its size: that of the frames
        the motion vectors came from), or a drawn trajectory (its canvas at the source size plays the source
        video's part), or None."""
        motion, settings = self.inputs.get("motion"), self.pipe.motion_settings.with_mode(self.motion_mode)
        if self.video_probe is not None:
            height, width = settings.vector_frame_shape(self.video_probe.height, self.video_probe.width)
            return dataclasses.replace(self.video_probe, height=height, width=width)
        return None if motion is None else motion.source_for(max(self.preset.height, self.preset.width), settings)


@dataclass
class GenerateResult:
    """The files a request wrote: per run its MP4 and grid GIF (and its condition record), and the folder."""

    folder: Path
    files: list[Path] = field(default_factory=list)


def _warn_reference_differences(preset, given: dict[str, Any]) -> None:
    from ..conditions import INPUTS

    for name in preset.reference_ignores:
        if given.get(name) is not None:
            _note(
                f"{INPUTS[name].flag} is used here, but the reference's {preset.name} ignores it (it takes that "
                "condition from the video); leave it out to reproduce the reference"
            )


def _load_pipeline(request: GenerateRequest, preset, target) -> Any:
    from ..pipelines import VideoComposerPipeline

    folder = weights_folder(request.weights_dir, example=WEIGHTS_EXAMPLE)
    return VideoComposerPipeline.load(
        folder,
        conditions=preset.all_conditions(),
        config=model_architectures(request.model_config),
        unet_file=preset.unet_file,
        device=target,
    )


def _set_precision(pipe: Any, request: GenerateRequest, target) -> None:
    import torch

    dtype = request.dtype or "float16"
    if target.type != "cpu" and dtype != "float32":
        pipe.enable_autocast(getattr(torch, dtype))
    elif request.dtype not in (None, "float32"):
        _note(f"--dtype {request.dtype} is used on accelerators only; running float32 on the CPU")


def check_noise_warp_runs(noise_warp: float | None, runs: dict[str, list[str]]) -> set[str]:
    """The runs whose initial noise ``--noise-warp`` warps: those with a motion condition; a ``RequestError`` when it is
    given and no run has one (a given setting is used or refused)."""
    from ..conditions import motion_field_condition

    if noise_warp is None:
        return set()
    warped = {name for name, conditions in runs.items() if motion_field_condition(conditions)}
    if not warped:
        raise RequestError("noise_warp", "follows the motion condition, and no run of this task has one")
    return warped


def prepare_generation(request: GenerateRequest, pipe: Any = None) -> PreparedGeneration:
    """Check and read every input, claim the run folder, load the pipeline (unless ``pipe`` is given: the
    app keeps one loaded) and build the conditions of all the task's runs."""
    from ..files import claim_output_dir, missing_folders, remove_empty_folders
    from ..pipelines.inputs import default_misc_size, read_input
    from ..video.reader import probe_video

    preset = task_preset(request)
    check_noise_warp_runs(request.noise_warp, preset.runs())
    paths = given_inputs(request)
    check_task_inputs(preset, {**paths, "prompt": preset.prompt})
    _warn_reference_differences(preset, paths)
    run_dir = run_folder(request.output_dir, preset, paths["video"])
    created = missing_folders(run_dir)
    output_dir = claim_output_dir(run_dir, request.overwrite)
    try:
        target = torch_device("device", request.device)
        folder = weights_folder(request.weights_dir, example=WEIGHTS_EXAMPLE) if pipe is None else None
        misc_size = default_misc_size(preset.height, preset.width)
        inputs = {
            name: read_input(name, path, num_frames=preset.num_frames, misc_size=misc_size)
            for name, path in paths.items()
        }
        video = inputs.pop("video")
        probe = probe_video(video) if video is not None else None  # an unreadable video fails now, before the weights
        pipe = _checked_pipeline(request, preset, inputs.get("motion"), folder, pipe, target)
        prepared = pipe.prepare_conditions(
            preset.all_conditions(),
            video=video,
            prompt=preset.prompt,
            num_frames=preset.num_frames,
            height=preset.height,
            width=preset.width,
            seed=preset.seed,
            motion_mode=request.motion_mode,
            **inputs,
        )
    except BaseException:
        remove_empty_folders(created)  # a refused or failed request leaves no empty run folder behind
        raise
    return PreparedGeneration(preset, pipe, prepared, inputs, output_dir, video, probe, request.motion_mode, created)


def _checked_pipeline(request: GenerateRequest, preset, trajectory, folder, pipe: Any, target) -> Any:
    """The pipeline (``pipe``, else loaded from ``folder``), once a video of the preset's size and the drawn
    trajectory's field are known to fit in memory (both checked before the weights are read)."""
    from ..pipelines.folder_settings import load_motion_settings
    from .resources import check_generation_memory, check_trajectory

    check_generation_memory(request, preset, folder, pipe, target)
    if trajectory is not None:
        settings = pipe.motion_settings if pipe is not None else load_motion_settings(folder)
        check_trajectory(request, trajectory, preset, settings.with_mode(request.motion_mode))
    pipe = pipe if pipe is not None else _load_pipeline(request, preset, target)
    _set_precision(pipe, request, target)
    pipe.set_progress_bar_config(disable=not request.progress)
    return pipe


def generate(request: GenerateRequest, pipe: Any = None) -> GenerateResult:
    """Run ``request``: every run of its task into ``OUTPUT_DIR/<task>[-<video>]-S<seed>/`` with its records
    (:func:`write_records`).

    ``pipe``: an already loaded pipeline to use instead of loading ``weights_dir``.
    """
    from ..files import remove_empty_folders

    job = prepare_generation(request, pipe)
    try:
        return _sample_runs(request, job)
    except BaseException:
        remove_empty_folders(job.created_folders)  # nothing written yet: no empty run folder is left
        raise


def _sample_runs(request: GenerateRequest, job: PreparedGeneration) -> GenerateResult:
    """Sample and write every run of the prepared request, then its notes and ``config.yaml``."""
    import torch

    from ..conditions import CONDITIONS
    from ..pipelines.results import save_result

    preset, pipe, output_dir = job.preset, job.pipe, job.output_dir
    source = job.source()
    written = []
    warped = check_noise_warp_runs(request.noise_warp, preset.runs())
    for name, conditions in preset.runs().items():
        text = any("prompt" in CONDITIONS[c].inputs for c in conditions)  # the run reads the caption
        out = pipe(
            preset.prompt if text else None,
            conditions=conditions,
            precomputed_conditions={c: job.prepared.conditions[c] for c in conditions},
            negative_prompt=preset.negative_prompt if text else None,
            num_frames=preset.num_frames,
            height=preset.height,
            width=preset.width,
            num_inference_steps=preset.num_inference_steps,
            guidance_scale=preset.run_guidance_scale(name),
            min_guidance_scale=preset.min_guidance_scale,
            scheduler=preset.scheduler,
            generator=torch.Generator().manual_seed(preset.seed),
            noise_warp=request.noise_warp if name in warped else None,
        )
        saved = save_result(
            output_dir,
            f"{name}-S{preset.seed:05d}",
            out.frames[0],
            out.conditions,
            source,
            job.inputs.get("style_image"),
            fps=preset.fps,
        )
        written += [saved.mp4, saved.gif]
        if request.save_conditions:
            from ..evaluation.records import generation_metadata, save_conditions

            metadata = generation_metadata(preset, job.video, job.source_description())
            written.append(save_conditions(saved.mp4, out.conditions, metadata))
    write_records(request, preset, pipe, output_dir)
    return GenerateResult(output_dir, written)


def write_records(request: GenerateRequest, preset: Any, pipe: Any, output_dir: Path) -> None:
    """A run's ``settings.txt``, ``text_description.txt`` and ``config.yaml``: the resolved settings, the command
    that made the run (:meth:`GenerateRequest.to_command`, absolute paths), the model folder and every weight file
    read, and the command that runs the ``config.yaml`` again."""
    from ..config import save_resolved
    from ..pipelines.results import write_notes

    command = request.to_command(absolute=True)
    settings, weights = recorded_settings(preset, pipe), weights_record(request, pipe)
    write_notes(
        output_dir,
        preset.prompt,
        {"task": preset.name, "command": command, **weights, **{k: v for k, v in settings.items() if k != "prompt"}},
    )
    config = output_dir / "config.yaml"
    save_resolved(
        config,
        settings,
        header=f"resolved settings of: {command}\n"
        + "".join(f"{key}: {value}\n" for key, value in weights.items())
        + f"rerun (add --overwrite to replace this run): {rerun_command(request, preset, config)}",
    )


def recorded_settings(preset: Any, pipe: Any) -> dict[str, Any]:
    """The task's resolved settings as a run records them: ``unet_file`` only where the UNet came from such a file
    (official weights, a model converted from one, or a file given): a model trained as a folder has none."""
    settings = preset.to_dict()
    if pipe.unet_source is None:
        del settings["unet_file"]
    return settings


def weights_record(request: GenerateRequest, pipe: Any) -> dict[str, str]:
    """What a run's records say about its model: the model folder (absolute, and what it is) and each weight file
    the pipeline read, by component (``unet weights: /abs/.../unet/model.safetensors``)."""
    from ..pipelines.components import is_pretrained_folder

    files = {f"{n} weights": str(p) for n, p in pipe.weight_files.items()}
    if not request.weights_dir:  # a pipeline given in Python: its own files only
        return files or {"weights": "none recorded (a pipeline built in memory)"}
    folder = weights_folder(request.weights_dir).resolve()
    kind = "a save_pretrained folder" if is_pretrained_folder(folder) else "official weight files"
    return {"model folder": f"{folder} ({kind})", **files}


def rerun_command(request: GenerateRequest, preset: Any, config: Path) -> str:
    """The command that runs ``config`` (a run's ``config.yaml``) again with the request's inputs and model, and the
    resolved settings that the model's defaults would otherwise replace; it writes into the same run folder, so it
    needs ``--overwrite`` while that holds the earlier result."""
    settings = {name: getattr(preset, key) for name, key in MODEL_DEFAULT_FIELDS.items()}
    again = dataclasses.replace(
        request, task=str(config.absolute()), overwrite=False, **dict.fromkeys(RECORDED_IN_CONFIG), **settings
    )
    return again.to_command(absolute=True)
