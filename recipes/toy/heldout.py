"""What the toy model's benchmarks share: held-out clips and captions, batched sampling, the VAE round trip.

Held-out clips and captions come from seeds never used in training (:mod:`recipes.toy.settings`).
The caption-colour test generates a video from a one-object caption alone and checks that the caption's
colour is the video's dominant object colour (:func:`caption_colour_hit`): in world v2 with the common
colour names (:func:`videocomposer.evaluation.tracks.dominant_colour_name`, the background told apart by
the caption's background colours and their mixes), in world v1 with its own 7-colour palette
(:func:`dominant_object_colour`).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from videocomposer.evaluation.tracks import background_mixes, dominant_colour_name
from videocomposer.models.vae import encode_posterior
from videocomposer.video.writer import to_uint8_frames

from . import synthetic, world_v1
from .settings import EVAL_SEED, TEXT_SEED

#: RGB distance from the background beyond which a pixel belongs to an object (world v1's colour reading).
OBJECT_DISTANCE = 60.0


@dataclass
class HeldOutClip:
    """A held-out source clip: its file, caption and spec (its truth file is beside it)."""

    path: Path
    caption: str
    spec: synthetic.ClipSpec


def held_out_clips(
    folder: str | os.PathLike, count: int, seed: int = EVAL_SEED, world: str = synthetic.DEFAULT_WORLD, **options: Any
) -> list[HeldOutClip]:
    """Clips ``0 .. count-1`` of ``seed`` in ``world`` written into ``folder/<world>[-<option><value>...]`` (when
    missing), with their truth files; ``options``: the world's sampling options (``min_side=256``, ...)."""
    name = "-".join([world, *(f"{key}{value}" for key, value in sorted(options.items()))])
    return [
        HeldOutClip(path, spec.caption, spec)
        for path, spec in (synthetic.clip_file(Path(folder) / name, seed, i, world, **options) for i in range(count))
    ]


@dataclass
class TextPrompt:
    """A one-object caption, the colour name it gives the object and (world v2) the background's sRGB colours."""

    caption: str
    colour: str
    background: tuple | None = None


def text_prompts(count: int, seed: int = TEXT_SEED, world: str = synthetic.DEFAULT_WORLD) -> list[TextPrompt]:
    """The captions of ``count`` one-object held-out clips of ``world``."""
    if world == "v1":
        specs = [world_v1.sample_clip_spec(seed, i, max_shapes=1) for i in range(count)]
        return [TextPrompt(s.caption, s.shapes[0].colour) for s in specs]
    specs = [synthetic.sample_clip_spec(seed, i, world, max_objects=1) for i in range(count)]
    return [TextPrompt(s.caption, s.objects[0].colour_name, s.background.colours) for s in specs]


def dominant_object_colour(frames: Any) -> str | None:
    """World v1's reading: the dominant colour name of :data:`~recipes.toy.world_v1.OBJECT_COLOURS` among the
    pixels farther than :data:`OBJECT_DISTANCE` from their frame's background (the median of its 2-px border), None
    when there are none. ``frames``: anything :func:`~videocomposer.video.writer.to_uint8_frames` takes."""
    video = to_uint8_frames(frames).astype(np.float32)
    names = list(world_v1.OBJECT_COLOURS)
    palette = np.array([world_v1.OBJECT_COLOURS[n] for n in names], dtype=np.float32)
    counts = np.zeros(len(names), dtype=np.int64)
    for frame in video:
        border = np.concatenate(
            [
                frame[:2].reshape(-1, 3),
                frame[-2:].reshape(-1, 3),
                frame[:, :2].reshape(-1, 3),
                frame[:, -2:].reshape(-1, 3),
            ]
        )
        background = np.median(border, axis=0)
        pixels = frame.reshape(-1, 3)
        objects = pixels[np.linalg.norm(pixels - background, axis=1) > OBJECT_DISTANCE]
        if len(objects):
            nearest = np.linalg.norm(objects[:, None] - palette[None], axis=2).argmin(1)
            counts += np.bincount(nearest, minlength=len(names))
    return names[int(counts.argmax())] if counts.sum() else None


def caption_colour_hit(frames: np.ndarray, prompt: TextPrompt) -> bool:
    """Whether the prompt's colour is the dominant object colour of a video generated from it (module docstring)."""
    if prompt.background is None:
        return dominant_object_colour(frames) == prompt.colour
    return dominant_colour_name(to_uint8_frames(frames), background_mixes(prompt.background)) == prompt.colour


def generate_batch(
    pipe,
    items: list[dict[str, Any]],
    conditions: list[str],
    scheduler: str,
    steps: int,
    seed: int,
    guidance_scale: float | dict[str, float] | str = "default",
    noise_warp: float | None = None,
) -> tuple[np.ndarray, float]:
    """Generate one video per item (its ``prompt`` and, as needed, ``video`` / ``image`` / ``motion``) in one batch
    with the same noise; returns uint8 ``[B, F, H, W, 3]`` and the seconds the sampling and decoding took.
    ``guidance_scale`` and ``noise_warp``: the pipeline's."""
    prepared = [
        pipe.prepare_conditions(
            conditions,
            seed=seed,
            num_frames=pipe.defaults["num_frames"],
            height=pipe.defaults["height"],
            width=pipe.defaults["width"],
            **item,
        ).conditions
        for item in items
    ]
    batch = {name: torch.cat([p[name] for p in prepared]) for name in conditions}
    began = time.perf_counter()
    out = pipe(
        conditions=conditions,
        precomputed_conditions=batch,
        scheduler=scheduler,
        num_inference_steps=steps,
        guidance_scale=guidance_scale,
        generator=torch.Generator().manual_seed(seed),
        output_type="np",
        noise_warp=noise_warp,
    )
    seconds = time.perf_counter() - began
    return np.round(out.frames * 255).astype(np.uint8), seconds


def caption_hits(
    pipe,
    prompts: list[TextPrompt],
    sampler: tuple[str, int],
    batch_size: int,
    seed: int,
    guidance_scale: float | str = "default",
) -> tuple[list[bool], float]:
    """Whether each caption's colour dominates its video (the caption alone, :func:`caption_colour_hit`), and the
    seconds the sampling took."""
    scheduler, steps = sampler
    hits, seconds = [], 0.0
    for start in range(0, len(prompts), batch_size):
        group = prompts[start : start + batch_size]
        videos, took = generate_batch(
            pipe, [{"prompt": p.caption} for p in group], ["y"], scheduler, steps, seed, guidance_scale
        )
        seconds += took
        hits += [caption_colour_hit(video, prompt) for video, prompt in zip(videos, group)]
    return hits, seconds


def vae_round_trip(pipe, video: torch.Tensor) -> np.ndarray:
    """``[F, 3, H, W]`` in [-1, 1] (a :class:`~videocomposer.video.clip.VideoClip`'s ``video``) → uint8
    ``[F, H, W, 3]``: each frame encoded (posterior mean) and decoded by the pipeline's VAE."""
    with torch.no_grad():
        mean, _ = encode_posterior(pipe.vae, video[None].to(pipe.device, pipe.vae.dtype), chunk_size=len(video))
        latents = pipe.vae.config.scaling_factor * mean.transpose(0, 1)[None]  # [1, z, F, h, w]
        decoded = pipe.decode_latents(latents)[0].transpose(0, 1)  # [F, 3, H, W] in [0, 1]
    return to_uint8_frames(decoded.float().cpu())
