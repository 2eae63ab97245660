"""The ``evaluate`` request: how well generated videos follow their conditions (one video, a folder of runs, a CSV).

    from videocomposer.app import EvaluateRequest, evaluate
    result = evaluate(EvaluateRequest(generated="outputs/exp02_motion_transfer-clip-S08888", json_path="eval.json"))
    result.report["motion_epe"], result.skipped

Conditions come from ``<run>_conditions.safetensors`` beside each MP4 (``generate`` with ``save_conditions``)
when it is there, else are re-extracted from ``video`` with generate's clip sampling (``seed``). Metrics whose
inputs or weights are missing are listed as skipped, with what would enable them.
"""
from __future__ import annotations

import csv
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from .checks import existing_file, whole_at_least
from .errors import RequestError, mention
from .evaluation_models import fvd_metrics, load_models

PathLike = str | os.PathLike
CSV_COLUMNS = ("generated", "source", "caption", "image")


@dataclass
class EvaluateRequest:
    """``generated``: a generated ``.mp4``, a folder of runs (every MP4 below it) or a ``.csv`` with columns
    ``generated,source,caption,image`` (paths relative to the CSV). ``video``, ``image``, ``caption``: the
    source video, first-frame image and prompt where the CSV or the records leave them out. ``metrics``
    (a list or ``"motion_epe,fvd"``; None: every one whose inputs are given). ``resample``: resample a
    video whose frame count or size differs from the conditions'. Weights: ``weights_dir`` (official
    file names) or one file per model; ``i3d`` for FVD against ``fvd_reference`` videos (default: the
    runs' source clips). ``json_path``: where to write the report."""

    generated: PathLike
    video: PathLike | None = None
    image: PathLike | None = None
    caption: str | None = None
    seed: int | None = None
    resample: bool = False
    block: int = 16
    metrics: Sequence[str] | str | None = None
    weights_dir: PathLike | None = None
    clip_weights: PathLike | None = None
    midas_weights: PathLike | None = None
    pidinet_weights: PathLike | None = None
    sketch_cleaner_weights: PathLike | None = None
    model_config: PathLike | None = None
    i3d: PathLike | None = None
    fvd_reference: PathLike | None = None
    fvd_frames: int | None = None
    fvd_cache: PathLike | None = None
    device: str = "cpu"
    json_path: PathLike | None = None
    overwrite: bool = False
    progress: bool = True

    def wanted_metrics(self) -> list[str] | None:
        """``metrics`` as a checked list (None: every metric whose inputs are given)."""
        from ..evaluation.evaluate import RUN_METRICS

        if self.metrics is None:
            return None
        wanted = [m.strip() for m in self.metrics.split(",")] if isinstance(self.metrics, str) else list(self.metrics)
        unknown = [m for m in wanted if m not in (*RUN_METRICS, "fvd")]
        if unknown:
            raise RequestError("metrics", f"unknown {unknown}; choose from {', '.join((*RUN_METRICS, 'fvd'))}")
        if "fvd" in wanted and not self.i3d:
            raise RequestError("metrics", f"fvd needs {mention('i3d')} FILE (i3d_pretrained_400.pt or "
                                          "i3d_torchscript.pt; see the README)")
        return wanted

    def check(self) -> None:
        self.wanted_metrics()
        whole_at_least("block", self.block, 1)
        whole_at_least("fvd_frames", self.fvd_frames, 1)
        whole_at_least("seed", self.seed, 0)
        if self.json_path is not None and Path(self.json_path).exists() and not self.overwrite:
            raise RequestError("json_path", f"{Path(self.json_path)} exists; choose another name or use "
                                            f"{mention('overwrite')}")


@dataclass
class RunInput:
    """One row to evaluate: the generated video and (optionally) its source, caption and first-frame image."""

    generated: Path
    source: Path | None = None
    caption: str | None = None
    image: Path | None = None


def _csv_path(value: str | None, base: Path, what: str) -> Path | None:
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
            runs.append(RunInput(_csv_path(row["generated"], path.parent, f"{where} 'generated'"),
                                 _csv_path(row.get("source"), path.parent, f"{where} 'source'"),
                                 row.get("caption") or None, _csv_path(row.get("image"), path.parent, f"{where} 'image'")))
    if not runs:
        raise ValueError(f"{path}: the CSV lists no videos")
    return runs


