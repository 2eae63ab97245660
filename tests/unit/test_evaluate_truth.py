"""``videocomposer evaluate --truth``: object-track metrics of a generated video against its source clip's truth file."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from videocomposer.cli import main
from videocomposer.evaluation.truth import write_truth
from videocomposer.video.transforms import center_crop_v2
from videocomposer.video.writer import write_mp4

from .test_tracks import draw, make_truth

WIDTH, HEIGHT, WRITTEN, FPS, SIDE, FRAMES = 96, 64, 17, 16, 32, 8


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 96 x 64 source clip (17 frames at 16 fps: the clip sampling keeps frames 0-7) with its truth file, the
    generated video a perfect model would give (the model's 32-px view of frames 0-7), a still one, the first frame."""
    folder = tmp_path_factory.mktemp("truth")
    positions = np.array([30.0, 30.0]) + np.arange(WRITTEN)[:, None] * np.array([3.0, 1.0])
    frames = draw(positions, size=(WIDTH, HEIGHT))
    source = write_mp4(folder / "source.mp4", frames, fps=FPS)
    truth = make_truth(positions, WIDTH, HEIGHT)
    truth.video, truth.fps = str(source), float(FPS)
    write_truth(folder / "source.truth.json", truth)
    view = np.stack([np.asarray(center_crop_v2(Image.fromarray(f), SIDE)) for f in frames[:FRAMES]])
    write_mp4(folder / "perfect.mp4", view, fps=8)
    write_mp4(folder / "still.mp4", np.repeat(view[:1], FRAMES, axis=0), fps=8)
    Image.fromarray(frames[0]).save(folder / "first.png")
    return folder


def _evaluate(clip, video: str, *extra: str) -> dict:
    out = clip / f"{video}-{len(extra)}.json"
    assert (
        main(
            [
                "evaluate",
                str(clip / video),
                "--truth",
                str(clip / "source.truth.json"),
                "--image_path",
                str(clip / "first.png"),
                "--json",
                str(out),
                "--overwrite",
                "--quiet",
                *extra,
            ]
        )
        == 0
    )
    return json.loads(out.read_text())


def test_a_video_that_follows_the_truth_scores_near_zero_track_error_and_a_still_one_does_not(clip, capsys):
    perfect = _evaluate(clip, "perfect.mp4", "--caption", "a red square moves right")
    assert perfect["track_error"] < 0.02 and perfect["track_found"] == 1.0 and perfect["shape_iou"] > 0.7
    assert perfect["caption_colour_match"] == 1.0 and "track_error" in perfect["protocol"]
    assert any("truth frames [0, 1, 2, 3, 4, 5, 6, 7]" in note for note in perfect["runs"][0]["notes"])
    assert "motion_epe" in perfect  # the truth's clip is the source of the motion metrics
    still = _evaluate(clip, "still.mp4", "--caption", "a blue square")
    displacement = np.mean([np.hypot(3 * t, t) for t in range(1, FRAMES)]) * SIDE / HEIGHT / SIDE
    assert still["track_error"] == pytest.approx(displacement, rel=0.1)
    assert still["caption_colour_match"] == 0.0
    assert "track_error" in capsys.readouterr().out


def test_without_a_caption_the_colour_match_is_listed_as_skipped(clip):
    report = _evaluate(clip, "perfect.mp4")
    assert "caption_colour_match" not in report and "--caption" in report["skipped"]["caption_colour_match"]


def test_a_missing_truth_file_names_the_flag(clip, capsys):
    assert main(["evaluate", str(clip / "perfect.mp4"), "--truth", str(clip / "none.truth.json")]) == 2
    err = capsys.readouterr().err
    assert "--truth" in err and "none.truth.json" in err and "Traceback" not in err


def test_a_truth_file_of_another_clip_is_refused(clip, capsys):
    data = json.loads((clip / "source.truth.json").read_text())
    data["num_frames"] = 3
    for obj in data["objects"]:
        for key in ("position", "centroid", "bbox", "visible"):
            obj[key] = obj[key][:3]
    (clip / "short.truth.json").write_text(json.dumps(data))
    assert main(["evaluate", str(clip / "perfect.mp4"), "--truth", str(clip / "short.truth.json")]) == 2
    assert "is the truth file the one of this clip?" in capsys.readouterr().err
