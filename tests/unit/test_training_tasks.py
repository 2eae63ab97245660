"""The six training presets run at tiny size through ``videocomposer train``; CLI errors are one line."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys

import pytest
import yaml
from safetensors.torch import load_file

from videocomposer.checkpoints import read_state_dict
from videocomposer.cli import main
from videocomposer.training.config import load_train_config

from .test_training_loop import assert_same_update, workspace  # noqa: F401  (workspace: the module-scoped fixture)

TASKS = [
    "train_exp02_motion_transfer",
    "train_exp02_motion_transfer_vs_style",
    "train_exp03_sketch2video_style",
    "train_exp04_sketch2video_wo_style",
    "train_exp05_text_depths_wo_style",
    "train_exp06_text_depths_vs_style",
]


def train_command(args: list[str]) -> int:
    """``videocomposer train ARGS``."""
    return main(["train", *args])


def tiny_args(ws, out, task):
    """CLI arguments for a tiny run: the tiny architectures go in as dotted overrides."""
    args = [
        "--config",
        task,
        "--output-dir",
        str(out),
        "--weights-dir",
        str(ws.weights),
        f"root_dir={ws.data}",
        "resolution=64",
        "misc_size=64",
        "max_frames=4",
        "num_workers=0",
        "mixed_precision=fp32",
        "device=cpu",
        "progress_bar=false",
        "tensorboard=false",
        "max_steps=2",
        "batch_size=1",
        "gradient_checkpointing=false",
    ]
    args += [f"unet.{k}={json.dumps(list(v) if isinstance(v, tuple) else v)}" for k, v in ws.unet.items()]
    args += [f"frozen_models.{k}={json.dumps(v)}" for k, v in ws.frozen.items()]
    return args


@pytest.mark.parametrize("task", TASKS)
def test_every_training_preset_trains_at_tiny_size(workspace, tmp_path, task, capsys):  # noqa: F811
    assert train_command(tiny_args(workspace, tmp_path, task)) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["steps"] == 2 and summary["skipped_steps"] == 0 and len(summary["losses"]) == 2
    with open(tmp_path / "train_log.csv", newline="") as handle:
        assert [int(r["step"]) for r in csv.DictReader(handle)] == [1, 2]
    resolved = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert resolved["conditions_for_train"] == load_train_config(task).conditions_for_train
    assert (tmp_path / "checkpoints" / "step_00000002" / "unet.safetensors").is_file()


def test_a_custom_composition_with_mask_and_sketch_trains(workspace, tmp_path):  # noqa: F811
    args = tiny_args(workspace, tmp_path, "train_exp02_motion_transfer") + [
        "conditions_for_train=[text,mask,sketch,single_sketch]",
        "max_steps=1",
    ]
    assert train_command(args) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["steps"] == 1


def test_cli_reports_a_bad_key_in_one_line_before_loading_anything(tmp_path, capsys):
    code = train_command(
        [
            "--config",
            "train_exp05_text_depths_wo_style",
            "--output-dir",
            str(tmp_path),
            "--weights-dir",
            str(tmp_path / "missing"),
            "conditions_for_train=[text,motion]",
            "video_compositions=[text,depthmap]",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "conditions_for_train" in err and "motion" in err
    assert not (tmp_path / "config.yaml").exists()


def test_cli_dry_run_prints_the_resolved_config(tmp_path, capsys):
    assert (
        train_command(
            [
                "--config",
                "train_exp06_text_depths_vs_style",
                "--output-dir",
                str(tmp_path),
                "--weights-dir",
                "w",
                "--dry-run",
                "learning_rate=3e-5",
            ]
        )
        == 0
    )
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["learning_rate"] == 3e-5 and printed["conditions_for_train"] == ["text", "image", "depthmap"]


def test_missing_weight_files_are_listed(workspace, tmp_path, capsys):  # noqa: F811
    args = tiny_args(workspace, tmp_path, "train_exp05_text_depths_wo_style")
    args[args.index("--weights-dir") + 1] = str(tmp_path)
    assert train_command(args) == 2
    err = capsys.readouterr().err
    assert "non_ema_228000.pth" in err and "midas_v3_dpt_large.pth" in err


@pytest.mark.slow
def test_torchrun_data_parallel_equals_the_single_process_batch(workspace, tmp_path):  # noqa: F811
    """2 processes × batch 1 under torchrun (gloo, CPU) take the same step as 1 process × batch 2."""
    exact = [
        "misc_dropout=0",
        "p_all_zero=0",
        "p_all_keep=0",
        "optimizer=momentum",
        "momentum=0",
        "learning_rate=1",
        "max_grad_norm=null",
        "warmup_steps=0",
        "shuffle=false",
        "max_steps=1",
    ]
    single = tiny_args(workspace, tmp_path / "single", "train_exp02_motion_transfer") + exact
    single[single.index("batch_size=1")] = "batch_size=2"
    assert train_command(single) == 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "videocomposer.cli",
        "train",
        *tiny_args(workspace, tmp_path / "ddp", "train_exp02_motion_transfer"),
        *exact,
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    start = read_state_dict(workspace.weights / "non_ema_228000.pth")
    a, b = (
        {
            k: v - start[k]
            for k, v in load_file(str(tmp_path / run / "checkpoints" / "step_00000001" / "unet.safetensors")).items()
        }
        for run in ("single", "ddp")
    )
    assert_same_update(b, a)
    single_loss = json.loads((tmp_path / "single" / "summary.json").read_text())["losses"]
    ddp_loss = json.loads((tmp_path / "ddp" / "summary.json").read_text())["losses"]
    assert ddp_loss == pytest.approx(single_loss, rel=1e-5)
