"""`benchmarks/gpu_suite.py --dry-run` runs every section at a tiny size on the CPU, so the one-command GPU
benchmark is known to work before a GPU is lent (the figures themselves are not checked: speed belongs in
benchmarks/, never in timed tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_gpu_suite_dry_run_writes_every_section(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--dry-run", "--out", str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((tmp_path / "gpu_suite.json").read_text())
    for section in ("inference", "train", "data", "ddp"):
        assert section in results and "error" not in results[section], (section, results.get(section))
    assert all("s_per_sample" in row for row in results["inference"])
    assert all("s_per_step" in row and row["max_frames_fit"] == 4 for row in results["train"])
    assert results["data"]["cached_s_per_clip"] > 0 and results["ddp"]["two_processes"]["processes"] == 2
    rows = (tmp_path / "gpu_suite.md").read_text()
    for heading in ("| inference", "| training step", "| data per clip", "DDP training throughput", "MindSpore port"):
        assert heading in rows, heading
