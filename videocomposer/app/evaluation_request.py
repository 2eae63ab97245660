"""The ``evaluate`` request: which generated videos to measure against what, with which weights, and the
runs it names (one video, a folder of runs, or a CSV)."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .checks import existing_file, whole_at_least
from .errors import RequestError, mention

PathLike = str | os.PathLike
CSV_COLUMNS = ("generated", "source", "caption", "image", "truth", "trajectory")


@dataclass
class EvaluateRequest:
    """``generated``: a generated ``.mp4``, a folder of runs (every MP4 below it) or a ``.csv`` with columns
    ``generated,source,caption,image,truth,trajectory`` (paths relative to the CSV). ``video``, ``image``,
    ``caption``: the source video, first-frame image and prompt; a run's own record (its folder's ``settings.txt``
    and ``config.yaml``: :mod:`.evaluation_runs`) fills what the CSV row and these leave out. ``truth``: the
    source clip's truth file (``<clip>.truth.json``: :mod:`videocomposer.evaluation.truth`), for the object-track
    metrics (its clip is the source video unless ``video`` says otherwise). ``trajectory``: the strokes given to
    ``generate --trajectory``, for the stroke metrics (:mod:`videocomposer.evaluation.strokes`). ``metrics``
    (a list or ``"motion_epe,fvd"``; None: every one whose inputs are given). ``resample``: resample a
    video whose frame count or size differs from the conditions'. Weights: ``weights_dir`` (official
    file names) or one file per model; ``i3d`` for FVD against ``fvd_reference`` videos (default: the
    runs' source clips). ``json_path``: where to write the report."""

    generated: PathLike
    video: PathLike | None = None
    image: PathLike | None = None
    caption: str | None = None
    truth: PathLike | None = None
    trajectory: PathLike | None = None
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
        from ..evaluation.metrics import RUN_METRICS

        if self.metrics is None:
            return None
        wanted = [m.strip() for m in self.metrics.split(",")] if isinstance(self.metrics, str) else list(self.metrics)
        unknown = [m for m in wanted if m not in (*RUN_METRICS, "fvd")]
        if unknown:
            raise RequestError("metrics", f"unknown {unknown}; choose from {', '.join((*RUN_METRICS, 'fvd'))}")
        if "fvd" in wanted and not self.i3d:
            raise RequestError(
                "metrics",
                f"fvd needs {mention('i3d')} FILE (i3d_pretrained_400.pt or i3d_torchscript.pt; see the README)",
            )
        return wanted

    def check(self) -> None:
        self.wanted_metrics()
        whole_at_least("block", self.block, 1)
        whole_at_least("fvd_frames", self.fvd_frames, 1)
        whole_at_least("seed", self.seed, 0)
        if self.json_path is not None and Path(self.json_path).exists() and not self.overwrite:
            raise RequestError(
                "json_path", f"{Path(self.json_path)} exists; choose another name or use {mention('overwrite')}"
            )


@dataclass
class RunInput:
    """One row to evaluate: the generated video and (optionally) its source, caption, first-frame image, the
    source's truth file, the strokes drawn for it and generate's seed; ``notes``: what its record said."""

    generated: Path
    source: Path | None = None
    caption: str | None = None
    image: Path | None = None
    truth: Path | None = None
    trajectory: Path | None = None
    seed: int | None = None
    notes: list[str] = field(default_factory=list)


def _csv_path(value: str | None, base: Path, what: str) -> Path | None:
    if not value:
        return None
    path = Path(value)
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise FileNotFoundError(f"{what}: file not found: {path}")
    return path


def read_runs_csv(path: Path) -> list[RunInput]:
    """A CSV with a header holding ``generated`` and any of ``source``, ``caption``, ``image``, ``truth`` (paths relative
    to the CSV)."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if "generated" not in columns or set(columns) - set(CSV_COLUMNS):
            raise ValueError(
                f"{path}: the CSV header must name 'generated' and optionally {', '.join(CSV_COLUMNS[1:])}; "
                f"got {columns}"
            )
        runs = []
        for line, row in enumerate(reader, start=2):
            where = f"{path} line {line}"
            runs.append(
                RunInput(
                    _csv_path(row["generated"], path.parent, f"{where} 'generated'"),
                    _csv_path(row.get("source"), path.parent, f"{where} 'source'"),
                    row.get("caption") or None,
                    _csv_path(row.get("image"), path.parent, f"{where} 'image'"),
                    _csv_path(row.get("truth"), path.parent, f"{where} 'truth'"),
                    _csv_path(row.get("trajectory"), path.parent, f"{where} 'trajectory'"),
                )
            )
    if not runs:
        raise ValueError(f"{path}: the CSV lists no videos")
    return runs


def collect_runs(request: EvaluateRequest) -> list[RunInput]:
    """``generated`` → runs: a CSV, a folder (every ``*.mp4`` below it) or one video; the request's
    ``video``, ``image``, ``caption``, ``truth`` and ``trajectory`` fill what a row leaves out, then the run's own
    record (:func:`fill_from_record`)."""
    path = Path(request.generated)
    source, image = existing_file("video", request.video), existing_file("image", request.image)
    truth, trajectory = existing_file("truth", request.truth), existing_file("trajectory", request.trajectory)
    if trajectory is not None:
        from ..video.trajectory import read_trajectory

        read_trajectory(trajectory)  # a malformed file fails here, once, naming the flag
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
        run.truth = run.truth or truth
        run.trajectory = run.trajectory or trajectory
        fill_from_record(run)
    return runs


def fill_from_record(run: RunInput) -> None:
    """Fill what ``run`` leaves out from the record of the ``generate`` run its video belongs to (the video's folder),
    and note what that record lacks."""
    from ..evaluation.records import record_path
    from .evaluation_runs import read_run_record

    record = read_run_record(run.generated.parent)
    if record is None:
        if not record_path(run.generated).is_file():
            run.notes.append(
                "no record of a generate run beside it (neither settings.txt nor config.yaml in its folder, "
                f"nor {record_path(run.generated).name} from generate --save-conditions)"
            )
        return
    run.source = run.source or record.source
    run.image = run.image or record.image
    run.trajectory = run.trajectory or record.trajectory
    run.caption = run.caption or record.caption
    run.seed = record.seed
    run.notes += record.notes + [note for name, note in record.missing.items() if getattr(run, name) is None]
