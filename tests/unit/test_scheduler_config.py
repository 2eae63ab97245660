"""The scheduler component of a model folder: ``SchedulerConfig()`` is the official model's sampling, the config
round-trips through ``scheduler/scheduler_config.json``, a bad file is refused naming the file and the field, and a
folder of the older layout (sampling settings in ``model_index.json``) loads with the settings it had, says so once,
and gives the same frames."""

from __future__ import annotations

import json
import re
import shutil
import warnings
from dataclasses import fields

import numpy as np
import pytest
import torch
from conftest import load_family

import videocomposer
from videocomposer.config import ConfigError
from videocomposer.diffusion import SCHEDULERS, SchedulerConfig
from videocomposer.pipelines import VideoComposerPipeline
from videocomposer.pipelines.folder_settings import load_scheduler_config, scheduler_config_path
from videocomposer.pipelines.toy_model import stored_defaults

#: The sampling settings the older layout kept in ``model_index.json``'s ``pipeline_config``.
OLDER_LAYOUT_KEYS = (
    "scheduler",
    "prediction_type",
    "zero_terminal_snr",
    "noise_correlation",
    "empty_caption",
    "num_inference_steps",
    "guidance_scale",
    "min_guidance_scale",
)


def test_the_default_config_is_the_official_models_sampling():
    """DDIM at the official step count, guidance and eta of the reference's runs, ε on its 1000-step schedule."""
    family = load_family("diffusion")
    ddim, ctor = family.config["ddim"], family.config["diffusion_ctor"]
    config = SchedulerConfig()
    assert config.scheduler == SCHEDULERS[0] == "ddim" and config.num_inference_steps == ddim["official_ddim_timesteps"]
    assert config.guidance_scale == ddim["guide_scale"] and config.eta == ddim["eta"]
    assert config.min_guidance_scale is None  # one scale for every frame, as the reference
    assert (ctor["mean_type"], config.prediction_type) == ("eps", "epsilon")
    assert config.num_train_timesteps == ctor["num_timesteps"]
    expected = family.tensors("schedule.safetensors")["betas"]
    assert torch.allclose(config.noise_schedule().betas, expected, rtol=1e-12, atol=0)
    assert not config.zero_terminal_snr and config.noise_correlation == 0.0 and config.empty_caption == "encoded"


