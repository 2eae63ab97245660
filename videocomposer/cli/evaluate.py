"""``videocomposer evaluate``: the command line of an :class:`~videocomposer.app.EvaluateRequest`, and its table."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import TextIO

from .options import request_from

#: Each request field as this command spells it.
SPELLING = {
    "generated": "GENERATED",
    "video": "--input_video",
    "image": "--image_path",
    "caption": "--caption",
    "truth": "--truth",
    "trajectory": "--trajectory",
    "seed": "--seed",
    "resample": "--resample",
    "block": "--block",
    "metrics": "--metrics",
    "weights_dir": "--weights-dir",
    "clip_weights": "--clip-weights",
    "midas_weights": "--midas-weights",
    "pidinet_weights": "--pidinet-weights",
    "sketch_cleaner_weights": "--sketch-cleaner-weights",
    "model_config": "--model-config",
    "i3d": "--i3d",
    "fvd_reference": "--fvd-reference",
    "fvd_frames": "--fvd-frames",
    "fvd_cache": "--fvd-cache",
    "device": "--device",
    "json_path": "--json",
    "overwrite": "--overwrite",
    "progress": "--quiet",
}

DESCRIPTION = """\
Measure how well generated videos follow their conditions.

  videocomposer evaluate GENERATED.mp4 --input_video SOURCE.mp4 [--image_path FIRST.png] [--json OUT]
  videocomposer evaluate OUTPUT_FOLDER --json eval.json   # every MP4 below it, with its run's recorded inputs
  videocomposer evaluate runs.csv --json eval.json        # columns generated,source,caption,image,truth,trajectory
  videocomposer evaluate GENERATED.mp4 --truth CLIP.truth.json --image_path FIRST.png   # against ground truth
  videocomposer evaluate GENERATED.mp4 --trajectory STROKES.json --image_path FIRST.png  # drawn strokes followed

