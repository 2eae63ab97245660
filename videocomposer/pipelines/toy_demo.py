"""``videocomposer demo`` with the built-in toy model (the default; ``--random`` runs :mod:`.demo` instead).

Two generations from a synthetic clip that the model never saw (a seed outside its training data), shipped
with the package (``videocomposer/assets/demo``: ``source.mp4``, ``new_first_frame.png`` and ``demo.json``
with the prompts; :func:`load_demo_inputs`):

1. **motion transfer**: the motion vectors of the source clip moved onto a NEW first frame (other colours,
   other shape, other background, same place), captioned for the new scene: conditions ``y``,
   ``local_image``, ``motion``;
2. **text only**: a caption alone (``y``).

Each writes an MP4 and a grid GIF (source | conditions | result); ``NOTICE.txt`` says what the model is.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image

from ..files import atomic_path, ensure_writable_dir, write_text
from .pipeline import VideoComposerPipeline
from .results import save_result, write_notes
from .toy_model import RECIPE_COMMAND, toy_model_dir

#: Where the package keeps the demo's inputs.
DEMO_ASSETS = Path(__file__).resolve().parents[1] / "assets" / "demo"
#: The demo's input files, by role (named in ``demo.json`` and copied into the demo's output folder).
DEMO_FILES = {"source_video": "source.mp4", "first_frame": "new_first_frame.png"}
#: The command that writes the demo's inputs (from a checkout of the repository).
DEMO_ASSETS_COMMAND = "python -m recipes.toy.demo_assets"
#: What ``NOTICE.txt`` in the demo's output folder says.
NOTICE = """\
Made by `videocomposer demo` with the BUILT-IN TOY MODEL: a small VideoComposer (UNet {unet_mb:.1f} MB) trained
from scratch on synthetic clips of coloured shapes (circle / square / triangle) moving over plain or mildly
textured backgrounds, to follow text, a first frame and motion vectors within that world only. Measured on
50 held-out clips (its MODEL_CARD.md has the targets and how each is measured): {measured}.
It is not the official VideoComposer (which needs the six official weight files, see the README).

Files in {folder}:
  - source.mp4: the synthetic source clip (never seen in training); its motion vectors are the motion condition
  - new_first_frame.png: the first frame given to the motion-transfer run (other colours and shape, same place)
  - motion_transfer.mp4 / motion_transfer_grid.gif: text + new first frame + the source's motion
  - text_only.mp4 / text_only_grid.gif: the caption alone
  - settings.txt: prompts and settings

The same with the command line, run in that folder:
  videocomposer generate exp02_motion_transfer --weights-dir toy --input_video source.mp4 \\
      --image_path new_first_frame.png --input_text_desc "{prompt}"

Model card: {card}
Rebuild the model from nothing: {recipe}
"""


def measured_summary(model_dir: Path) -> str:
    """One line of the model's held-out metrics (its ``metrics.json``, default sampler)."""
    means = next(iter(json.loads((model_dir / "metrics.json").read_text())["samplers"].values()))["means"]
    return (
        f"motion error with / without the motion condition {means['motion_epe_ratio']:.2f} (target <= 0.5), "
        f"first-frame PSNR {means['first_frame_psnr']:.1f} dB (target >= 25), caption colour in "
        f"{100 * means['text_colour_accuracy']:.0f} % of clips (target >= 80 %)"
    )


@dataclass
class ToyDemoResult:
    folder: Path
    videos: list[Path]
    gifs: list[Path]
    seconds: float


@dataclass(frozen=True)
class DemoInputs:
    """The demo's packaged inputs: the source clip (its motion vectors are the motion condition), the new
    first frame (its file and the image, RGB), and the captions of the motion-transfer and text-only generations."""

    source_video: Path
    first_frame_file: Path
    first_frame: Image.Image
    motion_transfer_prompt: str
    text_only_prompt: str


