"""Parity of the inpainting-mask generators with the reference fixtures (``masks/``): exact.

Generators, arguments and seeds come from ``masks/config.json``; each mask's tensor key is named after
its generator in ``masks.safetensors`` (the n-th case of a generator owns its n-th key).
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import family_config, load_family

from videocomposer.annotators.masks import MASK_GENERATORS

CASES = family_config("masks").get("masks", [])


def _expected(family, case: dict) -> np.ndarray:
    """The case's tensor: the one named after its generator; with several cases of one generator, the
    n-th such case owns the n-th such key (config.json's ``tensors`` order, else the file's)."""
    tensors = family.tensors("masks.safetensors")
    order = list(family.config.get("tensors", {})) or sorted(tensors)
    function = case["function"]
    keys = [key for key in order if key.split(".")[0] == function]
    siblings = [c for c in family.config["masks"] if c["function"] == function]
    assert len(keys) == len(siblings), f"{len(siblings)} {function} case(s) in config.json but tensors {keys}"
    return tensors[keys[next(i for i, c in enumerate(siblings) if c is case)]].numpy()


def _call(case: dict, **rng) -> np.ndarray:
    return MASK_GENERATORS[case["function"]](*case["args"], **case.get("kwargs", {}), **rng)


def _id(case: dict) -> str:
    return f"{case['function']}-seed{case['numpy_legacy_seed']}"


@pytest.mark.parametrize("index", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_mask_with_explicit_random_state(index):
    family = load_family("masks")
    case = family.config["masks"][index]
    mask = _call(case, rng=np.random.RandomState(case["numpy_legacy_seed"]))
    expected = _expected(family, case)
    assert mask.dtype == np.float32 and mask.shape == expected.shape
    assert np.array_equal(mask, expected.astype(np.float32))
    assert mask.mean() == pytest.approx(case["coverage"])


@pytest.mark.parametrize("index", range(len(CASES)), ids=[_id(c) for c in CASES])
def test_mask_with_global_numpy_rng(index):
    """The reference's usage: ``np.random.seed(s)`` then the call without an explicit RNG."""
    family = load_family("masks")
    case = family.config["masks"][index]
    saved = np.random.get_state()
    try:
        np.random.seed(case["numpy_legacy_seed"])
        mask = _call(case)
    finally:
        np.random.set_state(saved)
    assert np.array_equal(mask, _expected(family, case).astype(np.float32))


def test_fixture_lists_masks():
    family = load_family("masks")
    assert family.config.get("masks"), "masks/config.json lists no masks"
