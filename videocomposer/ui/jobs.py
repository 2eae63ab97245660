"""One UI job = one ``videocomposer generate`` command: the form becomes its argv, run by the CLI's own code.

The app does nothing of its own: uploads are copied into a new job folder, the settings become the
command line a user could type (shown in the app, and recorded in ``settings.txt``), and
:func:`videocomposer.commands.generate.generate` reads the inputs and runs the loaded pipeline exactly as the command
would. Each job gets a folder of its own under the output folder (claimed with an exclusive ``mkdir``),
so no job ever overwrites an earlier result.
"""
from __future__ import annotations

import atexit
import contextlib
import io
import itertools
import os
import random
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cli import parse_command_line
from ..commands.common import UsageError
from ..commands.generate import generate, prepare_generation
from ..conditions import CONDITIONS
from ..files import write_text
from ..pipelines.presets import INPUT_FLAGS, load_preset
from ..video.trajectory import Trajectory
from .model import ModelHolder

FREE_COMPOSITION = "compose"
SEED_MAX = 2**31 - 1


@dataclass
class JobRequest:
    """The form's values. Uploads are file paths (None when absent); ``trajectory`` the drawn strokes."""

    task: str
    prompt: str
    negative_prompt: str = ""
    conditions: list[str] = field(default_factory=list)  # free composition only
    uploads: dict[str, str | None] = field(default_factory=dict)  # INPUT_FLAGS keys; motion is ``trajectory``
    trajectory: Trajectory | None = None
    steps: int = 50
    guidance_scale: float = 9.0
    min_guidance_scale: float | None = None  # None: the model's (generate's default)
    scheduler: str = "ddim"
    seed: int = -1  # -1 = draw one
    frames: int = 16
    height: int = 256
    width: int = 256

    def resolved_seed(self) -> int:
        return random.randint(0, SEED_MAX) if self.seed is None or int(self.seed) < 0 else int(self.seed)

    def used_inputs(self) -> list[str]:
        """The uploads the task's conditions read (others are left out of the command)."""
        overrides = {"guidances": self.conditions} if self.task == FREE_COMPOSITION and self.conditions else {}
        needed = {source for c in load_preset(self.task, overrides).all_conditions() for source in CONDITIONS[c].inputs}
        given = {**self.uploads, "motion": "drawn" if self.trajectory and self.trajectory.strokes else None}
        return [name for name in INPUT_FLAGS if given.get(name) and name in needed]


@dataclass
class JobResult:
    folder: Path
    video: Path
    grid: Path
    command: str
    files: list[Path]


def claim_folder(parent: str | os.PathLike, stem: str) -> Path:
    """Create and return ``parent/stem`` (or ``stem-2``, ``stem-3``, ... if taken): never an existing folder."""
    parent = Path(parent)
    parent.mkdir(parents=True, exist_ok=True)
    for n in itertools.count(1):
        folder = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def command_arguments(request: JobRequest, inputs: dict[str, str], seed: int, holder: ModelHolder,
                      output_dir: str | os.PathLike) -> list[str]:
    """The ``generate`` argv (without the program name) of a request whose inputs are at ``inputs``."""
    argv = ["generate", request.task, *holder.source.generate_arguments(), "--input_text_desc", request.prompt]
    if request.negative_prompt:
        argv += ["--negative_prompt", request.negative_prompt]
    for name, path in inputs.items():
        argv += [INPUT_FLAGS[name], path]
    if request.task == FREE_COMPOSITION:
        if not request.conditions:
            raise UsageError("free composition: choose at least one condition")
        argv += ["--conditions", ",".join(request.conditions)]
    argv += ["--steps", str(int(request.steps)), "--guidance-scale", f"{float(request.guidance_scale):g}"]
    if request.min_guidance_scale is not None:
        argv += ["--min-guidance-scale", f"{float(request.min_guidance_scale):g}"]
    argv += ["--scheduler", request.scheduler, "--seed", str(seed), "--frames", str(int(request.frames)),
             "--height", str(int(request.height)), "--width", str(int(request.width)),
             "--device", holder.device, "--output-dir", os.fspath(output_dir)]
    return argv


def parse_generate(argv: list[str]):
    """``parse_command_line`` with argparse's exit turned into the :class:`UsageError` it printed."""
    stderr = io.StringIO()
    try:
        with contextlib.redirect_stderr(stderr):
            return parse_command_line(argv)
    except SystemExit:
        message = stderr.getvalue().strip().splitlines()
        raise UsageError(message[-1] if message else f"invalid settings: {shlex.join(argv)}") from None


def _stage_inputs(request: JobRequest, folder: Path) -> dict[str, str]:
    """Copy the used uploads into ``folder`` (and write the drawn trajectory); returns name → path."""
    folder.mkdir(parents=True, exist_ok=True)
    staged = {}
    for name in request.used_inputs():
        target = folder / ("trajectory.json" if name == "motion" else f"{name}{Path(request.uploads[name]).suffix.lower()}")
        if name == "motion":
            write_text(target, request.trajectory.to_json())
        else:
            source = Path(request.uploads[name])
            if not source.is_file():
                raise FileNotFoundError(f"{INPUT_FLAGS[name]}: file not found: {source}")
            shutil.copyfile(source, target)
        staged[name] = os.fspath(target)
    return staged


def run_generation(request: JobRequest, holder: ModelHolder, output_dir: str | os.PathLike) -> JobResult:
    """Run one job into a new folder ``output_dir/ui-<date>-<time>[-n]/`` (inputs/, the task's files, settings).

    Raises the CLI's errors (``videocomposer.commands.common.user_errors()``); a failed job's folder is removed.
    """
    seed = request.resolved_seed()
    folder = claim_folder(output_dir, time.strftime("ui-%Y%m%d-%H%M%S"))
    try:
        inputs = _stage_inputs(request, folder / "inputs")
        argv = command_arguments(request, inputs, seed, holder, folder)
        command = shlex.join(["videocomposer", *argv])
        written = generate(parse_generate(argv), pipe=holder.pipeline(), command=command)
        write_text(folder / "command.txt", command + "\n")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return JobResult(folder, written[0], written[1], command, written)


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


def preview_conditions(request: JobRequest, holder: ModelHolder, output_dir: str | os.PathLike) -> Path:
    """Build the request's conditions (extracted from the video, drawn, or given) without generating; returns
    a GIF of them side by side (source | conditions), written to a temporary folder (:func:`new_preview_folder`)."""
    from ..pipelines.results import grid_panels
    from ..video.writer import compose_grid, write_gif

    seed = request.resolved_seed()
    folder = new_preview_folder()
    inputs = _stage_inputs(request, folder / "inputs")
    argv = command_arguments(request, inputs, seed, holder, folder)
    job = prepare_generation(parse_generate(argv), pipe=holder.pipeline())
    panels = grid_panels(None, job.prepared.conditions, job.source(), job.inputs.get("style_image"))
    if not panels:
        raise UsageError("nothing to preview: the chosen conditions have no image (text and style only)")
    grid = compose_grid(panels, height=max(int(request.height), 128))
    return write_gif(folder / "conditions_preview.gif", grid, fps=8)


def trajectory_from_text(text: str | None) -> Trajectory | None:
    """The trajectory JSON of the form (None when empty)."""
    if not text or not text.strip():
        return None
    return Trajectory.from_json(text, source="trajectory JSON")


def job_request(values: dict[str, Any]) -> JobRequest:
    """A :class:`JobRequest` from the app's named values (trajectory as JSON text)."""
    values = dict(values)
    values["trajectory"] = trajectory_from_text(values.get("trajectory"))
    return JobRequest(**values)
