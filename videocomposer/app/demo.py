"""The ``demo`` request: the built-in toy model on a synthetic clip (no downloads), or ``random``: the whole
pipeline with tiny randomly initialised networks in the official file formats (noise by design).

    from videocomposer.app import DemoRequest, run_demo
    result = run_demo(DemoRequest(output_dir="demo_output"))
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .checks import whole_at_least
from .errors import RequestError, mention

PathLike = str | os.PathLike
#: Size and steps of the random networks when the request leaves them out.
RANDOM_DEFAULTS = {"frames": 8, "size": 64, "steps": 10}


@dataclass
class DemoRequest:
    """``random``: tiny random networks instead of the toy model; ``frames`` and ``size`` (a multiple of 16,
    at least 32) apply to them only; ``steps``: denoising steps (None: the toy model's own, or 10)."""

    output_dir: PathLike = "demo_output"
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


def run_demo(request: DemoRequest) -> Any:
    """Run the demo; returns the pipeline's demo result (``folder``, the videos and GIFs, ``seconds``)."""
    request.check()
    if not request.random:
        from ..pipelines.toy_demo import run_toy_demo

        return run_toy_demo(request.output_dir, steps=request.steps, seed=request.seed, progress=request.progress)
    from ..pipelines.demo import run_demo as run_random_demo

    settings = {k: v if getattr(request, k) is None else getattr(request, k) for k, v in RANDOM_DEFAULTS.items()}
    return run_random_demo(
        request.output_dir,
        num_frames=settings["frames"],
        size=settings["size"],
        steps=settings["steps"],
        seed=request.seed,
        progress=request.progress,
    )
