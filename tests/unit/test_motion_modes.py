"""The motion condition's modes: the same motion at any source size ("rescaled"), the original's behaviour
("reference"), the warning when a source loses its vectors, the model folder's setting, drawn strokes in the
mode's representation, and a video that always feeds the conditions the model takes from it."""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from videocomposer.cli import main
from videocomposer.evaluation.records import load_conditions
from videocomposer.pipelines import VideoComposerPipeline
from videocomposer.pipelines.toy_model import toy_model_dir
from videocomposer.video.motion import MotionSettings, surviving_block_fraction
from videocomposer.video.sampling import load_video_clip
from videocomposer.video.trajectory import Stroke, Trajectory
from videocomposer.video.writer import write_mp4

TOY = MotionSettings("rescaled", 128)  # the built-in model's: trained on 128-px clips
SIZES = ((256, 256), (480, 480), (720, 720), (1080, 1080), (1080, 1920), (1280, 720))  # (height, width)


def textured_disc_clip(path, height: int, width: int, frames: int = 17) -> None:
    """A textured disc (radius 18 px at 128 px) moving 3.5 px right and 2.5 px down per frame (at 128 px, scaled
    with the short side) over navy, about the centre of the frame; 4 fps H.264. Smooth edges and texture, so that
    every size shows the same continuous scene (a flat disc leaves the codec's vectors inside it ambiguous)."""
    scale = min(height, width) / 128
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    video = np.empty((frames, height, width, 3), np.uint8)
    for f in range(frames):
        u = (xx - width / 2) / scale + 30 - 3.5 * f
        v = (yy - height / 2) / scale + 20 - 2.5 * f
        cover = np.clip((18 - np.hypot(u, v)) * scale + 0.5, 0, 1)[..., None]
        mix = (0.5 + 0.5 * np.sin(2 * np.pi * u / 12) * np.sin(2 * np.pi * v / 12))[..., None]
        colour = mix * np.array([240, 220, 40], np.float32) + (1 - mix) * np.array([200, 60, 30], np.float32)
        video[f] = (cover * colour + (1 - cover) * np.array([20, 30, 90], np.float32)).round()
    write_mp4(path, video, fps=4)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("discs")
    paths = {}
    for height, width in ((128, 128), *SIZES):
        paths[height, width] = folder / f"disc_{width}x{height}.mp4"
        textured_disc_clip(paths[height, width], height, width)
    return paths


@pytest.fixture(scope="module")
def toy():
    pipe = VideoComposerPipeline.from_pretrained(toy_model_dir())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def motion(path, resolution: int, settings: MotionSettings | None = None) -> torch.Tensor:
    return load_video_clip(path, 16, resolution, 64, seed=0, with_mask=False, motion_settings=settings).motion


def agreement(reference: torch.Tensor, other: torch.Tensor) -> tuple[float, float]:
    corr = float(torch.corrcoef(torch.stack([reference.flatten(), other.flatten()]).double())[0, 1])
    return corr, float(other.norm(dim=1).mean() / reference.norm(dim=1).mean())


# ------------------------------------------------------------------ the same motion at any size


@pytest.mark.parametrize("resolution", [64, 256])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[1]}x{s[0]}")
def test_rescaled_mode_gives_the_128_px_clips_condition_at_any_size(clips, size, resolution):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rescaled mode keeps every vector: no warning
        base, other = motion(clips[128, 128], resolution, TOY), motion(clips[size], resolution, TOY)
    assert (base != 0).sum() > 100  # the disc's blocks move
    corr, length = agreement(base, other)
    assert corr >= 0.9 and abs(length - 1) <= 0.1, (corr, length)


