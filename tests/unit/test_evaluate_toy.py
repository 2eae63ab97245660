"""``evaluate`` on the built-in model's own output (8 frames of 64 x 64), read from its run folder."""

from __future__ import annotations

import json

import pytest

from videocomposer.cli import main
from videocomposer.evaluation.metrics import MOTION_METRICS
from videocomposer.pipelines.toy_demo import load_demo_inputs


@pytest.mark.slow
def test_the_built_in_models_output_is_evaluated_with_its_recorded_inputs(tmp_path, capsys):
    inputs = load_demo_inputs()
    generate = ["generate", "exp02_motion_transfer", "--weights-dir", "toy", "--steps", "2", "--quiet"]
    generate += ["--input_video", str(inputs.source_video), "--image_path", str(inputs.first_frame_file)]
    generate += ["--input_text_desc", inputs.motion_transfer_prompt, "--output-dir", str(tmp_path / "out")]
    assert main(generate) == 0, capsys.readouterr().err
    assert main(["evaluate", str(tmp_path / "out"), "--json", str(tmp_path / "eval.json"), "--quiet"]) == 0
    (run,) = json.loads((tmp_path / "eval.json").read_text())["runs"]
    assert f"motion re-extracted from {inputs.source_video} (8 frames, seed 8888)" in run["notes"]
    assert any("upsampled 64 -> 128 px" in note for note in run["notes"])  # the 128-px source's scale
    for metric in MOTION_METRICS:  # the demo's source moves: every motion metric has a value, or its reason
        assert isinstance(run[metric], float) or metric in run["reasons"], metric
    assert isinstance(run["motion_gain_moving"], float) and isinstance(run["first_frame_psnr"], float)
