"""Flow-warped initial noise: the warp follows the field, stays standard normal, and the pipeline's noise_warp."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videocomposer.diffusion.warped_noise import warp_frame, warped_noise
from videocomposer.pipelines import VideoComposerPipeline
from videocomposer.pipelines.toy_model import toy_model_dir
from videocomposer.video.motion import MACROBLOCK, block_flow, motion_condition
from videocomposer.video.trajectory import Stroke, Trajectory


def test_a_still_field_with_no_fresh_noise_repeats_frame_zero():
    noise = torch.randn(2, 4, 5, 8, 8, generator=torch.Generator().manual_seed(0))
    out = warped_noise(noise, torch.zeros(1, 2, 5, 8, 8), degradation=0.0)
    assert torch.allclose(out, noise[:, :, :1].expand_as(out), atol=1e-6)


def test_a_uniform_shift_moves_the_noise_and_fills_the_uncovered_edge_with_fresh_values():
    previous = torch.randn(3, 10, 12, generator=torch.Generator().manual_seed(1))
    flow = torch.zeros(2, 10, 12)
    flow[0], flow[1] = 2.0, -1.0  # content moved 2 px right and 1 px up
    out = warp_frame(previous, flow, torch.Generator().manual_seed(2))
    assert torch.allclose(out[:, :9, 2:], previous[:, 1:, :10], atol=1e-6)
    assert not torch.isclose(out[:, :, :2], previous[:, :, :2]).any()  # nothing moved in from the left: fresh


def test_fresh_noise_only_gives_the_noise_back():
    noise = torch.randn(1, 4, 3, 6, 6)
    flow = torch.full((1, 2, 3, 6, 6), 1.0)
    assert torch.equal(warped_noise(noise, flow, degradation=1.0), noise)


@pytest.mark.parametrize("degradation", [0.0, 0.5])
def test_a_converging_field_keeps_every_pixel_standard_normal_and_independent(degradation):
    """Many targets read one source: the split identity must keep unit variance and no correlation between them."""
    generator = torch.Generator().manual_seed(3)
    noise = torch.randn(400, 1, 2, 8, 8, generator=generator)
    ys, xs = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    flow = torch.zeros(1, 2, 2, 8, 8)
    flow[0, 0, 1], flow[0, 1, 1] = xs - 3.0, ys - 3.0  # every pixel came from (3, 3) or near it after clamping
    frame = warped_noise(noise, flow, degradation, generator)[:, 0, 1].reshape(400, -1)
    assert abs(float(frame.mean())) < 0.05
    assert abs(float(frame.std()) - 1.0) < 0.05
    corr = torch.corrcoef(frame.T)
    off_diagonal = corr[~torch.eye(64, dtype=torch.bool)]
    assert float(off_diagonal.abs().max()) < 0.25  # 400 samples: |r| of independent pairs stays well below
    assert abs(float(off_diagonal.mean())) < 0.02


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="degradation"):
        warped_noise(torch.zeros(1, 4, 2, 4, 4), torch.zeros(1, 2, 2, 4, 4), degradation=1.5)
    with pytest.raises(ValueError, match="share F, H, W"):
        warped_noise(torch.zeros(1, 4, 2, 4, 4), torch.zeros(1, 2, 2, 8, 8))


@pytest.mark.parametrize(("side", "resolution", "size"), [(128, 64, 16), (336, 256, 32)])
def test_block_flow_gives_the_blocks_motion_in_the_grids_pixels(side, resolution, size):
    """A field of one vector per macroblock, as the codec gives it, comes back dense with the same motion, whatever
    weight the condition's resize gave the block centres."""
    field = np.zeros((side, side, 2))
    centre = MACROBLOCK // 2
    field[centre::MACROBLOCK, centre::MACROBLOCK] = (6.0, -4.0)
    condition = motion_condition([np.zeros_like(field), field], resolution)  # [F, 2, R, R]
    flow = block_flow(condition.permute(1, 0, 2, 3)[None], side, size)
    assert flow.shape == (1, 2, 2, size, size)
    inner = flow[0, :, 1, 2:-2, 2:-2]
    expected = torch.tensor([6.0, -4.0]).view(2, 1, 1) * size / side
    assert torch.allclose(inner, expected.expand_as(inner), rtol=0.02)
    assert torch.equal(flow[:, :, 0], torch.zeros_like(flow[:, :, 0]))


