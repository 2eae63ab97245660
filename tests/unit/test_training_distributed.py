"""FSDP2 under a real ``torchrun`` (2 processes, gloo on the CPU): the same training as one process with the
same global batch, checkpoints that resume on another world size, a consolidated UNet the pipeline loads,
and a failure in one rank that ends the run naming the rank and the clip.

Launches are shared where one run honestly serves several checks: the 2-process FSDP2 run writes the
checkpoints that the 2 → 1 resume starts from and the export the pipeline loads.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from videocomposer.checkpoints import read_state_dict
from videocomposer.pipelines.components import load_official_component
from videocomposer.training import train
from videocomposer.training.components import unet_config

from .test_training_loop import assert_same_update, config, workspace  # noqa: F401  (workspace: module fixture)
from .test_training_tasks import tiny_args

pytestmark = pytest.mark.slow

#: Deterministic settings with optimizer state to carry over (momentum), EMA, no dropout, fixed clip order.
RECIPE = (
    "misc_dropout=0",
    "p_all_zero=0",
    "p_all_keep=0",
    "optimizer=momentum",
    "momentum=0.9",
    "learning_rate=0.5",
    "end_learning_rate=0.5",
    "max_grad_norm=null",
    "warmup_steps=0",
    "shuffle=false",
    "max_steps=2",
    "checkpoint_every=1",
    "use_ema=true",
    "ema_decay=0.5",
    "keep_last=0",
)
TASK = "train_exp02_motion_transfer"
CRASH_SCRIPT = Path(__file__).with_name("crash_one_rank.py")


def torchrun(*args: str, script: list[str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        *(script or ["-m", "videocomposer.cli", "train"]),
        *args,
    ]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def unet_at(out: Path, step: int, name: str = "unet.safetensors") -> dict[str, torch.Tensor]:
    return load_file(str(out / "checkpoints" / f"step_{step:08d}" / name))


def update(ws, weights: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    start = read_state_dict(ws.weights / "non_ema_228000.pth")
    return {k: v - start[k] for k, v in weights.items()}


def losses(out: Path) -> list[float]:
    return json.loads((out / "summary.json").read_text())["losses"]


@pytest.fixture(scope="module")
def single(workspace, tmp_path_factory) -> Path:  # noqa: F811
    """The reference: one process, batch 2, two steps with a checkpoint after each."""
    out = tmp_path_factory.mktemp("single")
    train(config(workspace, out, TASK, *RECIPE, "batch_size=2"))
    return out


@pytest.fixture(scope="module")
def fsdp2(workspace, tmp_path_factory) -> Path:  # noqa: F811
    """2 processes × batch 1 under torchrun with FSDP2, the same two steps."""
    out = tmp_path_factory.mktemp("fsdp2")
    result = torchrun(*tiny_args(workspace, out, TASK), *RECIPE, "parallelism=fsdp2")
    assert result.returncode == 0, result.stderr[-4000:]
    return out


def test_fsdp2_trains_like_one_process_with_the_same_global_batch(workspace, single, fsdp2):  # noqa: F811
    for step in (1, 2):
        for name in ("unet.safetensors", "unet_ema.safetensors"):
            assert_same_update(
                update(workspace, unet_at(fsdp2, step, name)), update(workspace, unet_at(single, step, name))
            )
    assert losses(fsdp2) == pytest.approx(losses(single), rel=1e-5)
    assert (fsdp2 / "checkpoints" / "step_00000002" / "sharded" / ".metadata").is_file()
    assert not [p for p in (fsdp2 / "checkpoints").iterdir() if p.name.startswith(".tmp-")]  # nothing half-written


def test_consolidated_fsdp2_export_has_official_names_and_loads_in_the_pipeline(workspace, fsdp2):  # noqa: F811
    saved = unet_at(fsdp2, 2)
    assert set(saved) == set(read_state_dict(workspace.weights / "non_ema_228000.pth"))
    cfg = config(workspace, fsdp2 / "unused", TASK)
    unet = load_official_component(
        "unet", fsdp2 / "checkpoints" / "step_00000002" / "unet.safetensors", unet_config(cfg)
    )
    assert all(torch.equal(unet.state_dict()[k], v) for k, v in saved.items())


def test_resume_on_one_process_from_two(workspace, single, fsdp2, tmp_path):  # noqa: F811
    """2 → 1: the FSDP2 step-1 checkpoint (sharded optimizer state) continues in one process with batch 2."""
    shutil.copytree(fsdp2 / "checkpoints" / "step_00000001", tmp_path / "checkpoints" / "step_00000001")
    resumed = train(config(workspace, tmp_path, TASK, *RECIPE, "batch_size=2", "resume=latest"))
    assert resumed.steps_this_run == 1
    assert resumed.losses == pytest.approx(losses(single)[1:], rel=1e-5)
    for name in ("unet.safetensors", "unet_ema.safetensors"):
        assert_same_update(update(workspace, unet_at(tmp_path, 2, name)), update(workspace, unet_at(single, 2, name)))


def test_resume_on_two_processes_from_one(workspace, single, tmp_path):  # noqa: F811
    """1 → 2: the one-process step-1 checkpoint continues under torchrun with FSDP2 and batch 1."""
    shutil.copytree(single / "checkpoints" / "step_00000001", tmp_path / "checkpoints" / "step_00000001")
    result = torchrun(*tiny_args(workspace, tmp_path, TASK), *RECIPE, "parallelism=fsdp2", "resume=latest")
    assert result.returncode == 0, result.stderr[-4000:]
    assert losses(tmp_path) == pytest.approx(losses(single)[1:], rel=1e-5)
    for name in ("unet.safetensors", "unet_ema.safetensors"):
        assert_same_update(update(workspace, unet_at(tmp_path, 2, name)), update(workspace, unet_at(single, 2, name)))


def test_an_error_in_one_rank_ends_the_run_naming_the_rank_and_clip(workspace, tmp_path):  # noqa: F811
    """Rank 1 raises inside its second step while rank 0 waits in a collective: the run must end (not hang
    until the 30-minute timeout) with a non-zero status and a message naming rank 1 and its clip."""
    result = torchrun(
        *tiny_args(workspace, tmp_path, TASK), *RECIPE, "parallelism=fsdp2", script=[str(CRASH_SCRIPT)], timeout=240
    )
    assert result.returncode != 0
    assert "rank 1 of 2 failed at step 2 on" in result.stderr
    assert "clip1.mp4 (captions.csv:3, epoch 1 index 1)" in result.stderr  # step 2 = epoch 1, rank 1 takes index 1
    assert "injected failure" in result.stderr
