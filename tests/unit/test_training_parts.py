"""Optimizer, LR schedule, EMA, checkpoint files and annotation reading, each on its own."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from videocomposer.training import checkpoint as ckpt
from videocomposer.training.config import ConfigError, load_train_config
from videocomposer.training.data import EpochBatchSampler, read_annotations
from videocomposer.training.ema import EMA
from videocomposer.training.optim import build_optimizer, learning_rate_at, select_trainable


def _toy() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 2))


# --- optimizer and schedule --------------------------------------------------------------------


def test_trainable_patterns_select_and_freeze():
    model = _toy()
    chosen = select_trainable(model, ["2.*"])
    assert [n for n, _ in chosen] == ["2.weight", "2.bias"]
    assert not model[0].weight.requires_grad and model[2].weight.requires_grad
    assert len(select_trainable(model, [])) == 6 and model[0].weight.requires_grad


def test_trainable_pattern_matching_nothing_is_an_error():
    with pytest.raises(ConfigError, match=r"trainable_patterns.*\*temporal\*"):
        select_trainable(_toy(), ["*temporal*"])


def test_weight_decay_skips_biases_and_norms():
    cfg = load_train_config(overrides=["weight_decay=0.1"])
    opt = build_optimizer(list(_toy().named_parameters()), cfg)
    decayed = {p.ndim for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]}
    assert decayed == {2} and isinstance(opt, torch.optim.AdamW)
    sgd = build_optimizer(list(_toy().named_parameters()), load_train_config(overrides=["optimizer=momentum"]))
    assert isinstance(sgd, torch.optim.SGD) and sgd.defaults["momentum"] == 0.9


def test_warmup_then_cosine_reaches_end_lr():
    cfg = load_train_config(
        overrides=["learning_rate=1e-3", "end_learning_rate=1e-4", "warmup_steps=4", "lr_schedule=cosine"]
    )
    lrs = [learning_rate_at(s, cfg, total_steps=20) for s in range(20)]
    assert lrs[:4] == pytest.approx([2.5e-4, 5e-4, 7.5e-4, 1e-3])
    assert lrs[4] == pytest.approx(1e-3) and lrs[-1] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs[4:], lrs[5:]))
    const = load_train_config(overrides=["warmup_steps=0"])
    assert {learning_rate_at(s, const, 10) for s in range(10)} == {const.learning_rate}


# --- EMA ------------------------------------------------------------------------------------------


def test_ema_update_is_the_decayed_average():
    model = _toy()
    named = list(model.named_parameters())
    ema = EMA(named, decay=0.9)
    start = {n: p.detach().clone() for n, p in named}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema.update(named)
    for name, _ in named:
        torch.testing.assert_close(ema.shadow[name], start[name] + 0.1, rtol=0, atol=1e-6)
    ema.update(named)  # shadow = 0.9·(s+0.1) + 0.1·(s+1) = s + 0.19
    for name, _ in named:
        torch.testing.assert_close(ema.shadow[name], start[name] + 0.19, rtol=0, atol=1e-6)
    assert ema.num_updates == 2
    # frozen parameters come from the model, tracked ones from the shadow
    partial = EMA(named[:2], decay=0.5)
    full = partial.full_state_dict(model)
    assert set(full) == set(model.state_dict())
    torch.testing.assert_close(full["2.weight"], model[2].weight)


# --- checkpoint files -----------------------------------------------------------------------------


def _save(root, step, **kw):
    model = _toy()
    return ckpt.save_checkpoint(
        root, step, model.state_dict(), kw.get("ema"), {"step": step, "rng": ckpt.capture_rng_state()}, {"seed": 1}
    )


def test_save_find_prune(tmp_path):
    for step in (10, 20, 30, 40):
        _save(tmp_path, step)
    assert ckpt.find_checkpoint("latest", tmp_path).name == "step_00000040"
    removed = ckpt.prune_checkpoints(tmp_path, keep_last=2)
    assert [p.name for p in removed] == ["step_00000010", "step_00000020"]
    loaded = ckpt.load_checkpoint(ckpt.find_checkpoint(tmp_path / "step_00000030", tmp_path))
    assert loaded.step == 30 and loaded.ema is None and set(loaded.unet) == set(_toy().state_dict())


def test_resume_from_nothing_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ckpt.find_checkpoint("latest", tmp_path)
    (tmp_path / "half").mkdir()
    with pytest.raises(FileNotFoundError, match="not a complete training checkpoint"):
        ckpt.find_checkpoint(tmp_path / "half", tmp_path)


def test_exception_during_save_leaves_the_previous_checkpoint_latest(tmp_path, monkeypatch):
    _save(tmp_path, 10)

    def broken_torch_save(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.torch, "save", broken_torch_save)
    with pytest.raises(OSError, match="disk full"):
        _save(tmp_path, 20)
    assert [p.name for p in tmp_path.iterdir()] == ["step_00000010"]  # no step_20, no temp folder
    assert ckpt.find_checkpoint("latest", tmp_path).name == "step_00000010"


def test_process_killed_during_save_never_looks_complete(tmp_path):
    """SIGKILL a process in the middle of writing: no step_<N> folder appears, the next run cleans up."""
    _save(tmp_path, 10)
    script = textwrap.dedent(f"""
        import os, sys, time, torch
        from videocomposer.training import checkpoint as ckpt
        real = ckpt.torch.save
        def slow_save(obj, path):
            real(obj, path)
            print("WRITING", flush=True)
            time.sleep(60)  # killed here, after some files are written
        ckpt.torch.save = slow_save
        ckpt.save_checkpoint(__import__("pathlib").Path({str(tmp_path)!r}), 20,
                             {{"w": torch.ones(1000, 1000)}}, None, {{"step": 20}}, {{}})
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "WRITING"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert ckpt.find_checkpoint("latest", tmp_path).name == "step_00000010"
    stale = ckpt.remove_partial_saves(tmp_path)
    assert len(stale) == 1 and stale[0].name.startswith(".tmp-step_00000020")
    assert [p.name for p in tmp_path.iterdir()] == ["step_00000010"]


