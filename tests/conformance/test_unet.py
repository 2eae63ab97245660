"""VideoComposerUNet against the reference ``UNetSD_temporal`` fixtures (``unet/``).

Everything (model size, weights file, inputs, the case list and each case's kwargs) comes from the
fixture folder's ``config.json`` and tensor files, so the same tests run on any fixture variant.
Run with ``-s`` to see the per-case max error (also recorded as the ``max_abs_error`` property).
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from conftest import family_config, family_keys, load_family

from videocomposer.models.unet import UNetConfig, VideoComposerUNet

from .bounds import BOUNDS

FAMILY = "unet"
OUTPUTS = "outputs.safetensors"
INPUTS = "inputs.safetensors"
LAYOUT = "official_state_dict_layout.json"
MAX_ABS_BOUND = BOUNDS["unet.outputs"]


def _case_kwargs(description: dict[str, str], inputs: dict[str, torch.Tensor], batch: int) -> dict[str, torch.Tensor]:
    """Turn a case's ``kwargs`` description into tensors.

    A value is an input name (``"y"``), ``"zeros_like(<input>)"`` or ``"<input>.repeat(B, 1, 1)"``
    (the README's unconditional-pass rules: image -> zeros, y -> zero_y repeated over the batch).
    """
    kwargs = {}
    for kwarg, expr in description.items():
        zeros = re.fullmatch(r"zeros_like\((\w+)\)", expr)
        repeat = re.fullmatch(r"(\w+)\.repeat\(B, 1, 1\)", expr)
        if expr in inputs:
            kwargs[kwarg] = inputs[expr]
        elif zeros:
            kwargs[kwarg] = torch.zeros_like(inputs[zeros.group(1)])
        elif repeat:
            kwargs[kwarg] = inputs[repeat.group(1)].repeat(batch, 1, 1)
        else:
            pytest.fail(
                f"config.json case kwarg {kwarg}={expr!r}: unknown form (expected an input name, "
                f"'zeros_like(<input>)' or '<input>.repeat(B, 1, 1)')"
            )
    return kwargs


@pytest.fixture(scope="module")
def family():
    return load_family(FAMILY)


@pytest.fixture(scope="module")
def inputs(family):
    return family.tensors(INPUTS)


@pytest.fixture(scope="module")
def outputs(family):
    return family.tensors(OUTPUTS)


@pytest.fixture(scope="module")
def model(family, inputs):
    config = UNetConfig.from_reference_kwargs(family.config["constructor_kwargs"])
    weights = family.file(family.config["weights"]["file"])
    return VideoComposerUNet.from_official(weights, config, zero_y=inputs["zero_y"])


@pytest.mark.parametrize("output_key", family_keys(FAMILY, OUTPUTS))
def test_output_matches_reference(output_key, family, inputs, outputs, model, record_property):
    cases = {case["output_key"]: case for case in family.config["cases"]}
    assert output_key in cases, f"{OUTPUTS} has {output_key!r} but config.json describes no such case"
    case = cases[output_key]
    x, t = inputs["x"], inputs["t"]
    kwargs = _case_kwargs(case["kwargs"], inputs, batch=x.shape[0])
    expected = outputs[output_key]

    with torch.no_grad():
        eps = model(x, t, **kwargs)

    assert eps.shape == expected.shape
    err = (eps - expected).abs().max().item()
    record_property("max_abs_error", err)
    print(
        f"\n[unet] {output_key}: max abs error {err:.3e} (bound {MAX_ABS_BOUND:.0e}; "
        f"reference fp32 vs fp64 {case.get('fp32_vs_fp64_maxabs', float('nan')):.1e})"
    )
    assert err <= MAX_ABS_BOUND


def test_official_config_matches_reference_kwargs():
    cfg = family_config(FAMILY)
    if "official_constructor_kwargs" not in cfg:
        pytest.skip("fixture config.json has no official_constructor_kwargs")
    assert UNetConfig.from_reference_kwargs(cfg["official_constructor_kwargs"]) == UNetConfig.official()


def test_official_state_dict_layout(family):
    """The official-size model (built on the meta device) has exactly the checkpoint's names and shapes."""
    layout = json.loads(family.file(LAYOUT).read_text())
    with torch.device("meta"):
        model = VideoComposerUNet(UNetConfig.official())
    ours = {name: list(t.shape) for name, t in model.state_dict().items()}
    official = {name: spec["shape"] for name, spec in layout["tensors"].items()}

    assert sorted(set(official) - set(ours)) == [], "keys missing from our model"
    assert sorted(set(ours) - set(official)) == [], "keys our model has but the checkpoint lacks"
    assert {k: v for k, v in ours.items() if official[k] != v} == {}, "shape mismatches"
    assert len(ours) == layout["num_tensors"]
    assert sum(p.numel() for p in model.parameters()) == layout["num_parameters"]
