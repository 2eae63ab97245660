"""``videocomposer demo``: the built-in toy model on a synthetic clip (default), or ``--random``: the whole
pipeline offline with tiny random networks in the official formats (no weights needed)."""
from __future__ import annotations

import argparse

from .common import UsageError


def run(args: argparse.Namespace) -> int:
    if not args.random:
        if args.frames is not None or args.size is not None:
            raise UsageError("--frames and --size apply to --random; the toy model makes its own 8 frames of 64x64")
        from ..pipelines.toy_demo import run_toy_demo

        print("videocomposer demo: the built-in toy model (trained on synthetic moving shapes; see NOTICE.txt)")
        result = run_toy_demo(args.output_dir, steps=args.steps, seed=args.seed, progress=not args.quiet)
        print((result.folder / "NOTICE.txt").read_text())
        print("wrote " + "\n      ".join(str(p) for pair in zip(result.videos, result.gifs) for p in pair)
              + f"\n({result.seconds:.0f} s)")
        return 0
    from ..pipelines.demo import run_demo

    print("videocomposer demo --random: a TINY RANDOMLY INITIALISED model (NOT a trained model); output is noise by design")
    result = run_demo(args.output_dir, num_frames=args.frames or 8, size=args.size or 64, steps=args.steps or 10,
                      seed=args.seed, progress=not args.quiet)
    print((result.folder / "NOTICE.txt").read_text())
    print(f"wrote {result.mp4}\n      {result.gif}\n({result.seconds:.0f} s)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
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
    parser.set_defaults(func=run)
    return parser
