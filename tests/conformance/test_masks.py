"""Parity of the inpainting-mask generators with the reference fixtures (``masks/``): exact.

Generators, arguments and seeds come from ``masks/config.json``; each mask's tensor key is the one
named after its generator in ``masks.safetensors``.
"""
from __future__ import annotations

import numpy as np
import pytest

from conftest import family_config, load_family
from videocomposer.annotators.masks import MASK_GENERATORS

CASES = family_config("masks").get("masks", [])


def _expected(family, function: str) -> np.ndarray:
    tensors = family.tensors("masks.safetensors")
    keys = [key for key in tensors if key.split(".")[0] == function]
    assert len(keys) == 1, f"expected one tensor for {function}, found {keys}"
    return tensors[keys[0]].numpy()


@pytest.mark.parametrize("case", CASES, ids=[c["function"] for c in CASES])
def test_mask_with_explicit_random_state(case):
    family = load_family("masks")
    generator = MASK_GENERATORS[case["function"]]
    mask = generator(*case["args"], rng=np.random.RandomState(case["numpy_legacy_seed"]))
    expected = _expected(family, case["function"])
    assert mask.dtype == np.float32 and mask.shape == expected.shape
    assert np.array_equal(mask, expected.astype(np.float32))
    assert mask.mean() == pytest.approx(case["coverage"])


@pytest.mark.parametrize("case", CASES, ids=[c["function"] for c in CASES])
def test_mask_with_global_numpy_rng(case):
    """The reference's usage: ``np.random.seed(s)`` then the call without an explicit RNG."""
    family = load_family("masks")
    saved = np.random.get_state()
    try:
        np.random.seed(case["numpy_legacy_seed"])
        mask = MASK_GENERATORS[case["function"]](*case["args"])
    finally:
        np.random.set_state(saved)
    assert np.array_equal(mask, _expected(family, case["function"]).astype(np.float32))


def test_fixture_lists_masks():
    family = load_family("masks")
    assert family.config.get("masks"), "masks/config.json lists no masks"
