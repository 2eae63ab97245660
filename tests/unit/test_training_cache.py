"""The condition cache: `videocomposer extract --dataset` fills it; training from it sees bit-identical
batches to online extraction; a changed parameter misses; concurrent writers leave a valid cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from videocomposer.cli import main
from videocomposer.training import Trainer, train
from videocomposer.training.cache import is_cached
from videocomposer.training.data import read_annotations

from .test_training_loop import config, workspace  # noqa: F401  (workspace: module-scoped fixture)

#: misc frames of 32 px from 64-px-high videos, so the per-frame interpolation draw changes them
SIZES = ("resolution=64", "misc_size=32", "max_frames=4", "mixed_precision=fp32", "device=cpu")
#: exp02 with style: text, image, local_image, motion (everything from the cache, nothing decoded);
#: exp03: single_sketch from the cached first frame; exp05: depth online from the decoded clip, the rest cached.
TASKS = ("train_exp02_motion_transfer_vs_style", "train_exp03_sketch2video_style", "train_exp05_text_depths_wo_style")


def extract_args(ws, cache: Path, task: str, *overrides: str) -> list[str]:
    frozen = [f"frozen_models.{k}={json.dumps(v)}" for k, v in ws.frozen.items()]
    return [
        "extract",
        "--dataset",
        str(ws.data),
        "--cache",
        str(cache),
        "--config",
        task,
        "--weights-dir",
        str(ws.weights),
        *SIZES,
        *frozen,
        *overrides,
    ]


@pytest.fixture(scope="module")
def caches(workspace, tmp_path_factory) -> dict[str, Path]:  # noqa: F811
    root = tmp_path_factory.mktemp("caches")
    for task in TASKS:
        assert main(extract_args(workspace, root / task, task)) == 0
    return {task: root / task for task in TASKS}


def cfg(ws, out: Path, task: str, *overrides: str):
    return config(ws, out, task, "misc_size=32", *overrides)


def batches(trainer: Trainer, count: int):
    """The first ``count`` micro-batches with their features (latents, UNet kwargs) as the step computes them."""
    from videocomposer.training.noise import keyed_noise

    out = []
    for batch, _ in zip(trainer._loader(), range(count)):
        keys = list(zip(batch["epoch"], batch["index"]))
        _, _, posterior = keyed_noise(keys, trainer.latent_shape, trainer.cfg.seed, 1000)
        out.append((batch, *trainer._features(batch, posterior)))
    return out


@pytest.mark.parametrize("task", TASKS)
def test_cached_batches_are_bit_identical_to_online(workspace, caches, tmp_path, task):  # noqa: F811
    online = Trainer(cfg(workspace, tmp_path / "online", task))
    cached = Trainer(cfg(workspace, tmp_path / "cached", task, f"condition_cache={caches[task]}"))
    try:
        pairs = list(zip(batches(online, 6), batches(cached, 6)))  # two epochs of 3 clips: per-epoch draws differ
    finally:
        online.close()
        cached.close()
    for (a, latents_a, kwargs_a), (b, latents_b, kwargs_b) in pairs:
        assert is_cached(b) and not is_cached(a)
        assert ("video" in b) == (task == "train_exp05_text_depths_wo_style")  # decoded only for depth
        assert torch.equal(latents_a, latents_b)
        assert list(kwargs_a) == list(kwargs_b)
        for name in kwargs_a:
            assert torch.equal(kwargs_a[name], kwargs_b[name]), name


def test_training_from_the_cache_gives_the_online_losses(workspace, caches, tmp_path):  # noqa: F811
    task = TASKS[0]
    recipe = ("max_steps=3", "batch_size=1")
    online = train(cfg(workspace, tmp_path / "online", task, *recipe))
    cached = train(cfg(workspace, tmp_path / "cached", task, *recipe, f"condition_cache={caches[task]}"))
    assert cached.losses == online.losses


def test_a_changed_parameter_misses_and_a_missing_clip_loads_online(workspace, caches, tmp_path):  # noqa: F811
    task = TASKS[0]
    changed = Trainer(cfg(workspace, tmp_path / "a", task, "chunk_size=2", f"condition_cache={caches[task]}"))
    try:
        assert not any(is_cached(b) for b, *_ in batches(changed, 3))
    finally:
        changed.close()
    # remove one video's entries: its clips load online, the others still come from the cache
    partial = tmp_path / "partial"
    import shutil

    shutil.copytree(caches[task], partial)
    for meta in (partial / "videos").iterdir():
        if json.loads(meta.read_text())["video"].endswith("clip1.mp4"):
            meta.unlink()
    trainer = Trainer(
        cfg(workspace, tmp_path / "b", task, "batch_size=3", "shuffle=false", f"condition_cache={partial}")
    )
    try:
        ((batch, latents, kwargs),) = batches(trainer, 1)
    finally:
        trainer.close()
    assert [is_cached(part) for part in batch["parts"]] == [True, False, True]
    assert latents.shape[0] == 3 and all(v.shape[0] == 3 for v in kwargs.values())


def test_two_concurrent_writers_leave_a_valid_cache(workspace, caches, tmp_path):  # noqa: F811
    """Two `extract` processes fill one empty cache at the same time: both succeed, no temporary file is
    left, every entry reads back, and the cache equals the one a single writer made."""
    task = TASKS[0]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "videocomposer.cli", *extract_args(workspace, tmp_path / "shared", task)]
    writers = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [w.communicate(timeout=300) for w in writers]
    assert [w.returncode for w in writers] == [0, 0], [o[1][-2000:] for o in outputs]
    assert all("MiB in" in out for out, _ in outputs)  # the size is reported
    files = sorted(p.relative_to(tmp_path / "shared") for p in (tmp_path / "shared").rglob("*") if p.is_file())
    reference = sorted(p.relative_to(caches[task]) for p in caches[task].rglob("*") if p.is_file())
    assert files == reference and not any(p.name.startswith(".tmp-") for p in files)
    for rel in files:
        if rel.suffix == ".safetensors":
            got, want = load_file(str(tmp_path / "shared" / rel)), load_file(str(caches[task] / rel))
            assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    assert len(read_annotations(workspace.data)) == len(list((tmp_path / "shared" / "videos").iterdir()))
