"""``videocomposer demo --random``: the whole pipeline on a generated clip with tiny RANDOM weights, offline, on a CPU.

It makes a short synthetic video (moving shapes), writes tiny randomly initialised models in the six
official file formats to a temporary folder, loads them through :meth:`VideoComposerPipeline.from_official`
— the code path of the real weights — extracts every condition and generates a video from all eight.
The result is noise-like BY DESIGN: the models are untrained. The output folder says so (``NOTICE.txt``
and the GIF's title) and gives the command for the real model.
"""

from __future__ import annotations

import os
import shlex
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from ..conditions import CONDITIONS
from ..files import ensure_writable_dir, write_text
from ..video.writer import write_mp4
from .pipeline import VideoComposerPipeline
from .results import save_result, write_notes
from .tiny import tiny_configs, write_tiny_official_weights

DEMO_PROMPT = "A red ball bouncing over a green field under a blue sky"
NOTICE = """\
THIS IS NOT VIDEOCOMPOSER'S TRAINED MODEL.

These files were made by `videocomposer demo` with TINY, RANDOMLY INITIALISED networks (UNet, VAE, CLIP,
MiDaS, PiDiNet, sketch cleaner) written in the official weight-file formats and loaded through the same
code as the real weights. The generated video is noise-like by design; it only shows that every stage
runs: reading the video, motion vectors, depth, sketch, mask, CLIP, guided DDIM, VAE decoding, writing.

Files in {folder}:
  - demo_input.mp4, demo_first_frame.png: the synthetic input clip and its first frame
  - {name}.mp4: the generated video (random model)
  - {name}_grid.gif: source | conditions (from the random annotators) | result
  - text_description.txt, settings.txt: the prompt and the settings

To generate with the real model, download the six official files (README, "Weights") into a folder
model_weights/, then run in the folder that holds it:

  {command}
"""


def make_demo_video(
    path: str | os.PathLike, num_frames: int = 24, height: int = 96, width: int = 128, fps: float = 8.0
) -> list[Image.Image]:
    """Write a synthetic clip (a ball crossing a sky/grass scene, a turning bar) as H.264; returns its frames."""
    frames = []
    yy = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    for i in range(num_frames):
        s = i / max(num_frames - 1, 1)
        sky = np.stack([0.35 + 0.3 * yy, 0.55 + 0.3 * yy, np.full_like(yy, 0.95)], -1) * np.ones((1, width, 1))
        image = Image.fromarray((sky * 255).astype(np.uint8))
        draw = ImageDraw.Draw(image)
        horizon = int(0.65 * height)
        draw.rectangle([0, horizon, width, height], fill=(60, 160, 70))
        cx, cy, r = (
            int(0.1 * width + 0.8 * width * s),
            int(horizon - 0.25 * height * abs(np.sin(3 * np.pi * s))),
            height // 8,
        )
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(220, 40, 40))
        angle = 2 * np.pi * s
        bx, by, length = 0.75 * width, 0.3 * height, 0.15 * width
        draw.line(
            [
                bx - length * np.cos(angle),
                by - length * np.sin(angle),
                bx + length * np.cos(angle),
                by + length * np.sin(angle),
            ],
            fill=(250, 220, 40),
            width=max(2, height // 24),
        )
        frames.append(image)
    write_mp4(path, frames, fps=fps)
    return frames


def real_model_command(video: str | os.PathLike, image: str | os.PathLike, prompt: str = DEMO_PROMPT) -> str:
    """The shell command (paths quoted as needed) that runs the demo's inputs through the real model."""
    return shlex.join(
        [
            "videocomposer",
            "generate",
            "exp02_motion_transfer",
            "--weights-dir",
            "model_weights",
            "--input_video",
            os.fspath(video),
            "--image_path",
            os.fspath(image),
            "--input_text_desc",
            prompt,
            "--output-dir",
            "outputs",
        ]
    )


@dataclass
class DemoResult:
    folder: Path
    mp4: Path
    gif: Path
    seconds: float


def run_demo(
    output_dir: str | os.PathLike,
    num_frames: int = 8,
    size: int = 64,
    steps: int = 10,
    seed: int = 8888,
    progress: bool = True,
) -> DemoResult:
    """Run the demo into ``output_dir`` (created); returns the written paths. Needs no downloads."""
    start = time.time()
    folder = ensure_writable_dir(output_dir).absolute()
    name = f"demo_random_tiny_model-S{seed:05d}"
    video_path = folder / "demo_input.mp4"
    first_frame = make_demo_video(video_path)[0]
    first_frame_path = folder / "demo_first_frame.png"
    first_frame.save(first_frame_path)
    command = real_model_command(video_path, first_frame_path)

    with tempfile.TemporaryDirectory(prefix="videocomposer-tiny-weights-") as weights_dir:
        configs = write_tiny_official_weights(weights_dir, seed=seed, configs=tiny_configs())
        pipe = VideoComposerPipeline.from_official(weights_dir, config=configs)  # all eight conditions
    pipe.set_progress_bar_config(disable=not progress)
    out = pipe(
        DEMO_PROMPT,
        video=video_path,
        image=first_frame,
        conditions=list(pipe_conditions()),
        num_frames=num_frames,
        height=size,
        width=size,
        num_inference_steps=steps,
        generator=torch.Generator().manual_seed(seed),
    )

    title = [
        "RANDOM TINY MODEL - NOT the trained VideoComposer (noise by design)",
        "real model: videocomposer generate ... --weights-dir model_weights (see NOTICE.txt)",
    ]
    saved = save_result(
        folder,
        name,
        out.frames[0],
        out.conditions,
        out.source,
        title=title,
        panel_height=96,
        title_background=(160, 0, 0),
    )
    write_text(folder / "NOTICE.txt", NOTICE.format(name=name, command=command, folder=folder))
    settings = {
        "model": "RANDOM TINY MODEL (not trained)",
        "conditions": ", ".join(out.conditions),
        "frames": num_frames,
        "size": f"{size}x{size}",
        "steps": steps,
        "seed": seed,
        "real-model command": command,
    }
    write_notes(folder, DEMO_PROMPT, settings)
    return DemoResult(folder, saved.mp4, saved.gif, time.time() - start)


def pipe_conditions() -> tuple[str, ...]:
    """The demo composes every registered condition (the official model's eight), in the registry's order."""
    return tuple(CONDITIONS)
