"""The toy model's card: the shipped MODEL_CARD.md is the template filled from the model folder's records, in
the usual model-card structure, with the figures of metrics.json and commands that parse; the install stage writes it with the model."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import yaml

import videocomposer
from recipes.toy import __main__ as recipe_cli
from recipes.toy import codec_benchmark
from recipes.toy.card import TABLE_ROWS, missed_targets, render_model_card, write_model_card
from recipes.toy.install import TRAIN_CONFIG_KEYS, install, training_summary
from recipes.toy.recipe import TRAINING_STAGES
from videocomposer.pipelines.toy_demo import load_demo_inputs
from videocomposer.pipelines.toy_model import RECIPE_COMMAND

SECTIONS = ["Model details", "Intended use", "Training data", "Training procedure", "Evaluation results", "Limitations"]
#: Words of a development log, which a model card does not hold.
NARRATION = re.compile(r"\bsessions?\b|\btried\b|not adopted|\bour\b|until now|work period", re.IGNORECASE)


@pytest.fixture(scope="module")
def records():
    folder = videocomposer.toy_model_dir()
    return {name: json.loads((folder / f"{name}.json").read_text()) for name in ("training", "metrics")}


@pytest.fixture(scope="module")
def card(records):
    return render_model_card(records["training"], records["metrics"])


def test_the_shipped_card_is_the_template_filled_from_the_shipped_records(card):
    assert (videocomposer.toy_model_dir() / "MODEL_CARD.md").read_text(encoding="utf-8") == card


def test_the_card_has_the_usual_sections_in_order_and_no_development_log(card):
    headings = re.findall(r"^## (.+)$", card, re.MULTILINE)
    assert headings == SECTIONS
    assert not NARRATION.search(card), NARRATION.search(card)
    assert "$" not in card  # every placeholder filled


def test_the_card_keeps_every_measured_figure_of_metrics_json(card, records):
    metrics = records["metrics"]
    for sampler in metrics["comparison"]["samplers"].values():  # the default sampler's, and the comparison's
        for key, _ in TABLE_ROWS:
            assert f"| {sampler['means'][key]:.3f} |" in card, key
    for key in ("motion_epe_source", "motion_epe_still", "motion_epe_vae", "flow_epe_vae"):
        assert f"{metrics['reference_points'][key]:.3f}" in card, key
    for key in missed_targets(next(iter(metrics["samplers"].values()))["means"]):
        assert f"Targets not reached: {key}" in card


def test_the_card_shows_commands_that_parse(card):
    blocks = re.findall(r"^```bash\n(.*?)^```", card, re.MULTILINE | re.DOTALL)
    commands = [shlex.split(line) for block in blocks for line in block.splitlines()]
    assert shlex.split(RECIPE_COMMAND) in commands
    parsers = {"recipes.toy": recipe_cli.build_parser, "recipes.toy.codec_benchmark": codec_benchmark.build_parser}
    assert {c[2] for c in commands} == set(parsers)
    for command in commands:
        parsers[command[2]]().parse_args(command[3:])


def test_recipe_command_builds_and_installs_the_model():
    args = recipe_cli.build_parser().parse_args(shlex.split(RECIPE_COMMAND)[3:])
    assert args.output_dir == "runs/toy" and args.threads == 2 and args.evaluate and args.install


def _record(seconds: float) -> dict:
    stages = {stage: {"seconds": seconds} for stage in TRAINING_STAGES}
    stages["data"].update(clips=10, seed=3, frames=24, fps=4, size=128)
    stages["vae"].update(steps=20, held_out_psnr_db=30.123, scale_factor=0.5)
    stages["unet"].update(steps=40, first_loss=1.23456, last_loss=0.45678, s_per_step=0.555)
    stages["vae_decoder"].update(steps=5, held_out_psnr_db=31.5)
    return {"stages": stages}


def test_training_summary_rounds_the_record_as_the_card_shows_it():
    config = {key: None for key in TRAIN_CONFIG_KEYS} | {"batch_size": 2, "extra_key": 1}
    summary = training_summary(_record(seconds=90.0), config)
    assert summary["unet"] == {"steps": 40, "first_loss": 1.235, "last_loss": 0.457, "s_per_step": 0.56, "minutes": 1.5}
    assert summary["total_minutes"] == round(len(TRAINING_STAGES) * 1.5)
    assert summary["train_config"] == {key: config[key] for key in TRAIN_CONFIG_KEYS}  # the card's keys only
    assert summary["data"]["clips"] == 10 and summary["vae"]["scale_factor"] == 0.5


def test_write_model_card_names_a_missing_record(tmp_path):
    (tmp_path / "metrics.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="training.json"):
        write_model_card(tmp_path)
    assert not (tmp_path / "MODEL_CARD.md").exists()


def test_install_writes_the_model_with_its_records_card_and_the_demo_inputs(tmp_path, records):
    run = tmp_path / "run"
    (run / "toy_model").mkdir(parents=True)
    (run / "toy_model" / "model_index.json").write_text("{}")
    (run / "unet_run").mkdir()
    (run / "unet_run" / "config.yaml").write_text(yaml.safe_dump({**records["training"]["train_config"], "seed": 1}))
    record = _record(seconds=120.0)
    target = tmp_path / "assets" / "toy_model"
    with pytest.raises(ValueError, match="--evaluate"):
        install(run / "toy_model", record, target)
    assert not target.exists()
    record["stages"]["evaluate"] = {"seconds": 1.0, "metrics": records["metrics"]}
    assert install(run / "toy_model", record, target) == target
    assert (target / "model_index.json").read_text() == "{}"
    assert json.loads((target / "metrics.json").read_text()) == records["metrics"]
    training = json.loads((target / "training.json").read_text())
    assert training == training_summary(record, records["training"]["train_config"])
    assert (target / "MODEL_CARD.md").read_text(encoding="utf-8") == render_model_card(training, records["metrics"])
    assert "| VAE | 20 steps" in (target / "MODEL_CARD.md").read_text(encoding="utf-8")  # this record's figures
    assert load_demo_inputs(tmp_path / "assets" / "demo").text_only_prompt
