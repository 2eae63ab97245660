"""``videocomposer evaluate`` end to end on tiny generated runs, ``generate --save-conditions``, and its errors."""

from __future__ import annotations

import json
import shutil

import numpy as np
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
    assert main(["evaluate", str(alone), "--image_path", str(runs["image"]), "--json", str(tmp_path / "x.json")]) == 0
    report = json.loads((tmp_path / "x.json").read_text())
    assert "--input_video" in report["skipped"]["motion_epe"] and "--truth" in report["skipped"]["track_error"]
    assert "skipped motion_epe: needs --input_video" in capsys.readouterr().out


def test_a_video_with_nothing_to_compare_with_is_refused_with_the_reason(runs, tmp_path, capsys):
    alone = shutil.copy(
        runs["out"] / "exp02_motion_transfer-clip-S00007" / "exp02_motion_transfer-S00007.mp4", tmp_path / "x.mp4"
    )
    assert main(["evaluate", str(alone), "--json", str(tmp_path / "x.json")]) == 2
    err = capsys.readouterr().err
    assert "nothing could be evaluated" in err and "x.mp4: no record of a generate run" in err
    assert "--input_video" in err and "Traceback" not in err
    assert not (tmp_path / "x.json").exists()


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


def _run_folder_without_record(runs, destination, seed="7"):
    """A copy of a run's folder (settings.txt, config.yaml and the MP4) without its condition record."""
    run = runs["out"] / f"exp02_motion_transfer-clip-S0000{seed}"
    destination.mkdir(parents=True)
    for name in ("settings.txt", "config.yaml", f"exp02_motion_transfer-S0000{seed}.mp4"):
        shutil.copy(run / name, destination / name)
    return destination / f"exp02_motion_transfer-S0000{seed}.mp4"


def test_a_folder_of_runs_is_evaluated_with_the_inputs_each_run_recorded(runs, tmp_path):
    mp4 = _run_folder_without_record(runs, tmp_path / "runs" / "a")
    assert main(["evaluate", str(tmp_path / "runs"), "--json", str(tmp_path / "folder.json"), "--quiet"]) == 0
    args = ["--input_video", str(runs["video"]), "--image_path", str(runs["image"]), "--seed", "7"]
    assert main(["evaluate", str(mp4), *args, "--json", str(tmp_path / "flags.json")]) == 0
    (from_record,), (from_flags,) = (
        json.loads((tmp_path / n).read_text())["runs"] for n in ("folder.json", "flags.json")
    )
    assert f"motion re-extracted from {runs['video']} ({FRAMES} frames, seed 7)" in from_record["notes"]
    for key in ("motion_epe", "flow_epe", "motion_gain_moving", "first_frame_psnr"):
        assert from_record[key] is not None and from_record[key] == from_flags[key], key


def test_a_folder_where_nothing_can_be_evaluated_exits_2_saying_why_for_each_video(runs, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(runs["out"] / "exp02_motion_transfer-clip-S00007" / "exp02_motion_transfer-S00007.mp4", bare / "a.mp4")
    moved = _run_folder_without_record(runs, bare / "run")  # its recorded inputs are no longer there
    settings = moved.parent / "settings.txt"
    recorded = settings.read_text().replace(str(runs["video"]), str(tmp_path / "gone.mp4"))
    settings.write_text(recorded.replace(str(runs["image"]), str(tmp_path / "gone.png")))
    (moved.parent / "config.yaml").unlink()  # the command is read from settings.txt alone
    assert main(["evaluate", str(bare), "--json", str(tmp_path / "none.json")]) == 2
    err = capsys.readouterr().err
    assert "nothing could be evaluated (2 video(s))" in err and "Traceback" not in err
    assert f"{bare / 'a.mp4'}: no record of a generate run beside it" in err
    assert f"its recorded --input_video {tmp_path / 'gone.mp4'} is not there" in err
    assert f"its recorded --image_path {tmp_path / 'gone.png'} is not there" in err
    assert not (tmp_path / "none.json").exists()


def test_a_video_that_cannot_be_evaluated_among_others_is_listed_with_the_reason(runs, tmp_path, capsys):
    _run_folder_without_record(runs, tmp_path / "mixed" / "run")
    shutil.copy(runs["video"], tmp_path / "mixed" / "stray.mp4")
    assert main(["evaluate", str(tmp_path / "mixed"), "--json", str(tmp_path / "m.json"), "--quiet"]) == 0
    report = json.loads((tmp_path / "m.json").read_text())
    assert report["num_videos"] == 1 and list(report["not_evaluated"]) == [str(tmp_path / "mixed" / "stray.mp4")]
    assert "no record of a generate run" in report["not_evaluated"][str(tmp_path / "mixed" / "stray.mp4")]
    assert f"not evaluated {tmp_path / 'mixed' / 'stray.mp4'}: no record" in capsys.readouterr().out


def test_every_null_in_the_report_has_its_reason(runs, tmp_path, capsys):
    """Two videos against a still source: the direction and speed along a condition that does not move are null,
    in each run and in the means, each with its reason, in the JSON and the printed report."""
    from videocomposer.evaluation import read_video_frames
    from videocomposer.evaluation.metrics import RUN_METRICS
    from videocomposer.video.writer import write_mp4

    write_mp4(tmp_path / "still.mp4", np.repeat(read_video_frames(runs["video"])[:1], 24, axis=0), fps=8)
    for seed in ("7", "8"):
        run = runs["out"] / f"exp02_motion_transfer-clip-S0000{seed}" / f"exp02_motion_transfer-S0000{seed}.mp4"
        shutil.copy(run, tmp_path / f"{seed}.mp4")
    (tmp_path / "runs.csv").write_text("generated,source\n7.mp4,still.mp4\n8.mp4,still.mp4\n")
    assert main(["evaluate", str(tmp_path / "runs.csv"), "--json", str(tmp_path / "r.json"), "--quiet"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    for run in report["runs"]:
        nulls = {m for m in RUN_METRICS if m in run and run[m] is None}
        assert {"motion_gain_moving", "flow_cosine_moving"} <= nulls and nulls == set(run["reasons"])
    assert {m for m in RUN_METRICS if report.get(m, 0) is None} == set(report["reasons"])
    assert "no cell of the condition moves" in report["reasons"]["motion_gain_moving"]
    assert "undefined motion_gain_moving (7.mp4, 8.mp4): codec vectors: no cell" in capsys.readouterr().out
