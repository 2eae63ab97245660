"""One app job = one :class:`~videocomposer.app.GenerateRequest`, run by the application layer on the loaded model.

The form's values are the request's fields (:func:`form_request`). The used uploads are copied into a new
job folder (a drawn trajectory is written there as JSON), the request points at those copies, and it is
run exactly as ``videocomposer generate`` would run it; its command line (:meth:`GenerateRequest.to_command`)
is shown in the app and saved with the job. Each job gets a folder of its own under the output folder
(claimed with an exclusive ``mkdir``), so no job ever overwrites an earlier result. The form's text and each job's
disk use are bounded by :class:`~videocomposer.ui.access.Limits`.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import random
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..app.errors import RequestError
from ..app.generation import generate, prepare_generation
from ..app.generation_request import FREE_COMPOSITION, INPUT_FIELDS, GenerateRequest
from ..conditions import CONDITIONS, guided_by_default
from ..files import ensure_writable_dir, new_numbered_dir, tree_size, write_text
from ..pipelines.presets import load_preset
from ..video.trajectory import Trajectory
from .access import MB, Limits
from .model import ModelHolder

SEED_MAX = 2**31 - 1
#: Form values that are whole numbers (sliders and number boxes may send floats).
WHOLE_NUMBERS = ("steps", "seed", "frames", "height", "width")


@dataclass
class FormJob:
    """The form as a request, with the drawn strokes (``request.motion`` is set when they are staged)."""

    request: GenerateRequest
    trajectory: Trajectory | None = None


def trajectory_from_text(
    text: str | None, source: str = "trajectory JSON", limit: int = Limits().trajectory_chars
) -> Trajectory | None:
    """The trajectory JSON of the form (None when empty), at most ``limit`` characters; errors name ``source``."""
    if not text or not text.strip():
        return None
    if len(text) > limit:
        raise ValueError(f"{source}: at most {limit:,} characters, got {len(text):,}")
    return Trajectory.from_json(text, source=source)


#: The form's per-condition guidance fields are this prefix and the condition's name (``guidance_scale_motion``).
CONDITION_SCALE_PREFIX = "guidance_scale_"


def condition_scale_field(condition: str) -> str:
    """The form field of a condition's own guidance scale (0 or empty: guided as by the overall scale)."""
    return f"{CONDITION_SCALE_PREFIX}{condition}"


def form_guidance_scale(values: dict[str, Any]) -> float | dict[str, float] | None:
    """The request's ``guidance_scale`` from the overall slider and the per-condition ones (removed from ``values``):
    the overall number while every per-condition slider is at 0; else the per-condition scales, with the task's
    conditions that the overall scale guides (text, style) at the overall scale (at least 1: present, unguided)."""
    named = [key for key in values if key.startswith(CONDITION_SCALE_PREFIX)]
    scales = {key[len(CONDITION_SCALE_PREFIX) :]: values.pop(key) for key in named}
    scales = {name: float(scale) for name, scale in scales.items() if scale}
    overall = values.get("guidance_scale")
    if not scales:
        return overall
    conditions = list(values.get("conditions") or []) if values.get("task") == FREE_COMPOSITION else None
    task = load_preset(values.get("task") or FREE_COMPOSITION, {"guidances": conditions or None})
    for name in guided_by_default(task.all_conditions()):
        if name not in scales and overall is not None:
            scales[name] = max(float(overall), 1.0)
    return scales


def form_request(
    values: Mapping[str, Any], motion_label: str = "trajectory JSON", limits: Limits = Limits()
) -> FormJob:
    """The job the form's values describe, by request field (``motion``: the trajectory JSON text; the
    per-condition guidance fields: :func:`form_guidance_scale`). The conditions apply to free composition only; a
    seed below 0 draws one. Text longer than ``limits`` allow is refused before it is read."""
    values = dict(values)
    for name in ("prompt", "negative_prompt"):
        if len(values.get(name) or "") > limits.prompt_chars:
            raise RequestError(name, f"at most {limits.prompt_chars:,} characters, got {len(values[name]):,}")
    values["guidance_scale"] = form_guidance_scale(values)
    trajectory = trajectory_from_text(values.pop("motion", None), motion_label, limits.trajectory_chars)
    for key in WHOLE_NUMBERS:
        values[key] = None if values.get(key) is None else int(values[key])
    if values.get("min_guidance_scale") is not None:
        values["min_guidance_scale"] = float(values["min_guidance_scale"])
    if values.get("seed") is None or values["seed"] < 0:
        values["seed"] = random.randint(0, SEED_MAX)
    values["negative_prompt"] = values.get("negative_prompt") or None
    conditions = list(values.pop("conditions", None) or [])
    request = GenerateRequest(**values, conditions=conditions if values.get("task") == FREE_COMPOSITION else None)
    return FormJob(request, trajectory)


def used_inputs(job: FormJob) -> list[str]:
    """The inputs given that the task's conditions read (others are left out of the request)."""
    request = job.request
    request.check()
    preset = load_preset(request.task, {"guidances": request.condition_names()})
    needed = {source for c in preset.all_conditions() for source in CONDITIONS[c].inputs}
    given = {name: getattr(request, name) for name in INPUT_FIELDS}
    given["motion"] = "drawn" if job.trajectory and job.trajectory.strokes else None
    return [name for name in INPUT_FIELDS if given.get(name) and name in needed]


