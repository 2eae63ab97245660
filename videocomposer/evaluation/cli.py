"""``videocomposer evaluate``: argument definitions, inputs (a video, a folder of runs, a CSV), table and JSON.

    videocomposer evaluate GENERATED.mp4 --input_video SOURCE.mp4 [--image_path FIRST.png] [--json OUT.json]
    videocomposer evaluate outputs/exp02_motion_transfer-S08888 --json eval.json   # every MP4, recorded conditions
    videocomposer evaluate runs.csv --json eval.json       # columns generated,source,caption,image
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

from .motion import ARRAY_FPS, FARNEBACK_PARAMS, MOTION_BLOCK, MOVING_SPEED

CSV_COLUMNS = ("generated", "source", "caption", "image")


@dataclass
class RunInput:
    """One row to evaluate: the generated video and (optionally) its source, caption and first-frame image."""

    generated: Path
    source: Path | None = None
    caption: str | None = None
    image: Path | None = None


def _path(value: str | None, base: Path, what: str) -> Path | None:
    if not value:
        return None
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise FileNotFoundError(f"{what}: file not found: {path}")
    return path


def read_runs_csv(path: Path) -> list[RunInput]:
    """A CSV with a header holding ``generated`` and any of ``source``, ``caption``, ``image`` (paths relative to the CSV)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if "generated" not in columns or set(columns) - set(CSV_COLUMNS):
            raise ValueError(f"{path}: the CSV header must name 'generated' and optionally {', '.join(CSV_COLUMNS[1:])}; "
                             f"got {columns}")
        runs = []
        for line, row in enumerate(reader, start=2):
            where = f"{path} line {line}"
            runs.append(RunInput(_path(row["generated"], path.parent, f"{where} 'generated'"),
                                 _path(row.get("source"), path.parent, f"{where} 'source'"),
                                 row.get("caption") or None, _path(row.get("image"), path.parent, f"{where} 'image'")))
    if not runs:
        raise ValueError(f"{path}: the CSV lists no videos")
    return runs


def collect_runs(target: str, args: argparse.Namespace) -> list[RunInput]:
    """GENERATED → runs: a CSV, a folder (every ``*.mp4`` below it) or one video; flags fill what the CSV leaves out."""
    path = Path(target)
    source = _path(args.input_video, Path.cwd(), "--input_video")
    image = _path(args.image_path, Path.cwd(), "--image_path")
    if path.is_file() and path.suffix.lower() == ".csv":
        runs = read_runs_csv(path)
    elif path.is_dir():
        runs = [RunInput(p) for p in sorted(path.rglob("*.mp4"))]
        if not runs:
            raise FileNotFoundError(f"no .mp4 files under the folder {path}")
    elif path.is_file():
        runs = [RunInput(path)]
    else:
        raise FileNotFoundError(f"GENERATED: not found: {path} (expected an .mp4, a folder of runs or a .csv)")
    for run in runs:
        run.source = run.source or source
        run.image = run.image or image
        run.caption = run.caption or args.caption
    return runs


