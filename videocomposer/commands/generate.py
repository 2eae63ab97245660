"""``videocomposer generate``: run a task preset (or a ``--cfg`` YAML) with the official weights."""
from __future__ import annotations

import argparse
import dataclasses
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..conditions import CONDITIONS, INPUTS, input_flags
from ..diffusion import SCHEDULERS
from ..pipelines.presets import INPUT_FLAGS, TaskPreset, available_presets, load_preset
from ..video.motion import MOTION_MODES
from .common import DTYPES, UsageError, add_model_arguments, device, existing, model_defaults, unet_file, weights_dir

#: The file inputs generate reads, by name (the registered inputs with a flag, except the caption).
FILE_INPUTS = tuple(name for name, i in INPUTS.items() if i.flag and i.kind != "text")


def task_preset(args: argparse.Namespace) -> TaskPreset:
    """The preset named by TASK or ``--cfg``, with the command line's settings over it."""
    if args.task and args.cfg:
        raise UsageError("give either a TASK or --cfg, not both")
    if not args.task and not args.cfg:
        raise UsageError(f"name a task ({', '.join(available_presets())}) or give --cfg FILE.yaml")
    overrides = {"seed": args.seed, "prompt": args.input_text_desc, "negative_prompt": args.negative_prompt,
                 "guidances": args.conditions, "num_inference_steps": args.steps, "guidance_scale": args.guidance_scale,
                 "min_guidance_scale": args.min_guidance_scale,
                 "scheduler": args.scheduler, "num_frames": args.frames, "height": args.height, "width": args.width,
                 "fps": args.fps, "unet_file": unet_file(args.unet_file)}
    given = {k: v for k, v in overrides.items() if v is not None}
    return load_preset(args.task or args.cfg, {**model_defaults(args), **given},
                       report=lambda line: print(line, file=sys.stderr))


def check_task_inputs(preset: TaskPreset, given: dict[str, Any]) -> None:
    """The preset's required inputs and every run's condition sources, before any compute."""
    # a drawn trajectory (motion) stands in for a required video; a condition that still needs the video
    # (depth, sketch, ...) is reported per run below
    missing = preset.missing_inputs({**given, "video": given.get("video") or given.get("motion")})
    if missing:
        raise UsageError(f"task {preset.name} needs {' and '.join(missing)} (it reads: "
                         f"{', '.join(INPUT_FLAGS[r] for r in preset.requires)})")
    for run, conditions in preset.runs().items():
        for condition in conditions:
            sources = [s for s in CONDITIONS[condition].inputs if INPUTS[s].flag]
            if all(given.get(source) is None for source in sources):
                raise UsageError(f"run {run}: condition '{condition}' needs {' or '.join(input_flags(condition))}")


def given_inputs(args: argparse.Namespace, preset: TaskPreset, check_files: bool = True) -> dict[str, Any]:
    """The inputs a ``generate`` command line gives, by registered input name (``video``, ``image``, ...,
    and ``prompt``); None where absent. With ``check_files`` each path must exist (then given as a Path)."""
    given = {name: getattr(args, INPUTS[name].flag.lstrip("-")) for name in FILE_INPUTS}
    if check_files:
        given = {name: existing(INPUTS[name].flag, value) for name, value in given.items()}
    return {**given, "prompt": preset.prompt}


def run_folder(output_dir: str | Path, preset: TaskPreset, video: Path | None) -> Path:
    """``OUTPUT_DIR/<task>[-<video stem>]-S<seed>``: the source's stem keeps runs on different videos apart."""
    stem = f"-{video.stem}" if video is not None else ""
    return Path(output_dir) / f"{preset.name}{stem}-S{preset.seed:05d}"


def warn_reference_differences(preset: TaskPreset, given: dict[str, Any]) -> None:
    """A note for every given input that the reference's version of this task ignores."""
    for name in preset.reference_ignores:
        if given.get(name) is not None:
            print(f"note: {INPUTS[name].flag} is used here, but the reference's {preset.name} ignores it (it takes "
                  f"that condition from the video); leave it out to reproduce the reference", file=sys.stderr)


@dataclass
class PreparedGeneration:
    """A ``generate`` command ready to sample: the task, the pipeline, its built conditions and where files go."""

    preset: TaskPreset
    pipe: Any  # VideoComposerPipeline
    prepared: Any  # PreparedConditions
    inputs: dict[str, Any]  # the read file inputs, by registered name (without the video)
    output_dir: Path
    video: Path | None = None
    video_probe: Any = None  # VideoProbe of the source video
    motion_mode: str | None = None  # --motion-mode (None: the model's)

    def source(self) -> Any:
        """The clip's frames ``[B, 3, F, M, M]`` for the grid's source panel, or None."""
        return self.prepared.source_video() if self.preset.save_origin_video else None

    def source_description(self) -> Any:
        """What the conditions came from, for ``--save-conditions``: the video's probe (its size: that of the frames
        the motion vectors came from), or a drawn trajectory (its canvas at the source size plays the source
        video's part), or None."""
        motion, settings = self.inputs.get("motion"), self.pipe.motion_settings.with_mode(self.motion_mode)
        if self.video_probe is not None:
            height, width = settings.vector_frame_shape(self.video_probe.height, self.video_probe.width)
            return dataclasses.replace(self.video_probe, height=height, width=width)
        return None if motion is None else motion.source_for(max(self.preset.height, self.preset.width), settings)


