"""The ``videocomposer`` command: generate, extract, convert, demo, train.

    videocomposer demo                                    # no downloads: tiny random model, a few seconds on a CPU
    videocomposer generate exp02_motion_transfer --weights-dir model_weights \\
        --input_video motion.mp4 --image_path first_frame.jpg --input_text_desc "A moon on the water"
    videocomposer generate --cfg my_task.yaml --weights-dir model_weights --input_video clip.mp4
    videocomposer extract --input_video clip.mp4 --output-dir conditions --weights-dir model_weights
    videocomposer convert --weights-dir model_weights --output-dir videocomposer_pretrained
    videocomposer train --config train_exp02_motion_transfer --output-dir runs/exp02 \\
        --weights-dir model_weights root_dir=datasets/my_clips

--weights-dir is the folder of the six official weight files (see the README) or a `convert` output.
--model-config FILE gives the architectures of non-official weights, e.g. the tiny test models
(`videocomposer.pipelines.tiny`). `videocomposer COMMAND --help` lists each command's options.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

from .checkpoints import WeightFileError
from .conditions import CONDITION_INPUTS
from .diffusion import SCHEDULERS
from .pipelines.presets import CONDITION_KWARGS, INPUT_FLAGS, TaskPreset, available_presets, load_preset

#: The CLI flag of each input a condition can come from (keys of ``CONDITION_INPUTS``; None = no flag).
_INPUT_FLAG = {"prompt": "--input_text_desc", "clip": "--input_video", "image": "--image_path",
               "style_image": "--style_image", "sketch": "--sketch_path", "depth": "--depth_path",
               "motion": "--trajectory"}
_DTYPES = ("float32", "float16", "bfloat16")
MODEL_CONFIG_HELP = ("JSON/YAML architectures by component ({unet: {...}, clip: {...}, vae: {...}, midas: {...}, "
                     "sketch_cleaner: {...}}), only for non-official weights, e.g. the tiny test models: the file is "
                     "json.dumps(videocomposer.pipelines.tiny.tiny_model_config())")


class UsageError(ValueError):
    """A problem with the command line (printed as one line, exit code 2)."""


# ----------------------------------------------------------------------------------------------
# Shared helpers
# ----------------------------------------------------------------------------------------------


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {name}: no CUDA device is available here; use --device cpu")
    return torch.device(name)


def read_model_config(path: str | None) -> dict[str, Any] | None:
    """``--model-config``: a JSON/YAML file ``{component: {architecture fields}}`` (e.g. tiny test models)."""
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--model-config: file not found: {file.resolve()}")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as exc:
        raise UsageError(f"--model-config {file} is not valid JSON/YAML ({exc})") from exc
    if not isinstance(data, dict):
        raise UsageError(f"--model-config {file} must hold a mapping {{component: {{field: value}}}}")
    return data


def _existing(flag: str, value: str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value)
    if not path.is_file():
        raise FileNotFoundError(f"{flag}: file not found: {path.resolve()}")
    return path


def _open_image(flag: str, path: Path | None):
    if path is None:
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise UsageError(f"{flag}: {path} is not a readable image ({exc})") from exc


def _weights_dir(args: argparse.Namespace) -> Path:
    from .pipelines.toy_model import resolve_weights_dir

    if not args.weights_dir:
        raise UsageError("--weights-dir is required: the folder with the official weight files (see the README), "
                         "one written by `videocomposer convert`, or `toy` for the built-in toy model (text + first "
                         "frame + motion, 8 frames of 64x64), e.g. `videocomposer generate exp02_motion_transfer "
                         "--weights-dir toy --input_video clip.mp4 --image_path first.png --input_text_desc "
                         "\"a red circle moves left over a gray background\"`; `videocomposer demo` runs it on a synthetic clip")
    return resolve_weights_dir(args.weights_dir)


def _add_model_arguments(parser: argparse.ArgumentParser, device: bool = True) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--weights-dir", help="folder with the six official weight files, or a `convert` output")
    group.add_argument("--model-config", metavar="FILE", help=MODEL_CONFIG_HELP)
    if device:
        group.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda or cuda:N (default: auto)")


# ----------------------------------------------------------------------------------------------
# generate
# ----------------------------------------------------------------------------------------------


def _task_preset(args: argparse.Namespace) -> TaskPreset:
    if args.task and args.cfg:
        raise UsageError("give either a TASK or --cfg, not both")
    if not args.task and not args.cfg:
        raise UsageError(f"name a task ({', '.join(available_presets())}) or give --cfg FILE.yaml")
    overrides = {"seed": args.seed, "prompt": args.input_text_desc, "negative_prompt": args.negative_prompt,
                 "guidances": args.conditions, "num_inference_steps": args.steps, "guidance_scale": args.guidance_scale,
                 "scheduler": args.scheduler, "num_frames": args.frames, "height": args.height, "width": args.width,
                 "fps": args.fps, "unet_file": _unet_file(args.unet_file)}
    given = {k: v for k, v in overrides.items() if v is not None}
    return load_preset(args.task or args.cfg, {**_model_defaults(args), **given})


def _model_defaults(args: argparse.Namespace) -> dict[str, Any]:
    """The size and sampling settings a ``save_pretrained`` model stores where they differ from the official
    model's (e.g. the toy model's 8 x 64 x 64): they replace the task's, and flags still override them."""
    from .pipelines.pipeline import DEFAULTS
    from .pipelines.toy_model import resolve_weights_dir, stored_defaults

    if not args.weights_dir:
        return {}
    official = {**DEFAULTS, "scheduler": "ddim"}
    stored = stored_defaults(resolve_weights_dir(args.weights_dir))
    return {k: v for k, v in stored.items() if k in official and v != official[k]}


