"""The built-in toy model: it ships, loads with the size its recipe sets, keeps the measured metrics of its
model card, and the recipe that made it trains from scratch."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import torch
import yaml

import videocomposer
from recipes.toy import world_v1 as synthetic  # the world the shipped model was trained on
from recipes.toy.codec_benchmark import evaluate_toy_model
from recipes.toy.recipe import Recipe
from recipes.toy.settings import NUM_FRAMES, SAMPLING_DEFAULTS, SIZE
from videocomposer.cli import main
from videocomposer.evaluation.motion import MOVING_SPEED
from videocomposer.pipelines import VideoComposerPipeline
from videocomposer.pipelines.toy_demo import DEMO_ASSETS, load_demo_inputs
from videocomposer.pipelines.toy_model import PACKAGED_TOY_MODEL
from videocomposer.video.writer import write_mp4


@pytest.fixture(scope="module")
def pipe():
    pipeline = VideoComposerPipeline.from_pretrained(videocomposer.toy_model_dir())
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.fixture(scope="module")
def card_metrics():
    return json.loads((videocomposer.toy_model_dir() / "metrics.json").read_text())


def test_the_toy_model_ships_in_the_package_within_20_mb():
    folder = videocomposer.toy_model_dir()
    assert folder == PACKAGED_TOY_MODEL and (folder / "MODEL_CARD.md").is_file()
    weights = list(folder.rglob("*.safetensors"))
    assert {w.parent.name for w in weights} == {"unet", "vae", "clip"}
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) <= 20 * 2**20


def test_the_pipeline_takes_its_size_from_the_model(pipe, tmp_path):
    spec = synthetic.sample_clip_spec(4242, 1)
    write_mp4(tmp_path / "clip.mp4", synthetic.render_clip(spec), fps=synthetic.CLIP_FPS)
    first = synthetic.render_clip(synthetic.ClipSpec(**{**spec.__dict__, "num_frames": 1}))[0]
    from PIL import Image

    out = pipe(
        spec.caption,
        video=tmp_path / "clip.mp4",
        image=Image.fromarray(first),
        num_inference_steps=2,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    )
    assert out.frames.shape == (1, NUM_FRAMES, SIZE, SIZE, 3)
    assert pipe.defaults["num_frames"] == NUM_FRAMES and pipe.scheduler == "dpmsolver++"
    assert pipe.empty_caption == "zeros" and not pipe.unet.empty_caption().any()  # as its training dropped captions


@pytest.mark.slow
def test_held_out_metrics_stay_at_the_model_cards_figures(pipe, card_metrics, tmp_path):
    """The regression subset (the first held-out clips, same noise) regenerated here against the values the
    recipe measured when it built the model; margins cover CPU float differences, not a worse model."""
    recorded = card_metrics["regression_subset"]
    report = evaluate_toy_model(
        pipe,
        tmp_path,
        recorded["clips"],
        samplers=[(recorded["scheduler"], recorded["steps"])],
        batch_size=recorded["clips"],
        world=card_metrics.get("world", "v1"),
    )
    now = report["samplers"][f"{recorded['scheduler']}-{recorded['steps']}"]["means"]
    then = recorded["means"]
    assert now["first_frame_psnr"] >= then["first_frame_psnr"] - 1.0
    for key in ("motion_epe", "flow_epe"):
        assert now[key] <= 1.25 * then[key] + 0.05, key
    assert now["motion_epe_ratio"] <= then["motion_epe_ratio"] * 1.25 + 0.05
    assert now["frame_change"] <= 1.25 * then["frame_change"] + 1.0  # still a video, not independent frames
    assert now["text_colour_accuracy"] >= then["text_colour_accuracy"] - 0.25  # at most one more miss of four
    full = card_metrics["samplers"]["dpmsolver++-20"]["means"]
    assert math.isclose(full["first_frame_psnr"], then["first_frame_psnr"], abs_tol=5.0)  # the subset is typical


def test_reference_points_order_a_faithful_video_before_a_still_one(pipe, tmp_path):
    """The benchmark's reference videos of a held-out clip: the VAE round trip reproduces the clip's frames
    (the decoder's held-out PSNR is about 30 dB), and the source itself scores a lower motion error than its
    first frame held still."""
    from recipes.toy.codec_benchmark import reference_points
    from recipes.toy.heldout import held_out_clips, vae_round_trip
    from videocomposer.video.sampling import load_video_clip
    from videocomposer.video.writer import to_uint8_frames

    clip = held_out_clips(tmp_path, 1, world="v1")[0]
    loaded = load_video_clip(clip.path, NUM_FRAMES, SIZE, SIZE, seed=8888, with_mask=False)
    source = to_uint8_frames(loaded.misc).astype(np.float64)
    decoded = vae_round_trip(pipe, loaded.video)
    assert decoded.shape == (NUM_FRAMES, SIZE, SIZE, 3) and decoded.dtype == np.uint8
    assert 10 * math.log10(255**2 / np.mean((decoded - source) ** 2)) > 25
    points = reference_points(pipe, clip, loaded)
    assert points["motion_epe_source"] < points["motion_epe_still"]
    assert all(math.isfinite(v) and v >= 0 for k, v in points.items() if "_epe" in k)
    # split by cells: a still video errs only where the condition moves; the source points the same way
    assert points["motion_epe_static_still"] < MOVING_SPEED < points["motion_epe_moving_still"]
    assert abs(points["motion_cosine_moving_still"]) < 0.1 < 0.5 < points["motion_cosine_moving_source"]
    assert (
        abs(points["motion_gain_moving_still"]) < 0.1 < 0.5 < points["motion_gain_moving_source"]
    )  # source: its own speed


def _clip_and_first_frame(folder):
    from PIL import Image

    spec = synthetic.sample_clip_spec(4242, 2)
    frames = synthetic.render_clip(spec)
    write_mp4(folder / "clip.mp4", frames, fps=synthetic.CLIP_FPS)
    Image.fromarray(frames[0]).save(folder / "first.png")
    return spec, folder / "clip.mp4", folder / "first.png"


def test_generate_runs_the_toy_model_at_its_own_size(tmp_path, capsys):
    spec, clip, first = _clip_and_first_frame(tmp_path)
    code = main(
        [
            "generate",
            "exp02_motion_transfer",
            "--weights-dir",
            "toy",
            "--input_video",
            str(clip),
            "--image_path",
            str(first),
            "--input_text_desc",
            spec.caption,
            "--steps",
            "2",
            "--output-dir",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    import av

    mp4 = next((tmp_path / "out").rglob("*.mp4"))
    with av.open(str(mp4)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == NUM_FRAMES and frames[0].shape == (SIZE, SIZE, 3)
    resolved = yaml.safe_load(next((tmp_path / "out").rglob("config.yaml")).read_text())
    assert resolved["min_guidance_scale"] == SAMPLING_DEFAULTS["min_guidance_scale"]  # the model's ramp, as saved


def test_generate_without_weights_points_to_the_toy_model(tmp_path, capsys):
    _, clip, first = _clip_and_first_frame(tmp_path)
    assert (
        main(
            [
                "generate",
                "exp02_motion_transfer",
                "--input_video",
                str(clip),
                "--image_path",
                str(first),
                "--input_text_desc",
                "a",
                "--output-dir",
                str(tmp_path / "out"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err
    assert "--weights-dir toy" in err and "official weight files" in err


def test_demo_uses_the_toy_model(tmp_path, capsys):
    assert main(["demo", "--output-dir", str(tmp_path), "--steps", "2", "--quiet"]) == 0
    assert "toy model" in capsys.readouterr().out
    for name in ("motion_transfer", "text_only"):
        assert (tmp_path / f"{name}.mp4").is_file() and (tmp_path / f"{name}_grid.gif").is_file()
    notice = (tmp_path / "NOTICE.txt").read_text()
    assert "--weights-dir toy" in notice
    psnr = next(iter(json.loads((videocomposer.toy_model_dir() / "metrics.json").read_text())["samplers"].values()))
    assert f"first-frame PSNR {psnr['means']['first_frame_psnr']:.1f} dB" in notice  # the shipped model's figures
    inputs = load_demo_inputs()  # the packaged inputs, copied beside the results, and their prompts used
    assert (tmp_path / "source.mp4").read_bytes() == (DEMO_ASSETS / "source.mp4").read_bytes()
    assert (tmp_path / "new_first_frame.png").read_bytes() == (DEMO_ASSETS / "new_first_frame.png").read_bytes()
    settings = (tmp_path / "settings.txt").read_text()
    assert inputs.motion_transfer_prompt in settings and inputs.text_only_prompt in settings
    assert main(["demo", "--output-dir", str(tmp_path / "x"), "--size", "32"]) == 2  # --size is for --random


@pytest.mark.slow
def test_the_recipe_trains_from_scratch_and_the_loss_falls(tmp_path):
    """Every stage of the recipe on a few clips; the UNet trained with ε-prediction here, whose trivial loss (a
    network that outputs 0) is exactly E[ε²] = 1. The toy config's v target has a trivial level that depends on
    the latents' variance (0.9-1.0 on these 6 clips, which 150 steps of v reach and no more)."""
    recipe = Recipe(
        tmp_path,
        num_clips=6,
        vae_steps=20,
        unet_steps=150,
        decoder_steps=10,
        overrides=[
            "max_frames=4",
            "batch_size=1",
            "num_workers=0",
            "warmup_steps=10",
            "checkpoint_every=0",
            "log_every=1",
            "prediction_type=epsilon",
            "zero_terminal_snr=false",
        ],
    )
    model_dir = recipe.run()
    with open(tmp_path / "unet_run" / "train_log.csv", newline="") as handle:
        losses = [float(row["loss"]) for row in csv.DictReader(handle)]
    assert len(losses) == 150
    assert np.mean(losses[-30:]) < 0.6 * min(1.0, np.mean(losses[:10]))  # measured: 1.07 -> 0.40
    assembled = VideoComposerPipeline.from_pretrained(model_dir)
    assert assembled.defaults["num_frames"] == NUM_FRAMES
    # trained with its captions dropped to zeros (the condition dropout): guided away from zeros, not from ""
    assert assembled.empty_caption == "zeros" and not assembled.unet.empty_caption().any()