def test_reference_mode_loses_the_vectors_of_a_large_source(clips):
    """The defect the rescaled mode fixes: at R = 64 a 256-px clip's vectors all fall between the pixels read."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not motion(clips[256, 256], 64, MotionSettings()).any()
        assert motion(clips[128, 128], 64, MotionSettings()).any()
    assert surviving_block_fraction(256, 64) == 0.0 and surviving_block_fraction(128, 64) == 1.0
    assert surviving_block_fraction(1080, 256) == pytest.approx(0.48, abs=0.01)


def test_reference_mode_is_the_original_behaviour(clips):
    for size in ((128, 128), (1080, 1920)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert torch.equal(motion(clips[size], 64, MotionSettings("reference", 128)), motion(clips[size], 64))


def test_a_source_that_loses_most_vectors_is_reported_once_with_the_fix(clips):
    with pytest.warns(UserWarning) as caught:
        motion(clips[256, 256], 64, MotionSettings())
    lost = [w for w in caught if "motion vectors" in str(w.message)]
    assert len(lost) == 1
    assert "'rescaled'" in str(lost[0].message) and "--motion-mode rescaled" in str(lost[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        motion(clips[128, 128], 64, MotionSettings())  # 128 -> 64 keeps every block: no warning
        motion(clips[256, 256], 64)  # no settings: the reference's way, unchecked (training, callers without motion)


# ------------------------------------------------------------------ the model folder's setting


def test_the_toy_folder_records_its_motion_settings_and_they_round_trip(toy, tmp_path):
    assert toy.motion_settings == TOY
    toy.save_pretrained(tmp_path / "copy")
    index = json.loads((tmp_path / "copy" / "model_index.json").read_text())
    assert index["pipeline_config"]["motion_condition"] == {"mode": "rescaled", "source_size": 128}
    assert VideoComposerPipeline.from_pretrained(tmp_path / "copy").motion_settings == TOY


@pytest.mark.parametrize(
    "value, message",
    [
        (
            {"mode": "fast", "source_size": 128},
            "pipeline_config.motion_condition.mode must be one of reference, rescaled",
        ),
        (
            {"mode": "rescaled", "source_size": 100},
            "pipeline_config.motion_condition.source_size must be a positive multiple of 16",
        ),
        ({"mode": "rescaled", "size": 128}, "pipeline_config.motion_condition has unknown key"),
        ("rescaled", "pipeline_config.motion_condition must be an object"),
        (None, None),  # absent: the reference's, as the official weights
    ],
)
def test_bad_motion_settings_in_a_folder_name_the_file_and_field(tmp_path, value, message):
    folder = tmp_path / "model"
    shutil.copytree(toy_model_dir(), folder)
    index = json.loads((folder / "model_index.json").read_text())
    if value is None:
        del index["pipeline_config"]["motion_condition"]
    else:
        index["pipeline_config"]["motion_condition"] = value
    (folder / "model_index.json").write_text(json.dumps(index))
    if message is None:
        assert VideoComposerPipeline.from_pretrained(folder).motion_settings == MotionSettings("reference", 336)
        return
    with pytest.raises(ValueError, match=message) as error:
        VideoComposerPipeline.from_pretrained(folder)
    assert str(folder / "model_index.json") in str(error.value)


def test_a_call_may_pick_the_mode_and_a_bad_one_is_refused(toy, clips):
    args = dict(conditions=["motion"], video=clips[256, 256], num_frames=8, height=64, width=64, seed=0)
    assert toy.prepare_conditions(**args).conditions["motion"].any()  # the model's: rescaled
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert not toy.prepare_conditions(**args, motion_mode="reference").conditions["motion"].any()
    with pytest.raises(ValueError, match="motion_mode must be one of reference, rescaled, got 'fast'"):
        toy("x", video=clips[256, 256], motion_mode="fast", num_inference_steps=1, output_type="latent")


# ------------------------------------------------------------------ drawn strokes


def test_strokes_follow_the_mode_and_agree_on_any_canvas():
    stroke = Stroke(((128, 128), (228, 128)), radius=36)
    square = Trajectory(256, 256, (stroke,))
    wide = Trajectory(384, 256, (Stroke(((192, 128), (292, 128)), radius=36),))  # the same, 64 px more each side
    assert torch.equal(square.motion_condition_for(8, 64, MotionSettings()), square.motion_condition(8, 64))
    rescaled = square.motion_condition_for(8, 64, TOY)
    assert torch.equal(rescaled, square.motion_condition(8, 64, source_size=128))
    assert torch.equal(wide.motion_condition_for(8, 64, TOY), rescaled)
    assert rescaled[1:, 0].max() == 7.0 / 4  # 50 px of a 128-px source in 7 half-pel steps, 1/4 at the block sites
    pinned = Trajectory(256, 256, (stroke,), source_size=256)  # the file's own source_size is kept
    assert torch.equal(pinned.motion_condition_for(8, 64, TOY), pinned.motion_condition(8, 64))


def test_the_pipeline_rasterises_a_stroke_in_the_models_mode(toy):
    drawing = Trajectory(256, 256, (Stroke(((128, 128), (228, 128)), radius=36),))
    args = dict(conditions=["motion"], motion=drawing, num_frames=8, height=64, width=64)
    built = toy.prepare_conditions(**args).conditions["motion"]
    assert torch.equal(built[0].transpose(0, 1), drawing.motion_condition_for(8, 64, TOY))
    reference = toy.prepare_conditions(**args, motion_mode="reference").conditions["motion"]
    assert torch.equal(reference[0].transpose(0, 1), drawing.motion_condition(8, 64))


# ------------------------------------------------------------------ a video implies the conditions it feeds


def test_a_video_implies_the_conditions_the_model_takes_from_it(toy, clips):
    image = Image.new("RGB", (64, 64), "gray")
    assert set(toy.resolve_conditions(None, prompt="x", video=clips[256, 256], image=image)) == {
        "y",
        "local_image",
        "motion",
    }
    out = toy(
        "a yellow circle moves down and right over a navy background",
        video=clips[256, 256],
        image=image,
        num_inference_steps=1,
        output_type="latent",
        generator=torch.Generator().manual_seed(0),
    )
    assert sorted(out.conditions) == ["local_image", "motion", "y"] and out.conditions["motion"].any()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(conditions=["y", "local_image"], image=Image.new("RGB", (64, 64))),  # named, none reads the video
        dict(conditions=None, image=Image.new("RGB", (64, 64)), motion=Trajectory(64, 64)),  # every one has its input
    ],
)
def test_a_video_no_condition_reads_is_refused_naming_those_that_would(toy, clips, kwargs):
    with pytest.raises(
        ValueError,
        match=r"video= is given, but none of the conditions .* reads it.*this model takes "
        r"\['motion', 'local_image'\] from a video",
    ):
        toy("x", video=clips[256, 256], num_inference_steps=1, output_type="latent", **kwargs)


# ------------------------------------------------------------------ the command line


def test_generate_takes_the_motion_mode_flag_and_records_the_motions_units(clips, tmp_path):
    Image.new("RGB", (256, 256), "navy").save(tmp_path / "first.png")
    common = [
        "generate",
        "exp02_motion_transfer",
        "--weights-dir",
        "toy",
        "--input_video",
        str(clips[256, 256]),
        "--image_path",
        str(tmp_path / "first.png"),
        "--input_text_desc",
        "a circle",
        "--steps",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--save-conditions",
    ]
    records = {}
    for mode in ("rescaled", "reference"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            assert main([*common, "--motion-mode", mode, "--output-dir", str(tmp_path / mode)]) == 0
        records[mode] = load_conditions(next((tmp_path / mode).rglob("*_conditions.safetensors")))
    assert records["rescaled"].conditions["motion"].any() and not records["reference"].conditions["motion"].any()
    assert float(records["rescaled"].metadata["source_pixels_per_pixel"]) == 2.0  # 128-px vectors at 64 px
    assert float(records["reference"].metadata["source_pixels_per_pixel"]) == 4.0  # the 256-px source's own


# ------------------------------------------------------------------ extract


def test_extract_takes_the_model_folders_motion_mode_and_a_flag_overrides_it(clips, tmp_path, capsys):
    """``videocomposer extract --weights-dir toy`` makes the toy model's (rescaled) condition of a 256-px clip at
    64 px; ``--motion-mode reference`` the original's, which keeps none of its vectors; a bad size is refused."""
    from safetensors.torch import load_file

    from videocomposer.cli import main

    common = [
        "extract",
        "--input_video",
        str(clips[256, 256]),
        "--frames",
        "8",
        "--resolution",
        "64",
        "--conditions",
        "motion",
        "--weights-dir",
        "toy",
    ]
    assert main([*common, "--output-dir", str(tmp_path / "model")]) == 0, capsys.readouterr().err
    rescaled = load_file(str(tmp_path / "model" / "disc_256x256_conditions.safetensors"))["motion"]
    assert torch.equal(rescaled[0].transpose(0, 1), motion(clips[256, 256], 64, TOY)[:8])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main([*common, "--motion-mode", "reference", "--output-dir", str(tmp_path / "ref")]) == 0
    assert not load_file(str(tmp_path / "ref" / "disc_256x256_conditions.safetensors"))["motion"].any()
    assert main([*common, "--motion-source-size", "100", "--output-dir", str(tmp_path / "bad")]) == 2
    assert "--motion-source-size" in capsys.readouterr().err