def _unet_file(value: str | None) -> str | None:
    """``--unet-file``: an existing file as given (e.g. a fine-tuned ``unet.safetensors``), else a name inside --weights-dir."""
    if value is None or not Path(value).is_file():
        return value
    return str(Path(value).resolve())


def _check_task_inputs(preset: TaskPreset, given: dict[str, Any]) -> None:
    """The preset's required inputs and every run's condition sources, before any compute."""
    missing = preset.missing_inputs({**given, "video": given.get("video") or given.get("motion")})  # drawn motion
    # stands in for the video's; a condition still needing the video is reported per run below
    if missing:
        raise UsageError(f"task {preset.name} needs {' and '.join(missing)} (it reads: "
                         f"{', '.join(INPUT_FLAGS[r] for r in preset.requires)})")
    for run, conditions in preset.runs().items():
        for condition in conditions:
            sources = [s for s in CONDITION_INPUTS[condition] if s in _INPUT_FLAG]
            if all(given.get(source) is None for source in sources):
                raise UsageError(f"run {run}: condition '{condition}' needs "
                                 f"{' or '.join(_INPUT_FLAG[s] for s in sources)}")


def _read_tensor(flag: str, path: Path, key: str):
    """A condition tensor from a ``.safetensors`` file written by ``videocomposer extract``."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    if key not in tensors:
        raise UsageError(f"{flag}: {path} has no '{key}' tensor (it has {sorted(tensors)}); use a file from `videocomposer extract`")
    return tensors[key]


def _read_depth(path: Path | None, num_frames: int, size: int):
    """``--depth_path``: ``.safetensors`` from ``extract`` (exact values), or a greyscale image/video
    (white = near) → ``[F, 1, size, size]`` in [0, 1] (one image is repeated over the frames)."""
    if path is None:
        return None
    if path.suffix == ".safetensors":
        return _read_tensor("--depth_path", path, "depth")
    import av
    import numpy as np
    import torch

    from .video.transforms import center_crop_v2

    frames = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(np.asarray(center_crop_v2(frame.to_image().convert("L"), size), dtype=np.float32) / 255.0)
                if len(frames) == num_frames:
                    break
    except (av.error.FFmpegError, IndexError) as exc:
        raise UsageError(f"--depth_path: cannot read {path} as an image or video ({exc})") from exc
    return torch.from_numpy(np.stack(frames))[:, None]


def _read_sketch(path: Path | None):
    """``--sketch_path``: a sketch image (cleaned by PiDiNet + the sketch GAN, as the reference) or a
    ``.safetensors`` sketch map from ``extract`` (used as is)."""
    if path is None:
        return None
    return _read_tensor("--sketch_path", path, "sketch") if path.suffix == ".safetensors" else _open_image("--sketch_path", path)


def given_inputs(args: argparse.Namespace, preset: TaskPreset, check_files: bool = True) -> dict[str, Any]:
    """The inputs a ``generate`` command line gives, by input name (keys of ``INPUT_FLAGS``, plus ``clip``
    and ``prompt``); None where absent. With ``check_files`` each path must exist (then given as a Path)."""
    given = {name: getattr(args, flag.lstrip("-")) for name, flag in INPUT_FLAGS.items()}
    if check_files:
        given = {name: _existing(INPUT_FLAGS[name], value) for name, value in given.items()}
    motion = getattr(args, "trajectory", None)
    motion = _existing("--trajectory", motion) if check_files else motion
    return {**given, "clip": given["video"], "prompt": preset.prompt, "motion": motion}


def run_generate(args: argparse.Namespace) -> int:
    for path in generate(args):
        print(path)
    return 0


@dataclass
class PreparedGeneration:
    """A ``generate`` command ready to sample: the task, the pipeline, its built conditions and where files go."""

    preset: TaskPreset
    pipe: Any
    prepared: Any  # PreparedConditions
    style_image: Any
    output_dir: Path
    video: Path | None = None
    video_probe: Any = None  # VideoProbe of the source video
    trajectory: Any = None  # the drawn motion (Trajectory)

    def source(self):
        """The clip's frames ``[1, 3, F, M, M]`` for the grid's source panel, or None."""
        clip = self.prepared.clip
        return clip.misc.permute(1, 0, 2, 3)[None] if clip is not None and self.preset.save_origin_video else None


def prepare_generation(args: argparse.Namespace, pipe=None) -> PreparedGeneration:
    """Check and read every input of a parsed ``generate`` command, load the pipeline (unless ``pipe`` is
    given: the UI keeps one loaded) and build the conditions of all its runs."""
    preset = _task_preset(args)
    paths = given_inputs(args, preset)
    _check_task_inputs(preset, paths)
    output_dir = Path(args.output_dir) / f"{preset.name}-S{preset.seed:05d}"
    from .video.writer import ensure_writable_dir

    ensure_writable_dir(output_dir)  # before any model is loaded
    device = _device(args.device)
    weights_dir = _weights_dir(args) if pipe is None else None
    config = read_model_config(args.model_config)

    import torch

    from .pipelines import VideoComposerPipeline
    from .pipelines.pipeline import default_misc_size
    from .video.trajectory import read_trajectory

    images = {k: _open_image(INPUT_FLAGS[k], paths[k]) for k in ("image", "style_image")}
    misc_size = default_misc_size(preset.height, preset.width)
    depth = _read_depth(paths["depth"], preset.num_frames, misc_size)
    sketch = _read_sketch(paths["sketch"])
    mask = _open_image("--mask_path", paths["mask"])
    motion = read_trajectory(paths["motion"]) if paths["motion"] is not None else None
    probe = None
    if paths["video"] is not None:
        from .video.reader import probe_video

        probe = probe_video(paths["video"])  # an unreadable video fails now, not after minutes of weight loading

    if pipe is None:
        pipe = VideoComposerPipeline.load(weights_dir, conditions=preset.all_conditions(), config=config,
                                          unet_file=preset.unet_file, device=device)
    dtype = args.dtype or "float16"
    if device.type != "cpu" and dtype != "float32":
        pipe.enable_autocast(getattr(torch, dtype))
    elif args.dtype not in (None, "float32"):
        print(f"note: --dtype {args.dtype} is used on accelerators only; running float32 on the CPU", file=sys.stderr)
    pipe.set_progress_bar_config(disable=args.quiet)

    prepared = pipe.prepare_conditions(preset.all_conditions(), video=paths["video"], prompt=preset.prompt,
                                       image=images["image"], style_image=images["style_image"], sketch=sketch,
                                       depth=depth, mask=mask, motion=motion, num_frames=preset.num_frames,
                                       height=preset.height, width=preset.width, seed=preset.seed)
    return PreparedGeneration(preset, pipe, prepared, images["style_image"], output_dir, paths["video"], probe, motion)


def generate(args: argparse.Namespace, pipe=None, command: str | None = None) -> list[Path]:
    """``videocomposer generate`` with parsed ``args``; returns the files written. ``pipe``: an already
    loaded pipeline to use instead of loading ``--weights-dir``; ``command``: the command line recorded
    in ``settings.txt`` (default: this process's)."""
    import torch

    from .pipelines.results import save_result, write_notes

    job = prepare_generation(args, pipe)
    preset, pipe = job.preset, job.pipe
    written = []
    for run, conditions in preset.runs().items():
        out = pipe(preset.prompt if "y" in conditions else None, conditions=conditions,
                   precomputed_conditions={c: job.prepared.conditions[c] for c in conditions},
                   negative_prompt=preset.negative_prompt if "y" in conditions else None,
                   num_frames=preset.num_frames, height=preset.height, width=preset.width,
                   num_inference_steps=preset.num_inference_steps, guidance_scale=preset.guidance_scale,
                   scheduler=preset.scheduler, generator=torch.Generator().manual_seed(preset.seed))
        saved = save_result(job.output_dir, f"{run}-S{preset.seed:05d}", out.frames[0], out.conditions, job.source(),
                            job.style_image, fps=preset.fps)
        written += [saved.mp4, saved.gif]
        if args.save_conditions:
            from .evaluation.records import generation_metadata, save_conditions

            # a drawn trajectory's source (its canvas at the source size) plays the source video's part
            source = job.video_probe or (job.trajectory.source(max(preset.height, preset.width)) if job.trajectory else None)
            written.append(save_conditions(saved.mp4, out.conditions, generation_metadata(preset, job.video, source)))
    write_notes(job.output_dir, preset.prompt, {"task": preset.name, "command": command or " ".join(sys.argv),
                                                **{k: v for k, v in preset.to_dict().items() if k != "prompt"}})
    return written


def add_generate_parser(subparsers: argparse._SubParsersAction) -> None:
    presets = available_presets()
    listing = "\n".join(f"  {name:40s} {load_preset(name).description}" for name in presets)
    parser = subparsers.add_parser(
        "generate", help="generate a video for a task preset (or a --cfg YAML)",
        description="Generate a video with the official VideoComposer weights.\n\n"
                    "Pick a TASK (below) or --cfg FILE.yaml (same keys as videocomposer/configs/*.yaml; "
                    "'base: <task>' inherits one). Flags override the task's settings. Outputs go to "
                    "OUTPUT_DIR/<task>-S<seed>/: <run>-S<seed>.mp4 (H.264) and <run>-S<seed>_grid.gif "
                    "(source | conditions | result).",
        epilog=f"tasks:\n{listing}\n\nexample:\n  videocomposer generate exp02_motion_transfer --weights-dir model_weights "
               "--input_video motion.mp4 --image_path first_frame.jpg --input_text_desc \"A moon on the water\"",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", nargs="?", choices=list(presets), metavar="TASK", help="task preset (see the list below)")
    parser.add_argument("--cfg", help="task YAML file (instead of TASK), as the reference's --cfg")
    inputs = parser.add_argument_group("inputs (the reference's flag names; dashed spellings work too)")
    inputs.add_argument("--input_video", "--input-video", help="source video: motion, depth, sketch, mask, first/middle frame")
    inputs.add_argument("--image_path", "--image-path", help="first-frame image (local_image)")
    inputs.add_argument("--style_image", "--style-image", help="style image (image)")
    inputs.add_argument("--sketch_path", "--sketch-path", help="sketch image (cleaned by PiDiNet + the sketch GAN), or a "
                        "sketch .safetensors from `extract`")
    inputs.add_argument("--depth_path", "--depth-path", help="depth map instead of MiDaS: .safetensors from `extract` "
                        "(exact), or a greyscale image/video (white = near, mapped to [0, 1])")
    inputs.add_argument("--mask_path", "--mask-path", help="inpainting mask image, white = regenerate (default: random)")
    inputs.add_argument("--trajectory", help="hand-drawn motion instead of the video's: a JSON file of strokes (points "
                        "per frame or a path, and a radius; the schema is in videocomposer/video/trajectory.py), as "
                        "`videocomposer ui` exports")
    inputs.add_argument("--input_text_desc", "--input-text-desc", "--prompt", help="the caption")
    inputs.add_argument("--negative_prompt", "--negative-prompt", help="caption of the unconditional pass (default: empty)")
    settings = parser.add_argument_group("settings (override the task)")
    settings.add_argument("--conditions", help=f"comma-separated conditions to compose, from {', '.join(CONDITION_KWARGS)}")
    settings.add_argument("--seed", type=int, help="random seed (reference default 8888)")
    settings.add_argument("--steps", type=int, help="denoising steps (default 50)")
    settings.add_argument("--guidance-scale", "--guidance_scale", type=float, help="classifier-free guidance (default 9.0)")
    settings.add_argument("--scheduler", choices=sorted(SCHEDULERS), help="sampler (default ddim, as the reference)")
    settings.add_argument("--frames", type=int, help="number of frames (default 16)")
    settings.add_argument("--height", type=int, help="video height in pixels (default 256)")
    settings.add_argument("--width", type=int, help="video width in pixels (default 256)")
    settings.add_argument("--fps", type=float, help="frame rate of the written files (default 8)")
    settings.add_argument("--unet-file", "--unet_file", help="UNet weights: a file name inside --weights-dir, or the path "
                          "of a file (e.g. a fine-tuned runs/<name>/checkpoints/step_<N>/unet.safetensors)")
    _add_model_arguments(parser)
    parser.add_argument("--dtype", choices=_DTYPES,
                        help="autocast precision on accelerators (default float16, as the reference); the CPU always "
                             "runs float32")
    parser.add_argument("--output-dir", "--output_dir", default="outputs", help="output folder (default: outputs)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--save-conditions", "--save_conditions", action="store_true",
                        help="also write <run>-S<seed>_conditions.safetensors: the condition tensors the UNet got "
                             "(found by `videocomposer evaluate`)")
    parser.set_defaults(func=run_generate)


# ----------------------------------------------------------------------------------------------
# extract
# ----------------------------------------------------------------------------------------------

_EXTRACTABLE = ("local_image", "masked", "depth", "sketch", "single_sketch", "motion")
_NEEDS_WEIGHTS = {"depth": "midas", "sketch": "pidinet", "single_sketch": "pidinet"}


def run_extract(args: argparse.Namespace) -> int:
    from .pipelines.presets import normalize_conditions

    video = _existing("--input_video", args.input_video)
    if video is None:
        raise UsageError("--input_video is required")
    if args.conditions:
        conditions = normalize_conditions(args.conditions)
        bad = [c for c in conditions if c not in _EXTRACTABLE]
        if bad:
            raise UsageError(f"--conditions: {bad} are not extracted from a video; choose from {', '.join(_EXTRACTABLE)}")
    else:
        conditions = [c for c in _EXTRACTABLE if c != "single_sketch" and (args.weights_dir or c not in _NEEDS_WEIGHTS)]
        if not args.weights_dir:
            print("note: depth and sketch need the annotator weights; add --weights-dir to extract them", file=sys.stderr)
    if any(c in _NEEDS_WEIGHTS for c in conditions):
        _weights_dir(args)
    from .video.writer import ensure_writable_dir

    output_dir = ensure_writable_dir(args.output_dir)
    mask = _open_image("--mask_path", _existing("--mask_path", args.mask_path))
    device = _device(args.device)

    import torch
    from safetensors.torch import save_file

    from .conditions import ConditionBuilder
    from .pipelines.components import components_for, load_components
    from .pipelines.pipeline import default_misc_size
    from .pipelines.results import condition_frames, grid_panels
    from .video.sampling import load_video_clip
    from .video.writer import atomic_path, compose_grid, write_gif, write_mp4

    names = [n for n in components_for(conditions)[0] if n in ("midas", "pidinet", "sketch_cleaner")]
    config = read_model_config(args.model_config)
    models = {}
    if names:
        loaded = load_components(_weights_dir(args), names, config)
        models = {n: module.to(device) for n, module in loaded.items()}
    builder = ConditionBuilder(midas=models.get("midas"), pidinet=models.get("pidinet"),
                               sketch_cleaner=models.get("sketch_cleaner"))
    misc_size = default_misc_size(args.resolution, args.resolution)
    clip = load_video_clip(video, num_frames=args.frames, resolution=args.resolution, misc_size=misc_size,
                           seed=args.seed, with_mask="masked" in conditions and mask is None)
    with torch.no_grad():
        cond = builder.build(conditions, clip=clip, mask=mask, misc_size=misc_size, device=device)
    stem = video.stem
    tensors = {k: v.cpu().contiguous() for k, v in cond.items()}
    tensors["source"] = clip.misc.permute(1, 0, 2, 3)[None].contiguous()
    with atomic_path(output_dir / f"{stem}_conditions.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"layout": "[B, C, F, H, W]", "video": str(video), "seed": str(args.seed)})
    written = [output_dir / f"{stem}_conditions.safetensors"]
    for name, value in cond.items():
        written.append(write_mp4(output_dir / f"{stem}_{name}.mp4", condition_frames(name, value[0].cpu()), fps=args.fps))
    grid = compose_grid(grid_panels(None, cond, tensors["source"]), height=args.resolution)
    written.append(write_gif(output_dir / f"{stem}_conditions.gif", grid, fps=args.fps))
    for path in written:
        print(path)
    return 0


def add_extract_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "extract", help="extract the conditions of a video (no generation)",
        description="Sample a clip from --input_video as the reference does and write its conditions: "
                    "<video>_conditions.safetensors (tensors [1, C, F, H, W], reusable with generate --depth_path / "
                    "--sketch_path), one MP4 per condition and a side-by-side GIF.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input_video", "--input-video", required=True, help="the video file")
    parser.add_argument("--output-dir", "--output_dir", required=True, help="output folder")
    parser.add_argument("--conditions", help=f"comma-separated, from {', '.join(_EXTRACTABLE)} (default: all; depth and "
                        "sketch only with --weights-dir)")
    parser.add_argument("--mask_path", "--mask-path", help="inpainting mask image, white = hidden (default: random)")
    parser.add_argument("--frames", type=int, default=16, help="frames to sample (default 16)")
    parser.add_argument("--resolution", type=int, default=256, help="video side in pixels (default 256; annotators see 1.5x)")
    parser.add_argument("--seed", type=int, default=8888, help="seed of the clip start, interpolations and mask (default 8888)")
    parser.add_argument("--fps", type=float, default=8.0, help="frame rate of the written videos (default 8)")
    _add_model_arguments(parser)
    parser.set_defaults(func=run_extract)


# ----------------------------------------------------------------------------------------------
# convert
# ----------------------------------------------------------------------------------------------


def run_convert(args: argparse.Namespace) -> int:
    from .pipelines import VideoComposerPipeline
    from .pipelines.presets import normalize_conditions
    from .video.writer import ensure_writable_dir

    weights_dir = _weights_dir(args)
    output_dir = ensure_writable_dir(args.output_dir)
    conditions = normalize_conditions(args.conditions) if args.conditions else None
    pipe = VideoComposerPipeline.from_official(weights_dir, conditions=conditions, config=read_model_config(args.model_config),
                                               unet_file=_unet_file(args.unet_file))
    pipe.save_pretrained(output_dir)
    print(output_dir)
    return 0


def add_convert_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "convert", help="convert the official weight files into a save_pretrained folder (safetensors)",
        description="Read the official files (pickles) once and write one folder per component (config.json + "
                    "safetensors) plus model_index.json. `generate` and `extract` take the result as --weights-dir and load it faster.")
    parser.add_argument("--output-dir", "--output_dir", required=True, help="folder to write")
    parser.add_argument("--conditions", help="convert only the models these conditions need (default: all)")
    parser.add_argument("--unet-file", "--unet_file", help="UNet weights: a file name inside --weights-dir (default "
                        "non_ema_228000.pth) or the path of a file, e.g. a fine-tuned unet.safetensors")
    _add_model_arguments(parser, device=False)
    parser.set_defaults(func=run_convert)


# ----------------------------------------------------------------------------------------------
# demo
# ----------------------------------------------------------------------------------------------


def run_demo(args: argparse.Namespace) -> int:
    if not args.random:
        if args.frames is not None or args.size is not None:
            raise UsageError("--frames and --size apply to --random; the toy model makes its own 8 frames of 64x64")
        from .pipelines.toy_demo import run_toy_demo

        print("videocomposer demo: the built-in toy model (trained on synthetic moving shapes; see NOTICE.txt)")
        result = run_toy_demo(args.output_dir, steps=args.steps, seed=args.seed, progress=not args.quiet)
        print((result.folder / "NOTICE.txt").read_text())
        print("wrote " + "\n      ".join(str(p) for pair in zip(result.videos, result.gifs) for p in pair)
              + f"\n({result.seconds:.0f} s)")
        return 0
    from .pipelines.demo import run_demo as demo

    print("videocomposer demo --random: a TINY RANDOMLY INITIALISED model (NOT a trained model); output is noise by design")
    result = demo(args.output_dir, num_frames=args.frames or 8, size=args.size or 64, steps=args.steps or 10,
                  seed=args.seed, progress=not args.quiet)
    print((result.folder / "NOTICE.txt").read_text())
    print(f"wrote {result.mp4}\n      {result.gif}\n({result.seconds:.0f} s)")
    return 0


def add_demo_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the built-in toy model on a synthetic clip (no downloads), or --random tiny networks",
        description="Generate with the built-in toy model (a small VideoComposer trained on synthetic moving shapes): "
                    "motion transfer from a synthetic source clip onto a new first frame, and a text-only video; "
                    "MP4s and grid GIFs. --random instead writes tiny randomly initialised models in the official "
                    "file formats, loads them like the real weights, extracts every condition and generates (noise "
                    "by design; it exercises every stage).")
    parser.add_argument("--output-dir", "--output_dir", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument("--random", action="store_true", help="tiny random networks in the official formats instead of the toy model")
    parser.add_argument("--frames", type=int, help="frames, with --random (default 8)")
    parser.add_argument("--size", type=int, help="video side in pixels, with --random: a multiple of 16, at least 32 (default 64)")
    parser.add_argument("--steps", type=int, help="denoising steps (default: the toy model's 20; 10 with --random)")
    parser.add_argument("--seed", type=int, default=8888, help="seed (default 8888)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run_demo)


# ----------------------------------------------------------------------------------------------
# entry point
# ----------------------------------------------------------------------------------------------

SUBCOMMANDS: tuple[Callable[[argparse._SubParsersAction], Any], ...] = (
    add_generate_parser, add_extract_parser, add_convert_parser, add_demo_parser)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="videocomposer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in SUBCOMMANDS:
        add(subparsers)
    from .evaluation.cli import add_parser as add_evaluate_parser
    from .training.cli import add_train_parser
    from .ui.command import add_ui_parser

    add_train_parser(subparsers)
    add_ui_parser(subparsers)
    add_evaluate_parser(subparsers)
    return parser


def parse_command_line(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a command line as ``main`` does (argparse errors exit with code 2).

    ``train``'s ``key=value`` overrides may also follow its flags (``... root_dir=x --resume latest max_steps=9``),
    which a positional list alone does not allow in argparse."""
    parser = build_parser()
    args, extras = parser.parse_known_args(argv)
    if extras:
        if not isinstance(getattr(args, "overrides", None), list) or any(e.startswith("-") for e in extras):
            parser.parse_args(argv)  # argparse's own "unrecognized arguments" error
        args.overrides += extras
    return args


def user_errors() -> tuple[type[Exception], ...]:
    """The exceptions that report a user's mistake (shown as one line, not a traceback)."""
    from .video.reader import VideoReadError

    return (UsageError, FileNotFoundError, FileExistsError, WeightFileError, PermissionError, NotADirectoryError,
            VideoReadError, ValueError)


def main(argv: Sequence[str] | None = None) -> int:
    """Console-script entry point; returns the exit code (2 for a user error, with a one-line message)."""
    args = parse_command_line(argv)
    try:
        return args.func(args)
    except user_errors() as exc:
        print(f"videocomposer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"videocomposer {args.command}: interrupted (no partial output files were left)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