def prepare_generation(args: argparse.Namespace, pipe: Any = None) -> PreparedGeneration:
    """Check and read every input of a parsed ``generate`` command, claim its run folder, load the pipeline
    (unless ``pipe`` is given: the UI keeps one loaded) and build the conditions of all its runs."""
    preset = task_preset(args)
    paths = given_inputs(args, preset)
    check_task_inputs(preset, paths)
    warn_reference_differences(preset, paths)
    from ..files import claim_output_dir

    output_dir = claim_output_dir(run_folder(args.output_dir, preset, paths["video"]), args.overwrite)  # before any model loads
    target = device(args.device)
    folder = weights_dir(args) if pipe is None else None

    import torch

    from ..config import read_model_config
    from ..pipelines import VideoComposerPipeline
    from ..pipelines.inputs import default_misc_size, read_input

    misc_size = default_misc_size(preset.height, preset.width)
    inputs = {name: read_input(name, paths[name], num_frames=preset.num_frames, misc_size=misc_size) for name in FILE_INPUTS}
    video = inputs.pop("video")
    probe = None
    if video is not None:
        from ..video.reader import probe_video

        probe = probe_video(video)  # an unreadable video fails now, not after minutes of weight loading

    if pipe is None:
        pipe = VideoComposerPipeline.load(folder, conditions=preset.all_conditions(),
                                          config=read_model_config(args.model_config), unet_file=preset.unet_file,
                                          device=target)
    dtype = args.dtype or "float16"
    if target.type != "cpu" and dtype != "float32":
        pipe.enable_autocast(getattr(torch, dtype))
    elif args.dtype not in (None, "float32"):
        print(f"note: --dtype {args.dtype} is used on accelerators only; running float32 on the CPU", file=sys.stderr)
    pipe.set_progress_bar_config(disable=args.quiet)

    prepared = pipe.prepare_conditions(preset.all_conditions(), video=video, prompt=preset.prompt,
                                       num_frames=preset.num_frames, height=preset.height, width=preset.width,
                                       seed=preset.seed, motion_mode=args.motion_mode, **inputs)
    return PreparedGeneration(preset, pipe, prepared, inputs, output_dir, video, probe, args.motion_mode)


def generate(args: argparse.Namespace, pipe: Any = None, command: str | None = None) -> list[Path]:
    """``videocomposer generate`` with parsed ``args``; returns the files written. ``pipe``: an already loaded
    pipeline to use instead of loading ``--weights-dir``; ``command``: the command line recorded in
    ``settings.txt`` and ``config.yaml`` (default: this process's)."""
    import torch

    from ..config import save_resolved
    from ..pipelines.results import save_result, write_notes

    job = prepare_generation(args, pipe)
    preset, pipe, output_dir = job.preset, job.pipe, job.output_dir
    command = command or " ".join(sys.argv)
    source = job.source()
    written = []
    for name, conditions in preset.runs().items():
        text = "y" in conditions
        out = pipe(preset.prompt if text else None, conditions=conditions,
                   precomputed_conditions={c: job.prepared.conditions[c] for c in conditions},
                   negative_prompt=preset.negative_prompt if text else None,
                   num_frames=preset.num_frames, height=preset.height, width=preset.width,
                   num_inference_steps=preset.num_inference_steps, guidance_scale=preset.guidance_scale,
                   min_guidance_scale=preset.min_guidance_scale,
                   scheduler=preset.scheduler, generator=torch.Generator().manual_seed(preset.seed))
        saved = save_result(output_dir, f"{name}-S{preset.seed:05d}", out.frames[0], out.conditions, source,
                            job.inputs.get("style_image"), fps=preset.fps)
        written += [saved.mp4, saved.gif]
        if args.save_conditions:
            from ..evaluation.records import generation_metadata, save_conditions

            metadata = generation_metadata(preset, job.video, job.source_description())
            written.append(save_conditions(saved.mp4, out.conditions, metadata))
    write_notes(output_dir, preset.prompt, {"task": preset.name, "command": command,
                                            **{k: v for k, v in preset.to_dict().items() if k != "prompt"}})
    save_resolved(output_dir / "config.yaml", preset.to_dict(), header=f"resolved settings of: {command}\n"
                  "rerun with: videocomposer generate --cfg THIS_FILE (plus the input flags)")
    return written


