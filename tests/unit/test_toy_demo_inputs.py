"""The inputs of ``videocomposer demo`` ship as package data, small, and load; a broken folder is refused
with the file and the command that rewrites it."""

from __future__ import annotations

import json
import shutil

import av
import pytest

from videocomposer.pipelines.toy_demo import DEMO_ASSETS, DEMO_ASSETS_COMMAND, load_demo_inputs


def test_the_demo_inputs_ship_small_and_load():
    assert sum(p.stat().st_size for p in DEMO_ASSETS.iterdir()) < 200 * 1024
    inputs = load_demo_inputs()
    assert inputs.source_video.parent == DEMO_ASSETS and inputs.first_frame_file.parent == DEMO_ASSETS
    assert inputs.first_frame.mode == "RGB" and inputs.first_frame.size[0] == inputs.first_frame.size[1] >= 64
    with av.open(str(inputs.source_video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) > 8 and frames[0].shape[:2] == inputs.first_frame.size[::-1]  # more than the model's frames
    assert inputs.motion_transfer_prompt.endswith("background") and inputs.text_only_prompt.endswith("background")
    assert inputs.motion_transfer_prompt != inputs.text_only_prompt


def test_a_missing_demo_folder_names_the_file_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError, match="demo.json") as error:
        load_demo_inputs(tmp_path)
    assert DEMO_ASSETS_COMMAND in str(error.value)


@pytest.mark.parametrize("broken", ["no_prompt", "no_video"])
def test_a_broken_demo_folder_is_refused(tmp_path, broken):
    folder = tmp_path / "demo"
    shutil.copytree(DEMO_ASSETS, folder)
    fields = json.loads((folder / "demo.json").read_text())
    if broken == "no_prompt":
        del fields["text_only_prompt"]
        (folder / "demo.json").write_text(json.dumps(fields))
        with pytest.raises(ValueError, match="text_only_prompt"):
            load_demo_inputs(folder)
    else:
        (folder / fields["source_video"]).unlink()
        with pytest.raises(FileNotFoundError, match="source_video"):
            load_demo_inputs(folder)