def layout_warnings(action):
    """``action()``'s result and the messages of the older-layout warnings it gave (every warning let through)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = action()
    return result, [
        str(w.message) for w in caught if issubclass(w.category, FutureWarning) and "layout" in str(w.message)
    ]


def test_a_folder_of_official_files_samples_as_the_official_model(tmp_path):
    assert layout_warnings(lambda: load_scheduler_config(tmp_path)) == (SchedulerConfig(), [])  # silently
    assert stored_defaults(tmp_path) == {}


def test_the_config_round_trips_through_its_json_file(tmp_path):
    config = SchedulerConfig(
        scheduler="ddim",
        num_inference_steps=7,
        eta=0.5,
        guidance_scale=None,
        min_guidance_scale=0.5,
        prediction_type="v_prediction",
        beta_start=0.001,
        beta_end=0.02,
        num_train_timesteps=500,
        zero_terminal_snr=True,
        noise_correlation=0.25,
        empty_caption="zeros",
    )
    assert all(
        getattr(config, f.name) != f.default
        for f in fields(SchedulerConfig)
        if f.name not in ("scheduler", "beta_schedule")
    )  # eta needs ddim; one beta schedule
    path = config.to_json_file(tmp_path / "scheduler" / "scheduler_config.json")
    data = json.loads(path.read_text())
    assert data["_class_name"] == "SchedulerConfig" and data["_videocomposer_version"] == videocomposer.__version__
    assert SchedulerConfig.from_json_file(path) == config
    schedule = SchedulerConfig.from_json_file(path).noise_schedule()
    assert schedule.num_timesteps == 500 and schedule.zero_terminal_snr


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("scheduler", "ddpm", r"scheduler: expected one of ddim, dpmsolver\+\+, euler, got 'ddpm'"),
        ("num_inference_steps", "many", "num_inference_steps .*: expected an integer, got 'many'"),
        ("num_inference_steps", 0, r"num_inference_steps: must be in \[1, 1000\], got 0"),
        ("guidance_scale", [9.0], r"guidance_scale .*: expected a number, got \[9.0\]"),
        ("zero_terminal_snr", 2, "zero_terminal_snr .*: expected true or false, got 2"),
        ("prediction_type", "x0", "prediction_type: expected one of epsilon, v_prediction, got 'x0'"),
        ("eta", 0.5, "eta: must be >= 0, and 0 for any scheduler but 'ddim'; got 0.5 with 'dpmsolver\\+\\+'"),
        (
            "min_guidance_scale",
            5.0,
            r"min_guidance_scale: frame 0's guidance must be between 0 and guidance_scale \(3.0\)",
        ),
        ("guidance", 3.0, r"unknown SchedulerConfig keys \['guidance'\] .*did you mean 'guidance_scale'"),
    ],
)
def test_bad_values_are_refused_naming_the_file_and_the_field(tmp_path, key, value, message):
    path = SchedulerConfig(scheduler="dpmsolver++", guidance_scale=3.0).to_json_file(tmp_path / "scheduler_config.json")
    data = json.loads(path.read_text())
    path.write_text(json.dumps({**data, key: value}))
    with pytest.raises(ConfigError, match=message) as error:
        SchedulerConfig.from_json_file(path)
    assert str(path) in str(error.value) and key in str(error.value)


def test_a_file_that_is_not_a_scheduler_config_is_refused(tmp_path):
    path = tmp_path / "scheduler_config.json"
    path.write_text("{ not json")
    with pytest.raises(ConfigError, match=f"{re.escape(str(path))}: not valid JSON"):
        SchedulerConfig.from_json_file(path)
    path.write_text(json.dumps({"_class_name": "DDIMScheduler", "num_train_timesteps": 1000}))
    with pytest.raises(
        ConfigError,
        match=f"{re.escape(str(path))}: _class_name is 'DDIMScheduler'; this version reads 'SchedulerConfig'",
    ):
        SchedulerConfig.from_json_file(path)


def _older_layout(folder, target):
    """``folder`` as the older layout stored it: the sampling settings in ``pipeline_config``, no scheduler/."""
    shutil.copytree(folder, target)
    settings = json.loads(scheduler_config_path(target).read_text())
    index = json.loads((target / "model_index.json").read_text())
    del index["scheduler"]
    index["pipeline_config"] = {**{k: settings[k] for k in OLDER_LAYOUT_KEYS}, **index["pipeline_config"]}
    (target / "model_index.json").write_text(json.dumps(index, indent=2))
    shutil.rmtree(target / "scheduler")
    return target


def _frames(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe(
        "a red circle moves left over a gray background",
        conditions=["y"],
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(3),
        output_type="np",
    ).frames


def test_a_folder_of_the_older_layout_loads_with_its_settings_says_so_once_and_gives_the_same_frames(tmp_path):
    current = videocomposer.toy_model_dir()
    older = _older_layout(current, tmp_path / "older")
    old, messages = layout_warnings(lambda: VideoComposerPipeline.from_pretrained(older))
    assert len(messages) == 1
    assert (
        str(older) in messages[0]
        and "save_pretrained" in messages[0]
        and "scheduler/scheduler_config.json" in messages[0]
    )
    # once: neither a second load nor the front ends' defaults repeat it; the current layout says nothing
    assert layout_warnings(lambda: VideoComposerPipeline.from_pretrained(older))[1] == []
    assert layout_warnings(lambda: stored_defaults(older)) == (stored_defaults(current), [])
    new, messages = layout_warnings(lambda: VideoComposerPipeline.from_pretrained(current))
    assert messages == []
    assert old.scheduler_config == new.scheduler_config and old.defaults == new.defaults
    assert old.scheduler_config.scheduler == "dpmsolver++" and old.scheduler_config.guidance_scale == 3.0
    assert np.array_equal(_frames(old), _frames(new))


def test_saving_a_folder_of_the_older_layout_again_updates_it(tmp_path):
    older = _older_layout(videocomposer.toy_model_dir(), tmp_path / "older")
    with pytest.warns(FutureWarning):
        pipe = VideoComposerPipeline.from_pretrained(older)
    pipe.save_pretrained(older)  # what the warning advises
    index = json.loads((older / "model_index.json").read_text())
    assert not set(OLDER_LAYOUT_KEYS) & set(index["pipeline_config"])
    assert SchedulerConfig.from_json_file(scheduler_config_path(older)) == pipe.scheduler_config


def test_bad_settings_of_an_older_folder_or_a_missing_scheduler_file_are_named(tmp_path):
    older = _older_layout(videocomposer.toy_model_dir(), tmp_path / "older")
    index = older / "model_index.json"
    index.write_text(index.read_text().replace('"v_prediction"', '"x0"'))
    with pytest.raises(ConfigError, match=r"model_index.json \(pipeline_config\): prediction_type: expected one of"):
        VideoComposerPipeline.from_pretrained(older)
    broken = tmp_path / "broken"
    shutil.copytree(videocomposer.toy_model_dir(), broken)
    scheduler_config_path(broken).unlink()
    with pytest.raises(
        FileNotFoundError,
        match="scheduler_config.json not found, though .*model_index.json lists a scheduler component",
    ):
        VideoComposerPipeline.from_pretrained(broken)
