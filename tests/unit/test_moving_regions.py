"""Loss weights on moving regions: where they fall, how the weighted loss reads them, and the config key."""

from __future__ import annotations

import pytest
import torch

from videocomposer.config import ConfigError
from videocomposer.diffusion import NoiseSchedule, training_loss
from videocomposer.training.config import TrainConfig
from videocomposer.training.moving_regions import moving_region_weights


def moving_square(frames: int = 4, size: int = 12) -> torch.Tensor:
    """Latents ``[1, 4, F, size, size]``: zeros with a 2 × 2 square of ones moving 3 px right per frame."""
    latents = torch.zeros(1, 4, frames, size, size)
    for f in range(frames):
        latents[0, :, f, 4:6, 1 + 3 * f : 3 + 3 * f] = 1.0
    return latents


def test_the_weights_rise_where_the_object_moves_and_stay_one_elsewhere():
    weights = moving_region_weights(moving_square(), strength=4.0)
    assert weights.shape == (1, 1, 4, 12, 12)
    for f in range(4):
        assert torch.allclose(weights[0, 0, f, 4:6, 1 + 3 * f : 3 + 3 * f], torch.tensor(5.0))  # frame 0 included
    assert torch.equal(weights[0, 0, :, :4], torch.ones(4, 4, 12))
    assert torch.equal(weights[0, 0, :, 6:], torch.ones(4, 6, 12))
    assert torch.equal(moving_region_weights(moving_square(), 0.0), torch.ones(1, 1, 4, 12, 12))


def test_the_weighted_loss_is_the_weighted_mean_of_the_squared_error():
    schedule = NoiseSchedule.from_betas(torch.linspace(1e-4, 0.02, 50, dtype=torch.float64))
    x0 = torch.randn(2, 4, 3, 6, 6)
    noise = torch.randn_like(x0)
    t = torch.tensor([10, 40])

    def model(x, timesteps):
        return torch.zeros_like(x)  # the error is then the target itself: -noise (epsilon)

    uniform = training_loss(model, schedule, x0, t, noise=noise)
    assert torch.allclose(training_loss(model, schedule, x0, t, noise=noise, element_weights=torch.ones(1)), uniform)
    region = torch.zeros(2, 1, 3, 6, 6)
    region[:, :, :, :2, :2] = 1.0
    weighted = training_loss(model, schedule, x0, t, noise=noise, element_weights=region)
    assert torch.allclose(weighted, noise[:, :, :, :2, :2].pow(2).flatten(1).mean(dim=1), rtol=1e-5)


def test_a_negative_weight_is_refused_by_name():
    with pytest.raises(ConfigError, match="moving_region_weight"):
        TrainConfig(moving_region_weight=-1.0).validate()
