"""``videocomposer demo``: the command line of a :class:`~videocomposer.app.DemoRequest`."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .options import request_from

#: Each request field as this command spells it.
SPELLING = {
    "output_dir": "--output-dir",
    "overwrite": "--overwrite",
    "random": "--random",
    "frames": "--frames",
    "size": "--size",
    "steps": "--steps",
    "seed": "--seed",
    "progress": "--quiet",
}

DESCRIPTION = (
    "Generate with the built-in toy model (a small VideoComposer trained on synthetic moving shapes): "
    "motion transfer from a synthetic source clip onto a new first frame, and a text-only video; MP4s and "
    "grid GIFs. --random instead writes tiny randomly initialised models in the official file formats, "
    "loads them like the real weights, extracts every condition and generates (noise by design; it "
    "exercises every stage). An earlier result is never replaced: when the output folder already holds "
    "files, the demo writes into a new folder beside it, <output-dir>-2 (-3, ...), and says so; --overwrite "
    "writes into the output folder itself, replacing the demo's files there."
)


def _toy_steps() -> str:
    from ..pipelines.toy_model import stored_defaults, toy_model_dir

    try:
        return f"the toy model's own, {stored_defaults(toy_model_dir())['num_inference_steps']}"
    except (FileNotFoundError, KeyError):
        return "the toy model's own"


def configure(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    from ..app.demo import RANDOM_DEFAULTS

    parser.description = DESCRIPTION
    parser.add_argument(
        "--output-dir",
        "--output_dir",
        default="demo_output",
        help="output folder, relative to the current folder (default: demo_output); when it already holds files, "
        "a new folder <output-dir>-2 (-3, ...) beside it",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into --output-dir even when it holds an earlier result (the demo's files there are replaced)",
    )
    parser.add_argument(
        "--random", action="store_true", help="tiny random networks in the official formats instead of the toy model"
    )
    parser.add_argument("--frames", type=int, help=f"frames, with --random (default {RANDOM_DEFAULTS['frames']})")
    parser.add_argument(
        "--size",
        type=int,
        help=f"video side in pixels, with --random: a multiple of 16, at least 32 (default {RANDOM_DEFAULTS['size']})",
    )
    parser.add_argument(
        "--steps", type=int, help=f"denoising steps (default: {_toy_steps()}; {RANDOM_DEFAULTS['steps']} with --random)"
    )
    parser.add_argument("--seed", type=int, default=8888, help="seed (default 8888)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..app.demo import DemoRequest, demo_folder, run_demo

    request = request_from(DemoRequest, args, progress=not args.quiet)
    request.check()
    if request.random:
        print(
            "videocomposer demo --random: a TINY RANDOMLY INITIALISED model (NOT a trained model); output is noise "
            "by design"
        )
    else:
        print("videocomposer demo: the built-in toy model (trained on synthetic moving shapes; see NOTICE.txt)")
    folder = demo_folder(request).absolute()
    given = Path(request.output_dir).absolute()
    if folder != given:
        print(f"{given} holds an earlier result, kept; writing into {folder} (--overwrite replaces it instead)")
    result = run_demo(request, folder)
    print((result.folder / "NOTICE.txt").read_text())
    written = (
        [result.mp4, result.gif] if request.random else [p for pair in zip(result.videos, result.gifs) for p in pair]
    )
    print("wrote " + "\n      ".join(str(Path(p).absolute()) for p in written) + f"\n({result.seconds:.0f} s)")
    return 0
