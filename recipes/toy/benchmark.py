"""Held-out benchmark of the built-in toy model from ground truth: does the new object follow the clip, the stroke,
keep its shape and colour?

::

    python -m recipes.toy.benchmark --clips 50 --strokes 20 --output runs/toy_tracks.json
    python -m recipes.toy.benchmark --clips 6 --strokes 4 --text-clips 6 --output quick.json   # a quick look

Every input comes from seeds never used in training (:mod:`recipes.toy.settings`), in the world of
``--world`` (:mod:`recipes.toy.synthetic`; world v2 clips have a short side of ``--min-side`` px or more).
Every video is scored by :mod:`videocomposer.evaluation.tracks` against the clip's truth file, in the model's
view (frames matched through the clip sampling, :func:`~videocomposer.evaluation.truth.sampled_truth_frames`).

**Motion transfer** (``--clips``, :data:`~recipes.toy.settings.EVAL_SEED`): the source clip, a first frame
showing its first object in **another shape and colour** at the same place (:func:`new_look`), and the caption
of that new scene, generated with the motion condition (``y, local_image, motion``), without it (``y,
local_image``) and, as the floor, the source clip encoded and decoded by the model's VAE (``_vae``, scored
against the source's own first frame and caption). Per run: ``track_error`` (fraction of the side; the
truth's displacement against the generated object's), ``track_found``, ``shape_iou``, ``first_frame_psnr``
(dB, against the given first frame), ``caption_colour_match``.

**Drawn strokes** (``--strokes``, :data:`~recipes.toy.settings.STROKE_SEED`): a one-object first frame of the
world and a straight stroke from the object's centre (:class:`~videocomposer.video.trajectory.Trajectory`; directions
cycling through the eight compass points, 20-40 % of the short side, staying inside the frame), captioned
with the stroke's direction; generated with the stroke as the motion condition and without it (``_no_stroke``).
``stroke_gain``: the object's displacement along the stroke over the stroke's length; ``stroke_cosine``.

**Text** (``--text-clips``, :data:`~recipes.toy.settings.TEXT_SEED`): one-object captions alone (``y``);
``text_colour_accuracy`` is the share whose caption colour is the video's dominant object colour.

``means`` holds the mean of every value and ``track_ratio`` (with / without motion) and ``track_vs_vae``
(with motion / the VAE floor).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from videocomposer.evaluation.colours import COLOUR_NAMES, colour_name, delta_e
from videocomposer.evaluation.image import first_frame_metrics
from videocomposer.evaluation.tracks import background_mixes, follow_object, stroke_following, truth_metrics
from videocomposer.evaluation.truth import ClipTruth, model_view, read_truth, sampled_truth_frames, truth_path
from videocomposer.files import write_text
from videocomposer.video.sampling import load_video_clip
from videocomposer.video.trajectory import Stroke, Trajectory

from . import synthetic, world, world_v1
from .heldout import HeldOutClip, caption_hits, generate_batch, held_out_clips, text_prompts, vae_round_trip
from .paths import direction_words
from .settings import EVAL_NOISE_SEED, EVAL_SEED, SCHEDULER, STROKE_SEED, TEXT_SEED

#: Least short side (px) of the world-v2 held-out clips: sources as users film them, larger than the training scale.
MIN_SIDE = 256
#: Stroke length range (fractions of the short side).
STROKE_LENGTH = (0.2, 0.4)


def new_look(spec: synthetic.ClipSpec, seed: int = 0) -> synthetic.ClipSpec:
    """The same scene with its first object in another shape and another colour name (one that stands out from the
    background and the other objects as the world's colours do); same size and path."""
    rng = np.random.default_rng([spec.seed, spec.index, seed, 7])
    if isinstance(spec, world_v1.ClipSpec):
        used = {s.colour for s in spec.shapes}
        shape = spec.shapes[0]
        colour = str(rng.choice([c for c in world_v1.OBJECT_COLOURS if c not in used]))
        new = dataclasses.replace(
            shape, colour=colour, shape=str(rng.choice([s for s in world_v1.SHAPES if s != shape.shape]))
        )
        return dataclasses.replace(spec, shapes=(new, *spec.shapes[1:]))
    mixes = background_mixes(spec.background.colours)
    taken = {colour_name(m) for m in mixes} | {o.colour_name for o in spec.objects}
    for _ in range(200):
        rgb = world.sample_colour(rng, str(rng.choice([n for n in COLOUR_NAMES if n not in taken])))
        if delta_e(mixes, rgb).min() >= world.BACKGROUND_CONTRAST and all(
            delta_e(o.colour, rgb) >= world.OBJECT_CONTRAST for o in spec.objects[1:]
        ):
            break
    first = spec.objects[0]
    shape = str(rng.choice([s for s in world.SHAPES if s != first.shape]))
    return dataclasses.replace(spec, objects=(dataclasses.replace(first, shape=shape, colour=rgb), *spec.objects[1:]))


def first_frame(spec: synthetic.ClipSpec, frame: int) -> Image.Image:
    """Written frame ``frame`` of a clip, full size, as the image a user would give."""
    if isinstance(spec, world_v1.ClipSpec):
        return Image.fromarray(world_v1.render_clip(spec)[frame])
    return Image.fromarray(world.render_clip(spec, frames=[frame])[0])


@dataclass
class Source:
    """A held-out clip as the benchmark uses it: the clip, its truth, its sampled frames (``loaded``, at the model's
    size), the written frames behind them, and the new scene's first frame and caption."""

    clip: HeldOutClip
    truth: ClipTruth
    loaded: Any
    truth_frames: np.ndarray
    new_first: Image.Image
    new_caption: str


def prepare_sources(pipe, clips: list[HeldOutClip], seed: int) -> list[Source]:
    """Sample every clip once as generate does (same seed), and make its new first frame (:func:`new_look`)."""
    size, frames = pipe.defaults["height"], pipe.defaults["num_frames"]
    sources = []
    for clip in clips:
        loaded = load_video_clip(clip.path, frames, size, pipe.misc_size or size, seed=seed, with_mask=False)
        truth = read_truth(truth_path(clip.path))
        indices = sampled_truth_frames(loaded.frame_indices.tolist(), loaded.fps, truth.fps)
        variant = new_look(clip.spec)
        sources.append(Source(clip, truth, loaded, indices, first_frame(variant, int(indices[0])), variant.caption))
    return sources


def _scores(video: np.ndarray, source: Source, first: Image.Image, caption: str) -> dict[str, float]:
    reference = np.asarray(first)
    scores = truth_metrics(video, source.truth, source.truth_frames, reference=reference, caption=caption)
    scores["first_frame_psnr"] = first_frame_metrics(video, reference)["first_frame_psnr"]
    return scores


def transfer_scores(
    pipe, sources: list[Source], batch_size: int, seed: int, motion_options: dict[str, Any] | None = None
) -> dict[str, list]:
    """Per-clip scores with the motion condition (sampled with ``motion_options``: ``guidance_scale``, ``noise_warp``),
    without it (``_no_motion``) and of the VAE round trip (``_vae``)."""
    per_clip: dict[str, list] = {}
    runs = (("", ["y", "local_image", "motion"]), ("_no_motion", ["y", "local_image"]))
    for start in range(0, len(sources), batch_size):
        group = sources[start : start + batch_size]
        for suffix, conditions in runs:
            items = [
                {"prompt": s.new_caption, "image": s.new_first, **({"video": str(s.clip.path)} if suffix == "" else {})}
                for s in group
            ]
            options = (motion_options or {}) if suffix == "" else {}
            steps = pipe.defaults["num_inference_steps"]
            videos, _ = generate_batch(pipe, items, conditions, SCHEDULER, steps, seed, **options)
            for source, video in zip(group, videos):
                for key, value in _scores(video, source, source.new_first, source.new_caption).items():
                    per_clip.setdefault(key + suffix, []).append(value)
    for source in sources:
        floor = _scores(
            vae_round_trip(pipe, source.loaded.video),
            source,
            first_frame(source.clip.spec, int(source.truth_frames[0])),
            source.clip.caption,
        )
        for key, value in floor.items():
            per_clip.setdefault(key + "_vae", []).append(value)
    return per_clip


@dataclass
class StrokeCase:
    """A drawn stroke on a one-object first frame: the scene, its truth, the stroke and the caption."""

    spec: synthetic.ClipSpec
    truth: ClipTruth
    trajectory: Trajectory
    caption: str


def _stroke_end(truth: ClipTruth, angle: float) -> tuple[np.ndarray, np.ndarray] | None:
    """From the object's place in frame 0, the end of a stroke at ``angle`` (radians, 0 = right, counter-clockwise)
    of :data:`STROKE_LENGTH` that keeps the object inside the centre square; None when it has not room enough."""
    obj, side = truth.objects[0], min(truth.width, truth.height)
    start = obj.position[0]
    direction = np.array([math.cos(angle), -math.sin(angle)])
    corner = np.array([(truth.width - side) / 2, (truth.height - side) / 2])
    margin = np.abs(obj.outline).max() + 2
    low, high = corner + margin, corner + side - margin
    room = min(
        (high[a] - start[a]) / d if d > 0 else (low[a] - start[a]) / d for a, d in enumerate(direction) if abs(d) > 1e-9
    )
    length = min(STROKE_LENGTH[1] * side, room)
    return (start, start + length * direction) if length >= STROKE_LENGTH[0] * side else None


def stroke_cases(
    count: int,
    seed: int = STROKE_SEED,
    world_name: str = synthetic.DEFAULT_WORLD,
    min_side: int = MIN_SIDE,
    source_size: int | None = None,
) -> list[StrokeCase]:
    """``count`` strokes on one-object first frames of ``world_name``, directions cycling through the compass points;
    each caption names the object as its clip's does, with the stroke's direction."""
    options = {"max_objects": 1, "min_side": min_side} if world_name == "v2" else {"max_shapes": 1}
    cases, index = [], 0
    while len(cases) < count:
        spec = synthetic.sample_clip_spec(seed, index, world_name, **options)
        truth = synthetic.clip_truth(spec, f"{seed}_{index}")
        index += 1
        ends = _stroke_end(truth, (len(cases) % 8) * math.pi / 4)
        if ends is None:
            continue
        start, end = ends
        subject, background = " ".join(spec.caption.split()[:3]), spec.caption.split(" over ")[-1]
        stroke = Stroke((tuple(start), tuple(end)), radius=float(np.abs(truth.objects[0].outline).max()))
        cases.append(
            StrokeCase(
                spec,
                truth,
                Trajectory(truth.width, truth.height, (stroke,), source_size),
                f"{subject} moves {direction_words(*(end - start))} over {background}",
            )
        )
    return cases


def stroke_scores(
    pipe, cases: list[StrokeCase], batch_size: int, seed: int, motion_options: dict[str, Any] | None = None
) -> dict[str, list]:
    """Per-stroke gain and cosine with the stroke (sampled with ``motion_options``) and without it (``_no_stroke``)."""
    per_stroke: dict[str, list] = {}
    for start in range(0, len(cases), batch_size):
        group = cases[start : start + batch_size]
        images = [first_frame(c.spec, 0) for c in group]
        for suffix, conditions in (("", ["y", "local_image", "motion"]), ("_no_stroke", ["y", "local_image"])):
            items = [
                {"prompt": c.caption, "image": image, **({"motion": c.trajectory} if suffix == "" else {})}
                for c, image in zip(group, images)
            ]
            options = (motion_options or {}) if suffix == "" else {}
            steps = pipe.defaults["num_inference_steps"]
            videos, _ = generate_batch(pipe, items, conditions, SCHEDULER, steps, seed, **options)
            for case, image, video in zip(group, images, videos):
                track, _, _ = follow_object(video, case.truth, 0, reference=np.asarray(image))
                view = model_view(case.truth.width, case.truth.height, video.shape[1])
                points = view.points(np.array(case.trajectory.strokes[0].points))
                gain, cosine = stroke_following(track.centroids, points[0], points[-1])
                per_stroke.setdefault("stroke_gain" + suffix, []).append(gain)
                per_stroke.setdefault("stroke_cosine" + suffix, []).append(cosine)
        per_stroke.setdefault("direction", []).extend(
            direction_words(*np.subtract(c.trajectory.strokes[0].points[-1], c.trajectory.strokes[0].points[0]))
            for c in group
        )
    return per_stroke


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.nan


def summarise(per_clip: dict[str, list], per_stroke: dict[str, list], hits: list[bool]) -> dict[str, float]:
    """The means of every score, the track ratios and the text accuracy (module docstring)."""
    means = {k: _mean(v) for k, v in {**per_clip, **per_stroke}.items() if k != "direction"}
    if per_clip:
        means["track_ratio"] = means["track_error"] / means["track_error_no_motion"]
        means["track_vs_vae"] = means["track_error"] / means["track_error_vae"]
    means["text_colour_accuracy"] = float(np.mean(hits)) if hits else math.nan
    return means


def run_benchmark(
    pipe,
    work_dir: str | os.PathLike,
    num_clips: int = 50,
    num_strokes: int = 20,
    num_text: int | None = None,
    world_name: str = synthetic.DEFAULT_WORLD,
    min_side: int = MIN_SIDE,
    batch_size: int = 10,
    seed: int = EVAL_NOISE_SEED,
    stroke_source_size: int | None = None,
    motion_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The protocol of the module docstring with the model's default sampler; returns the report. ``motion_options``
    (``guidance_scale``, ``noise_warp``): how the runs with motion are sampled (default: the model's defaults)."""
    options = {"min_side": min_side} if world_name == "v2" else {}
    clips = held_out_clips(Path(work_dir) / "held_out", num_clips, EVAL_SEED, world_name, **options)
    began = time.time()
    sources = prepare_sources(pipe, clips, seed)
    per_clip = transfer_scores(pipe, sources, batch_size, seed, motion_options) if clips else {}
    cases = stroke_cases(num_strokes, STROKE_SEED, world_name, min_side, stroke_source_size)
    per_stroke = stroke_scores(pipe, cases, batch_size, seed, motion_options) if cases else {}
    prompts = text_prompts(num_clips if num_text is None else num_text, TEXT_SEED, world_name)
    hits = caption_hits(pipe, prompts, (SCHEDULER, pipe.defaults["num_inference_steps"]), batch_size, seed)[0]
    return {
        "world": world_name,
        "clips": num_clips,
        "strokes": num_strokes,
        "text_clips": len(prompts),
        "min_side": min_side if world_name == "v2" else None,
        "eval_seed": EVAL_SEED,
        "stroke_seed": STROKE_SEED,
        "text_seed": TEXT_SEED,
        "seed": seed,
        "sampler": f"{SCHEDULER}-{pipe.defaults['num_inference_steps']}",
        "stroke_source_size": stroke_source_size,
        "motion_options": motion_options or {},
        "seconds": round(time.time() - began, 1),
        "means": summarise(per_clip, per_stroke, hits),
        "per_clip": per_clip,
        "per_stroke": per_stroke,
        "text_hits": hits,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.toy.benchmark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--model", default="toy", help="model folder (default: the built-in toy model)")
    parser.add_argument(
        "--world",
        default=synthetic.DEFAULT_WORLD,
        choices=list(synthetic.WORLDS),
        help=f"the synthetic world of the held-out inputs (default {synthetic.DEFAULT_WORLD})",
    )
    parser.add_argument("--clips", type=int, default=50, help="held-out clips for motion transfer (default 50)")
    parser.add_argument("--strokes", type=int, default=20, help="drawn strokes (default 20)")
    parser.add_argument("--text-clips", type=int, help="held-out captions of the text test (default: --clips)")
    parser.add_argument(
        "--min-side", type=int, default=MIN_SIDE, help=f"least short side of world-v2 sources (default {MIN_SIDE})"
    )
    parser.add_argument("--stroke-source-size", type=int, help="the strokes' source_size (default: the model's)")
    parser.add_argument(
        "--guidance-scale", help="guidance of the runs with motion, e.g. 'y=3,motion=2' (default: the model's)"
    )
    parser.add_argument(
        "--noise-warp",
        type=float,
        help="flow-warped initial noise of the runs with motion, γ in [0, 1] (default: none)",
    )
    parser.add_argument("--batch-size", type=int, default=10, help="videos per sampling batch (default 10)")
    parser.add_argument("--work-dir", default="runs/toy_tracks", help="folder for the held-out clips")
    parser.add_argument("--output", required=True, help="JSON report to write")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from videocomposer.cli.generate import parse_guidance_scale
    from videocomposer.pipelines.pipeline import VideoComposerPipeline
    from videocomposer.pipelines.toy_model import resolve_weights_dir

    args = build_parser().parse_args(argv)
    for flag, value in (("--clips", args.clips), ("--strokes", args.strokes), ("--text-clips", args.text_clips or 0)):
        if value < 0:
            raise SystemExit(f"{flag} must be 0 or more, got {value}")
    options: dict[str, Any] = {} if args.noise_warp is None else {"noise_warp": args.noise_warp}
    if args.guidance_scale is not None:
        options["guidance_scale"] = parse_guidance_scale(args.guidance_scale)
    pipe = VideoComposerPipeline.from_pretrained(resolve_weights_dir(args.model))
    pipe.set_progress_bar_config(disable=True)
    report = run_benchmark(
        pipe,
        args.work_dir,
        args.clips,
        args.strokes,
        args.text_clips,
        args.world,
        args.min_side,
        args.batch_size,
        stroke_source_size=args.stroke_source_size,
        motion_options=options,
    )
    write_text(args.output, json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: round(v, 4) for k, v in report["means"].items()}, indent=1))
    print(f"{report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
