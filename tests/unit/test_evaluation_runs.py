"""Reading back what a ``generate`` run recorded in its folder (``settings.txt``, ``config.yaml``) for ``evaluate``."""

from __future__ import annotations

import shlex
import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from videocomposer.app.evaluation_runs import command_values, read_run_record, recorded_command
from videocomposer.app.generation_request import GenerateRequest

# words a command line may hold: anything printable (no control characters), quotes and spaces included
WORDS = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30)


@settings(max_examples=50, deadline=None)
@given(video=WORDS, image=WORDS, trajectory=WORDS, prompt=WORDS, seed=st.integers(0, 2**31))
def test_the_recorded_command_reads_back_as_the_request(video, image, trajectory, prompt, seed):
    request = GenerateRequest(
        task="exp02_motion_transfer", video=video, image=image, motion=trajectory, prompt=prompt, seed=seed
    )
    values = command_values(shlex.split(request.to_command()))
    read = {name: values.get(name) for name in ("video", "image", "motion", "prompt", "seed")}
    assert read == {"video": video, "image": image, "motion": trajectory, "prompt": prompt, "seed": str(seed)}


def test_flags_with_an_equals_sign_and_switches_are_read_as_written():
    words = ["videocomposer", "generate", "compose", "--quiet", "--input_video=-clip.mp4", "--save-conditions"]
    words += ["--image_path", "first.png", "--overwrite", "--steps"]  # a flag at the end without its value
    assert command_values(words) == {"video": "-clip.mp4", "image": "first.png"}


def _run_folder(folder: Path, command: str, config: str | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "settings.txt").write_text(f"task: exp02_motion_transfer\ncommand: {command}\nseed: 3\n")
    if config is not None:
        (folder / "config.yaml").write_text(config)
    return folder


def test_a_run_folder_gives_its_inputs_prompt_and_seed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "clip.mp4").write_bytes(b"")
    (tmp_path / "first.png").write_bytes(b"")
    command = "videocomposer generate exp02_motion_transfer --input_video clip.mp4 --image_path first.png"
    command += " --trajectory gone.json --input_text_desc 'a red ball' --seed 5"
    config = "# resolved settings of: videocomposer generate\nprompt: a red ball, resolved\nseed: 5\n"
    run = read_run_record(_run_folder(tmp_path / "run", command, config))
    assert (run.source, run.image, run.trajectory) == (Path("clip.mp4"), Path("first.png"), None)
    assert run.caption == "a red ball, resolved" and run.seed == 5  # config.yaml's resolved values
    assert "its recorded --trajectory gone.json is not there, read from the current folder" in run.missing["trajectory"]
    without_config = read_run_record(_run_folder(tmp_path / "bare", command, None))
    assert without_config.caption == "a red ball" and without_config.seed == 5  # the command's
    broken = read_run_record(_run_folder(tmp_path / "broken", command, "prompt: [unclosed\n"))
    assert broken.caption == "a red ball" and any("could not be read" in note for note in broken.notes)


def test_the_command_is_read_from_config_yaml_when_settings_txt_has_none(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.yaml").write_text("# resolved settings of: videocomposer generate x --seed 9\nseed: 9\n")
    assert recorded_command(folder) == ["videocomposer", "generate", "x", "--seed", "9"]
    assert read_run_record(tmp_path) is None  # not a run folder
    (folder / "settings.txt").write_text("model: toy\n")  # a folder with settings but no command
    (folder / "config.yaml").write_text("seed: 9\n")
    run = read_run_record(folder)
    assert run.seed == 9 and "is not a generate run's folder" in run.notes[0]


@settings(max_examples=50, deadline=None)
@given(settings_text=st.text(max_size=200), config_text=st.text(string.printable, max_size=200))
def test_any_run_folder_gives_a_record_or_none_never_an_error(tmp_path_factory, settings_text, config_text):
    folder = tmp_path_factory.mktemp("run")
    (folder / "settings.txt").write_text(settings_text, encoding="utf-8", errors="surrogatepass")
    (folder / "config.yaml").write_text(config_text)
    run = read_run_record(folder)
    assert run is not None and (run.seed is None or run.seed >= 0)


@pytest.mark.parametrize("line", ["command: videocomposer generate 'unclosed", "command:"])
def test_an_unreadable_command_line_is_noted(tmp_path, line):
    (tmp_path / "settings.txt").write_text(line + "\n")
    run = read_run_record(tmp_path)
    assert run.source is None and "is not a generate run's folder" in run.notes[0]
