"""Training logs: a CSV file (always), TensorBoard events (when the package is installed)."""

from __future__ import annotations

import csv
import logging
from collections.abc import Mapping
from pathlib import Path

from ..files import atomic_path

log = logging.getLogger(__name__)

#: ``loss`` is averaged and ``broken_videos`` summed over all processes.
COLUMNS = (
    "step",
    "epoch",
    "loss",
    "lr",
    "grad_norm",
    "loss_scale",
    "skipped_steps",
    "broken_videos",
    "s_per_step",
    "data_s",
    "samples_per_s",
)


class MetricsLog:
    """Appends one row per logged step to ``train_log.csv``; on resume, rows after the resumed step
    (written by the interrupted run after its last checkpoint) are dropped first, so the file reads as
    one uninterrupted run."""

    def __init__(self, output_dir: Path, resume_step: int = 0, tensorboard: bool = True):
        self.path = output_dir / "train_log.csv"
        if self.path.is_file():
            with open(self.path, newline="") as handle:
                kept = [row for row in csv.DictReader(handle) if int(row["step"]) <= resume_step]
        else:
            kept = []
        with atomic_path(self.path) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, COLUMNS)
            writer.writeheader()
            writer.writerows(kept)
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(output_dir / "tensorboard"), purge_step=resume_step + 1)
            except ImportError:
                log.info("tensorboard is not installed; logging to %s only", self.path)

    def write(self, row: Mapping[str, float]) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, COLUMNS).writerow({k: row.get(k, "") for k in COLUMNS})
        if self.writer is not None:
            for key in COLUMNS[2:]:
                if key in row:
                    self.writer.add_scalar(f"train/{key}", row[key], int(row["step"]))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