def protocol() -> dict[str, str]:
    """What each metric is, stated in every report."""
    return {
        "motion_epe": f"codec motion vectors of the generated video (re-encoded at its own rate as the condition is: "
                      f"MPEG-4 Part 2, GOP 12, 200 kb/s; arrays at {ARRAY_FPS} fps) vs the motion condition; mean "
                      f"end-point error in source-video pixels over {MOTION_BLOCK}x{MOTION_BLOCK}-px cells where the "
                      "condition has vectors; intra-coded frames skipped",
        "motion_epe_dense": "as motion_epe over every cell (a cell without vectors = no motion)",
        "flow_epe": f"OpenCV Farneback flow {FARNEBACK_PARAMS} of consecutive generated frames vs the condition, "
                    "cells as motion_epe",
        "motion_epe_moving": f"motion_epe over the cells where the condition moves (its cell vector >= {MOVING_SPEED} "
                             "source px per frame)",
        "motion_epe_static": "motion_epe over the other cells (where any generated vector is an error)",
        "motion_cosine_moving": "mean cosine of the generated codec vector and the condition's over the moving cells "
                                "(1: same direction; 0 where the generated cell does not move)",
        "flow_cosine_moving": "as motion_cosine_moving with the Farneback flow",
        "motion_gain_moving": "mean over the moving cells of <generated, condition> / |condition|^2: the generated "
                              "speed along the condition's direction as a fraction of its speed (1: the condition's; "
                              "0: none; negative: backwards)",
        "flow_gain_moving": "as motion_gain_moving with the Farneback flow",
        "first_frame_psnr": "PSNR (dB, 8-bit RGB) of generated frame 0 vs the first-frame image (CenterCropV2 to the "
                            "frame size); identical = 100 (capped)",
        "first_frame_ssim": "SSIM (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03), mean over RGB channels",
        "clip_frame_consistency": "mean cosine of consecutive frames' CLIP image embeddings (open_clip validation "
                                  "transform, 224 px)",
        "clipsim": "mean cosine of the caption's CLIP text embedding and each frame's image embedding (not x100)",
        "depth_si_log": "scale-invariant log error (Eigen 2014) of MiDaS depth of the generated frames (bicubic to the "
                        "condition size) vs the depth condition, pixels with depth > 1e-3",
        "sketch_mae": "mean absolute difference of the PiDiNet + cleaner sketch of the generated frames vs the sketch "
                      "condition (values in [0, 1])",
    }


