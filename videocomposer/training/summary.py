"""What a training run did: :class:`TrainSummary`, written to ``summary.json`` and logged at the end."""

from __future__ import annotations

import resource
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist


@dataclass
class TrainSummary:
    """What a run did. ``losses`` holds the loss of every optimizer step of this run, in order."""

    output_dir: str
    steps: int
    steps_this_run: int
    total_steps: int
    samples_this_run: int
    seconds: float
    s_per_step: float
    first_loss: float
    last_loss: float
    skipped_steps: int
    broken_videos: int
    broken_files: list[str]
    checkpoints: list[str]
    peak_memory_gb: float
    trainable_parameters: int
    losses: list[float] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        return (
            f"trained {self.steps_this_run} steps (now at {self.steps}/{self.total_steps}) in {self.seconds:.1f} s, "
            f"{self.s_per_step:.3f} s/step; loss {self.first_loss:.4f} -> {self.last_loss:.4f}; "
            f"skipped steps {self.skipped_steps}; broken videos {self.broken_videos}"
            f"{' (' + ', '.join(self.broken_files[:5]) + ')' if self.broken_files else ''}; "
            f"peak memory {self.peak_memory_gb:.2f} GB; trainable parameters {self.trainable_parameters:,}; "
            f"last checkpoint {Path(self.checkpoints[-1]).absolute() if self.checkpoints else '-'}"
        )


def peak_memory_gb(device: torch.device) -> float:
    """The peak memory of this process in GiB: allocated on a CUDA ``device``, else the resident set size."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB on Linux


def broken_totals(broken_videos: int, broken_files: set[str], world_size: int) -> tuple[int, list[str]]:
    """The broken videos of every rank: their count and their sorted file names (collectives when
    ``world_size`` > 1, so every rank calls it)."""
    count = torch.tensor(broken_videos)
    files: list[Any] = [sorted(broken_files)]
    if world_size > 1:
        dist.all_reduce(count)
        files = [None] * world_size
        dist.all_gather_object(files, sorted(broken_files))
    return int(count), sorted({f for rank in files for f in rank})
