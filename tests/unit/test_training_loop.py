"""The training loop end to end on tiny models and generated clips: learning, exactness, robustness.

Every run loads the six official weight-file formats (tiny random models from
``videocomposer.pipelines.tiny``) and PyAV-generated clips, through the same code paths as a real run.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from videocomposer.checkpoints import read_state_dict
from videocomposer.pipelines.components import load_official_component
from videocomposer.pipelines.tiny import write_tiny_official_weights
from videocomposer.training import Trainer, TrainSummary, load_train_config, train
from videocomposer.training.components import unet_config
from videocomposer.training.data import Annotation, ClipLoaderSpec

_TRAINING_KEYS = ("video_compositions", "misc_dropout", "p_all_zero", "p_all_keep", "use_checkpoint")


def make_video(path: Path, seed: int, frames: int = 24, width: int = 80, height: int = 64, fps: int = 8) -> Path:
    """A clip of a blurred noise texture sliding diagonally (so it has motion vectors), H.264 via PyAV."""
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(
        rng.integers(0, 255, (height + 2 * frames, width + 2 * frames, 3), dtype=np.uint8), (9, 9), 3
    )
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            image = np.ascontiguousarray(texture[i : i + height, 2 * i : 2 * i + width])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


@dataclasses.dataclass
class Workspace:
    weights: Path
    data: Path  # three clips
    one_clip: Path  # one clip
    broken: Path  # two clips and a corrupt file
    unet: dict
    frozen: dict


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("training")
    configs = write_tiny_official_weights(root / "weights")
    data, one, broken = root / "data", root / "one", root / "broken"
    for folder in (data, one, broken):
        folder.mkdir()
    for i in range(3):
        make_video(data / f"clip{i}.mp4", seed=i)
    (data / "captions.csv").write_text(
        'video,caption\nclip0.mp4,"a texture, sliding"\nclip1.mp4,another one\nclip2.mp4,"a third, with ""quotes"""\n'
    )
    make_video(one / "only.mp4", seed=7)
    (one / "captions.csv").write_text("video,caption\nonly.mp4,the only clip\n")
    for i in range(2):
        make_video(broken / f"ok{i}.mp4", seed=10 + i)
    (broken / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 this is not a video" * 10)
    (broken / "captions.csv").write_text("video,caption\nok0.mp4,fine\ncorrupt.mp4,broken\nok1.mp4,fine too\n")
    unet = {k: v for k, v in dataclasses.asdict(configs["unet"]).items() if k not in _TRAINING_KEYS}
    frozen = {k: dataclasses.asdict(configs[k]) for k in ("vae", "clip", "midas", "sketch_cleaner")}
    return Workspace(root / "weights", data, one, broken, unet, frozen)


def config(
    ws: Workspace, out: Path, task: str = "train_exp02_motion_transfer", *overrides: str, root: Path | None = None
):
    """A tiny, fast, deterministic config: 4 frames of 64 px (8×8 latents), fp32 on the CPU, no workers."""
    base = [
        f"root_dir={root or ws.data}",
        f"weights_dir={ws.weights}",
        f"output_dir={out}",
        "resolution=64",
        "misc_size=64",
        "max_frames=4",
        "num_workers=0",
        "mixed_precision=fp32",
        "device=cpu",
        "progress_bar=false",
        "tensorboard=false",
        "warmup_steps=0",
        "gradient_checkpointing=false",
        "max_steps=2",
        "checkpoint_every=0",
    ]
    return load_train_config(task, base + list(overrides), unet=ws.unet, frozen_models=ws.frozen)


def deterministic(*overrides: str) -> tuple[str, ...]:
    """No condition dropout and plain SGD with lr 1: a step moves each weight by exactly minus its gradient."""
    return (
        "misc_dropout=0",
        "p_all_zero=0",
        "p_all_keep=0",
        "optimizer=momentum",
        "momentum=0",
        "learning_rate=1",
        "end_learning_rate=1",
        "lr_schedule=constant",
        "max_grad_norm=null",
        *overrides,
    )


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def initial_unet(ws: Workspace) -> dict[str, torch.Tensor]:
    return read_state_dict(ws.weights / "non_ema_228000.pth")


def final_unet(summary: TrainSummary) -> dict[str, torch.Tensor]:
    return weights(Path(summary.checkpoints[-1]) / "unet.safetensors")


def deltas(ws: Workspace, summary: TrainSummary) -> dict[str, torch.Tensor]:
    """Weight changes of a run (fp32 rounding of ``end − start`` is ~1e-7 for weights of order 1)."""
    start, end = initial_unet(ws), final_unet(summary)
    return {k: end[k] - start[k] for k in start}


def assert_same_update(got: dict[str, torch.Tensor], expected: dict[str, torch.Tensor]) -> None:
    """Equal weight changes within fp32 noise: per tensor, 1e-4 of its largest change (sums of many terms
    reduced in another order differ by ~1e-6 relative) plus the ~1e-7 rounding of ``end − start``."""
    for key, want in expected.items():
        scale = float(want.abs().max())
        torch.testing.assert_close(
            got[key], want, rtol=0, atol=1e-4 * scale + 1e-6, msg=lambda m, key=key: f"{key}: {m}"
        )


def log_rows(out: Path) -> list[dict[str, str]]:
    with open(out / "train_log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


# --- learning ---------------------------------------------------------------------------------------


def test_loss_falls_when_overfitting_one_clip(workspace, tmp_path):
    cfg = config(
        workspace,
        tmp_path,
        "train_exp02_motion_transfer",
        "max_steps=40",
        "learning_rate=2e-3",
        "lr_schedule=constant",
        "misc_dropout=0",
        "p_all_zero=0",
        "p_all_keep=0",
        root=workspace.one_clip,
    )
    summary = train(cfg)
    losses = summary.losses
    print("overfit loss curve:", " ".join(f"{x:.3f}" for x in losses))
    first, last = np.mean(losses[:5]), np.mean(losses[-5:])
    assert last < 0.5 * first, f"loss did not fall: first five {first:.3f}, last five {last:.3f}"
    assert summary.steps == 40 and summary.skipped_steps == 0 and summary.broken_videos == 0
    assert [float(r["loss"]) for r in log_rows(tmp_path)] == pytest.approx(losses)


# --- exactness ------------------------------------------------------------------------------------


def test_gradient_accumulation_equals_the_larger_batch(workspace, tmp_path):
    whole = train(
        config(
            workspace,
            tmp_path / "b2",
            "train_exp02_motion_transfer",
            *deterministic("batch_size=2", "max_steps=1", "shuffle=false"),
        )
    )
    accumulated = train(
        config(
            workspace,
            tmp_path / "b1x2",
            "train_exp02_motion_transfer",
            *deterministic("batch_size=1", "gradient_accumulation_steps=2", "max_steps=1", "shuffle=false"),
        )
    )
    assert accumulated.losses == pytest.approx(whole.losses, rel=1e-6)
    a, b = deltas(workspace, whole), deltas(workspace, accumulated)
    assert sum(int(a[k].abs().max() > 0) for k in a) > 10
    assert_same_update(b, a)


def test_min_snr_weighting_scales_the_loss_and_the_update(workspace, tmp_path):
    """γ set to half the SNR of the one sample's timestep: min-SNR gives it weight 1/2 exactly, so the loss
    and (plain SGD) the weight update are half the uniform run's."""
    from videocomposer.diffusion import NoiseSchedule
    from videocomposer.training.noise import keyed_noise

    common = deterministic("batch_size=1", "max_steps=1", "shuffle=false")
    uniform = config(workspace, tmp_path / "uniform", "train_exp02_motion_transfer", *common, root=workspace.one_clip)
    t = int(keyed_noise([(0, 0)], (1,), uniform.seed, 1000)[0])
    alphas_cumprod = NoiseSchedule.linear_sd().alphas_cumprod[t].item()
    gamma = 0.5 * alphas_cumprod / (1 - alphas_cumprod)
    weighted = config(
        workspace,
        tmp_path / "min_snr",
        "train_exp02_motion_transfer",
        *common,
        "loss_weighting=min_snr",
        f"loss_weighting_gamma={gamma!r}",
        root=workspace.one_clip,
    )
    plain, halved = train(uniform), train(weighted)
    assert halved.losses[0] == pytest.approx(0.5 * plain.losses[0], rel=1e-5)
    expected = {k: 0.5 * v for k, v in deltas(workspace, plain).items()}
    assert_same_update(deltas(workspace, halved), expected)


def test_prediction_type_and_zero_terminal_snr_reach_the_loss(workspace, tmp_path):
    """Same clip, noise, timestep and weights: the ε target, the v target and v on the rescaled schedule each
    give their own first loss (a setting the trainer ignored would repeat another run's)."""
    common = deterministic("batch_size=1", "max_steps=1", "shuffle=false")
    runs = {
        name: train(
            config(workspace, tmp_path / name, "train_exp02_motion_transfer", *common, *extra, root=workspace.one_clip)
        ).losses[0]
        for name, extra in (
            ("eps", ()),
            ("v", ("prediction_type=v_prediction",)),
            ("v_zero_snr", ("prediction_type=v_prediction", "zero_terminal_snr=true")),
        )
    }
    assert len({round(loss, 6) for loss in runs.values()}) == 3, runs


def test_offset_noise_adds_one_constant_per_sample_and_channel():
    from videocomposer.training.noise import keyed_noise

    keys, shape = [(0, i) for i in range(64)], (4, 3, 8, 8)
    t, noise, posterior = keyed_noise(keys, shape, 5, 1000)
    t2, offset_noise, posterior2 = keyed_noise(keys, shape, 5, 1000, noise_offset=0.5)
    assert torch.equal(t, t2) and torch.equal(posterior, posterior2)  # the other draws are unchanged
    offset = offset_noise - noise
    constant = offset.flatten(2)
    assert torch.allclose(constant, constant[..., :1].expand_as(constant), atol=1e-6)  # shared by frames and pixels
    assert 0.4 < float(constant[..., 0].std()) < 0.6  # one N(0, 0.5²) value per (sample, channel)
    assert torch.equal(keyed_noise(keys, shape, 5, 1000, 0.5)[1], offset_noise)  # keyed: resumable


def test_noise_correlation_correlates_the_frames_of_the_diffusion_noise(workspace, tmp_path):
    """``noise_correlation``: the same timesteps and posterior draws; each clip's noise is its independent draw
    mixed with one draw shared by its frames (the pipeline samples with it); the setting reaches the loss."""
    from videocomposer.diffusion import mix_frame_noise
    from videocomposer.training.noise import keyed_noise

    keys, shape = [(0, i) for i in range(64)], (4, 6, 8, 8)  # [C, F, h, w]
    t, noise, posterior = keyed_noise(keys, shape, 5, 1000)
    t2, mixed, posterior2 = keyed_noise(keys, shape, 5, 1000, noise_correlation=0.5)
    assert torch.equal(t, t2) and torch.equal(posterior, posterior2)
    shared = (mixed - 0.5**0.5 * noise) / 0.5**0.5
    assert torch.allclose(shared, shared[:, :, :1].expand_as(shared), atol=1e-5)  # one draw for all frames
    torch.testing.assert_close(mixed, mix_frame_noise(noise, shared[:, :, :1], 0.5))
    assert 0.45 < float(torch.corrcoef(mixed.movedim(2, 0).flatten(1))[0, 1]) < 0.55
    assert 0.9 < float(mixed.std()) < 1.1
    assert torch.equal(keyed_noise(keys, shape, 5, 1000, noise_correlation=0.5)[1], mixed)  # keyed: resumable
    runs = [
        train(
            config(
                workspace,
                tmp_path / str(rho),
                "train_exp02_motion_transfer",
                *deterministic("max_steps=1", f"noise_correlation={rho}"),
            )
        ).losses[0]
        for rho in (0.0, 0.5)
    ]
    assert runs[0] != runs[1]


def test_gradient_checkpointing_gives_the_same_gradients(workspace, tmp_path):
    runs = [
        train(
            config(
                workspace,
                tmp_path / str(flag),
                "train_exp02_motion_transfer",
                *deterministic("max_steps=1", f"gradient_checkpointing={flag}", "unet.dropout=0.1"),
            )
        )
        for flag in ("false", "true")
    ]
    assert runs[0].losses == runs[1].losses
    assert_same_update(deltas(workspace, runs[1]), deltas(workspace, runs[0]))


def test_compiled_unet_trains_the_same_and_saves_official_names(workspace, tmp_path, monkeypatch):
    """``compile=true``: the same loss and update as eager, and checkpoints keep the official key names
    (no ``_orig_mod.``). Graph capture via the aot_eager backend: no C compiler needed in the test."""
    eager_compile = torch.compile
    monkeypatch.setattr(torch, "compile", lambda model, **kw: eager_compile(model, backend="aot_eager"))
    runs = [
        train(
            config(
                workspace,
                tmp_path / str(flag),
                "train_exp02_motion_transfer",
                *deterministic("max_steps=1", f"compile={flag}"),
            )
        )
        for flag in ("false", "true")
    ]
    assert runs[1].losses == pytest.approx(runs[0].losses, rel=1e-5)
    saved = final_unet(runs[1])
    assert set(saved) == set(initial_unet(workspace))
    assert_same_update(deltas(workspace, runs[1]), deltas(workspace, runs[0]))


def test_resume_continues_exactly(workspace, tmp_path, monkeypatch, caplog):
    """Kill a run right after its step-3 checkpoint; resuming gives the uninterrupted run's losses and weights."""
    recipe = (
        "max_steps=6",
        "checkpoint_every=3",
        "use_ema=true",
        "ema_decay=0.9",
        "lr_schedule=cosine",
        "learning_rate=1e-3",
        "end_learning_rate=1e-4",
        "warmup_steps=2",
        "unet.dropout=0.1",
        "batch_size=2",
    )
    whole = train(config(workspace, tmp_path / "whole", "train_exp02_motion_transfer", *recipe))

    real_save = Trainer.save

    class Killed(BaseException):
        pass

    def save_then_die(self):
        real_save(self)
        raise Killed("killed after the checkpoint")

    monkeypatch.setattr(Trainer, "save", save_then_die)
    with pytest.raises(Killed):
        train(config(workspace, tmp_path / "cut", "train_exp02_motion_transfer", *recipe))
    monkeypatch.setattr(Trainer, "save", real_save)
    caplog.set_level(logging.INFO, logger="videocomposer")
    resumed = train(config(workspace, tmp_path / "cut", "train_exp02_motion_transfer", *recipe, "resume=latest"))
    assert any("resumed from" in r.getMessage() for r in caplog.records)
    assert not any("changed settings" in r.getMessage() for r in caplog.records)

    assert resumed.steps_this_run == 3 and whole.steps == resumed.steps == 6
    assert resumed.losses == whole.losses[3:]  # exactly, not approximately
    for name in ("unet.safetensors", "unet_ema.safetensors"):
        a, b = weights(Path(whole.checkpoints[-1]) / name), weights(Path(resumed.checkpoints[-1]) / name)
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert [float(r["loss"]) for r in log_rows(tmp_path / "cut")] == whole.losses  # the log reads as one run
    finished = train(config(workspace, tmp_path / "cut", "train_exp02_motion_transfer", *recipe, "resume=auto"))
    assert finished.steps == 6 and finished.steps_this_run == 0


def test_workers_give_the_same_batches(workspace, tmp_path):
    runs = [
        train(config(workspace, tmp_path / str(n), "train_exp02_motion_transfer", f"num_workers={n}", "max_steps=2"))
        for n in (0, 2)
    ]
    assert runs[0].losses == runs[1].losses


# --- optimizer-side features ------------------------------------------------------------------------


def test_gradient_clipping_bounds_the_update(workspace, tmp_path):
    free = train(config(workspace, tmp_path / "free", "train_exp02_motion_transfer", *deterministic("max_steps=1")))
    norm = float(log_rows(tmp_path / "free")[0]["grad_norm"])
    free_delta = torch.cat([d.flatten() for d in deltas(workspace, free).values()]).norm()
    assert float(free_delta) == pytest.approx(norm, rel=1e-4)  # lr 1, SGD: the update is the gradient

    clipped = train(
        config(
            workspace,
            tmp_path / "clip",
            "train_exp02_motion_transfer",
            *deterministic("max_steps=1", f"max_grad_norm={norm / 10}"),
        )
    )
    d_free, d_clip = deltas(workspace, free), deltas(workspace, clipped)
    assert float(torch.cat([d.flatten() for d in d_clip.values()]).norm()) == pytest.approx(norm / 10, rel=1e-4)
    for key in d_free:  # same direction, a tenth of the length
        torch.testing.assert_close(d_clip[key], d_free[key] / 10, rtol=1e-3, atol=1e-6, msg=key)
    assert float(log_rows(tmp_path / "clip")[0]["grad_norm"]) == pytest.approx(norm, rel=1e-5)  # norm before clipping


def test_ema_weights_are_the_decayed_average(workspace, tmp_path):
    summary = train(
        config(
            workspace,
            tmp_path,
            "train_exp02_motion_transfer",
            *deterministic("max_steps=1", "use_ema=true", "ema_decay=0.75"),
        )
    )
    start, raw = initial_unet(workspace), final_unet(summary)
    ema = weights(Path(summary.checkpoints[-1]) / "unet_ema.safetensors")
    assert set(ema) == set(raw)
    changed = 0
    for key in raw:
        torch.testing.assert_close(ema[key], 0.75 * start[key] + 0.25 * raw[key], rtol=1e-5, atol=1e-6, msg=key)
        changed += int(not torch.equal(raw[key], start[key]))
    assert changed > 10


def test_trainable_patterns_and_untrained_encoders_stay_frozen(workspace, tmp_path):
    summary = train(
        config(
            workspace,
            tmp_path,
            "train_exp02_motion_transfer",
            *deterministic("max_steps=1"),
            "trainable_patterns=[out.*,time_embed.*,depth_embedding.*]",
        )
    )
    moved = {k for k, d in deltas(workspace, summary).items() if d.abs().max() > 0}
    # depth is built into the model but not trained by exp02: its encoder must not move either
    assert moved and all(k.startswith(("out.", "time_embed.")) for k in moved), sorted(moved)[:5]
    with pytest.raises(ValueError, match="trainable_patterns"):
        train(
            config(workspace, tmp_path / "none", "train_exp02_motion_transfer", "trainable_patterns=[no_such_layer.*]")
        )


def test_fp16_overflowing_steps_are_skipped_and_counted(workspace, tmp_path):
    summary = train(
        config(
            workspace,
            tmp_path,
            "train_exp02_motion_transfer",
            "max_steps=1",
            "mixed_precision=fp16",
            f"loss_scale_init={2.0**40}",
        )
    )
    assert summary.skipped_steps == 1
    start, end = initial_unet(workspace), final_unet(summary)
    assert all(torch.equal(start[k], end[k]) for k in start)  # the skipped step changed nothing
    row = log_rows(tmp_path)[0]
    assert float(row["loss_scale"]) == 2.0**39 and int(row["skipped_steps"]) == 1


# --- data robustness and outputs --------------------------------------------------------------------


def test_broken_video_is_skipped_with_a_warning_and_counted(workspace, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="videocomposer")
    summary = train(
        config(
            workspace, tmp_path, "train_exp02_motion_transfer", "max_steps=3", "shuffle=false", root=workspace.broken
        )
    )
    assert summary.broken_videos == 1 and summary.steps == 3 and all(math.isfinite(x) for x in summary.losses)
    assert summary.broken_files == [str(workspace.broken / "corrupt.mp4")]
    assert any("corrupt.mp4" in r.getMessage() and "skipping broken video" in r.getMessage() for r in caplog.records)
    assert [int(r["broken_videos"]) for r in log_rows(tmp_path)] == [0, 1, 1]


def test_checkpoint_keeps_official_names_and_loads_in_the_pipeline(workspace, tmp_path):
    cfg = config(workspace, tmp_path, "train_exp02_motion_transfer", "max_steps=3", "checkpoint_every=1", "keep_last=2")
    summary = train(cfg)
    folders = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert folders == ["step_00000002", "step_00000003"]
    path = Path(summary.checkpoints[-1]) / "unet.safetensors"
    assert set(weights(path)) == set(initial_unet(workspace))  # the official key names
    unet = load_official_component("unet", path, unet_config(cfg))
    assert all(torch.equal(unet.state_dict()[k], v) for k, v in weights(path).items())
    # and it can start the next fine-tuning run
    again = train(
        config(
            workspace,
            tmp_path / "next",
            "train_exp02_motion_transfer",
            f"unet_checkpoint={path}",
            "max_steps=1",
            "resume=auto",
        )
    )  # auto: nothing to resume, a fresh run
    assert again.steps == 1
    for name in ("config.yaml", "train.log", "train_log.csv", "summary.json"):
        assert (tmp_path / name).is_file(), name


def test_only_what_the_task_trains_is_loaded_and_computed(workspace, tmp_path):
    row = Annotation(workspace.data / "clip0.mp4", "caption", "test")
    exp02 = ClipLoaderSpec(("text", "local_image", "motion"), 4, 64, 64, 4)(row, seed=1)
    assert set(exp02) == {"video", "misc", "motion"} and exp02["misc"].shape == (1, 3, 64, 64)  # first frame only
    exp06 = ClipLoaderSpec(("text", "image", "depthmap"), 4, 64, 64, 4)(row, seed=1)
    assert set(exp06) == {"video", "misc", "vit_image"} and exp06["misc"].shape == (4, 3, 64, 64)
    assert torch.equal(exp06["video"], exp02["video"])  # the same seed samples the same clip
    masked = ClipLoaderSpec(("mask",), 4, 64, 64, 4)(row, seed=1)
    assert masked["mask"].shape == (4, 1, 64, 64) and exp02["video"].shape == (4, 3, 64, 64)
    trainer = Trainer(config(workspace, tmp_path, "train_exp02_motion_transfer"))
    try:
        built = trainer.conditions
        assert built.midas is None and built.pidinet is None and built.sketch_cleaner is None
        assert built.clip.towers == ("text",)  # no image tower: exp02 trains no style image
    finally:
        trainer.close()


def test_training_frames_are_resized_then_cropped(tmp_path):
    """A vertical gradient over the full height must survive (the MindSpore port's crop-only transform
    would cut the top and bottom off a frame taller than the training resolution)."""
    height, width = 96, 128
    gradient = np.repeat(np.linspace(0, 255, height)[:, None], width, axis=1).astype(np.uint8)
    path = tmp_path / "gradient.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for _ in range(24):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(np.stack([gradient] * 3, axis=-1), format="rgb24")))
        container.mux(stream.encode())
    video = ClipLoaderSpec(("text",), 4, 64, 64, 4)(Annotation(path, "", "test"), seed=0)["video"]  # [F, 3, 64, 64]
    assert float(video[:, :, 0].mean()) < -0.85 and float(video[:, :, -1].mean()) > 0.85


def test_moving_region_weights_sparse_strokes_and_warped_noise_reach_the_step(workspace, tmp_path, monkeypatch):
    """Each option changes the first step's loss, and the strokes are what the UNet's motion input receives."""
    from videocomposer.training import trainer as trainer_module

    common = deterministic(
        "batch_size=1", "max_steps=1", "shuffle=false", "motion_mode=rescaled", "motion_source_size=64"
    )
    seen: list[torch.Tensor] = []
    original = trainer_module.sparse_strokes
    monkeypatch.setattr(trainer_module, "sparse_strokes", lambda *a: seen.append(out := original(*a)) or out)
    runs = {
        name: train(
            config(workspace, tmp_path / name, "train_exp02_motion_transfer", *common, *extra, root=workspace.one_clip)
        )
        for name, extra in (
            ("plain", ()),
            ("moving", ("moving_region_weight=4",)),
            ("strokes", ("sparse_stroke_prob=1",)),
            ("warped", ("noise_warp=0",)),
        )
    }
    assert runs["moving"].losses[0] != pytest.approx(runs["plain"].losses[0], rel=1e-4)
    assert runs["strokes"].losses[0] != pytest.approx(runs["plain"].losses[0], rel=1e-4)
    assert runs["warped"].losses[0] != pytest.approx(runs["plain"].losses[0], rel=1e-4)
    assert len(seen) == 1 and seen[0].abs().sum() > 0
