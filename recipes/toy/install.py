"""The recipe's ``--install`` stage: the built model into the package, with its records, card and demo inputs.

``videocomposer/assets/toy_model`` (the folder :func:`videocomposer.toy_model_dir` returns) receives the
assembled model, ``metrics.json`` (the held-out benchmark), ``training.json`` (each stage's settings and time,
:func:`training_summary`) and ``MODEL_CARD.md`` rendered from them (:mod:`recipes.toy.card`);
``videocomposer/assets/demo`` receives the inputs of ``videocomposer demo`` (:mod:`recipes.toy.demo_assets`).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from videocomposer.files import write_text
from videocomposer.pipelines.toy_model import PACKAGED_TOY_MODEL

from .card import write_model_card
from .demo_assets import write_demo_assets
from .recipe import TRAINING_STAGES

#: The UNet run's training settings the model card reports (``train_config`` of ``training.json``).
TRAIN_CONFIG_KEYS = (
    "batch_size",
    "learning_rate",
    "lr_schedule",
    "end_learning_rate",
    "prediction_type",
    "loss_weighting",
    "loss_weighting_gamma",
    "zero_terminal_snr",
    "noise_correlation",
    "noise_offset",
    "misc_dropout",
    "use_ema",
    "ema_decay",
)


def training_summary(record: dict[str, Any], train_config: dict[str, Any]) -> dict[str, Any]:
    """``training.json``: the figures of the recipe's record (``recipe.json``) that the model card shows, rounded
    as shown (minutes to 0.1, losses to 0.001, the total to whole minutes), and the UNet run's resolved settings."""
    stages = record["stages"]

    def minutes(stage: str) -> float:
        return round(stages[stage]["seconds"] / 60, 1)

    data, vae, unet, decoder = stages["data"], stages["vae"], stages["unet"], stages["vae_decoder"]
    return {
        "data": {**{k: data[k] for k in ("clips", "seed", "frames", "fps", "size")}, "minutes": minutes("data")},
        "vae": {
            "steps": vae["steps"],
            "held_out_psnr_db": vae["held_out_psnr_db"],
            "scale_factor": vae["scale_factor"],
            "minutes": minutes("vae"),
        },
        "cache": {"minutes": minutes("cache")},
        "unet": {
            "steps": unet["steps"],
            "first_loss": round(unet["first_loss"], 3),
            "last_loss": round(unet["last_loss"], 3),
            "s_per_step": round(unet["s_per_step"], 2),
            "minutes": minutes("unet"),
        },
        "vae_decoder": {
            "steps": decoder["steps"],
            "held_out_psnr_db": decoder["held_out_psnr_db"],
            "minutes": minutes("vae_decoder"),
        },
        "total_minutes": round(sum(stages[s]["seconds"] for s in TRAINING_STAGES) / 60),
        "train_config": {k: train_config.get(k) for k in TRAIN_CONFIG_KEYS},
    }


def install(model_dir: Path, record: dict[str, Any], target: Path = PACKAGED_TOY_MODEL) -> Path:
    """Copy the assembled model into ``target`` (default: the package's) with ``metrics.json``, ``training.json`` and
    ``MODEL_CARD.md`` (needs the ``evaluate`` stage), replacing the old one; write the demo's inputs beside it."""
    if "evaluate" not in record.get("stages", {}):
        raise ValueError("--install needs the measured metrics for the model card: add --evaluate")
    staging = target.with_name(target.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model_dir, staging)
    write_text(staging / "metrics.json", json.dumps(record["stages"]["evaluate"]["metrics"], indent=2) + "\n")
    train_config = yaml.safe_load((model_dir.parent / "unet_run" / "config.yaml").read_text())  # as resolved by the run
    write_text(staging / "training.json", json.dumps(training_summary(record, train_config), indent=2) + "\n")
    write_model_card(staging)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    write_demo_assets(target.parent / "demo")
    return target
