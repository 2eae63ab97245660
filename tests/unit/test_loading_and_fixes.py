"""Loading by the class model_index.json records, load() honouring its arguments for both folder kinds,
and the user-facing fixes: zero_y never silently zeros, the malicious-pickle message, collated clips,
the exp01 note."""

from __future__ import annotations

import json
import os

import pytest
import torch

from videocomposer.checkpoints import WeightFileError
from videocomposer.checkpoints.loading import read_state_dict
from videocomposer.cli import main
from videocomposer.models.unet import VideoComposerUNet
from videocomposer.pipelines import VideoComposerPipeline
from videocomposer.pipelines.demo import make_demo_video
from videocomposer.pipelines.tiny import tiny_configs, tiny_model_config, write_tiny_official_weights
from videocomposer.video.clip import VideoClip


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("loading")
    official = root / "official"
    write_tiny_official_weights(official, seed=0, components=["unet", "vae", "clip"])
    converted = root / "converted"
    VideoComposerPipeline.from_official(
        official, conditions=["y", "local_image"], config=tiny_configs()
    ).save_pretrained(converted)
    other_unet = root / "other_unet.pth"
    write_tiny_official_weights(root / "other", seed=1, components=["unet"])
    os.replace(root / "other" / "non_ema_228000.pth", other_unet)
    return {"official": official, "converted": converted, "other_unet": other_unet, "root": root}


def test_load_honours_unet_file_for_both_folder_kinds(folders):
    by_path = {}
    for kind in ("official", "converted"):
        config = tiny_configs() if kind == "official" else None
        plain = VideoComposerPipeline.load(folders[kind], conditions=["y"], config=config)
        other = VideoComposerPipeline.load(
            folders[kind], conditions=["y"], config=config, unet_file=str(folders["other_unet"])
        )
        expected = read_state_dict(folders["other_unet"])
        assert all(torch.equal(other.unet.state_dict()[k], v) for k, v in expected.items())
        assert not torch.equal(plain.unet.state_dict()["out.2.weight"], expected["out.2.weight"])
        by_path[kind] = other.unet.state_dict()["out.2.weight"]
    assert torch.equal(by_path["official"], by_path["converted"])


def test_load_refuses_what_a_converted_folder_cannot_honour(folders):
    converted = folders["converted"]
    with pytest.raises(ValueError, match="applies to official weight files only"):
        VideoComposerPipeline.load(converted, config=tiny_configs())
    with pytest.raises(WeightFileError, match="converted from non_ema_228000.pth, not non_ema_141000_no_watermark.pth"):
        VideoComposerPipeline.load(converted, unet_file="non_ema_141000_no_watermark.pth")
    with pytest.raises(WeightFileError, match=r"has no \['midas'\]"):
        VideoComposerPipeline.load(converted, conditions=["y", "depth"])
    with pytest.raises(WeightFileError, match=r"tower"):
        VideoComposerPipeline.load(converted, conditions=["y", "image"])  # converted without the image tower
    assert VideoComposerPipeline.load(converted, unet_file="non_ema_228000.pth").unet_source == "non_ema_228000.pth"


def test_components_load_by_the_recorded_class(folders, tmp_path):
    index = json.loads((folders["converted"] / "model_index.json").read_text())
    assert index["unet"] == ["videocomposer.models.unet", "VideoComposerUNet"] and index["vae"] == [
        "diffusers",
        "AutoencoderKL",
    ]
    assert index["pipeline_config"]["unet_file"] == "non_ema_228000.pth"
    tampered = tmp_path / "tampered"
    VideoComposerPipeline.load(folders["converted"]).save_pretrained(tampered)
    index["unet"] = ["os", "system"]
    (tampered / "model_index.json").write_text(json.dumps(index))
    with pytest.raises(WeightFileError, match=r"records unet as \['os', 'system'\]"):
        VideoComposerPipeline.load(tampered)


def test_a_unet_without_zero_y_says_how_to_set_it(folders):
    unet = VideoComposerUNet.from_official(folders["official"] / "non_ema_228000.pth", tiny_configs()["unet"])
    x, t = torch.randn(1, 4, 2, 4, 4), torch.tensor([3])
    with pytest.raises(ValueError, match=r"no empty-caption embedding \(zero_y\).*set_zero_y"):
        unet(x, t)
    with pytest.raises(ValueError, match="set_zero_y"):
        unet.empty_caption()
    unet(x, t, y=torch.randn(1, 77, 32))  # with y it is not needed
    unet.set_zero_y(torch.randn(1, 77, 32))
    assert unet(x, t).shape == x.shape


def test_a_pickle_that_references_code_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "non_ema_228000.pth"
    torch.save({"weight": torch.zeros(1), "payload": Payload()}, path)
    with pytest.raises(WeightFileError) as info:
        read_state_dict(path, "unet")
    message = str(info.value)
    assert "references code (posix.system)" in message or "references code (nt.system)" in message
    assert "nothing was executed" in message and "not a weights file we will load" in message
    assert "weights_only=False" not in message and not marker.exists()


def test_collated_clip_counts_frames_not_samples():
    clip = VideoClip(video=torch.zeros(2, 5, 3, 8, 8), misc=None, motion=torch.zeros(2, 5, 2, 8, 8), vit_image=None)
    assert (
        clip.num_frames == 5
        and VideoClip(video=torch.zeros(5, 3, 8, 8), misc=None, motion=None, vit_image=None).num_frames == 5
    )


def test_exp01_notes_the_inputs_the_reference_ignores(folders, tmp_path, capsys):
    video = make_demo_video(tmp_path / "clip.mp4", num_frames=24, height=48, width=64)
    video[0].save(tmp_path / "first.png")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_model_config()))
    code = main(
        [
            "generate",
            "exp01_vidcomposer_full",
            "--input_video",
            str(tmp_path / "clip.mp4"),
            "--image_path",
            str(tmp_path / "first.png"),
            "--output-dir",
            str(tmp_path / "out"),
            "--weights-dir",
            str(tmp_path / "none"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2  # no weights here; the note comes first
    assert "note: --image_path is used here, but the reference's exp01_vidcomposer_full ignores it" in err
    assert "--style_image" not in err  # only what was given
