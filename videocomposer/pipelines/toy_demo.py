"""``videocomposer demo`` with the built-in toy model (the default; ``--random`` runs :mod:`.demo` instead).

Two generations from a synthetic clip that the model never saw (a seed outside its training data):

1. **motion transfer**: the motion vectors of the source clip moved onto a NEW first frame (other colours,
   other shape, other background, same place), captioned for the new scene: conditions ``y``,
   ``local_image``, ``motion``;
2. **text only**: a caption alone (``y``).

Each writes an MP4 and a grid GIF (source | conditions | result); ``NOTICE.txt`` says what the model is.
"""
from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..files import ensure_writable_dir, write_text
from ..training import synthetic
from ..video.writer import write_mp4
from .pipeline import VideoComposerPipeline
from .results import save_result, write_notes
from .toy_model import RECIPE_COMMAND, toy_model_dir

#: Seed of the demo's source clips (not the training data's).
DEMO_SEED = 4242
#: Frames of the demo's source clip: 17 at 4 fps leave one possible clip start (frame 0), so the motion
#: condition starts where the new first frame shows the shape.
SOURCE_FRAMES = 17
TEXT_PROMPT = "a yellow square moves right over a navy background"
NOTICE = """\
Made by `videocomposer demo` with the BUILT-IN TOY MODEL: a small VideoComposer (UNet {unet_mb:.1f} MB) trained
from scratch on synthetic clips of coloured shapes (circle / square / triangle) moving over plain or mildly
textured backgrounds, to follow text, a first frame and motion vectors within that world only. Measured on
50 held-out clips (its MODEL_CARD.md has the targets and how each is measured): {measured}.
It is not the official VideoComposer (which needs the six official weight files, see the README).

Files:
  - source.mp4: the synthetic source clip (never seen in training); its motion vectors are the motion condition
  - new_first_frame.png: the first frame given to the motion-transfer run (other colours and shape, same place)
  - motion_transfer.mp4 / motion_transfer_grid.gif: text + new first frame + the source's motion
  - text_only.mp4 / text_only_grid.gif: the caption alone
  - settings.txt: prompts and settings

The same with the command line:
  videocomposer generate exp02_motion_transfer --weights-dir toy --input_video source.mp4 \\
      --image_path new_first_frame.png --input_text_desc "{prompt}"

Model card: {card}
Rebuild the model from nothing: {recipe}
"""


def measured_summary(model_dir: Path) -> str:
    """One line of the model's held-out metrics (its ``metrics.json``, default sampler)."""
    means = next(iter(json.loads((model_dir / "metrics.json").read_text())["samplers"].values()))["means"]
    return (f"motion error with / without the motion condition {means['motion_epe_ratio']:.2f} (target <= 0.5), "
            f"first-frame PSNR {means['first_frame_psnr']:.1f} dB (target >= 25), caption colour in "
            f"{100 * means['text_colour_accuracy']:.0f} % of clips (target >= 80 %)")


@dataclass
class ToyDemoResult:
    folder: Path
    videos: list[Path]
    gifs: list[Path]
    seconds: float


def demo_scene(seed: int = DEMO_SEED) -> tuple[synthetic.ClipSpec, synthetic.ClipSpec]:
    """A one-shape source clip whose shape crosses the frame along a line or an arc, and the same motion
    with another colour, shape and background (the scene of the new first frame)."""
    index = 0
    while True:
        spec = synthetic.sample_clip_spec(seed, index, num_frames=SOURCE_FRAMES, max_shapes=1)
        shape = spec.shapes[0]
        track = shape.positions(spec.num_frames, spec.size)
        if shape.path != "bounce" and np.linalg.norm(track[-1] - track[0]) > spec.size / 3:
            break
        index += 1
    colours = [c for c in synthetic.OBJECT_COLOURS if c != shape.colour]
    backgrounds = [b for b in synthetic.BACKGROUND_COLOURS if b != spec.background]
    shapes = [s for s in synthetic.SHAPES if s != shape.shape]
    new_shape = dataclasses.replace(shape, colour=colours[index % len(colours)], shape=shapes[index % len(shapes)])
    new = dataclasses.replace(spec, background=backgrounds[index % len(backgrounds)], texture="plain", shapes=(new_shape,))
    return spec, new


def run_toy_demo(output_dir: str | os.PathLike, steps: int | None = None, seed: int = 8888,
                 progress: bool = True) -> ToyDemoResult:
    """Run the toy-model demo into ``output_dir`` (created); returns the written paths."""
    start = time.time()
    folder = ensure_writable_dir(output_dir)
    model_dir = toy_model_dir()
    source_spec, new_spec = demo_scene()
    source = write_mp4(folder / "source.mp4", synthetic.render_clip(source_spec), fps=synthetic.CLIP_FPS)
    first_frame = Image.fromarray(synthetic.render_clip(dataclasses.replace(new_spec, num_frames=1))[0])
    first_frame.save(folder / "new_first_frame.png")

    pipe = VideoComposerPipeline.from_pretrained(model_dir)
    pipe.set_progress_bar_config(disable=not progress)
    runs = {"motion_transfer": dict(prompt=new_spec.caption, video=source, image=first_frame,
                                    conditions=["y", "local_image", "motion"]),
            "text_only": dict(prompt=TEXT_PROMPT, conditions=["y"])}
    videos, gifs = [], []
    for name, kwargs in runs.items():
        out = pipe(**kwargs, num_inference_steps=steps, generator=torch.Generator().manual_seed(seed))
        saved = save_result(folder, name, out.frames[0], out.conditions, out.source,
                            title=[f"toy model: {name.replace('_', ' ')}", kwargs["prompt"]], panel_height=128)
        videos.append(saved.mp4)
        gifs.append(saved.gif)
    unet_mb = (model_dir / "unet" / "model.safetensors").stat().st_size / 2**20
    write_text(folder / "NOTICE.txt", NOTICE.format(unet_mb=unet_mb, prompt=new_spec.caption, recipe=RECIPE_COMMAND,
                                                    card=model_dir / "MODEL_CARD.md", measured=measured_summary(model_dir)))
    write_notes(folder, None, {"model": f"built-in toy model ({model_dir})",
                               "motion_transfer prompt": new_spec.caption, "text_only prompt": TEXT_PROMPT,
                               "steps": steps or pipe.defaults["num_inference_steps"], "scheduler": pipe.scheduler,
                               "seed": seed, "frames": pipe.defaults["num_frames"],
                               "size": f"{pipe.defaults['width']}x{pipe.defaults['height']}"})
    return ToyDemoResult(folder, videos, gifs, time.time() - start)