def load_demo_inputs(folder: str | os.PathLike = DEMO_ASSETS) -> DemoInputs:
    """Read the demo's inputs from ``folder`` (default: the package's ``assets/demo``).

    Raises:
        FileNotFoundError: ``demo.json`` or a file it names is missing (the package data was left out of this
            installation); :data:`DEMO_ASSETS_COMMAND` writes them from a checkout.
        ValueError: ``demo.json`` lacks a field or names no file.
    """
    folder = Path(folder)
    index = folder / "demo.json"
    if not index.is_file():
        raise FileNotFoundError(
            f"the demo's inputs are missing: no {index} (this installation left out the package "
            f"data); write them from a checkout with: {DEMO_ASSETS_COMMAND}"
        )
    fields = json.loads(index.read_text(encoding="utf-8"))
    missing = [k for k in (*DEMO_FILES, "motion_transfer_prompt", "text_only_prompt") if not fields.get(k)]
    if missing:
        raise ValueError(f"{index}: missing field(s) {', '.join(missing)}; rewrite it with: {DEMO_ASSETS_COMMAND}")
    for role in DEMO_FILES:
        if not (folder / fields[role]).is_file():
            raise FileNotFoundError(
                f"{index}: {role} {folder / fields[role]} does not exist; rewrite the demo's "
                f"inputs with: {DEMO_ASSETS_COMMAND}"
            )
    with Image.open(folder / fields["first_frame"]) as image:
        first_frame = image.convert("RGB")
    return DemoInputs(
        folder / fields["source_video"],
        folder / fields["first_frame"],
        first_frame,
        fields["motion_transfer_prompt"],
        fields["text_only_prompt"],
    )


def _copy_inputs(inputs: DemoInputs, folder: Path) -> Path:
    """Copy the packaged source clip and first frame into ``folder``; returns the copied clip."""
    source = folder / DEMO_FILES["source_video"]
    for packaged, copy in (
        (inputs.source_video, source),
        (inputs.first_frame_file, folder / DEMO_FILES["first_frame"]),
    ):
        with atomic_path(copy) as tmp:
            shutil.copyfile(packaged, tmp)
    return source


def _write_records(
    folder: Path, model_dir: Path, inputs: DemoInputs, pipe: VideoComposerPipeline, steps: int | None, seed: int
) -> None:
    """``NOTICE.txt`` (what the model is, what it measures) and ``settings.txt``."""
    unet_mb = (model_dir / "unet" / "model.safetensors").stat().st_size / 2**20
    notice = NOTICE.format(
        unet_mb=unet_mb,
        prompt=inputs.motion_transfer_prompt,
        recipe=RECIPE_COMMAND,
        card=model_dir / "MODEL_CARD.md",
        folder=folder,
        measured=measured_summary(model_dir),
    )
    write_text(folder / "NOTICE.txt", notice)
    defaults = pipe.defaults
    settings = {
        "model": f"built-in toy model ({model_dir})",
        "motion_transfer prompt": inputs.motion_transfer_prompt,
        "text_only prompt": inputs.text_only_prompt,
        "steps": steps or defaults["num_inference_steps"],
        "scheduler": pipe.scheduler,
        "seed": seed,
        "frames": defaults["num_frames"],
        "size": f"{defaults['width']}x{defaults['height']}",
    }
    write_notes(folder, None, settings)


def run_toy_demo(
    output_dir: str | os.PathLike, steps: int | None = None, seed: int = 8888, progress: bool = True
) -> ToyDemoResult:
    """Run the toy-model demo on the packaged inputs into ``output_dir`` (created); returns the written paths."""
    start = time.time()
    folder = ensure_writable_dir(output_dir).absolute()
    model_dir = toy_model_dir()
    inputs = load_demo_inputs()
    source = _copy_inputs(inputs, folder)
    pipe = VideoComposerPipeline.from_pretrained(model_dir)
    pipe.set_progress_bar_config(disable=not progress)
    runs = {  # the video and the first frame imply the model's motion and first-frame conditions
        "motion_transfer": dict(prompt=inputs.motion_transfer_prompt, video=source, image=inputs.first_frame),
        "text_only": dict(prompt=inputs.text_only_prompt),
    }
    videos, gifs = [], []
    for name, kwargs in runs.items():
        out = pipe(**kwargs, num_inference_steps=steps, generator=torch.Generator().manual_seed(seed))
        title = [f"toy model: {name.replace('_', ' ')}", kwargs["prompt"]]
        saved = save_result(folder, name, out.frames[0], out.conditions, out.source, title=title, panel_height=128)
        videos.append(saved.mp4)
        gifs.append(saved.gif)
    _write_records(folder, model_dir, inputs, pipe, steps, seed)
    return ToyDemoResult(folder, videos, gifs, time.time() - start)