@dataclass
class JobResult:
    """A finished job: its folder (absolute), the video and grid, the command, every file, and its disk use."""

    folder: Path
    video: Path
    grid: Path
    command: str
    files: list[Path]
    disk_bytes: int

    def status(self, limits: Limits) -> str:
        """One line: where the job is saved and how much of its disk limit it used."""
        return (
            f"Saved in {self.folder}: {self.disk_bytes / MB:.1f} MB of the {limits.job_mb} MB a job may use "
            f"({len(self.files)} output files and the copied inputs)"
        )


def check_disk_use(folder: Path, limits: Limits, stage: str) -> int:
    """``folder``'s size in bytes; over ``limits.job_mb`` it is an error saying at which ``stage`` (the caller removes
    the folder)."""
    used = tree_size(folder)
    if used > limits.job_mb * MB:
        raise ValueError(
            f"the job used {used / MB:.1f} MB {stage}, over the {limits.job_mb} MB a job may use "
            "(videocomposer ui --max-job-mb); it was removed"
        )
    return used


def check_free_space(output_dir: str | os.PathLike, limits: Limits) -> None:
    """Refuse a job when the output folder's disk has less free space than a job may use."""
    free = shutil.disk_usage(output_dir).free
    if free < limits.job_mb * MB:
        raise ValueError(
            f"the disk of {Path(output_dir).absolute()} has {free / MB:.0f} MB free, less than the {limits.job_mb} MB "
            "a job may use (videocomposer ui --max-job-mb): free some space or serve with another --output-dir"
        )


def staged_request(job: FormJob, folder: Path, holder: ModelHolder) -> GenerateRequest:
    """Copy the used uploads into ``folder / "inputs"`` (and write the drawn trajectory there); returns the
    request that reads those copies, loads ``holder``'s model and writes into ``folder``."""
    inputs = folder / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    used = used_inputs(job)
    staged: dict[str, Any] = {name: None for name in INPUT_FIELDS}
    for name in used:
        if name == "motion":
            staged[name] = write_text(inputs / "trajectory.json", job.trajectory.to_json())
            continue
        source = Path(getattr(job.request, name))
        if not source.is_file():
            raise RequestError(name, f"file not found: {source}")
        staged[name] = inputs / f"{name}{source.suffix.lower()}"
        shutil.copyfile(source, staged[name])
    return dataclasses.replace(
        job.request,
        **{k: None if v is None else os.fspath(v) for k, v in staged.items()},
        **holder.source.request_fields(),
        device=holder.device,
        output_dir=os.fspath(folder),
    )


def run_generation(
    job: FormJob, holder: ModelHolder, output_dir: str | os.PathLike, limits: Limits = Limits()
) -> JobResult:
    """Run one job into a new folder ``output_dir/ui-<date>-<time>[-n]/`` (inputs/, the task's files,
    ``command.txt``), its disk use within ``limits.job_mb`` (checked before the job, after the inputs are copied and
    at the end). Raises the application layer's errors; a failed job's folder is removed."""
    check_free_space(ensure_writable_dir(output_dir), limits)
    folder = new_numbered_dir(output_dir, time.strftime("ui-%Y%m%d-%H%M%S")).absolute()
    try:
        request = staged_request(job, folder, holder)
        check_disk_use(folder, limits, "for its inputs")
        command = request.to_command(absolute=True)
        written = generate(request, pipe=holder.pipeline()).files
        write_text(folder / "command.txt", command + "\n")
        used = check_disk_use(folder, limits, "in all")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return JobResult(folder, written[0], written[1], command, written, used)


#: Preview folders of this process, newest last. A preview's GIF is copied into gradio's cache when the
#: function returns, so only the two newest are kept (older ones go when a new preview is made), and all at exit.
_PREVIEW_FOLDERS: list[Path] = []
KEPT_PREVIEWS = 2


def new_preview_folder() -> Path:
    """A fresh temporary folder for a preview; removes the oldest ones beyond :data:`KEPT_PREVIEWS`."""
    while len(_PREVIEW_FOLDERS) >= KEPT_PREVIEWS:
        shutil.rmtree(_PREVIEW_FOLDERS.pop(0), ignore_errors=True)
    folder = Path(tempfile.mkdtemp(prefix="videocomposer-preview-"))
    _PREVIEW_FOLDERS.append(folder)
    return folder


@atexit.register
def remove_preview_folders() -> None:
    """Remove every preview folder of this process (run at exit)."""
    while _PREVIEW_FOLDERS:
        shutil.rmtree(_PREVIEW_FOLDERS.pop(), ignore_errors=True)


def preview_conditions(job: FormJob, holder: ModelHolder) -> Path:
    """Build the job's conditions (extracted from the video, drawn, or given) without generating; returns a GIF
    of them side by side (source | conditions), written to a temporary folder (:func:`new_preview_folder`)."""
    from ..pipelines.results import grid_panels
    from ..video.writer import compose_grid, write_gif

    folder = new_preview_folder()
    prepared = prepare_generation(staged_request(job, folder, holder), pipe=holder.pipeline())
    panels = grid_panels(None, prepared.prepared.conditions, prepared.source(), prepared.inputs.get("style_image"))
    if not panels:
        raise RequestError(
            "conditions", "nothing to preview: the chosen conditions have no image (text and style only)"
        )
    grid = compose_grid(panels, height=max(prepared.preset.height, 128))
    return write_gif(folder / "conditions_preview.gif", grid, fps=8)
