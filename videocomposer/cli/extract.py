"""``videocomposer extract``: the command line of an :class:`~videocomposer.app.ExtractRequest` (a video's
conditions) or, with ``--dataset``, of a :class:`~videocomposer.app.DatasetExtractRequest` (a training cache).

Under ``torchrun`` (``torchrun --nproc_per_node 8 -m videocomposer.cli extract --dataset ...``) each process
takes every N-th video."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .options import MODEL_SPELLING, add_model_arguments, request_from

#: Each request field as this command spells it.
SPELLING = {
    **MODEL_SPELLING,
    "video": "--input_video",
    "output_dir": "--output-dir",
    "conditions": "--conditions",
    "mask": "--mask_path",
    "frames": "--frames",
    "resolution": "--resolution",
    "seed": "--seed",
    "fps": "--fps",
    "motion_mode": "--motion-mode",
    "motion_source_size": "--motion-source-size",
    "overwrite": "--overwrite",
    "dataset": "--dataset",
    "cache": "--cache",
    "config": "--config",
    "overrides": "key=value",
}

DESCRIPTION = """\
Sample a clip from --input_video as generate does and write its conditions: <video>_conditions.safetensors
(tensors [1, C, F, H, W], reusable with generate --depth_path / --sketch_path), one MP4 per condition and a
side-by-side GIF.

With --dataset ROOT --cache DIR --config TASK: fill the condition cache a training run reads
(condition_cache=DIR). The task config and key=value overrides must match the training run's (frames,
resolution, misc size, frame rate, chunk size, device, precision and the frozen weights are part of every
entry's key; a mismatch only means misses). Entries already present are skipped, so an interrupted extraction
resumes, and several processes or machines may fill one cache at once (under torchrun each process takes every
N-th video). The cache's size is printed at the end.
"""


def configure(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    from ..app.extraction import extractable
    from ..video.motion import MOTION_MODES

    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--input_video", "--input-video", dest="video", metavar="INPUT_VIDEO", help="the video file")
    parser.add_argument("--output-dir", "--output_dir", help="output folder")
    parser.add_argument(
        "--conditions",
        help=f"comma-separated, from {', '.join(extractable())} (default: all; depth "
        "and sketch only with --weights-dir)",
    )
    parser.add_argument(
        "--mask_path",
        "--mask-path",
        dest="mask",
        metavar="MASK_PATH",
        help="inpainting mask image, white = hidden (default: random)",
    )
    parser.add_argument("--frames", type=int, default=16, help="frames to sample (default 16)")
    parser.add_argument(
        "--resolution", type=int, default=256, help="video side in pixels (default 256; annotators see 1.5x)"
    )
    parser.add_argument(
        "--seed", type=int, default=8888, help="seed of the clip start, interpolations and mask (default 8888)"
    )
    parser.add_argument("--fps", type=float, default=8.0, help="frame rate of the written videos (default 8)")
    parser.add_argument(
        "--motion-mode",
        "--motion_mode",
        choices=MOTION_MODES,
        help="how the motion condition is made: 'reference' (the original's: vectors at the video's own "
        "size) or 'rescaled' (the video brought to --motion-source-size first); default: the "
        "--weights-dir model's own, else reference",
    )
    parser.add_argument(
        "--motion-source-size",
        "--motion_source_size",
        type=int,
        metavar="PIXELS",
        help="short side the rescaled mode brings the video to (default: the model's training size, "
        "else 336, the official model's training sources)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an earlier extraction of the same video")
    add_model_arguments(parser)
    group = parser.add_argument_group("dataset mode (fills a training condition cache; replaces --input_video)")
    group.add_argument(
        "--dataset", metavar="ROOT", help="dataset folder with *.csv / *.json annotations (sets root_dir)"
    )
    group.add_argument(
        "--cache", metavar="DIR", help="condition cache folder to fill (training reads it with condition_cache=DIR)"
    )
    group.add_argument("--config", metavar="TASK", help="training preset or YAML (decides the conditions and sizes)")
    group.add_argument("overrides", nargs="*", metavar="key=value", help="training config overrides, as for train")


def run(args: argparse.Namespace) -> int:
    if args.dataset:
        return _run_dataset(args)
    if args.overrides:
        raise ValueError(f"key=value settings ({' '.join(args.overrides)}) apply to --dataset only")
    if args.video is None or args.output_dir is None:
        raise ValueError("--input_video and --output-dir are required (or --dataset ROOT --cache DIR --config TASK)")
    from ..app.extraction import ExtractRequest, extract

    request = request_from(ExtractRequest, args)
    for path in extract(request, command=args.command_line):
        print(Path(path).absolute())
    return 0


def _run_dataset(args: argparse.Namespace) -> int:
    from ..app.dataset_extraction import DatasetExtractRequest, extract_dataset

    request = request_from(DatasetExtractRequest, args)
    result = extract_dataset(request)
    for line in result.failed:
        print(f"videocomposer extract: skipped {line}", file=sys.stderr)
    print(f"rank {result.rank}: " if result.world_size > 1 else "", end="")
    print(
        f"{result.videos} videos, {result.written} new entries, {len(result.failed)} failed, {result.seconds:.1f} s; "
        f"cache: {result.cache_size}"
    )
    code = 1 if result.failed and len(result.failed) == result.videos else 0
    if result.world_size > 1:
        from ..training.distributed import shutdown_distributed

        shutdown_distributed()
        sys.stdout.flush()
        os._exit(code)
    return code