# ------------------------------------------------------------------ training


def test_training_samples_the_motion_as_the_config_says_and_the_cache_keys_it(clips):
    """``motion_mode: rescaled`` gives training clips of any size the motion the model is then sampled with (a 256-px
    clip keeps its vectors at 64 px), the reference mode keeps the original's sampling, bad values are refused, and
    the condition cache's key names the mode only when it is not the reference's (older caches still hit)."""
    from videocomposer.config import ConfigError
    from videocomposer.training.cache import cache_fingerprint
    from videocomposer.training.config import load_train_config
    from videocomposer.training.data import Annotation
    from videocomposer.training.setup import clip_loader_spec

    def spec(*overrides):
        cfg = load_train_config("train_toy_motion", list(overrides), output_dir="runs/x", weights_dir="w")
        return clip_loader_spec(cfg)

    row = Annotation(clips[256, 256], "a disc", "test")
    rescaled, reference = spec(), spec("motion_mode=reference")
    assert rescaled.motion_settings == TOY and reference.motion_settings is None
    assert torch.equal(rescaled(row, seed=0)["motion"], motion(clips[256, 256], 64, TOY)[:8])
    assert not reference(row, seed=0)["motion"].any()  # every vector of the 256-px clip is lost at 64 px
    keys = [cache_fingerprint(s, 1, "cpu", "fp32", {}) for s in (rescaled, reference)]
    assert '"motion": {"mode": "rescaled", "source_size": 128}' in keys[0] and '"motion": {' not in keys[1]
    with pytest.raises(ConfigError, match="motion_source_size"):
        spec("motion_source_size=100")
    with pytest.raises(ConfigError, match="motion_mode"):
        spec("motion_mode=fast")