A video in a generate run's folder is compared with the inputs that run recorded (settings.txt, config.yaml:
--input_video, --image_path, --trajectory, the prompt and the seed) where the flags leave them out. Conditions
come from <run>_conditions.safetensors beside the MP4 (generate --save-conditions) when it is there, else are
re-extracted from --input_video with generate's clip sampling (--seed). With --truth (the source clip's ground
truth, <clip>.truth.json) the object's track error, shape IoU and caption colour are measured too; with
--trajectory, per stroke, how far and in which direction the object under its start moved along it. Metrics
whose inputs or weights are missing are listed as skipped, with the flag that enables them; a metric that is
undefined for a video (null in the JSON) is listed with the reason. A video for which no metric could be
computed is listed as not evaluated, with the reason; when that is every video the exit code is 2.
"""


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    models = parser.add_argument_group("model weights (metrics without theirs are skipped)")
    models.add_argument(
        "--weights-dir",
        help="folder of the official files: uses open_clip_pytorch_model.bin, "
        "midas_v3_dpt_large.pth, table5_pidinet.pth, sketch_simplification_gan.pth where present",
    )
    models.add_argument(
        "--clip-weights", metavar="FILE", help="open_clip-layout file (CLIP frame consistency, CLIPSIM)"
    )
    models.add_argument("--midas-weights", metavar="FILE", help="MiDaS file (depth_si_log)")
    models.add_argument("--pidinet-weights", metavar="FILE", help="PiDiNet file (sketch_mae)")
    models.add_argument("--sketch-cleaner-weights", metavar="FILE", help="sketch cleaner file (sketch_mae)")
    models.add_argument("--model-config", metavar="FILE", help="architectures of non-official weights (as generate)")
    models.add_argument(
        "--i3d",
        metavar="FILE",
        help="I3D for FVD: i3d_pretrained_400.pt (pytorch-i3d state dict) or "
        "i3d_torchscript.pt (StyleGAN-V); numbers of the two are not comparable",
    )
    models.add_argument(
        "--fvd-reference", metavar="FOLDER", help="real videos for FVD (default: the runs' source clips)"
    )
    models.add_argument(
        "--fvd-frames", type=int, help="frames per video for FVD (default: all; the same count per set)"
    )
    models.add_argument("--fvd-cache", metavar="DIR", help="cache I3D features of file sets here")
    models.add_argument("--device", default="cpu", help="device of the models (default cpu)")


def _add_reference_arguments(parser: argparse.ArgumentParser) -> None:
    """What a generated video is compared with besides its source and first frame: caption, truth, strokes."""
    parser.add_argument("--caption", help="the prompt (for the text metrics)")
    parser.add_argument(
        "--truth",
        metavar="FILE",
        help="the source clip's truth file (<clip>.truth.json: where each "
        "object is in every frame); adds track_error, track_found, shape_iou, caption_colour_match; "
        "its clip is the source video unless --input_video is given",
    )
    parser.add_argument(
        "--trajectory",
        metavar="FILE",
        help="the strokes given to generate --trajectory (its JSON); adds stroke_gain, stroke_cosine and "
        "stroke_path_error, and per stroke in the report: the object under each stroke's start is tracked by "
        "colour (read in --image_path, else in generated frame 0)",
    )


def configure(parser: argparse.ArgumentParser, argv: Sequence[str]) -> None:
    from ..evaluation.motion import MOTION_BLOCK

    parser.description = DESCRIPTION
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "generated",
        metavar="GENERATED",
        help="a generated .mp4, a folder of runs (every .mp4 below it, each with its run's recorded inputs), or a "
        ".csv with columns generated,source,caption,image,truth,trajectory",
    )
    parser.add_argument(
        "--input_video",
        "--input-video",
        dest="video",
        metavar="INPUT_VIDEO",
        help="the source video of the motion condition",
    )
    parser.add_argument(
        "--image_path", "--image-path", dest="image", metavar="IMAGE_PATH", help="the first-frame image (local_image)"
    )
    _add_reference_arguments(parser)
    parser.add_argument(
        "--seed",
        type=int,
        help="generate's seed, to sample the same clip when re-extracting "
        "(default: the run's recorded one, else 8888 as generate)",
    )
    parser.add_argument(
        "--resample",
        action="store_true",
        help="resample a generated video whose frame count or size "
        "differs from the conditions' (nearest frames, area resize) instead of failing",
    )
    parser.add_argument(
        "--block", type=int, default=MOTION_BLOCK, help=f"motion cell side in pixels (default {MOTION_BLOCK})"
    )
    parser.add_argument(
        "--metrics",
        help="comma-separated metrics to compute (default: every one whose inputs are "
        "given); a listed metric that cannot be computed is an error",
    )
    _add_model_arguments(parser)
    parser.add_argument(
        "--json", dest="json_path", metavar="OUT", help="write the report (means, per run, per frame, protocol) here"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _format(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return "inf" if math.isinf(value) else f"{value:.4f}"


def print_table(rows: list[tuple[str, dict[str, float]]], metrics: list[str], out: TextIO | None = None) -> None:
    """A plain-text table: one line per run (and a mean line for several), one column per metric."""
    out = out or sys.stdout
    width = max([len("run")] + [len(name) for name, _ in rows])
    cols = [max(len(m), 8) for m in metrics]
    print("  ".join(["run".ljust(width)] + [m.rjust(c) for m, c in zip(metrics, cols)]), file=out)
    for name, values in rows:
        print(
            "  ".join([name.ljust(width)] + [_format(values.get(m)).rjust(c) for m, c in zip(metrics, cols)]), file=out
        )


def print_strokes(names: list[str], runs: list, out: TextIO | None = None) -> None:
    """One line per stroke of each run that has strokes (``RUN #index``): gain, cosine, path error, found share."""
    from ..evaluation.strokes import STROKE_SCORES

    rows = [(f"{name} #{s.index}", s.scores()) for name, run in zip(names, runs) for s in run.strokes]
    if rows:
        print_table(rows, list(STROKE_SCORES), out)


def print_reasons(names: list[str], runs: list, out: TextIO | None = None) -> None:
    """Why each undefined value is, once per metric and reason, with the videos it concerns."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for name, run in zip(names, runs):
        for metric, why in run.reasons.items():
            grouped.setdefault((metric, why), []).append(name)
        for stroke in run.strokes:
            for score, why in stroke.reasons.items():
                grouped.setdefault((f"stroke {score}", why), []).append(f"{name} #{stroke.index}")
    for (metric, why), where in grouped.items():
        print(f"undefined {metric} ({', '.join(where)}): {why}", file=out or sys.stdout)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..app.evaluation import EvaluateRequest, evaluate

    result = evaluate(request_from(EvaluateRequest, args, progress=not args.quiet))
    names = [Path(r.generated).name for r in result.runs]
    names = names if len(set(names)) == len(names) else [str(r.generated) for r in result.runs]
    rows = list(zip(names, [r.metrics for r in result.runs]))
    rows += [("mean", result.means)] if len(result.runs) > 1 else []
    print_table(rows, result.metrics)
    if result.set_metrics:
        print(f"fvd {result.set_metrics['fvd']:.4f}  ({result.set_metrics['fvd_protocol']})")
    print_strokes(names, result.runs)
    print_reasons(names, result.runs)
    for name, how in result.skipped.items():
        print(f"skipped {name}: needs {how}")
    for video, why in result.not_evaluated.items():
        print(f"not evaluated {video}: {why}")
    if result.json_path is not None:
        print(Path(result.json_path).absolute())
    return 0
