"""Run records a user can trust: a run's ``config.yaml`` names the weight files it read, its recorded command is one
shell line that runs when pasted (from any folder) and makes the same video, the demo never replaces an earlier
result, and every path the command line prints is absolute."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import av
import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from videocomposer.app import GenerateRequest
from videocomposer.app.generation_request import with_absolute_paths
from videocomposer.app.shell import shell_join, shell_quote
from videocomposer.cli import main, parse_command_line
from videocomposer.cli.generate import to_request
from videocomposer.pipelines.demo import make_demo_video
from videocomposer.pipelines.loading import pretrained_weight_files
from videocomposer.pipelines.tiny import tiny_model_config, write_tiny_official_weights
from videocomposer.pipelines.toy_model import toy_model_dir

BASH = shutil.which("bash")
#: Argument text: anything a command line can hold (no NUL), including quotes, $, spaces, newlines and tabs.
WORDS = st.lists(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))), max_size=5)


def bash_words(command: str) -> list[str]:
    """The words bash reads from ``command`` (as a pasted line)."""
    out = subprocess.run([BASH, "-c", f"printf '%s\\0' start {command}"], capture_output=True, check=True)
    return out.stdout.decode("utf-8", "surrogateescape").split("\0")[1:-1]


def decode(path: Path) -> np.ndarray:
    with av.open(str(path)) as container:
        return np.stack([f.to_ndarray(format="rgb24") for f in container.decode(video=0)])


@pytest.mark.skipif(BASH is None, reason="no bash")
@settings(max_examples=50, deadline=None)
@given(WORDS)
def test_a_joined_command_is_one_line_that_a_shell_reads_back_word_for_word(words):
    command = shell_join(words)
    assert "\n" not in command and "\r" not in command
    assert bash_words(command) == words


@settings(max_examples=50, deadline=None)
@given(WORDS.filter(lambda ws: not any(any(ord(c) < 32 or ord(c) == 127 for c in w) for w in ws)))
def test_without_control_characters_the_command_is_posix_quoting(words):
    assert shlex.split(shell_join(words)) == words
    assert all(shell_quote(w) == shlex.quote(w) for w in words)


def test_the_recorded_command_parses_back_to_the_same_request_from_any_folder(tmp_path, monkeypatch):
    (tmp_path / "my videos").mkdir()
    monkeypatch.chdir(tmp_path)
    request = GenerateRequest(
        task="exp02_motion_transfer",
        prompt='-a "red" ball\'s path; $HOME `x`',  # spaces, quotes, shell syntax, a leading dash
        negative_prompt="blurry\nlow quality",  # a newline
        video="my videos/clip one.mp4",
        image="first.png",
        weights_dir="toy",
        output_dir="out dir",
        steps=3,
    )
    command = request.to_command(absolute=True)
    expected = with_absolute_paths(request)
    assert expected.video == str(tmp_path / "my videos" / "clip one.mp4") and expected.weights_dir == "toy"
    assert expected.output_dir == str(tmp_path / "out dir") and expected.prompt == request.prompt
    monkeypatch.chdir(tmp_path / "my videos")  # pasted elsewhere
    argv = bash_words(command) if BASH else None
    if argv is not None:
        assert argv[:2] == ["videocomposer", "generate"]
        assert to_request(parse_command_line(argv[1:])) == expected
    plain = GenerateRequest(**{**vars(request), "negative_prompt": "blurry"})
    argv = shlex.split(plain.to_command(absolute=True))
    assert f"--input_text_desc={request.prompt}" in argv  # a value starting with '-' stays a value
    assert to_request(parse_command_line(argv[1:])) == with_absolute_paths(plain)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("records")
    write_tiny_official_weights(folder / "weights dir", components=["unet", "vae", "clip"])
    (folder / "tiny.json").write_text(json.dumps(tiny_model_config()))
    make_demo_video(folder / "my clip.mp4", num_frames=24, height=48, width=64)
    return folder


def header(config: Path) -> dict[str, str]:
    """The ``# key: value`` lines at the top of a run's config.yaml."""
    lines = [line[2:] for line in config.read_text().splitlines() if line.startswith("# ")]
    return dict(line.split(": ", 1) for line in lines)


