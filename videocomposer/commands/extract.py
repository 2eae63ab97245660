"""``videocomposer extract``: a video's conditions as tensors and previews, through the pipeline's own preparation."""
from __future__ import annotations

import argparse
import sys

from ..conditions import CONDITIONS
from .common import UsageError, add_model_arguments, device, existing, weights_dir

#: Annotators, the frozen models extraction may need (the CLIP towers never: ``y`` / ``image`` are not extractable).
_ANNOTATORS = ("midas", "pidinet", "sketch_cleaner")


def extractable() -> list[str]:
    """The conditions computed from a video alone (registry ``extractable``)."""
    return [name for name, c in CONDITIONS.items() if c.extractable]


def _needs_weights(name: str) -> bool:
    return bool(CONDITIONS[name].models)


def run(args: argparse.Namespace) -> int:
    from ..conditions import normalize_conditions

    if args.dataset:
        from ..training.cache_cli import run_dataset_extract

        return run_dataset_extract(args)
    video = existing("--input_video", args.input_video)
    if video is None or args.output_dir is None:
        raise UsageError("--input_video and --output-dir are required (or --dataset ROOT --cache DIR --config TASK)")
    choices = extractable()
    if args.conditions:
        conditions = normalize_conditions(args.conditions)
        bad = [c for c in conditions if c not in choices]
        if bad:
            raise UsageError(f"--conditions: {bad} are not extracted from a video; choose from {', '.join(choices)}")
    else:
        conditions = [c for c in choices if c != "single_sketch" and (args.weights_dir or not _needs_weights(c))]
        if not args.weights_dir:
            print("note: depth and sketch need the annotator weights; add --weights-dir to extract them", file=sys.stderr)
    if any(_needs_weights(c) for c in conditions):
        weights_dir(args)
    from ..files import ensure_writable_dir

    output_dir = ensure_writable_dir(args.output_dir)
    earlier = output_dir / f"{video.stem}_conditions.safetensors"
    if earlier.exists() and not args.overwrite:
        raise FileExistsError(f"{earlier} already exists (an earlier extraction of this video); pass --overwrite to "
                              "replace it, or choose another --output-dir")
    target = device(args.device)

    import torch
    from safetensors.torch import save_file

    from ..conditions import ConditionBuilder
    from ..config import read_model_config, save_resolved
    from ..files import atomic_path
    from ..pipelines.components import components_for, load_components
    from ..pipelines.inputs import prepare_conditions, read_input
    from ..pipelines.results import condition_frames, grid_panels
    from ..video.writer import compose_grid, write_gif, write_mp4

    mask = read_input("mask", existing("--mask_path", args.mask_path))
    names = [n for n in components_for(conditions)[0] if n in _ANNOTATORS]
    models = {}
    if names:
        loaded = load_components(weights_dir(args), names, read_model_config(args.model_config))
        models = {n: module.to(target) for n, module in loaded.items()}
    builder = ConditionBuilder(**models)
    with torch.no_grad():
        prepared = prepare_conditions(builder, conditions, video=video, num_frames=args.frames, height=args.resolution,
                                      width=args.resolution, seed=args.seed, mask=mask, device=target)
    cond = prepared.conditions
    stem = video.stem
    tensors = {k: v.cpu().contiguous() for k, v in cond.items()}
    tensors["source"] = prepared.source_video().contiguous()
    with atomic_path(output_dir / f"{stem}_conditions.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"layout": "[B, C, F, H, W]", "video": str(video), "seed": str(args.seed)})
    written = [output_dir / f"{stem}_conditions.safetensors"]
    for name, value in cond.items():
        written.append(write_mp4(output_dir / f"{stem}_{name}.mp4", condition_frames(name, value[0].cpu()), fps=args.fps))
    grid = compose_grid(grid_panels(None, cond, tensors["source"]), height=args.resolution)
    written.append(write_gif(output_dir / f"{stem}_conditions.gif", grid, fps=args.fps))
    settings = {"video": str(video), "conditions": list(cond), "frames": args.frames, "resolution": args.resolution,
                "seed": args.seed, "mask": args.mask_path, "weights_dir": args.weights_dir}
    written.append(save_resolved(output_dir / f"{stem}_settings.yaml", settings, header=" ".join(sys.argv)))
    for path in written:
        print(path)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    choices = extractable()
    parser = subparsers.add_parser(
        "extract", help="extract the conditions of a video (no generation)",
        description="Sample a clip from --input_video as the reference does and write its conditions: "
                    "<video>_conditions.safetensors (tensors [1, C, F, H, W], reusable with generate --depth_path / "
                    "--sketch_path), one MP4 per condition and a side-by-side GIF. With --dataset ROOT --cache DIR "
                    "--config TASK: fill the condition cache a training run reads (condition_cache=DIR).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--input_video", "--input-video", help="the video file")
    parser.add_argument("--output-dir", "--output_dir", help="output folder")
    parser.add_argument("--conditions", help=f"comma-separated, from {', '.join(choices)} (default: all; depth and "
                        "sketch only with --weights-dir)")
    parser.add_argument("--mask_path", "--mask-path", help="inpainting mask image, white = hidden (default: random)")
    parser.add_argument("--frames", type=int, default=16, help="frames to sample (default 16)")
    parser.add_argument("--resolution", type=int, default=256, help="video side in pixels (default 256; annotators see 1.5x)")
    parser.add_argument("--seed", type=int, default=8888, help="seed of the clip start, interpolations and mask (default 8888)")
    parser.add_argument("--fps", type=float, default=8.0, help="frame rate of the written videos (default 8)")
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier extraction of the same video")
    add_model_arguments(parser)
    from ..training.cache_cli import add_dataset_arguments

    add_dataset_arguments(parser)
    parser.set_defaults(func=run)
    return parser
