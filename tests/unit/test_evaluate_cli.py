"""``videocomposer evaluate`` end to end on tiny generated runs, ``generate --save-conditions``, and its errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from videocomposer.cli import main
from videocomposer.evaluation.records import load_conditions

from .test_cli import tiny  # noqa: F401  (the tiny official-format weights, config, video and first frame)

SIZE, FRAMES = 32, 8


@pytest.fixture(scope="module")
def runs(tiny, tmp_path_factory):  # noqa: F811
    """Two tiny generate runs (seeds 7 and 8) of exp02_motion_transfer with --save-conditions."""
    weights, config = tiny["weights"], tiny["config"]
    folder = tiny["video"].parent
    out = tmp_path_factory.mktemp("evaluate") / "outputs"
    for seed in ("7", "8"):
        code = main(
            [
                "generate",
                "exp02_motion_transfer",
                "--weights-dir",
                str(weights),
                "--model-config",
                str(config),
                "--input_video",
                str(folder / "clip.mp4"),
                "--image_path",
                str(folder / "first.png"),
                "--input_text_desc",
                "a red ball",
                "--seed",
                seed,
                "--frames",
                str(FRAMES),
                "--height",
                str(SIZE),
                "--width",
                str(SIZE),
                "--steps",
                "2",
                "--output-dir",
                str(out),
                "--quiet",
                "--save-conditions",
            ]
        )
        assert code == 0
    return {"folder": folder, "out": out, "video": folder / "clip.mp4", "image": folder / "first.png"}


def test_generate_records_the_conditions_the_unet_got(runs):
    mp4 = runs["out"] / "exp02_motion_transfer-clip-S00007" / "exp02_motion_transfer-S00007.mp4"
    record = load_conditions(mp4.with_name(mp4.stem + "_conditions.safetensors"))
    assert {"y", "local_image", "motion"} <= set(record.conditions)
    assert record.conditions["motion"].shape == (1, 2, FRAMES, SIZE, SIZE)
    assert record.metadata["seed"] == "7" and record.metadata["source_video"] == str(runs["video"].resolve())
    assert float(record.metadata["source_pixels_per_pixel"]) == 48 / SIZE


def test_evaluate_a_folder_of_runs_writes_json_and_a_table(runs, tmp_path, capsys):
    report_path = tmp_path / "eval.json"
    assert main(["evaluate", str(runs["out"]), "--json", str(report_path), "--quiet"]) == 0
    printed = capsys.readouterr().out
    report = json.loads(report_path.read_text())
    assert report["num_videos"] == 2 and len(report["runs"]) == 2
    for key in ("motion_epe", "motion_epe_dense", "flow_epe", "first_frame_psnr", "first_frame_ssim"):
        assert isinstance(report[key], float), key
        assert key in printed and key in report["protocol"]
    for key in (
        "motion_epe_moving",
        "motion_epe_static",
        "motion_cosine_moving",
        "flow_cosine_moving",
        "motion_gain_moving",
        "flow_gain_moving",
    ):  # the split
        assert key in report["protocol"] and key in report["runs"][0], key
    first = report["runs"][0]
    assert len(first["per_frame"]["motion_epe"]) == FRAMES and first["per_frame"]["motion_epe"][0] is None
    assert report["motion_epe"] == pytest.approx(
        (report["runs"][0]["motion_epe"] + report["runs"][1]["motion_epe"]) / 2
    )
    assert "mean" in printed
    # a second write of the same report is refused
    assert main(["evaluate", str(runs["out"]), "--json", str(report_path), "--quiet"]) == 2
    assert "--overwrite" in capsys.readouterr().err


def test_reextracting_from_the_source_gives_the_recorded_numbers(runs, tmp_path, capsys):
    recorded = runs["out"] / "exp02_motion_transfer-clip-S00008" / "exp02_motion_transfer-S00008.mp4"
    alone = shutil.copy(recorded, tmp_path / "alone.mp4")  # no record beside it
    args = [
        "evaluate",
        str(alone),
        "--input_video",
        str(runs["video"]),
        "--image_path",
        str(runs["image"]),
        "--seed",
        "8",
    ]
    assert main([*args, "--json", str(tmp_path / "a.json")]) == 0
    assert main(["evaluate", str(recorded), "--json", str(tmp_path / "b.json")]) == 0
    fresh, from_record = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    for key in ("motion_epe", "motion_epe_dense", "flow_epe"):
        assert fresh[key] == from_record[key]
    assert fresh["first_frame_psnr"] > 0


def test_missing_inputs_are_listed_as_skipped_with_their_flag(runs, tmp_path, capsys):
    alone = shutil.copy(
        runs["out"] / "exp02_motion_transfer-clip-S00007" / "exp02_motion_transfer-S00007.mp4", tmp_path / "x.mp4"
    )
    assert main(["evaluate", str(alone), "--json", str(tmp_path / "x.json")]) == 0
    report = json.loads((tmp_path / "x.json").read_text())
    assert (
        "--input_video" in report["skipped"]["motion_epe"] and "--image_path" in report["skipped"]["first_frame_psnr"]
    )
    assert "skipped motion_epe: needs --input_video" in capsys.readouterr().out


def test_frame_count_mismatch_is_named_and_resampled_only_on_request(runs, tmp_path, capsys):
    alone = shutil.copy(
        runs["out"] / "exp02_motion_transfer-clip-S00007" / "exp02_motion_transfer-S00007.mp4", tmp_path / "y.mp4"
    )
    args = [
        "evaluate",
        str(alone),
        "--input_video",
        str(runs["video"]),
        "--seed",
        "7",
        "--json",
        str(tmp_path / "y.json"),
    ]
    with pytest.MonkeyPatch.context() as patch:  # a condition with more frames than the video
        import videocomposer.evaluation.evaluate as evaluate

        original = evaluate.reference_motion
        patch.setattr(evaluate, "reference_motion", lambda s, f, r, seed: original(s, f + 4, r, seed=seed))
        assert main(args) == 2
        assert f"{FRAMES} frames of {SIZE}x{SIZE} vs the condition's {FRAMES + 4} frames" in capsys.readouterr().err
        assert main([*args, "--resample"]) == 0
        report = json.loads((tmp_path / "y.json").read_text())
        assert len(report["runs"][0]["per_frame"]["motion_epe"]) == FRAMES + 4
        assert any("resampled" in note for note in report["runs"][0]["notes"])


@pytest.mark.parametrize("bad", ["missing.mp4", "notvideo.mp4", "rows.csv"])
def test_bad_inputs_are_one_line_errors(runs, tmp_path, capsys, bad):
    (tmp_path / "notvideo.mp4").write_bytes(b"garbage")
    (tmp_path / "rows.csv").write_text("generated,speed\nx.mp4,1\n")
    assert main(["evaluate", str(tmp_path / bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert bad in err and "\n" not in err and "Traceback" not in err


def test_record_and_condition_tensors_agree_with_a_fresh_extraction(runs):
    from videocomposer.evaluation import reference_motion

    mp4 = runs["out"] / "exp02_motion_transfer-clip-S00007" / "exp02_motion_transfer-S00007.mp4"
    record = load_conditions(mp4.with_name(mp4.stem + "_conditions.safetensors"))
    fresh = reference_motion(runs["video"], FRAMES, SIZE, seed=7)
    assert torch.equal(record.conditions["motion"][0].transpose(0, 1), fresh.motion)