def test_a_run_records_the_official_files_it_read_and_a_command_that_remakes_it(tiny, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(tiny / "my clip.mp4", tmp_path / "my clip.mp4")
    argv = ["generate", "compose", "--conditions", "y,motion", "--weights-dir", str(tiny / "weights dir")]
    argv += ["--model-config", str(tiny / "tiny.json"), "--input_video", "my clip.mp4", "--input_text_desc"]
    argv += ["a 'red' ball", "--frames", "2", "--height", "32", "--width", "32", "--steps", "1"]
    argv += ["--device", "cpu", "--quiet", "--output-dir", "out"]
    assert main(argv) == 0, capsys.readouterr().err
    folder = tmp_path / "out" / "compose-my clip-S08888"
    printed = capsys.readouterr().out.splitlines()
    assert printed == [str(folder / "compose-S08888.mp4"), str(folder / "compose-S08888_grid.gif")]  # absolute
    config = folder / "config.yaml"
    record = header(config)
    weights = (tiny / "weights dir").resolve()
    assert record["model folder"] == f"{weights} (official weight files)"
    assert record["unet weights"] == str(weights / "non_ema_228000.pth")
    assert record["vae weights"] == str(weights / "v2-1_512-ema-pruned.ckpt")
    assert record["clip weights"] == str(weights / "open_clip_pytorch_model.bin")
    assert yaml.safe_load(config.read_text())["unet_file"] == "non_ema_228000.pth"
    settings_txt = (folder / "settings.txt").read_text()
    assert f"unet weights: {weights / 'non_ema_228000.pth'}" in settings_txt

    recorded = shlex.split(record["resolved settings of"])
    assert str(tmp_path / "my clip.mp4") in recorded and str(tmp_path / "out") in recorded
    typed = to_request(parse_command_line(argv))
    assert to_request(parse_command_line(recorded[1:])) == with_absolute_paths(typed)
    assert f"command: {record['resolved settings of']}" in settings_txt

    first = decode(folder / "compose-S08888.mp4")
    monkeypatch.chdir(tiny)  # the rerun line, pasted in another folder
    rerun = shlex.split(record["rerun (add --overwrite to replace this run)"])
    assert rerun[:4] == ["videocomposer", "generate", "--cfg", str(config)]
    assert main(rerun[1:]) == 2 and "already holds an earlier result" in capsys.readouterr().err
    assert main([*rerun[1:], "--overwrite"]) == 0
    assert np.array_equal(decode(folder / "compose-S08888.mp4"), first)


def test_the_built_in_model_s_run_names_its_own_files_not_the_official_unet(tiny, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["generate", "compose", "--conditions", "y", "--weights-dir", "toy", "--input_text_desc", "a red circle"]
    assert main([*argv, "--steps", "1", "--frames", "2", "--device", "cpu", "--quiet", "--output-dir", str(out)]) == 0
    config = out / "compose-S08888" / "config.yaml"
    toy = toy_model_dir().resolve()
    record = header(config)
    assert record["model folder"] == f"{toy} (a save_pretrained folder)"
    assert {k: v for k, v in record.items() if k.endswith(" weights")} == {
        "unet weights": str(toy / "unet" / "model.safetensors"),
        "vae weights": str(toy / "vae" / "diffusion_pytorch_model.safetensors"),
        "clip weights": str(toy / "clip" / "model.safetensors"),
    }
    assert all(Path(path).is_file() for key, path in record.items() if key.endswith(" weights"))
    text = config.read_text() + (out / "compose-S08888" / "settings.txt").read_text()
    assert "non_ema_228000" not in text and "unet_file" not in yaml.safe_load(config.read_text())


def test_a_pipeline_given_in_python_records_the_files_it_was_loaded_from_or_none(tiny, tmp_path):
    from videocomposer.app import generate
    from videocomposer.config import read_model_config
    from videocomposer.pipelines import VideoComposerPipeline

    loaded = VideoComposerPipeline.from_official(
        tiny / "weights dir", conditions=["y"], config=read_model_config(tiny / "tiny.json")
    )
    in_memory = VideoComposerPipeline(**loaded.components())
    small = dict(
        task="compose", conditions="y", prompt="a ball", frames=2, height=32, width=32, steps=1, progress=False
    )
    for name, pipe in (("loaded", loaded), ("memory", in_memory)):
        result = generate(GenerateRequest(**small, output_dir=tmp_path / name), pipe=pipe)
        record = header(result.folder / "config.yaml")
        assert "model folder" not in record
        settings = yaml.safe_load((result.folder / "config.yaml").read_text())
        if name == "loaded":
            assert record["unet weights"] == str((tiny / "weights dir" / "non_ema_228000.pth").resolve())
            assert settings["unet_file"] == "non_ema_228000.pth"
        else:
            assert record["weights"] == "none recorded (a pipeline built in memory)" and "unet_file" not in settings


def test_a_unet_file_given_as_a_path_is_the_unet_recorded(tmp_path):
    unet = tmp_path / "step_10" / "unet.safetensors"
    files = pretrained_weight_files(toy_model_dir(), ["unet", "vae"], unet)
    assert files["vae"] == toy_model_dir().resolve() / "vae" / "diffusion_pytorch_model.safetensors"
    assert files["unet"] == toy_model_dir().resolve() / "unet" / "model.safetensors"  # no such file: the folder's
    unet.parent.mkdir()
    unet.write_bytes(b"")
    assert pretrained_weight_files(toy_model_dir(), ["unet"], unet)["unet"] == unet.resolve()


# ---------------------------------------------------------------------------------------------- the demo


def fake_toy_demo(monkeypatch, fail: bool = False):
    """The toy demo's writing (the model itself is tested elsewhere): NOTICE.txt and a video in the folder it gets."""
    from videocomposer.pipelines import toy_demo

    def run(folder, steps=None, seed=8888, progress=True):
        folder = Path(folder)
        (folder / "source.mp4").write_bytes(b"source")
        if fail:
            raise KeyboardInterrupt
        (folder / "NOTICE.txt").write_text(f"notice {seed}\n")
        (folder / "motion_transfer.mp4").write_bytes(f"video {seed}".encode())
        return toy_demo.ToyDemoResult(folder, [folder / "motion_transfer.mp4"], [folder / "motion_transfer.mp4"], 0.0)

    monkeypatch.setattr(toy_demo, "run_toy_demo", run)


def test_the_demo_never_replaces_an_earlier_result(tmp_path, monkeypatch, capsys):
    fake_toy_demo(monkeypatch)
    monkeypatch.chdir(tmp_path)
    assert main(["demo", "--quiet"]) == 0
    first = tmp_path / "demo_output" / "motion_transfer.mp4"
    assert first.read_bytes() == b"video 8888" and f"wrote {first}" in capsys.readouterr().out
    assert main(["demo", "--quiet", "--seed", "1"]) == 0  # again: a new folder beside it, said so
    out = capsys.readouterr().out
    second = tmp_path / "demo_output-2"
    assert f"{tmp_path / 'demo_output'} holds an earlier result, kept; writing into {second}" in out
    assert f"wrote {second / 'motion_transfer.mp4'}" in out and first.read_bytes() == b"video 8888"
    assert (second / "motion_transfer.mp4").read_bytes() == b"video 1"
    assert main(["demo", "--quiet", "--seed", "2"]) == 0 and (tmp_path / "demo_output-3").is_dir()
    capsys.readouterr()
    assert main(["demo", "--quiet", "--seed", "3", "--overwrite"]) == 0  # asked for: into the folder itself
    assert "holds an earlier result" not in capsys.readouterr().out and first.read_bytes() == b"video 3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo_output", "demo_output-2", "demo_output-3"]


def test_an_interrupted_demo_leaves_no_folder_of_its_own(tmp_path, monkeypatch, capsys):
    fake_toy_demo(monkeypatch, fail=True)
    assert main(["demo", "--quiet", "--output-dir", str(tmp_path / "demo")]) == 130
    assert not (tmp_path / "demo").exists()
    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "mine.txt").write_text("mine")
    assert main(["demo", "--quiet", "--output-dir", str(tmp_path / "kept")]) == 130
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]  # its -2 folder went, the user's stays
    assert (tmp_path / "kept" / "mine.txt").read_text() == "mine"


def test_the_demo_help_says_an_earlier_result_is_kept(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "An earlier result is never replaced" in text and "<output-dir>-2 (-3, ...)" in text
    assert "--overwrite write into --output-dir even when it holds an earlier result" in text