def _format(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "inf" if math.isinf(value) else f"{value:.4f}"


def print_table(rows: list[tuple[str, dict[str, float]]], metrics: list[str], out=None) -> None:
    """A plain-text table: one line per run (and a mean line for several), one column per metric."""
    out = out or sys.stdout
    names = [name for name, _ in rows]
    width = max([len("run")] + [len(n) for n in names])
    cols = [max(len(m), 8) for m in metrics]
    print("  ".join(["run".ljust(width)] + [m.rjust(c) for m, c in zip(metrics, cols)]), file=out)
    for name, values in rows:
        print("  ".join([name.ljust(width)] + [_format(values.get(m)).rjust(c) for m, c in zip(metrics, cols)]), file=out)


def _mean(values: list[float]) -> float:
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


#: Model files by component: the flag that gives one, and the official file name inside --weights-dir.
_MODEL_FLAGS = {"clip": "clip_weights", "midas": "midas_weights", "pidinet": "pidinet_weights",
                "sketch_cleaner": "sketch_cleaner_weights"}


def load_models(args: argparse.Namespace):
    """The models whose weights are given (a file flag, else the official file in --weights-dir if present)."""
    from ..checkpoints import OFFICIAL_FILES
    from ..config import read_model_config
    from ..pipelines.components import load_official_component
    from .evaluate import EvaluationModels

    config = read_model_config(args.model_config) or {}
    loaded = {}
    for name, flag in _MODEL_FLAGS.items():
        path = getattr(args, flag)
        if path is None and args.weights_dir:
            candidate = Path(args.weights_dir) / OFFICIAL_FILES[name].filename
            path = candidate if candidate.is_file() else None
        elif path is not None and not Path(path).is_file():
            raise FileNotFoundError(f"--{flag.replace('_', '-')}: file not found: {path}")
        if path is not None:
            module = load_official_component(name, Path(path), config.get(name), towers=("text", "image"))
            loaded[name] = module.to(args.device).eval().requires_grad_(False)
    if "clip" in loaded:
        from ..models.tokenizer import CLIPTokenizer

        loaded["tokenizer"] = CLIPTokenizer()
    return EvaluationModels(**loaded)


def _fvd(args: argparse.Namespace, generated: list[Path], references: list) -> dict:
    """FVD of the generated set against --fvd-reference videos (else the source clips); keys fvd, fvd_protocol."""
    from .fvd import FeatureCache, fvd, load_i3d

    extractor = load_i3d(args.i3d, args.device)
    cache = FeatureCache(args.fvd_cache) if args.fvd_cache else None
    frames = args.fvd_frames
    return {"fvd": fvd(references, generated, extractor, frames, cache),
            "fvd_protocol": extractor.protocol(frames) + f"; {len(references)} reference vs {len(generated)} generated videos"}


def _fvd_references(args: argparse.Namespace, runs: list[RunInput]) -> list:
    """--fvd-reference (a folder of videos), else the source clip of every run (generate's sampling, uint8 frames)."""
    if args.fvd_reference:
        folder = Path(args.fvd_reference)
        videos = sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mp4", ".avi", ".mov", ".mkv", ".webm"))
        if not videos:
            raise FileNotFoundError(f"--fvd-reference: no videos under {folder}")
        return videos
    from ..evaluation.frames import read_video_frames
    from ..video.sampling import load_video_clip
    from .evaluate import DEFAULT_SEED
    from .records import find_record

    clips = []
    for run in runs:
        record = find_record(run.generated)
        source = run.source or (record.metadata.get("source_video") if record else None)
        if not source:
            raise ValueError(f"FVD: no reference for {run.generated}; give --input_video, a CSV source column or "
                             "--fvd-reference FOLDER")
        frames = read_video_frames(run.generated)
        seed = args.seed if args.seed is not None else int(record.metadata.get("seed", DEFAULT_SEED)) if record else DEFAULT_SEED
        clip = load_video_clip(source, num_frames=len(frames), resolution=frames.shape[1], seed=seed, with_mask=False)
        clips.append(((clip.video.permute(0, 2, 3, 1) + 1) * 127.5).round().clamp(0, 255).byte().numpy())
    return clips


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..files import write_text
    from .evaluate import ENABLE, RUN_METRICS, EvaluationModels, evaluate_run, json_number

    wanted = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
    unknown = [m for m in wanted or [] if m not in (*RUN_METRICS, "fvd")]
    if unknown:
        raise ValueError(f"--metrics: unknown {unknown}; choose from {', '.join((*RUN_METRICS, 'fvd'))}")
    if wanted and "fvd" in wanted and not args.i3d:
        raise ValueError("--metrics fvd needs --i3d FILE (i3d_pretrained_400.pt or i3d_torchscript.pt; see the README)")
    runs = collect_runs(args.generated, args)
    out_json = Path(args.json) if args.json else None
    if out_json is not None and out_json.exists() and not args.overwrite:
        raise FileExistsError(f"--json {out_json} exists; choose another name or pass --overwrite")
    models = load_models(args) if any(getattr(args, f) for f in _MODEL_FLAGS.values()) or args.weights_dir else EvaluationModels()
    results = []
    for item in tqdm(runs, desc="evaluate", unit="video", disable=args.quiet or len(runs) < 2):
        results.append(evaluate_run(item.generated, source=item.source, image=item.image, caption=item.caption,
                                    seed=args.seed, resample=args.resample, block=args.block, models=models))
    metrics = [m for m in RUN_METRICS if any(m in r.metrics for r in results) and (wanted is None or m in wanted)]
    missing = [m for m in wanted or [] if m != "fvd" and m not in metrics]
    if missing:
        raise ValueError("; ".join(f"--metrics {m} cannot be computed: it needs {ENABLE[m]}" for m in missing))
    means = {m: _mean([r.metrics.get(m, math.nan) for r in results]) for m in metrics}
    skipped = {m: how for r in results for m, how in r.skipped.items() if m not in metrics and (wanted is None or m in wanted)}
    set_metrics: dict = {}
    if args.i3d and (wanted is None or "fvd" in wanted):
        set_metrics = _fvd(args, [r.generated for r in runs], _fvd_references(args, runs))
    elif wanted is None:
        skipped["fvd"] = "--i3d i3d_pretrained_400.pt or i3d_torchscript.pt, and 2 or more videos"
    names = [Path(r.generated).name for r in results]
    names = names if len(set(names)) == len(names) else [r.generated for r in results]
    rows = list(zip(names, [r.metrics for r in results]))
    rows += [("mean", means)] if len(results) > 1 else []
    print_table(rows, metrics)
    if set_metrics:
        print(f"fvd {set_metrics['fvd']:.4f}  ({set_metrics['fvd_protocol']})")
    for name, how in skipped.items():
        print(f"skipped {name}: needs {how}")
    report = {
        **{m: json_number(v) for m, v in means.items()},
        **({"fvd": json_number(set_metrics["fvd"]), "fvd_protocol": set_metrics["fvd_protocol"]} if set_metrics else {}),
        "num_videos": len(results),
        "skipped": skipped,
        "protocol": {m: d for m, d in protocol().items() if m in metrics},
        "runs": [{"generated": r.generated, **{m: json_number(v) for m, v in r.metrics.items()},
                  "per_frame": {m: [json_number(v) for v in vs] for m, vs in r.per_frame.items()},
                  "skipped": r.skipped, "notes": r.notes} for r in results],
    }
    if out_json is not None:
        write_text(out_json, json.dumps(report, indent=2) + "\n")
        print(out_json)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="measure how well generated videos follow their conditions (motion, first frame, ...)",
        description="Measure how well generated videos follow their conditions.\n\n"
                    "  videocomposer evaluate GENERATED.mp4 --input_video SOURCE.mp4 [--image_path FIRST.png] [--json OUT]\n"
                    "  videocomposer evaluate OUTPUT_FOLDER --json eval.json   # every MP4 below it\n"
                    "  videocomposer evaluate runs.csv --json eval.json        # columns generated,source,caption,image\n"
                    "\nConditions come from <run>_conditions.safetensors beside the MP4 (generate "
                    "--save-conditions) when it is there, else are re-extracted from --input_video with generate's "
                    "clip sampling (--seed). Metrics whose inputs or weights are missing are listed as skipped.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("generated", metavar="GENERATED", help="a generated .mp4, a folder of runs, or a .csv with columns "
                        "generated,source,caption,image")
    parser.add_argument("--input_video", "--input-video", help="the source video of the motion condition")
    parser.add_argument("--image_path", "--image-path", help="the first-frame image (local_image)")
    parser.add_argument("--caption", help="the prompt (for the text metrics)")
    parser.add_argument("--seed", type=int, help="generate's seed, to sample the same clip when re-extracting "
                        "(default: the record's, else 8888 as generate)")
    parser.add_argument("--resample", action="store_true", help="resample a generated video whose frame count or size "
                        "differs from the conditions' (nearest frames, area resize) instead of failing")
    parser.add_argument("--block", type=int, default=MOTION_BLOCK, help=f"motion cell side in pixels (default {MOTION_BLOCK})")
    parser.add_argument("--metrics", help="comma-separated metrics to compute (default: every one whose inputs are "
                        "given); a listed metric that cannot be computed is an error")
    models = parser.add_argument_group("model weights (metrics without theirs are skipped)")
    models.add_argument("--weights-dir", help="folder of the official files: uses open_clip_pytorch_model.bin, "
                        "midas_v3_dpt_large.pth, table5_pidinet.pth, sketch_simplification_gan.pth where present")
    models.add_argument("--clip-weights", metavar="FILE", help="open_clip-layout file (CLIP frame consistency, CLIPSIM)")
    models.add_argument("--midas-weights", metavar="FILE", help="MiDaS file (depth_si_log)")
    models.add_argument("--pidinet-weights", metavar="FILE", help="PiDiNet file (sketch_mae)")
    models.add_argument("--sketch-cleaner-weights", metavar="FILE", help="sketch cleaner file (sketch_mae)")
    models.add_argument("--model-config", metavar="FILE", help="architectures of non-official weights (as generate)")
    models.add_argument("--i3d", metavar="FILE", help="I3D for FVD: i3d_pretrained_400.pt (pytorch-i3d state dict) or "
                        "i3d_torchscript.pt (StyleGAN-V); numbers of the two are not comparable")
    models.add_argument("--fvd-reference", metavar="FOLDER", help="real videos for FVD (default: the runs' source clips)")
    models.add_argument("--fvd-frames", type=int, help="frames per video for FVD (default: all; the same count per set)")
    models.add_argument("--fvd-cache", metavar="DIR", help="cache I3D features of file sets here")
    models.add_argument("--device", default="cpu", help="device of the models (default cpu)")
    parser.add_argument("--json", metavar="OUT", help="write the report (means, per run, per frame, protocol) here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
