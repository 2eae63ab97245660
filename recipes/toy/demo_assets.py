"""The inputs of ``videocomposer demo``, written as package data (``videocomposer/assets/demo``)::

    python -m recipes.toy.demo_assets

A synthetic source clip the toy model never saw (seed :data:`DEMO_SEED`, outside its training data) whose one
shape crosses the frame, the first frame of the same motion with another colour, shape and background, and
``demo.json`` with the two prompts the demo runs (:func:`videocomposer.pipelines.toy_demo.load_demo_inputs`
reads them). The recipe's ``--install`` stage writes them as well.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from videocomposer.files import atomic_path, ensure_writable_dir, write_text
from videocomposer.pipelines.toy_demo import DEMO_ASSETS, DEMO_FILES
from videocomposer.video.writer import write_mp4

from . import world_v1

#: Seed of the demo's source clips (not the training data's).
DEMO_SEED = 4242
#: Frames of the demo's source clip: 17 at 4 fps leave one possible clip start (frame 0), so the motion
#: condition starts where the new first frame shows the shape.
SOURCE_FRAMES = 17
#: The caption of the demo's text-only generation.
TEXT_PROMPT = "a yellow square moves right over a navy background"


def demo_scene(seed: int = DEMO_SEED) -> tuple[world_v1.ClipSpec, world_v1.ClipSpec]:
    """A one-shape source clip whose shape crosses the frame along a line or an arc, and the same motion
    with another colour, shape and background (the scene of the new first frame)."""
    index = 0
    while True:
        spec = world_v1.sample_clip_spec(seed, index, num_frames=SOURCE_FRAMES, max_shapes=1)
        shape = spec.shapes[0]
        track = shape.positions(spec.num_frames, spec.size)
        if shape.path != "bounce" and np.linalg.norm(track[-1] - track[0]) > spec.size / 3:
            break
        index += 1
    colours = [c for c in world_v1.OBJECT_COLOURS if c != shape.colour]
    backgrounds = [b for b in world_v1.BACKGROUND_COLOURS if b != spec.background]
    shapes = [s for s in world_v1.SHAPES if s != shape.shape]
    new_shape = dataclasses.replace(shape, colour=colours[index % len(colours)], shape=shapes[index % len(shapes)])
    new = dataclasses.replace(
        spec, background=backgrounds[index % len(backgrounds)], texture="plain", shapes=(new_shape,)
    )
    return spec, new


def demo_description(source: world_v1.ClipSpec, new: world_v1.ClipSpec) -> dict[str, object]:
    """The content of ``demo.json``: the files and prompts of the demo's two generations."""
    return {
        "source_video": DEMO_FILES["source_video"],
        "first_frame": DEMO_FILES["first_frame"],
        "motion_transfer_prompt": new.caption,
        "text_only_prompt": TEXT_PROMPT,
        "source_caption": source.caption,
        "scene_seed": DEMO_SEED,
    }


def write_demo_assets(folder: str | os.PathLike = DEMO_ASSETS) -> Path:
    """Write ``source.mp4`` (uint8 frames at :data:`~recipes.toy.world_v1.CLIP_FPS`), ``new_first_frame.png``
    and ``demo.json`` into ``folder`` (each file replaced atomically); returns the folder."""
    folder = ensure_writable_dir(folder)
    source, new = demo_scene()
    write_mp4(folder / DEMO_FILES["source_video"], world_v1.render_clip(source), fps=world_v1.CLIP_FPS)
    first_frame = world_v1.render_clip(dataclasses.replace(new, num_frames=1))[0]
    with atomic_path(folder / DEMO_FILES["first_frame"]) as tmp:
        Image.fromarray(first_frame).save(tmp, format="PNG")
    write_text(folder / "demo.json", json.dumps(demo_description(source, new), indent=2) + "\n")
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.toy.demo_assets",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--output-dir",
        default=str(DEMO_ASSETS),
        help=f"folder to write the demo's inputs into (default: the package's, {DEMO_ASSETS})",
    )
    args = parser.parse_args(argv)
    print(f"demo inputs written to {write_demo_assets(args.output_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
