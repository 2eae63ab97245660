"""The original repository's eight task files (and the MindSpore port's), unchanged: every key read (mapped onto
the preset, or named once with the reason it has no effect), each file runs with ``generate --cfg FILE``, and a
wrong type names the key, the file, the line and the type expected (shapes of the files: tests/data/README.md)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from videocomposer.app import GenerateRequest, RequestError
from videocomposer.app.generation_request import check_task_inputs, given_inputs, task_preset
from videocomposer.cli import main
from videocomposer.config import ConfigError
from videocomposer.pipelines import load_preset
from videocomposer.pipelines.demo import make_demo_video
from videocomposer.pipelines.tiny import tiny_model_config, write_tiny_official_weights

DATA = Path(__file__).resolve().parents[1] / "data"
REFERENCE = DATA / "reference"
#: The keys of the original's task files and of its configs/base.yaml, with the type of each (issue 27,
#: reference-spec.md §8.1-8.2); ``batch_sizes`` maps frame counts, written as strings, to batch sizes.
ORIGINAL_KEY_TYPES = {
    **dict.fromkeys(["TASK_TYPE", "DATASET", "network_name", "resume_checkpoint", "log_dir"], str),
    **dict.fromkeys(["ENABLE", "read_image", "read_style", "read_sketch", "save_origin_video", "mvs_visual"], bool),
    "resume": bool,
    **dict.fromkeys(["video_compositions", "guidances"], list),
    "batch_sizes": dict,
    **dict.fromkeys(["vit_image_size", "resume_step", "seed", "num_workers", "chunk_size", "num_steps"], int),
}
#: inference_multi.py's six runs (reference-spec.md §8.2, IM:657-800).
MULTI = {
    "y_motion": ["y", "motion"],
    "y_sketch": ["y", "sketch"],
    "y_depth": ["y", "depth"],
    "y_local_image": ["y", "local_image"],
    "image_depth": ["image", "depth"],
    "y_masked": ["y", "masked"],
}
#: reference-spec.md §8.2: each task file's runs (guidances), the inputs it reads, its UNet file, save_origin_video.
TASKS = {
    "exp01_vidcomposer_full": (MULTI, ["video"], "non_ema_228000.pth", True),
    "exp02_motion_transfer": (
        {"exp02_motion_transfer": ["y", "local_image", "motion"]},
        ["image"],
        "non_ema_228000.pth",
        True,
    ),
    "exp02_motion_transfer_vs_style": (
        {"exp02_motion_transfer_vs_style": ["y", "local_image", "image", "motion"]},
        ["image", "style_image"],
        "non_ema_228000.pth",
        True,
    ),
    "exp03_sketch2video_style": (
        {"exp03_sketch2video_style": ["y", "image", "single_sketch"]},
        ["style_image", "sketch"],
        "non_ema_228000.pth",
        False,
    ),
    "exp04_sketch2video_wo_style": (
        {"exp04_sketch2video_wo_style": ["y", "single_sketch"]},
        ["sketch"],
        "non_ema_228000.pth",
        False,
    ),
    "exp05_text_depths_wo_style": ({"exp05_text_depths_wo_style": ["y", "depth"]}, [], "non_ema_228000.pth", True),
    "exp06_text_depths_vs_style": (
        {"exp06_text_depths_vs_style": ["y", "image", "depth"]},
        ["style_image"],
        "non_ema_228000.pth",
        True,
    ),
    "exp10_vidcomposer_no_watermark_full": (MULTI, ["video"], "non_ema_141000_no_watermark.pth", True),
}
#: Keys the mapping uses (the rest of a file's keys must be in the "has no effect here" line).
MAPPED = {"TASK_TYPE", "read_image", "read_style", "read_sketch", "resume_checkpoint", "video_compositions"}
MAPPED_SINGLE = MAPPED | {"guidances", "save_origin_video"}


def report_of(path: Path) -> list[str]:
    lines: list[str] = []
    load_preset(path, report=lines.append)
    return lines


def no_effect_keys(lines: list[str]) -> list[str]:
    """The keys named in the one "has no effect here" line, in order."""
    (line,) = [line for line in lines if "has no effect here: " in line]
    return re.findall(r"(?:: |\), )([A-Za-z_0-9]+) \(", line.split("has no effect here")[1])


def test_the_test_files_hold_exactly_the_originals_keys_and_types():
    for path in sorted(REFERENCE.glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        assert set(data) <= set(ORIGINAL_KEY_TYPES), path.name
        assert {"ENABLE", "DATASET", "num_workers", "batch_sizes", "resume_checkpoint"} <= set(data), path.name
        for key, value in data.items():
            assert type(value) is ORIGINAL_KEY_TYPES[key], (path.name, key)
        assert all(type(k) is str and type(v) is int for k, v in data["batch_sizes"].items())
    assert sorted(p.stem for p in REFERENCE.glob("*.yaml")) == sorted(TASKS)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_original_task_file_maps_onto_its_task(task):
    runs, requires, unet_file, save_origin_video = TASKS[task]
    path = REFERENCE / f"{task}.yaml"
    preset = load_preset(path, report=lambda line: None)
    assert preset.runs() == runs and preset.requires == requires
    assert preset.unet_file == unet_file and preset.save_origin_video is save_origin_video
    assert preset.seed == 8888  # the original's --seed (default 8888) always replaces the file's seed
    lines = report_of(path)
    keys = list(yaml.safe_load(path.read_text()))
    mapped = MAPPED_SINGLE if "SINGLE_TASK" in path.read_text() else MAPPED
    ignored = no_effect_keys(lines)
    assert sorted(ignored) == sorted(k for k in keys if k not in mapped)  # each key once, none left out
    assert "seed" in ignored and "num_workers" in ignored and "batch_sizes" in ignored
    for key in (k for k in keys if k in mapped):
        assert sum(line.startswith(f"  {key}: ") or f" {key}," in line or f" {key}:" in line for line in lines) == 1


def test_exp10_runs_the_six_pairs_although_the_original_does_not_dispatch_it():
    lines = report_of(REFERENCE / "exp10_vidcomposer_no_watermark_full.yaml")
    assert any("VideoComposer_Inference' (the original stops with 'Not suport task')" in line for line in lines)
    assert "mvs_visual" in no_effect_keys(lines)


def test_the_ports_task_files_map_the_same_way():
    lines: list[str] = []
    preset = load_preset(DATA / "mindone" / "exp02_motion_transfer.yaml", report=lines.append)
    assert preset.runs() == TASKS["exp02_motion_transfer"][0] and preset.requires == ["image"]
    assert preset.unet_file == "non_ema_228000.pth"  # the port's conversion names the official file
    assert {"use_fp16", "ms_mode", "chunk_size", "num_workers", "seed"} <= set(no_effect_keys(lines))
    assert any("non_ema_228000-3bb2ee9a.ckpt is the port's conversion of it" in line for line in lines)
    multi = load_preset(DATA / "mindone" / "exp01_vidcomposer_full.yaml", report=lambda line: None)
    assert multi.runs() == MULTI and multi.unet_file == "non_ema_228000.pth"


def test_resume_checkpoint_naming_an_existing_file_selects_that_file(tmp_path):
    unet = tmp_path / "weights" / "non_ema_141000_no_watermark.pth"
    unet.parent.mkdir()
    unet.write_bytes(b"")
    text = (REFERENCE / "exp05_text_depths_wo_style.yaml").read_text()
    path = tmp_path / "task.yaml"
    path.write_text(text.replace('"model_weights/non_ema_228000.pth"', f'"{unet}"'))
    assert load_preset(path, report=lambda line: None).unet_file == str(unet.resolve())


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("original_tasks")
    weights = folder / "weights"
    write_tiny_official_weights(weights)
    only_141000 = folder / "weights_141000"  # the no-watermark UNet alone: exp10 must select it
    write_tiny_official_weights(
        only_141000, seed=5, components=["unet"], unet_filename="non_ema_141000_no_watermark.pth"
    )
    for file in weights.iterdir():
        if file.name != "non_ema_228000.pth":
            shutil.copy(file, only_141000 / file.name)
    config = folder / "tiny_model.json"
    config.write_text(json.dumps(tiny_model_config()))
    frames = make_demo_video(folder / "clip.mp4", num_frames=24, height=48, width=64)
    frames[0].save(folder / "first.png")
    frames[5].convert("L").save(folder / "sketch.png")
    return {
        "weights": weights,
        "weights_141000": only_141000,
        "config": config,
        "video": folder / "clip.mp4",
        "image": folder / "first.png",
        "style_image": folder / "first.png",
        "sketch": folder / "sketch.png",
    }


@pytest.mark.parametrize("task", sorted(TASKS))
def test_each_original_task_file_is_a_request_that_names_what_it_needs(inputs, task):
    path = REFERENCE / f"{task}.yaml"
    needed = {"video": inputs["video"], **{name: inputs[name] for name in TASKS[task][1]}}
    request = GenerateRequest(task=str(path), weights_dir=inputs["weights"], **needed)
    preset = task_preset(request, report=lambda line: None)
    assert preset == load_preset(path, report=lambda line: None)
    check_task_inputs(preset, {**given_inputs(request), "prompt": preset.prompt})
    for name in TASKS[task][1]:  # without an input the file reads: refused before any compute, naming it
        short = GenerateRequest(task=str(path), weights_dir=inputs["weights"], **{**needed, name: None})
        with pytest.raises(RequestError) as error:
            check_task_inputs(preset, {**given_inputs(short), "prompt": preset.prompt})
        assert error.value.field == name


def generate(inputs, task: Path, weights: Path, out: Path, *extra: str) -> int:
    return main(
        [
            "generate",
            "--cfg",
            str(task),
            "--weights-dir",
            str(weights),
            "--model-config",
            str(inputs["config"]),
            "--input_video",
            str(inputs["video"]),
            "--frames",
            "2",
            "--height",
            "32",
            "--width",
            "32",
            "--steps",
            "1",
            "--output-dir",
            str(out),
            "--quiet",
            *extra,
        ]
    )


def test_exp05_generates_from_the_original_file(inputs, tmp_path, capsys):
    assert generate(inputs, REFERENCE / "exp05_text_depths_wo_style.yaml", inputs["weights"], tmp_path) == 0
    err = capsys.readouterr().err
    assert "has no effect here: ENABLE (" in err and "Traceback" not in err
    folder = tmp_path / "exp05_text_depths_wo_style-clip-S08888"
    assert (folder / "exp05_text_depths_wo_style-S08888.mp4").is_file()
    assert yaml.safe_load((folder / "config.yaml").read_text())["unet_file"] == "non_ema_228000.pth"


@pytest.mark.slow
def test_exp10_selects_the_no_watermark_unet_of_its_resume_checkpoint(inputs, tmp_path, capsys):
    exp10 = REFERENCE / "exp10_vidcomposer_no_watermark_full.yaml"
    assert generate(inputs, exp10, inputs["weights_141000"], tmp_path) == 0, capsys.readouterr().err
    folder = tmp_path / "exp10_vidcomposer_no_watermark_full-clip-S08888"
    assert sorted(p.name for p in folder.glob("*.mp4")) == sorted(f"{run}-S08888.mp4" for run in MULTI)
    assert yaml.safe_load((folder / "config.yaml").read_text())["unet_file"] == "non_ema_141000_no_watermark.pth"
    capsys.readouterr()
    # exp01 names non_ema_228000.pth, which that folder does not hold: the file decides which UNet loads
    assert generate(inputs, REFERENCE / "exp01_vidcomposer_full.yaml", inputs["weights_141000"], tmp_path / "b") == 2
    assert "non_ema_228000.pth" in capsys.readouterr().err


@pytest.mark.parametrize(
    "original, wrong, key, expected",
    [
        ("guidances: ['y', 'depth']", "guidances: y", "guidances", "expected a list of condition names"),
        ("video_compositions: [", "video_compositions: text #[", "video_compositions", "expected a list of"),
        ('    "16": 1,\n}', '    "16": [1],\n}', "batch_sizes", "expected a mapping of frame count to batch size"),
        ("num_workers: 0", "num_workers: [0, 1]", "num_workers", "expected an integer"),
        ("read_image: False", "read_image: [False]", "read_image", "expected true or false"),
        ("TASK_TYPE: SINGLE_TASK", "TASK_TYPE: {single: true}", "TASK_TYPE", "expected a string"),
        ("log_dir: 'outputs'", "log_dir: [outputs]", "log_dir", "expected a string"),
    ],
)
def test_a_wrong_type_names_key_file_line_and_type(tmp_path, capsys, original, wrong, key, expected):
    text = (REFERENCE / "exp05_text_depths_wo_style.yaml").read_text()
    assert original in text
    path = (tmp_path / "task.yaml").resolve()
    path.write_text(text.replace(original, wrong))
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.startswith(key))
    with pytest.raises(ConfigError, match=re.escape(f"{key} ({path}, line {line}): {expected}")):
        load_preset(path, report=lambda line: None)
    assert main(["generate", "--cfg", str(path), "--weights-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"{key} ({path}, line {line}): {expected}" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "original, wrong, key, expected",
    [
        ("learning_rate: 5.e-5", "learning_rate: [5.e-5]", "learning_rate", "expected a number"),
        ("num_parallel_workers: 2", "num_parallel_workers: [2]", "num_parallel_workers", "expected an integer"),
        ("use_recompute: True", "use_recompute: [True]", "use_recompute", "expected true or false"),
        ('optim: "adamw_fp32"', "optim: [adamw]", "optim", "expected a string"),
        ("ckpt_save_interval: 25", "ckpt_save_interval: {every: 25}", "ckpt_save_interval", "expected an integer"),
        (
            "conditions_for_train: [",
            "conditions_for_train: text #[",
            "conditions_for_train",
            "expected a list of strings",
        ),
    ],
)
def test_the_ports_training_file_names_key_file_line_and_type(tmp_path, capsys, original, wrong, key, expected):
    text = (DATA / "mindone" / "train_exp02_motion_transfer.yaml").read_text()
    assert original in text
    path = (tmp_path / "train.yaml").resolve()
    path.write_text(text.replace(original, wrong))
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.startswith(key))
    argv = [
        "train",
        "-c",
        str(path),
        "--output-dir",
        str(tmp_path / "run"),
        "--weights-dir",
        str(tmp_path),
        "--dry-run",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{key} ({path}, line {line}): {expected}" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_a_file_of_the_other_command_says_which_command_reads_it(tmp_path, capsys):
    assert main(["generate", "--cfg", str(DATA / "mindone" / "train_exp02_motion_transfer.yaml")]) == 2
    assert "a training config (it sets" in capsys.readouterr().err
    exp05 = REFERENCE / "exp05_text_depths_wo_style.yaml"
    argv = [
        "train",
        "-c",
        str(exp05),
        "--output-dir",
        str(tmp_path / "run"),
        "--weights-dir",
        str(tmp_path),
        "--dry-run",
    ]
    assert main(argv) == 2
    assert f"videocomposer generate --cfg {exp05}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "text, message",
    [
        ("a: 1\na: 2\n", "line 2: key 'a' is given twice (first on line 1)"),
        ("a: [1\n", "not valid YAML/JSON"),
        ("- 1\n- 2\n", "expected a mapping of keys to values at the top level, found list"),
        ("a: &x [*x]\n", "more than 100000 values"),
        ("1: one\n", "key 1 is not a name"),
    ],
)
def test_a_file_that_is_not_a_config_is_named(tmp_path, capsys, text, message):
    path = tmp_path / "task.yaml"
    path.write_text(text)
    assert main(["generate", "--cfg", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and "Traceback" not in err


def test_a_binary_file_is_named(tmp_path, capsys):
    path = tmp_path / "task.yaml"
    path.write_bytes(b"\xff\xfe\x00\x01" * 8)
    assert main(["generate", "--cfg", str(path)]) == 2
    assert f"{path}: not a text file" in capsys.readouterr().err