def run(args: argparse.Namespace) -> int:
    for path in generate(args):
        print(path)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    presets = available_presets()
    listing = "\n".join(f"  {name:40s} {load_preset(name).description}" for name in presets)
    parser = subparsers.add_parser(
        "generate", help="generate a video for a task preset (or a --cfg YAML)",
        description="Generate a video with the official VideoComposer weights.\n\n"
                    "Pick a TASK (below) or --cfg FILE.yaml: our preset keys (videocomposer/configs/*.yaml; 'base: "
                    "<task>' inherits one), or the original repository's task YAML (TASK_TYPE, guidances, read_image, "
                    "...), mapped onto ours with the mapping printed; the original's path configs/<task>.yaml names "
                    "our preset. Flags override the task's settings. Outputs go to "
                    "OUTPUT_DIR/<task>[-<video name>]-S<seed>/: <run>-S<seed>.mp4 (H.264), <run>-S<seed>_grid.gif "
                    "(source | conditions | result) and config.yaml (the resolved settings). An existing result is "
                    "never replaced unless --overwrite is given.",
        epilog=f"tasks:\n{listing}\n\nexample:\n  videocomposer generate exp02_motion_transfer --weights-dir model_weights "
               "--input_video motion.mp4 --image_path first_frame.jpg --input_text_desc \"A moon on the water\"",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", nargs="?", choices=list(presets), metavar="TASK", help="task preset (see the list below)")
    parser.add_argument("--cfg", help="task YAML file (instead of TASK), as the reference's --cfg")
    inputs = parser.add_argument_group("inputs (the reference's flag names; dashed spellings work too)")
    for name, user_input in INPUTS.items():
        if user_input.flag:
            flag = user_input.flag
            spellings = [flag, flag.replace("_", "-")] + (["--prompt"] if name == "prompt" else [])
            inputs.add_argument(*dict.fromkeys(spellings), help=user_input.help)
    inputs.add_argument("--negative_prompt", "--negative-prompt", help="caption of the unconditional pass (default: empty)")
    settings = parser.add_argument_group("settings (override the task)")
    settings.add_argument("--conditions", help=f"comma-separated conditions to compose, from {', '.join(CONDITIONS)} "
                          "(the reference's names text, mask, depthmap work too)")
    settings.add_argument("--seed", type=int, help="random seed (reference default 8888)")
    settings.add_argument("--steps", type=int, help="denoising steps (default 50, or the model's own)")
    settings.add_argument("--guidance-scale", "--guidance_scale", type=float, help="classifier-free guidance (default 9.0, or the model's own)")
    settings.add_argument("--min-guidance-scale", "--min_guidance_scale", type=float,
                          help="guidance of frame 0, ramped linearly to --guidance-scale on the last frame (as Stable "
                          "Video Diffusion; default: the model's own, 1.0 for toy; none for the official model: one scale)")
    settings.add_argument("--scheduler", choices=sorted(SCHEDULERS), help="sampler (default ddim, as the reference)")
    settings.add_argument("--frames", type=int, help="number of frames (default 16, or the model's own)")
    settings.add_argument("--height", type=int, help="video height in pixels (default 256, or the model's own)")
    settings.add_argument("--width", type=int, help="video width in pixels (default 256, or the model's own)")
    settings.add_argument("--fps", type=float, help="frame rate of the written files (default 8)")
    settings.add_argument("--motion-mode", "--motion_mode", choices=MOTION_MODES,
                          help="how the motion condition is made from the video or --trajectory: 'reference' (the "
                          "original's: vectors at the source's own size, mostly lost for sources much larger than the "
                          "model's videos) or 'rescaled' (the source brought to the model's training size first); "
                          "default: the model's (rescaled for toy, reference for the official weights)")
    settings.add_argument("--unet-file", "--unet_file", help="UNet weights: a file name inside --weights-dir, or the path "
                          "of a file (e.g. a fine-tuned runs/<name>/checkpoints/step_<N>/unet.safetensors)")
    add_model_arguments(parser)
    parser.add_argument("--dtype", choices=DTYPES,
                        help="autocast precision on accelerators (default float16, as the reference); the CPU always "
                             "runs float32")
    parser.add_argument("--output-dir", "--output_dir", default="outputs", help="output folder (default: outputs)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing result in the run's folder")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--save-conditions", "--save_conditions", action="store_true",
                        help="also write <run>-S<seed>_conditions.safetensors: the condition tensors the UNet got "
                             "(found by `videocomposer evaluate`)")
    parser.set_defaults(func=run)
    return parser
