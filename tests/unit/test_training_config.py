"""Training config: presets, layering, overrides, and one clear error per bad key."""

from __future__ import annotations

import dataclasses

import pytest
import yaml

from videocomposer.training.config import (
    BASE_CONFIG,
    CONFIG_DIR,
    ConfigError,
    TrainConfig,
    load_train_config,
    parse_overrides,
)

TASKS = {
    "train_exp02_motion_transfer": ["text", "local_image", "motion"],
    "train_exp02_motion_transfer_vs_style": ["text", "image", "local_image", "motion"],
    "train_exp03_sketch2video_style": ["text", "image", "single_sketch"],
    "train_exp04_sketch2video_wo_style": ["text", "single_sketch"],
    "train_exp05_text_depths_wo_style": ["text", "depthmap"],
    "train_exp06_text_depths_vs_style": ["text", "image", "depthmap"],
}


def test_base_yaml_lists_every_key_with_the_dataclass_default():
    values = yaml.safe_load(BASE_CONFIG.read_text())
    assert list(values) == [f.name for f in dataclasses.fields(TrainConfig)]
    assert load_train_config() == TrainConfig()


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_presets_train_their_conditions(task):
    cfg = load_train_config(task)
    assert cfg.conditions_for_train == TASKS[task]
    assert len(cfg.video_compositions) == 8  # the official checkpoint's encoders
    assert load_train_config(CONFIG_DIR / f"{task}.yaml") == cfg  # by path too


def test_exp02_recipe_is_the_ports():
    cfg = load_train_config("train_exp02_motion_transfer")
    assert (cfg.learning_rate, cfg.end_learning_rate, cfg.warmup_steps, cfg.lr_schedule) == (5e-5, 1e-5, 100, "cosine")
    assert cfg.betas == [0.9, 0.999] and cfg.gradient_checkpointing and cfg.seed == 182


def test_overrides_take_precedence_and_are_typed():
    cfg = load_train_config(
        "train_exp05_text_depths_wo_style",
        [
            "learning_rate=1e-4",
            "batch_size=2",
            "use_ema=true",
            "betas=[0.8,0.9]",
            "unet.dim=32",
            "unet.dim_mult=[1,2]",
            "max_grad_norm=null",
            "trainable_patterns=*temporal*,out.*",
        ],
    )
    assert cfg.learning_rate == 1e-4 and isinstance(cfg.learning_rate, float)
    assert cfg.batch_size == 2 and cfg.use_ema is True and cfg.betas == [0.8, 0.9]
    assert cfg.unet == {"dim": 32, "dim_mult": [1, 2]} and cfg.max_grad_norm is None
    assert cfg.trainable_patterns == ["*temporal*", "out.*"]


def test_user_yaml_inherits_from_a_preset(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("base: train_exp06_text_depths_vs_style\nbatch_size: 4\nunet: {dim: 64}\n")
    cfg = load_train_config(path, ["unet.num_heads=2"])
    assert cfg.conditions_for_train == TASKS["train_exp06_text_depths_vs_style"]
    assert cfg.batch_size == 4 and cfg.unet == {"dim": 64, "num_heads": 2}


BAD = [
    (["lerning_rate=1e-5"], "lerning_rate"),
    (["conditions_for_train=[text,depthmap]", "video_compositions=[text,motion]"], "conditions_for_train"),
    (["conditions_for_train=[text,canny]"], "canny"),
    (["video_compositions=[text,text]"], "video_compositions"),
    (["optimizer=adam8bit"], "optimizer"),
    (["lr_schedule=linear"], "lr_schedule"),
    (["mixed_precision=fp8"], "mixed_precision"),
    (["device=tpu"], "device"),
    (["batch_size=0"], "batch_size"),
    (["batch_size=1.5"], "batch_size"),
    (["max_frames=abc"], "max_frames"),
    (["learning_rate=fast"], "learning_rate"),
    (["learning_rate=0"], "learning_rate"),
    (["gradient_accumulation_steps=0"], "gradient_accumulation_steps"),
    (["max_grad_norm=-1"], "max_grad_norm"),
    (["ema_decay=1.5"], "ema_decay"),
    (["misc_dropout=-0.1"], "misc_dropout"),
    (["p_all_zero=0.6", "p_all_keep=0.6"], "p_all_zero"),
    (["betas=[0.9]"], "betas"),
    (["use_ema=maybe"], "use_ema"),
    (["resolution=100"], "resolution"),
    (["max_steps=0"], "max_steps"),
    (["loss_weighting=snr"], "loss_weighting"),
    (["noise_offset=-0.1"], "noise_offset"),
    (["noise_correlation=1.0"], "noise_correlation"),
    (["loss_weighting_gamma=0"], "loss_weighting_gamma"),
    (["prediction_type=x0"], "prediction_type"),
    (["zero_terminal_snr=true"], "zero_terminal_snr"),
    (["keep_last=-1"], "keep_last"),
    (["seed=null"], "seed"),
    (["unet.misc_dropout=0.1"], "unet.misc_dropout"),
    (["batch_size.x=1"], "batch_size"),
    (["no_equals_sign"], "key=value"),
]


@pytest.mark.parametrize("overrides,named", BAD, ids=[b[1] + "-" + b[0][0] for b in BAD])
def test_each_bad_key_is_an_error_naming_it(overrides, named):
    with pytest.raises(ConfigError, match=named.replace(".", r"\.").replace("*", r"\*")):
        load_train_config("train_exp02_motion_transfer", overrides)


def test_unknown_key_in_a_yaml_names_the_file(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("conditions_for_training: [text]\n")
    with pytest.raises(
        ConfigError, match=r"typo\.yaml.*'conditions_for_training' \(did you mean 'conditions_for_train'"
    ):
        load_train_config(path)


def test_missing_preset_lists_the_presets():
    with pytest.raises(FileNotFoundError, match="train_exp02_motion_transfer"):
        load_train_config("train_exp99_nothing")


def test_config_round_trips_through_a_dict():
    cfg = load_train_config("train_exp03_sketch2video_style", ["unet.dim=32"])
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    assert parse_overrides(["unet.a.b=1"]) == {"unet": {"a": {"b": 1}}}


def test_nested_values_survive_the_yaml_round_trip(tmp_path):
    from videocomposer.training.config import changed_keys, dump_config

    cfg = load_train_config(unet={"dim_mult": (1, 2)}, frozen_models={"vae": {"ch_mult": (1, 2, 2, 2)}})
    dump_config(cfg, tmp_path / "c.yaml")
    assert changed_keys(yaml.safe_load((tmp_path / "c.yaml").read_text()), cfg) == []
    assert changed_keys({**cfg.to_dict(), "learning_rate": 1.0, "max_steps": 5}, cfg) == ["learning_rate"]
