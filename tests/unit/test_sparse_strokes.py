"""Strokes drawn from the dense motion while training: where they fall, what they carry, keyed draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from videocomposer.config import ConfigError
from videocomposer.training.config import TrainConfig
from videocomposer.training.sparse_strokes import sparse_strokes, stroke_from_motion
from videocomposer.video.motion import MACROBLOCK, motion_condition, site_weights

SIDE, R, FRAMES, STEP = 128, 64, 6, 8.0  # a 48-px square of blocks moving 8 px right per frame


def moving_blocks() -> torch.Tensor:
    """``[2, F, R, R]``: the codec-like field of a square of macroblocks moving ``STEP`` px right per frame."""
    fields = [np.zeros((SIDE, SIDE, 2))]
    for f in range(1, FRAMES):
        field = np.zeros((SIDE, SIDE, 2))
        left = 24 + int(STEP * f)
        for y in range(40 + MACROBLOCK // 2, 88, MACROBLOCK):
            for x in range(MACROBLOCK // 2, SIDE, MACROBLOCK):
                if left <= x < left + 48:
                    field[y, x] = (STEP, 0.0)
        fields.append(field)
    return motion_condition(fields, R).permute(1, 0, 2, 3)


def test_a_stroke_follows_the_motion_with_its_vectors_at_the_block_sites():
    motion = moving_blocks()
    stroke = stroke_from_motion(motion, SIDE, torch.Generator().manual_seed(0))
    weights = site_weights(R, SIDE)
    assert torch.equal(stroke[:, 0], torch.zeros_like(stroke[:, 0]))
    centres = []
    for f in range(1, FRAMES):
        present = stroke[:, f].abs().sum(dim=0) > 0
        assert present.any()
        assert bool((weights[present] > 0).all())  # only at the sites the codec's vectors occupy
        expected = torch.stack([STEP * weights, torch.zeros_like(weights)])
        assert torch.allclose(stroke[:, f][:, present], expected[:, present])  # the object's own vector
        ys, xs = torch.nonzero(present, as_tuple=True)
        centres.append(float(xs.float().mean()))
    steps = np.diff(centres)
    assert np.all(steps >= 0) and abs(centres[-1] - centres[0] - (FRAMES - 2) * STEP * R / SIDE) <= R / SIDE * 16


def test_the_draws_are_keyed_and_the_probability_is_kept():
    motion = moving_blocks()[None].repeat(4, 1, 1, 1, 1)
    seeds = [11, 12, 13, 14]
    assert torch.equal(sparse_strokes(motion, 1.0, SIDE, seeds), sparse_strokes(motion, 1.0, SIDE, seeds))
    assert torch.equal(sparse_strokes(motion, 0.0, SIDE, seeds), motion)
    replaced = sparse_strokes(motion, 1.0, SIDE, seeds)
    assert all(not torch.equal(replaced[b], motion[b]) for b in range(4))
    still = torch.zeros_like(motion)
    assert torch.equal(sparse_strokes(still, 1.0, SIDE, seeds), still)


def test_strokes_need_the_rescaled_mode():
    with pytest.raises(ConfigError, match="sparse_stroke_prob"):
        TrainConfig(sparse_stroke_prob=0.5, motion_mode="reference").validate()
