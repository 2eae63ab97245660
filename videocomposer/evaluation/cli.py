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

from .motion import ARRAY_FPS, FARNEBACK_PARAMS, MOTION_BLOCK

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
        "first_frame_psnr": "PSNR (dB, 8-bit RGB) of generated frame 0 vs the first-frame image (CenterCropV2 to the "
                            "frame size); identical = 100 (capped)",
        "first_frame_ssim": "SSIM (Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03), mean over RGB channels",
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


def run(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from ..video.writer import write_text
    from .evaluate import evaluate_run, json_number

    runs = collect_runs(args.generated, args)
    out_json = Path(args.json) if args.json else None
    if out_json is not None and out_json.exists() and not args.overwrite:
        raise FileExistsError(f"--json {out_json} exists; choose another name or pass --overwrite")
    results = []
    for item in tqdm(runs, desc="evaluate", unit="video", disable=args.quiet or len(runs) < 2):
        results.append(evaluate_run(item.generated, source=item.source, image=item.image, seed=args.seed,
                                    resample=args.resample, block=args.block))
    metrics = [m for m in protocol() if any(m in r.metrics for r in results)]
    means = {m: _mean([r.metrics.get(m, math.nan) for r in results]) for m in metrics}
    skipped = {m: how for r in results for m, how in r.skipped.items() if m not in metrics}
    names = [Path(r.generated).name for r in results]
    names = names if len(set(names)) == len(names) else [r.generated for r in results]
    rows = list(zip(names, [r.metrics for r in results]))
    rows += [("mean", means)] if len(results) > 1 else []
    print_table(rows, metrics)
    for name, how in skipped.items():
        print(f"skipped {name}: needs {how}")
    report = {
        **{m: json_number(v) for m, v in means.items()},
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
        description=__doc__ + "\nConditions come from <run>_conditions.safetensors beside the MP4 (generate "
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
    parser.add_argument("--json", metavar="OUT", help="write the report (means, per run, per frame, protocol) here")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