@pytest.fixture(scope="module")
def toy():
    pipe = VideoComposerPipeline.from_pretrained(toy_model_dir())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_the_pipeline_warps_its_noise_along_a_drawn_stroke(toy):
    drawing = Trajectory(128, 128, (Stroke(((40, 64), (100, 64)), radius=20),))
    args = dict(motion=drawing, conditions=["motion"], num_inference_steps=1, output_type="latent")
    plain = toy(**args, generator=torch.Generator().manual_seed(0)).frames
    warped = toy(**args, generator=torch.Generator().manual_seed(0), noise_warp=0.0).frames
    assert plain.shape == warped.shape and not torch.allclose(plain, warped)
    same = toy(**args, generator=torch.Generator().manual_seed(0), noise_warp=1.0).frames
    assert torch.allclose(plain, same, atol=1e-5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(noise_warp=2.0), "noise_warp must be a number in"),
        (dict(noise_warp=0.5, motion_mode="reference"), "'rescaled' motion mode"),
        (dict(noise_warp=0.5, conditions=["y"], motion=None), "has none"),
    ],
)
def test_noise_warp_is_refused_where_it_cannot_apply(toy, kwargs, message):
    drawing = Trajectory(128, 128, (Stroke(((40, 64), (100, 64)), radius=20),))
    args = dict(prompt="a red disc", motion=drawing, conditions=["y", "motion"], num_inference_steps=1) | kwargs
    with pytest.raises(ValueError, match=message):
        toy(**args)


def _generate_args(tmp_path, *extra):
    from videocomposer.video.writer import write_mp4

    video = np.zeros((12, 128, 128, 3), np.uint8)
    for f in range(12):
        video[f, 40:80, 10 + 6 * f : 50 + 6 * f] = (220, 40, 40)
    write_mp4(tmp_path / "clip.mp4", video, fps=4)
    return [
        "generate",
        "--weights-dir",
        "toy",
        "--input_video",
        str(tmp_path / "clip.mp4"),
        "--steps",
        "1",
        "--device",
        "cpu",
        "--quiet",
        "--output-dir",
        str(tmp_path / "out"),
        *extra,
    ]


def test_generate_warps_the_noise_of_the_runs_with_motion(tmp_path, monkeypatch):
    """The flag reaches the pipeline call of the run with motion; left out, plain noise."""
    from videocomposer.cli import main

    calls = {}
    original = VideoComposerPipeline.__call__

    def recording(pipe, *args, **kwargs):
        calls[tuple(kwargs["conditions"])] = kwargs.get("noise_warp")
        return original(pipe, *args, **kwargs)

    monkeypatch.setattr(VideoComposerPipeline, "__call__", recording)
    args = _generate_args(tmp_path, "compose", "--conditions", "y,motion", "--input_text_desc", "a red disc")
    assert main([*args, "--noise-warp", "0.25"]) == 0
    assert calls == {("y", "motion"): 0.25}
    calls.clear()
    assert main([*args, "--overwrite"]) == 0
    assert calls == {("y", "motion"): None}


@pytest.mark.parametrize(
    ("conditions", "value", "message"),
    [("motion", "1.5", "--noise-warp: must be a number in"), ("y", "0.5", "no run of this task")],
)
def test_generate_refuses_a_noise_warp_it_cannot_use(tmp_path, capsys, conditions, value, message):
    from videocomposer.cli import main

    args = _generate_args(tmp_path, "compose", "--conditions", conditions, "--input_text_desc", "a red disc")
    assert main([*args, "--noise-warp", value]) != 0
    assert message in capsys.readouterr().err


def test_training_warps_each_slots_noise_with_its_own_keyed_draws():
    from videocomposer.training.noise import keyed_warped_noise

    field = np.zeros((128, 128, 2))
    field[MACROBLOCK // 2 :: MACROBLOCK, MACROBLOCK // 2 :: MACROBLOCK] = (16.0, 0.0)
    motion = motion_condition([field] * 4, 64).permute(1, 0, 2, 3)[None].repeat(2, 1, 1, 1, 1)
    noise = torch.randn(2, 4, 4, 16, 16, generator=torch.Generator().manual_seed(0))
    first = keyed_warped_noise(noise, motion, 0.0, 128, [(0, 1), (0, 2)], seed=5)
    assert torch.equal(first, keyed_warped_noise(noise, motion, 0.0, 128, [(0, 1), (0, 2)], seed=5))
    assert torch.allclose(first[:, :, 1, :, 2:], noise[:, :, 0, :, :-2], atol=1e-6)  # 16 px at 128 = 2 latent px
    other = keyed_warped_noise(noise, motion, 0.0, 128, [(1, 1), (1, 2)], seed=5)
    assert not torch.equal(first[:, :, 1, :, :2], other[:, :, 1, :, :2])  # the fresh edge comes from the key