def collect_runs(request: EvaluateRequest) -> list[RunInput]:
    """``generated`` → runs: a CSV, a folder (every ``*.mp4`` below it) or one video; the request's
    ``video``, ``image`` and ``caption`` fill what a row leaves out."""
    path = Path(request.generated)
    source, image = existing_file("video", request.video), existing_file("image", request.image)
    if path.is_file() and path.suffix.lower() == ".csv":
        runs = read_runs_csv(path)
    elif path.is_dir():
        runs = [RunInput(p) for p in sorted(path.rglob("*.mp4"))]
        if not runs:
            raise RequestError("generated", f"no .mp4 files under the folder {path}")
    elif path.is_file():
        runs = [RunInput(path)]
    else:
        raise RequestError("generated", f"not found: {path} (expected an .mp4, a folder of runs or a .csv)")
    for run in runs:
        run.source = run.source or source
        run.image = run.image or image
        run.caption = run.caption or request.caption
    return runs


def mean(values: list[float]) -> float:
    """The mean of the finite values (NaN when there are none)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


@dataclass
class EvaluateResult:
    """Per run its metrics, their means, FVD (``set_metrics``: ``fvd``, ``fvd_protocol``), the metrics
    skipped with what would enable each, and the JSON report (also written to ``json_path`` when given)."""

    runs: list[Any]  # evaluation.RunResult
    metrics: list[str]
    means: dict[str, float]
    set_metrics: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    json_path: Path | None = None


def _report(result: EvaluateResult) -> dict[str, Any]:
    from ..evaluation.evaluate import json_number
    from ..evaluation.protocol import protocol

    set_metrics = result.set_metrics
    return {
        **{m: json_number(v) for m, v in result.means.items()},
        **({"fvd": json_number(set_metrics["fvd"]), "fvd_protocol": set_metrics["fvd_protocol"]} if set_metrics else {}),
        "num_videos": len(result.runs),
        "skipped": result.skipped,
        "protocol": {m: d for m, d in protocol().items() if m in result.metrics},
        "runs": [{"generated": r.generated, **{m: json_number(v) for m, v in r.metrics.items()},
                  "per_frame": {m: [json_number(v) for v in vs] for m, vs in r.per_frame.items()},
                  "skipped": r.skipped, "notes": r.notes} for r in result.runs],
    }


def evaluate(request: EvaluateRequest) -> EvaluateResult:
    """Evaluate every run of the request; writes the JSON report when ``json_path`` is given."""
    from tqdm.auto import tqdm

    from ..evaluation.evaluate import ENABLE, RUN_METRICS, evaluate_run
    from ..files import write_text

    request.check()
    wanted = request.wanted_metrics()
    runs = collect_runs(request)
    models = load_models(request)
    results = [evaluate_run(item.generated, source=item.source, image=item.image, caption=item.caption,
                            seed=request.seed, resample=request.resample, block=request.block, models=models)
               for item in tqdm(runs, desc="evaluate", unit="video", disable=not request.progress or len(runs) < 2)]
    metrics = [m for m in RUN_METRICS if any(m in r.metrics for r in results) and (wanted is None or m in wanted)]
    missing = [m for m in wanted or [] if m != "fvd" and m not in metrics]
    if missing:
        raise RequestError("metrics", "; ".join(f"{m} cannot be computed: it needs {ENABLE[m]}" for m in missing))
    result = EvaluateResult(results, metrics, {m: mean([r.metrics.get(m, math.nan) for r in results]) for m in metrics})
    result.skipped = {m: how for r in results for m, how in r.skipped.items()
                      if m not in metrics and (wanted is None or m in wanted)}
    if request.i3d and (wanted is None or "fvd" in wanted):
        result.set_metrics = fvd_metrics(request, runs)
    elif wanted is None:
        result.skipped["fvd"] = "--i3d i3d_pretrained_400.pt or i3d_torchscript.pt, and 2 or more videos"
    result.report = _report(result)
    if request.json_path is not None:
        result.json_path = write_text(request.json_path, json.dumps(result.report, indent=2) + "\n")
    return result