def test_rng_state_round_trip():
    state = ckpt.capture_rng_state()
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.rand(5), np.random.rand(5), random.random()
    ckpt.restore_rng_state(state)
    assert torch.equal(torch.rand(3), expected[0]) and np.array_equal(np.random.rand(3), expected[1])
    assert random.random() == expected[2]


# --- annotations and sampler ----------------------------------------------------------------------


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")


def test_csv_with_quoted_commas_and_json(tmp_path):
    _touch(tmp_path / "a.mp4")
    _touch(tmp_path / "sub" / "b.mp4")
    (tmp_path / "1.csv").write_text('video,caption\na.mp4,"a dog, running, fast"\n')
    (tmp_path / "2.csv").write_text("video,caption\nsub/b.mp4,plain\n")
    rows = read_annotations(tmp_path)
    assert [(r.video.name, r.caption) for r in rows] == [("a.mp4", "a dog, running, fast"), ("b.mp4", "plain")]
    (tmp_path / "data.json").write_text('{"webvid": [["sub/b.mp4", "from json"]]}')
    assert [(r.video.name, r.caption) for r in read_annotations(tmp_path)] == [("b.mp4", "from json")]


def test_csv_missing_column_names_the_file_and_columns(tmp_path):
    (tmp_path / "ann.csv").write_text("path,caption\na.mp4,x\n")
    with pytest.raises(ValueError, match=r"ann\.csv.*missing column.*'video'.*found columns \['path', 'caption'\]"):
        read_annotations(tmp_path)


def test_csv_rows_with_missing_files_are_listed_or_skipped(tmp_path):
    _touch(tmp_path / "ok.mp4")
    (tmp_path / "ann.csv").write_text("video,caption\nok.mp4,fine\ngone.mp4,lost\nalso_gone.mp4,lost too\n")
    with pytest.raises(
        FileNotFoundError,
        match=r"2 of 3 annotated videos do not exist(.|\n)*ann\.csv:3.*gone\.mp4"
        r"(.|\n)*skip_missing_videos=true",
    ):
        read_annotations(tmp_path)
    rows = read_annotations(tmp_path, skip_missing_videos=True)
    assert [r.video.name for r in rows] == ["ok.mp4"]


def test_no_annotations_or_empty_video_cell(tmp_path):
    with pytest.raises(FileNotFoundError, match="no annotation file"):
        read_annotations(tmp_path)
    (tmp_path / "ann.csv").write_text("video,caption\n,orphan caption\n")
    with pytest.raises(ValueError, match=r"ann\.csv, line 2: empty 'video'"):
        read_annotations(tmp_path)
    with pytest.raises(FileNotFoundError, match="root_dir"):
        read_annotations(tmp_path / "nope")


def test_sampler_is_seeded_sharded_and_resumable():
    full = EpochBatchSampler(10, batch_size=2, seed=3)
    stream = [b for b, _ in zip(full, range(12))]
    assert stream == [b for b, _ in zip(EpochBatchSampler(10, 2, seed=3), range(12))]
    assert sorted(i for b in stream[:5] for _, i in b) == list(range(10))  # one epoch = every clip once
    assert stream[:5] != stream[5:10]  # reshuffled per epoch
    resumed = EpochBatchSampler(10, 2, seed=3, start=(1, 2))
    assert [b for b, _ in zip(resumed, range(5))] == stream[7:12]
    ranks = [EpochBatchSampler(10, 2, seed=3, rank=r, world_size=2) for r in (0, 1)]
    epoch0 = [i for s in ranks for b, _ in zip(s, range(2)) for _, i in b]
    assert sorted(epoch0) == sorted(full.epoch_indices(0)[:8])
    with pytest.raises(ValueError, match="batch_size"):
        EpochBatchSampler(3, batch_size=2, seed=0, world_size=2)
