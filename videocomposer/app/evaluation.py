"""Running an ``evaluate`` request: how well generated videos follow their conditions (one video, a folder of runs,
a CSV).

    from videocomposer.app import EvaluateRequest, evaluate
    result = evaluate(EvaluateRequest(generated="outputs/exp02_motion_transfer-clip-S08888", json_path="eval.json"))
    result.report["motion_epe"], result.skipped

Each run's inputs are the request's, else those its ``generate`` run recorded in its folder (``settings.txt``,
``config.yaml``). Conditions come from ``<run>_conditions.safetensors`` beside each MP4 (``generate`` with
``save_conditions``) when it is there, else are re-extracted from ``video`` with generate's clip sampling
(``seed``). With ``truth`` (the source clip's ``<clip>.truth.json``) the object's track error, shape IoU and caption
colour are measured against ground truth; with ``trajectory`` (the strokes given to ``generate --trajectory``) how
the object under each stroke follows it. Metrics whose inputs or weights are missing are listed as skipped, with
what would enable them; a metric that is undefined for a video (``nan``, ``null`` in the JSON) has its reason in
``reasons``. A run for which no metric could be computed is listed in ``not_evaluated`` with the reason; when that
is every run, :class:`NothingEvaluated` is raised.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import RequestError, user_errors
from .evaluation_models import fvd_metrics, load_models
from .evaluation_request import EvaluateRequest, RunInput, collect_runs

#: What every run lacks when no metric could be computed for it.
NO_INPUTS = (
    "no metric could be computed: give what it is compared with (--input_video, --image_path, --truth or "
    "--trajectory), or model weights (--weights-dir)"
)


def mean(values: list[float]) -> float:
    """The mean of the finite values (NaN when there are none)."""
    finite = [v for v in values if v is not None and not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan


class NothingEvaluated(RequestError):
    """No run could be evaluated; ``reasons``: why, by generated video."""

    def __init__(self, reasons: dict[str, str]):
        self.reasons = reasons
        lines = "".join(f"\n  {run}: {why}" for run, why in reasons.items())
        super().__init__("generated", f"nothing could be evaluated ({len(reasons)} video(s)):{lines}")


@dataclass
class EvaluateResult:
    """Per run its metrics, their means, FVD (``set_metrics``: ``fvd``, ``fvd_protocol``), the metrics
    skipped with what would enable each, why a mean is undefined (``reasons``), the runs that could not be
    evaluated with the reason (``not_evaluated``), and the JSON report (also written to ``json_path`` when given)."""

    runs: list[Any]  # evaluation.RunResult
    metrics: list[str]
    means: dict[str, float]
    set_metrics: dict[str, Any] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    not_evaluated: dict[str, str] = field(default_factory=dict)
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
        "reasons": result.reasons,
        "not_evaluated": result.not_evaluated,
        "protocol": {m: d for m, d in protocol().items() if m in result.metrics},
        "runs": [
            {
                "generated": r.generated,
                **{m: json_number(v) for m, v in r.metrics.items()},
                "per_frame": {m: [json_number(v) for v in vs] for m, vs in r.per_frame.items()},
                "skipped": r.skipped,
                "reasons": r.reasons,
                "notes": r.notes,
                **({"strokes": [_stroke_report(s) for s in r.strokes]} if r.strokes else {}),
            }
            for r in result.runs
        ],
    }


def _stroke_report(score: Any) -> dict[str, Any]:
    """One :class:`~videocomposer.evaluation.strokes.StrokeScore` as JSON."""
    from ..evaluation.evaluate import json_number

    return {
        "stroke": score.index,
        **{name: json_number(value) for name, value in score.scores().items()},
        "reasons": score.reasons,
    }


def _evaluate_each(request: EvaluateRequest, runs: list[RunInput], models: Any) -> tuple[list[Any], dict[str, str]]:
    """Each run's :class:`~videocomposer.evaluation.RunResult`, and why each run left out could not be evaluated
    (an error of one run among several, or no metric computed); a single run's error is raised."""
    from tqdm.auto import tqdm

    from ..evaluation.evaluate import evaluate_run

    results, not_evaluated = [], {}
    for item in tqdm(runs, desc="evaluate", unit="video", disable=not request.progress or len(runs) < 2):
        try:
            run = evaluate_run(
                item.generated,
                source=item.source,
                image=item.image,
                caption=item.caption,
                seed=request.seed if request.seed is not None else item.seed,
                resample=request.resample,
                block=request.block,
                models=models,
                truth=item.truth,
                trajectory=item.trajectory,
            )
        except user_errors() as exc:
            if len(runs) == 1:
                raise
            not_evaluated[str(item.generated)] = str(exc)
            continue
        run.notes[:0] = item.notes
        if run.metrics:
            results.append(run)
        else:
            not_evaluated[str(item.generated)] = "; ".join([*item.notes, NO_INPUTS])
    return results, not_evaluated


def _mean_reasons(results: list[Any], means: dict[str, float]) -> dict[str, str]:
    """Why each undefined mean is: the reasons of the runs (every run's value is undefined)."""
    reasons = {}
    for metric, value in means.items():
        if math.isnan(value):
            whys = dict.fromkeys(r.reasons.get(metric, "undefined") for r in results if metric in r.metrics)
            reasons[metric] = "undefined in every video: " + " | ".join(whys)
    return reasons


def evaluate(request: EvaluateRequest) -> EvaluateResult:
    """Evaluate every run of the request; writes the JSON report when ``json_path`` is given.

    Raises:
        NothingEvaluated: no run could be evaluated (nothing is written).
    """
    from ..evaluation.metrics import ENABLE, RUN_METRICS
    from ..files import write_text

    request.check()
    wanted = request.wanted_metrics()
    runs = collect_runs(request)
    models = load_models(request)
    results, not_evaluated = _evaluate_each(request, runs, models)
    if not results:
        raise NothingEvaluated(not_evaluated)
    metrics = [m for m in RUN_METRICS if any(m in r.metrics for r in results) and (wanted is None or m in wanted)]
    missing = [m for m in wanted or [] if m != "fvd" and m not in metrics]
    if missing:
        raise RequestError("metrics", "; ".join(f"{m} cannot be computed: it needs {ENABLE[m]}" for m in missing))
    result = EvaluateResult(results, metrics, {m: mean([r.metrics.get(m, math.nan) for r in results]) for m in metrics})
    result.reasons, result.not_evaluated = _mean_reasons(results, result.means), not_evaluated
    result.skipped = {
        m: how for r in results for m, how in r.skipped.items() if m not in metrics and (wanted is None or m in wanted)
    }
    if request.i3d and (wanted is None or "fvd" in wanted):
        result.set_metrics = fvd_metrics(request, [r for r in runs if str(r.generated) not in not_evaluated])
    elif wanted is None:
        result.skipped["fvd"] = "--i3d i3d_pretrained_400.pt or i3d_torchscript.pt, and 2 or more videos"
    result.report = _report(result)
    if request.json_path is not None:
        result.json_path = write_text(request.json_path, json.dumps(result.report, indent=2) + "\n")
    return result
