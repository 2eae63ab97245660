"""The ``demo`` request: the built-in toy model on a synthetic clip (no downloads), or ``random``: the whole
pipeline with tiny randomly initialised networks in the official file formats (noise by design).

    from videocomposer.app import DemoRequest, run_demo
    result = run_demo(DemoRequest(output_dir="demo_output"))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .checks import whole_at_least
from .errors import RequestError, mention

PathLike = str | os.PathLike
#: Size and steps of the random networks when the request leaves them out.
RANDOM_DEFAULTS = {"frames": 8, "size": 64, "steps": 10}


@dataclass
class DemoRequest:
    """``random``: tiny random networks instead of the toy model; ``frames`` and ``size`` (a multiple of 16,
    at least 32) apply to them only; ``steps``: denoising steps (None: the toy model's own, or 10).

    An earlier result is never replaced: when ``output_dir`` holds one, the demo writes into a new sibling
    ``<output_dir>-2`` (``-3``, ...); ``overwrite`` writes into ``output_dir`` itself, replacing the demo's files."""

    output_dir: PathLike = "demo_output"
    overwrite: bool = False
    random: bool = False
    frames: int | None = None
    size: int | None = None
    steps: int | None = None
    seed: int = 8888
    progress: bool = True

    def check(self) -> None:
        if not self.random:
            for name in ("frames", "size"):
                if getattr(self, name) is not None:
                    raise RequestError(
                        name,
                        f"{mention('frames')} and {mention('size')} apply to "
                        f"{mention('random')}; the toy model makes its own 8 frames of 64x64",
                    )
        whole_at_least("frames", self.frames, 1)
        whole_at_least("size", self.size, 32)
        whole_at_least("steps", self.steps, 1)
        whole_at_least("seed", self.seed, 0)


def demo_folder(request: DemoRequest) -> Path:
    """The folder the demo writes into, created: ``output_dir``, or a new ``<output_dir>-N`` when it holds an
    earlier result (unless ``overwrite``)."""
    from ..files import unused_output_dir

    return unused_output_dir(request.output_dir, request.overwrite)


def run_demo(request: DemoRequest, folder: PathLike | None = None) -> Any:
    """Run the demo into ``folder`` (default: :func:`demo_folder`); returns the pipeline's demo result (``folder``,
    the videos and GIFs, ``seconds``). A failed run into a folder that held nothing leaves no folder."""
    import shutil

    from ..files import holds_files

    request.check()
    folder = demo_folder(request) if folder is None else Path(folder)
    started_empty = not holds_files(folder)
    try:
        return _run(request, folder)
    except BaseException:
        if started_empty:
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _run(request: DemoRequest, folder: Path) -> Any:
    if not request.random:
        from ..pipelines.toy_demo import run_toy_demo

        return run_toy_demo(folder, steps=request.steps, seed=request.seed, progress=request.progress)
    from ..pipelines.demo import run_demo as run_random_demo

    settings = {k: v if getattr(request, k) is None else getattr(request, k) for k, v in RANDOM_DEFAULTS.items()}
    return run_random_demo(
        folder,
        num_frames=settings["frames"],
        size=settings["size"],
        steps=settings["steps"],
        seed=request.seed,
        progress=request.progress,
    )
