"""``python -m recipes.toy``: reproduce the built-in toy model from nothing (see :mod:`recipes.toy.recipe`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import torch

from . import recipe
from .install import install
from .recipe import Recipe
from .settings import DATA_SEED, SHIPPED_WORLD
from .synthetic import DEFAULT_WORLD, WORLDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.toy", description=recipe.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--output-dir", required=True, help="working folder (run again to continue after the last finished stage)"
    )
    parser.add_argument("--num-clips", type=int, default=1500, help="training clips (default 1500)")
    parser.add_argument("--vae-steps", type=int, default=2000, help="VAE training steps (default 2000)")
    parser.add_argument(
        "--decoder-steps", type=int, default=3500, help="VAE decoder steps after the UNet (default 3500)"
    )
    parser.add_argument("--unet-steps", type=int, help="UNet optimizer steps (default: the task config's max_steps)")
    parser.add_argument("--data-seed", type=int, default=DATA_SEED, help=f"training data seed (default {DATA_SEED})")
    parser.add_argument(
        "--world",
        default=SHIPPED_WORLD,
        choices=list(WORLDS),
        help=f"the synthetic world of the training clips (default {SHIPPED_WORLD}, the shipped model's; "
        f"{DEFAULT_WORLD}: the wider world, see recipes.toy.synthetic)",
    )
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's); on a busy machine 1 is faster")
    parser.add_argument("--evaluate", action="store_true", help="measure the held-out metrics (stage 8)")
    parser.add_argument(
        "--install",
        action="store_true",
        help="copy the result into videocomposer/assets/toy_model "
        "with its records and model card, and write the demo's inputs (needs --evaluate)",
    )
    parser.add_argument(
        "overrides", nargs="*", metavar="key=value", help="extra `videocomposer train` config overrides"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    runner = Recipe(
        args.output_dir,
        args.num_clips,
        args.vae_steps,
        args.unet_steps,
        args.data_seed,
        args.overrides,
        args.decoder_steps,
        args.world,
    )
    model_dir = runner.run(evaluate=args.evaluate)
    print(f"[toy recipe] model: {model_dir}")
    if args.install:
        print(f"[toy recipe] installed: {install(model_dir, runner.record)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
