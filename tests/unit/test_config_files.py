"""The one config loader: our presets and the MindSpore port's training YAMLs (shapes in tests/data/README.md)
load by mapping, typos get a did-you-mean, types are checked (the original's task files: test_original_task_files)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from videocomposer.config import ConfigError, build, read_model_config
from videocomposer.models.unet import UNetConfig
from videocomposer.pipelines import load_preset
from videocomposer.training.config import load_train_config

DATA = Path(__file__).resolve().parents[1] / "data"


def test_the_originals_cfg_path_names_our_preset():
    lines: list[str] = []
    preset = load_preset("configs/exp02_motion_transfer.yaml", report=lines.append)
    assert preset == load_preset("exp02_motion_transfer")
    assert "using our preset 'exp02_motion_transfer'" in lines[0]
    with pytest.raises(ValueError, match="unknown task preset"):
        load_preset("configs/exp07_text_image_wo_style.yaml")  # run_bash.sh names it; it never existed


def test_preset_keys_and_types_are_checked(tmp_path):
    path = (tmp_path / "mine.yaml").resolve()
    path.write_text("base: compose\nguidance_scal: 7\n")
    with pytest.raises(ConfigError, match=r"'guidance_scal' \(did you mean 'guidance_scale'") as error:
        load_preset(path)
    assert f"guidance_scal: {path}, line 2" in str(error.value)
    path.write_text("base: compose\nnum_frames: many\n")
    with pytest.raises(ConfigError, match=re.escape(f"num_frames ({path}, line 2): expected an integer, got 'many'")):
        load_preset(path)
    path.write_text("base: compose\n\nseed: -1\n")  # a value out of range: the key, the file and the line
    with pytest.raises(
        ConfigError, match=re.escape(f"seed: must be a whole number from 0 to {2**64 - 1}, got -1 ({path}, line 3)")
    ):
        load_preset(path)
    path.write_text("base: exp01_vidcomposer_full\nguidances: {only: [y, depth]}\n")
    assert load_preset(path).runs() == {"only": ["y", "depth"]}  # a mapping replaces the base's, never merges


def test_port_training_yaml_maps_onto_ours_and_says_how():
    lines: list[str] = []
    cfg = load_train_config(DATA / "mindone" / "train_exp02_motion_transfer.yaml", report=lines.append)
    assert (cfg.optimizer, cfg.eps, cfg.betas, cfg.gradient_checkpointing) == ("adamw", 1e-8, [0.9, 0.999], True)
    assert (cfg.lr_schedule, cfg.learning_rate, cfg.end_learning_rate, cfg.warmup_steps) == ("cosine", 5e-5, 1e-5, 100)
    assert (cfg.checkpoint_every, cfg.checkpoint_every_epochs, cfg.keep_last) == (0, 25, 10)
    assert (cfg.num_workers, cfg.loss_scale_init, cfg.seed, cfg.root_dir) == (2, 65536.0, 182, "./datasets")
    assert cfg.conditions_for_train == ["text", "local_image", "motion"] and cfg.resume is None
    assert cfg.max_grad_norm is None  # the port never clips
    said = "\n".join(lines)
    for line in (
        "optim: 'adamw_fp32' -> optimizer: 'adamw'",
        "scheduler: 'cosine_decay' -> lr_schedule: 'cosine'",
        "ckpt_save_interval: 25 -> checkpoint_every: 0, checkpoint_every_epochs: 25",
        "use_recompute: True -> gradient_checkpointing: True",
    ):
        assert line in said
    no_effect = [line for line in lines if "has no effect here" in line]
    assert len(no_effect) == 1  # every key without effect named once, in one line, with the reason
    for key in ("TASK_TYPE", "ENABLE", "DATASET", "resume", "log_dir", "dataset_sink_mode", "step_mode", "offload"):
        assert f" {key} (" in no_effect[0]


def test_port_step_mode_fp16_and_resume_checkpoint():
    cfg = load_train_config(DATA / "mindone" / "train_exp05_text_depths_wo_style.yaml")
    assert (cfg.checkpoint_every, cfg.checkpoint_every_epochs, cfg.mixed_precision) == (1000, 0, "fp16")
    assert cfg.unet_checkpoint == "model_weights/non_ema_228000-7f157ec2.ckpt" and cfg.learning_rate == 1e-5


@pytest.mark.parametrize(
    "line, named",
    [
        ("scheduler: polynomial_decay", "scheduler: 'polynomial_decay' has no equivalent"),
        ("optim: adam", "optim: 'adam' has no equivalent"),
        ("offload: True", "offload: True has no equivalent"),
        ("sink_size: 4", "'sink_size'"),
    ],
)
def test_port_keys_with_no_equivalent_are_errors_naming_them(tmp_path, line, named):
    path = tmp_path / "train.yaml"
    path.write_text(f"use_recompute: False\n{line}\n")
    with pytest.raises(ConfigError, match=named):
        load_train_config(path)


def test_train_accepts_the_ports_dash_c_flag(tmp_path, capsys):
    from videocomposer.cli import main

    code = main(
        [
            "train",
            "-c",
            str(DATA / "mindone" / "train_exp02_motion_transfer.yaml"),
            "--output-dir",
            str(tmp_path),
            "--weights-dir",
            str(tmp_path),
            "--dry-run",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "optim: 'adamw_fp32' -> optimizer: 'adamw'" in captured.err and "checkpoint_every_epochs: 25" in captured.out


def test_model_configs_go_through_the_same_checks(tmp_path):
    assert build(UNetConfig, {"dim": 64, "dim_mult": [1, 2]}).dim_mult == (1, 2)
    with pytest.raises(ConfigError, match=r"'dimm' \(did you mean 'dim'"):
        build(UNetConfig, {"dimm": 64})
    with pytest.raises(ConfigError, match="expected an integer, got 'big'"):
        build(UNetConfig, {"dim": "big"})
    path = tmp_path / "model.json"
    path.write_text('{"unet": [1, 2]}')
    with pytest.raises(ConfigError, match=r"\['unet'\] must each map field names to values"):
        read_model_config(path)
