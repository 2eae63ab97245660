"""Running an ``evaluate`` request: how well generated videos follow their conditions (one video, a folder of runs,
a CSV).

    from videocomposer.app import EvaluateRequest, evaluate
    result = evaluate(EvaluateRequest(generated="outputs/exp02_motion_transfer-clip-S08888", json_path="eval.json"))
    result.report["motion_epe"], result.skipped

Conditions come from ``<run>_conditions.safetensors`` beside each MP4 (``generate`` with ``save_conditions``)
when it is there, else are re-extracted from ``video`` with generate's clip sampling (``seed``). With ``truth`` (the
source clip's ``<clip>.truth.json``) the object's track error, shape IoU and caption colour are measured against
ground truth. Metrics whose inputs or weights are missing are listed as skipped, with what would enable them.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RequestError
from .evaluation_models import fvd_metrics, load_models
from .evaluation_request import EvaluateRequest, collect_runs


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
        **(
            {"fvd": json_number(set_metrics["fvd"]), "fvd_protocol": set_metrics["fvd_protocol"]} if set_metrics else {}
        ),
        "num_videos": len(result.runs),
        "skipped": result.skipped,
        "protocol": {m: d for m, d in protocol().items() if m in result.metrics},
        "runs": [
            {
                "generated": r.generated,
                **{m: json_number(v) for m, v in r.metrics.items()},
                "per_frame": {m: [json_number(v) for v in vs] for m, vs in r.per_frame.items()},
                "skipped": r.skipped,
                "notes": r.notes,
            }
            for r in result.runs
        ],
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
    results = [
        evaluate_run(
            item.generated,
            source=item.source,
            image=item.image,
            caption=item.caption,
            seed=request.seed,
            resample=request.resample,
            block=request.block,
            models=models,
            truth=item.truth,
        )
        for item in tqdm(runs, desc="evaluate", unit="video", disable=not request.progress or len(runs) < 2)
    ]
    metrics = [m for m in RUN_METRICS if any(m in r.metrics for r in results) and (wanted is None or m in wanted)]
    missing = [m for m in wanted or [] if m != "fvd" and m not in metrics]
    if missing:
        raise RequestError("metrics", "; ".join(f"{m} cannot be computed: it needs {ENABLE[m]}" for m in missing))
    result = EvaluateResult(results, metrics, {m: mean([r.metrics.get(m, math.nan) for r in results]) for m in metrics})
    result.skipped = {
        m: how for r in results for m, how in r.skipped.items() if m not in metrics and (wanted is None or m in wanted)
    }
    if request.i3d and (wanted is None or "fvd" in wanted):
        result.set_metrics = fvd_metrics(request, runs)
    elif wanted is None:
        result.skipped["fvd"] = "--i3d i3d_pretrained_400.pt or i3d_torchscript.pt, and 2 or more videos"
    result.report = _report(result)
    if request.json_path is not None:
        result.json_path = write_text(request.json_path, json.dumps(result.report, indent=2) + "\n")
    return result
