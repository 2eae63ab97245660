"""Held-out evaluation of the built-in toy model by codec motion vectors: does it follow motion, first frame and text?

::

    python -m recipes.toy.codec_benchmark --clips 50 --world v1 --output runs/toy_metrics.json

The protocol of the model card's tables (the ground-truth protocol is :mod:`recipes.toy.benchmark`).
Clips come from :data:`~recipes.toy.settings.EVAL_SEED` (never used in training) in the world the model was
trained on (``--world``, :mod:`recipes.toy.synthetic`). For each
clip, with the same noise:

* **with motion**: caption + the clip's first frame + its motion vectors (``y, local_image, motion``);
* **without motion**: the same inputs with the motion condition left out (``y, local_image``);

and each generated video is scored with the code behind ``videocomposer evaluate`` against the source
clip: ``motion_epe`` (codec motion vectors of the re-encoded video vs the condition, per 16-px cell, in
source pixels), its split into the cells where the condition moves and the others, with the direction
agreement and the speed along the condition on the moving ones (``motion_epe_moving``, ``motion_epe_static``,
``motion_cosine_moving``, ``motion_gain_moving``), and ``flow_epe`` (Farneback flow, same cells;
``flow_cosine_moving``, ``flow_gain_moving``) by
:func:`~videocomposer.evaluation.evaluate.evaluate_run`, which compares at the source's scale (the generated
video upsampled, bicubic, to the source's short side, so that its macroblocks cover what the condition's did);
``first_frame_psnr`` / ``first_frame_ssim`` (generated frame 0 vs the given first frame, at 64 px) by :func:`~videocomposer.evaluation.image.first_frame_metrics`;
``frame_change`` (:func:`frame_change`, with motion) beside ``source_frame_change``, the same of the source
clip: a video model's frames change about as much as the source's, independent frames far more.

**Reference points** (``reference_points``, no sampling; :func:`reference_points`): the motion and flow EPE,
by the same protocol, of three videos made from each source clip: the clip itself at the model's size
(``source``: what a model that reproduced it exactly would score), its first frame repeated (``still``: a
video that does not move) and the clip encoded and decoded by the model's VAE (``vae``: the best a model
whose latents are exactly the clip's can score). Codec vectors answer every small change between frames:
the ``vae`` row shows how much of the generated videos' error the VAE alone explains.

**Text**: one-object captions from :data:`~recipes.toy.settings.TEXT_SEED` (e.g. "a red circle moves left over a gray
background") alone (``y``); a clip counts as a hit when the caption's colour is the video's dominant object
colour (:func:`recipes.toy.heldout.caption_colour_hit`). A video with no object pixels is a miss.

Each setting runs with every sampler of ``samplers`` (default DPM-Solver++ 20 steps, the toy model's
default, and DDIM 50 steps), timed; the report gives each metric per sampler and the time ratio.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from videocomposer.evaluation.evaluate import MOTION_METRICS, evaluate_run
from videocomposer.evaluation.image import first_frame_metrics
from videocomposer.files import write_text
from videocomposer.video.sampling import load_video_clip
from videocomposer.video.writer import to_uint8_frames

from .heldout import HeldOutClip, caption_hits, generate_batch, held_out_clips, text_prompts, vae_round_trip
from .settings import EVAL_NOISE_SEED, EVAL_SEED, TEXT_SEED
from .synthetic import DEFAULT_WORLD, WORLDS

DEFAULT_SAMPLERS = (("dpmsolver++", 20), ("ddim", 50))
#: The motion metrics of :func:`~videocomposer.evaluation.evaluate.evaluate_run` kept per clip, with and without motion
#: (all but the dense EPE).
MOTION_KEYS = tuple(m for m in MOTION_METRICS if m != "motion_epe_dense")


def frame_change(frames: Any) -> float:
    """Mean absolute difference between consecutive frames, in levels of 0-255 (all pixels and channels).

    ``frames``: anything :func:`~videocomposer.video.writer.to_uint8_frames` takes, at least 2 frames.
    """
    video = to_uint8_frames(frames).astype(np.float32)
    if len(video) < 2:
        raise ValueError("frame change needs at least 2 frames")
    return float(np.abs(np.diff(video, axis=0)).mean())


def reference_points(pipe, clip: HeldOutClip, loaded, seed: int = EVAL_NOISE_SEED) -> dict[str, float]:
    """Motion and flow EPE of the ``source``, ``still`` and ``vae`` videos of ``clip`` (module docstring).
    ``loaded``: the clip as sampled for the model (:func:`~videocomposer.video.sampling.load_video_clip`)."""
    source = to_uint8_frames(loaded.misc)
    videos = {
        "source": source,
        "still": np.repeat(source[:1], len(source), axis=0),
        "vae": vae_round_trip(pipe, loaded.video),
    }
    out = {}
    for name, video in videos.items():
        metrics = evaluate_run(video, source=clip.path, seed=seed).metrics
        out.update({f"{key}_{name}": metrics.get(key) for key in MOTION_KEYS})
    return out


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def _reference_report(pipe, clips: list[HeldOutClip], sampled: list, seed: int) -> dict[str, Any]:
    """The reference points of every clip (:func:`reference_points`): their means and per-clip values."""
    points: dict[str, list] = {}
    for clip, loaded in zip(clips, sampled):
        for name, value in reference_points(pipe, clip, loaded, seed).items():
            points.setdefault(name, []).append(value)
    return {"means": {m: _mean(v) for m, v in points.items()}, "per_clip": points}


def _motion_scores(
    pipe,
    clips: list[HeldOutClip],
    sampled: list,
    sampler: tuple[str, int],
    batch_size: int,
    seed: int,
    guidance_scale: float | str,
) -> tuple[dict[str, list], float]:
    """Per-clip motion, first-frame and frame-change values with and without the motion condition, and the
    seconds the sampling took (the module docstring's protocol for one sampler)."""
    scheduler, steps = sampler
    per_clip: dict[str, list] = {
        m + suffix: [] for m in (*MOTION_KEYS, "first_frame_psnr") for suffix in ("", "_no_motion")
    }
    per_clip.update(frame_change=[], source_frame_change=[])
    seconds = 0.0
    for start in range(0, len(clips), batch_size):
        group, loaded = clips[start : start + batch_size], sampled[start : start + batch_size]
        items = [{"prompt": c.caption, "video": clip, "image": clip.misc[0]} for c, clip in zip(group, loaded)]
        first_frames = [to_uint8_frames(clip.misc[:1])[0] for clip in loaded]
        for suffix, conditions in (("", ["y", "local_image", "motion"]), ("_no_motion", ["y", "local_image"])):
            videos, took = generate_batch(pipe, items, conditions, scheduler, steps, seed, guidance_scale)
            seconds += took
            for clip, video, first in zip(group, videos, first_frames):
                result = evaluate_run(video, source=clip.path, seed=seed).metrics
                for metric in MOTION_KEYS:
                    per_clip[metric + suffix].append(result.get(metric))
                per_clip["first_frame_psnr" + suffix].append(first_frame_metrics(video, first)["first_frame_psnr"])
                if not suffix:
                    per_clip["frame_change"].append(frame_change(video))
        per_clip["source_frame_change"] += [frame_change(clip.misc) for clip in loaded]
    return per_clip, seconds


def _comparison(samplers: dict[str, Any]) -> dict[str, Any]:
    """Time ratio and relative differences of the means of two samplers (the first against the second)."""
    a, b = samplers.values()
    return {
        "time_ratio": a["sampling_seconds"] / b["sampling_seconds"],
        "relative_difference": {
            m: abs(a["means"][m] - b["means"][m]) / abs(b["means"][m]) for m in a["means"] if b["means"][m]
        },
    }


def evaluate_toy_model(
    pipe,
    work_dir: str | os.PathLike,
    num_clips: int = 50,
    num_text: int | None = None,
    samplers: Sequence[tuple[str, int]] = DEFAULT_SAMPLERS,
    batch_size: int = 10,
    seed: int = EVAL_NOISE_SEED,
    guidance_scale: float | str = "default",
    world: str = DEFAULT_WORLD,
) -> dict[str, Any]:
    """Run the protocol of the module docstring on clips of ``world``; returns the report (means per sampler, per-clip
    values). ``guidance_scale``: ``"default"`` = the model's."""
    clips = held_out_clips(Path(work_dir) / "held_out", num_clips, world=world)
    prompts = text_prompts(num_text if num_text is not None else num_clips, world=world)
    size, frames = pipe.defaults["height"], pipe.defaults["num_frames"]
    report: dict[str, Any] = {
        "world": world,
        "clips": num_clips,
        "text_clips": len(prompts),
        "seed": seed,
        "eval_seed": EVAL_SEED,
        "text_seed": TEXT_SEED,
        "guidance_scale": pipe.defaults["guidance_scale"] if guidance_scale == "default" else guidance_scale,
        "min_guidance_scale": pipe.defaults["min_guidance_scale"],
        "samplers": {},
    }
    # each clip sampled once (its motion vectors re-encoded once), for the reference points and every sampler
    sampled = [load_video_clip(c.path, frames, size, pipe.misc_size or size, seed=seed, with_mask=False) for c in clips]
    report["reference_points"] = _reference_report(pipe, clips, sampled, seed)
    for sampler in samplers:
        per_clip, motion_seconds = _motion_scores(pipe, clips, sampled, sampler, batch_size, seed, guidance_scale)
        hits, text_seconds = caption_hits(pipe, prompts, sampler, batch_size, seed, guidance_scale)
        means = {m: _mean(v) for m, v in per_clip.items()}
        means["motion_epe_ratio"] = means["motion_epe"] / means["motion_epe_no_motion"]
        means["flow_epe_ratio"] = means["flow_epe"] / means["flow_epe_no_motion"]
        means["text_colour_accuracy"] = float(np.mean(hits)) if hits else math.nan
        report["samplers"][f"{sampler[0]}-{sampler[1]}"] = {
            "means": means,
            "sampling_seconds": motion_seconds + text_seconds,
            "per_clip": per_clip,
            "text_hits": hits,
        }
    if len(report["samplers"]) == 2:
        report["comparison"] = _comparison(report["samplers"])
    return report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.toy.codec_benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="toy", help="model folder (default: the built-in toy model)")
    parser.add_argument(
        "--world",
        default=DEFAULT_WORLD,
        choices=list(WORLDS),
        help=f"the synthetic world of the held-out clips (default {DEFAULT_WORLD})",
    )
    parser.add_argument("--clips", type=int, default=50, help="held-out clips (default 50)")
    parser.add_argument("--text-clips", type=int, help="held-out captions of the text test (default: --clips)")
    parser.add_argument(
        "--samplers", default="dpmsolver++:20,ddim:50", help="scheduler:steps,... (default dpmsolver++:20,ddim:50)"
    )
    parser.add_argument("--guidance-scale", type=float, help="classifier-free guidance (default: the model's)")
    parser.add_argument("--batch-size", type=int, default=10, help="videos per sampling batch (default 10)")
    parser.add_argument(
        "--work-dir", default="runs/toy_eval", help="folder for the held-out clips (default runs/toy_eval)"
    )
    parser.add_argument("--output", required=True, help="JSON report to write")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from videocomposer.pipelines.pipeline import VideoComposerPipeline
    from videocomposer.pipelines.toy_model import resolve_weights_dir

    args = build_parser().parse_args(argv)
    samplers = [(s.split(":")[0], int(s.split(":")[1])) for s in args.samplers.split(",")]
    pipe = VideoComposerPipeline.from_pretrained(resolve_weights_dir(args.model))
    pipe.set_progress_bar_config(disable=True)
    began = time.time()
    guidance = "default" if args.guidance_scale is None else args.guidance_scale
    report = evaluate_toy_model(
        pipe,
        args.work_dir,
        args.clips,
        args.text_clips,
        samplers,
        args.batch_size,
        guidance_scale=guidance,
        world=args.world,
    )
    report["seconds"] = time.time() - began
    write_text(args.output, json.dumps(report, indent=2) + "\n")
    print("reference points", json.dumps({k: round(v, 4) for k, v in report["reference_points"]["means"].items()}))
    for key, result in report["samplers"].items():
        print(
            key, json.dumps({k: round(v, 4) for k, v in result["means"].items()}), f"{result['sampling_seconds']:.1f} s"
        )
    if "comparison" in report:
        print("comparison", json.dumps(report["comparison"], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
