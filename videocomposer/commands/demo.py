"""``videocomposer demo``: the whole pipeline offline with a tiny random model (no weights needed)."""
from __future__ import annotations

import argparse


def run(args: argparse.Namespace) -> int:
    from ..pipelines.demo import run_demo

    print("videocomposer demo: a TINY RANDOMLY INITIALISED model (NOT the trained VideoComposer); output is noise by design")
    result = run_demo(args.output_dir, num_frames=args.frames, size=args.size, steps=args.steps, seed=args.seed,
                      progress=not args.quiet)
    print((result.folder / "NOTICE.txt").read_text())
    print(f"wrote {result.mp4}\n      {result.gif}\n({result.seconds:.0f} s)")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo", help="run the whole pipeline offline with a tiny RANDOM model (no weights needed)",
        description="Make a synthetic clip, write tiny randomly initialised models in the official file formats, "
                    "load them like the real weights, extract every condition and generate. The result is "
                    "noise-like by design; NOTICE.txt in the output folder gives the command for the real model.")
    parser.add_argument("--output-dir", "--output_dir", default="demo_output", help="output folder (default: demo_output)")
    parser.add_argument("--frames", type=int, default=8, help="frames (default 8)")
    parser.add_argument("--size", type=int, default=64, help="video side in pixels, a multiple of 16, at least 32 (default 64)")
    parser.add_argument("--steps", type=int, default=10, help="denoising steps (default 10)")
    parser.add_argument("--seed", type=int, default=8888, help="seed (default 8888)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
    return parser
