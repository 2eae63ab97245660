"""Annotator networks (PiDiNet, sketch cleaner, MiDaS) against the reference's `annotators/` fixture.

Everything (weights file names, MiDaS config, seeds, normalisation constants) comes from the
fixture folder's config.json and tensor keys; bounds are the fixture README's.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
import torch
from conftest import load_family
from safetensors import safe_open

from videocomposer.annotators.depth import DEPTH_STD, extract_depth, midas_to_depth
from videocomposer.annotators.midas import MiDaS, MidasConfig
from videocomposer.annotators.pidinet import IMAGENET_MEAN, IMAGENET_STD, PiDiNet, convert_pixel_difference_state_dict
from videocomposer.annotators.sketch import SKETCH_MEAN, SKETCH_STD, SketchCleaner, extract_sketch
from videocomposer.checkpoints import OFFICIAL_FILES, load_strict, strip_prefixes

from .bounds import BOUNDS

FAMILY = "annotators"


def uniform_hash_weights(shape: tuple[int, ...], index: int, seed: int, std: float) -> torch.Tensor:
    """The README's procedural weights: a 32-bit integer hash of (element, key index, seed) → uniform.

    Element ``j`` (flat C order) of the key with state-dict index ``index`` is
    ``float32((2u − 1)·√3·std)`` with ``u = hash(j) / 2³²`` (uint64 arithmetic, float64 maths).
    """
    mask = np.uint64(0xFFFFFFFF)
    j = np.arange(math.prod(shape), dtype=np.uint64)
    h = (j * np.uint64(2654435761) + np.uint64((index + 1) * 40503 + seed)) & mask
    h ^= h >> np.uint64(16)
    h = (h * np.uint64(0x45D9F3B)) & mask
    h ^= h >> np.uint64(16)
    u = h.astype(np.float64) / 2.0**32
    return torch.from_numpy(((2 * u - 1) * math.sqrt(3) * std).astype(np.float32).reshape(shape))


def procedural_state_dict(module: torch.nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """README rule: i-th key in state_dict order, std = sqrt(2 / numel(w[0])) if ndim >= 2 else 0.01."""
    return {
        key: uniform_hash_weights(
            tuple(value.shape), index, seed, math.sqrt(2 / value[0].numel()) if value.ndim >= 2 else 0.01
        )
        for index, (key, value) in enumerate(module.state_dict().items())
    }


def _weights_file(entry: str) -> str:
    """config.json names weight files as '<file>.safetensors (remarks)'."""
    return entry.split()[0]


def _tensor_file(family, key: str) -> str:
    """The safetensors file of the folder that holds tensor ``key``."""
    for path in sorted(family.path.glob("*.safetensors")):
        with safe_open(str(path), "pt") as f:
            if key in f.keys():
                return path.name
    raise AssertionError(f"no safetensors file in {family.path} holds {key!r}")


def _layouts(family) -> dict:
    (path,) = family.path.glob("*layout*.json")
    return json.loads(path.read_text())


def _max_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    return (actual.float() - expected.float()).abs().max().item()


@pytest.fixture(scope="module")
def family():
    return load_family(FAMILY)


@pytest.fixture(scope="module")
def io(family):
    """Reference inputs/outputs: ``image_uint8`` and the three annotator outputs."""
    return family.tensors(_tensor_file(family, "image_uint8"))


@pytest.fixture(scope="module")
def images(io):
    return io["image_uint8"].float() / 255


@pytest.fixture(scope="module")
def pidinet(family, tmp_path_factory):
    """PiDiNet loaded through the real path: the raw PDC-form weights saved as table5_pidinet.pth."""
    raw = family.tensors(_weights_file(family.config["pidinet"]["weights"]))
    assert any(k.startswith("module.") for k in raw), "fixture weights should be in the checkpoint form"
    folder = tmp_path_factory.mktemp("pidinet")
    torch.save({"state_dict": raw}, folder / OFFICIAL_FILES["pidinet"].filename)
    return PiDiNet.from_official(folder)


@pytest.fixture(scope="module")
def cleaner(family):
    seed = family.config["sketch_simplification"]["seed"]
    with torch.device("meta"):
        model = SketchCleaner()
    weights = procedural_state_dict(model, seed)
    model.to_empty(device="cpu")
    load_strict(model, weights, f"procedural weights (seed {seed})")
    return model.eval()


def test_normalisation_constants_match_reference(family):
    norm = family.config["pidinet"]["input_norm"]
    assert list(IMAGENET_MEAN) == norm["mean"] and list(IMAGENET_STD) == norm["std"]
    builder = family.config["sketch_simplification"]["builder"]
    assert float(re.search(r"mean=([0-9.eE+-]+)", builder).group(1)) == SKETCH_MEAN
    assert float(re.search(r"std=([0-9.eE+-]+)", builder).group(1)) == SKETCH_STD


def test_pidinet_edge(pidinet, images, io):
    with torch.no_grad():
        edges = pidinet(images)
    error = _max_error(edges, io["pidinet_edge"])
    print(f"pidinet_edge max abs error {error:.3g} (bound {BOUNDS['annotators.pidinet_edge']})")
    assert error <= BOUNDS["annotators.pidinet_edge"]


def test_sketch_pipeline(pidinet, cleaner, images, io):
    sketch = extract_sketch(pidinet, cleaner, images, chunk_size=len(images))
    error = _max_error(sketch, io["sketch"])
    print(f"sketch max abs error {error:.3g} (bound {BOUNDS['annotators.sketch']})")
    assert error <= BOUNDS["annotators.sketch"]


def test_midas_raw(family, images, io):
    config = MidasConfig.from_dict(family.config["midas"]["config"])
    midas = MiDaS.from_official(family.file(_weights_file(family.config["midas"]["weights"])), config)
    with torch.no_grad():
        raw = midas(images)
    error = _max_error(raw, io["midas_raw"])
    print(f"midas_raw max abs error {error:.3g} (bound {BOUNDS['annotators.midas_raw']})")
    assert error <= BOUNDS["annotators.midas_raw"]
    # the pipeline's depth condition is the reference output post-processed (divided by DEPTH_STD,
    # so the raw bound scales with it)
    depth = extract_depth(midas, images, chunk_size=1)
    assert _max_error(depth, midas_to_depth(io["midas_raw"])) <= BOUNDS["annotators.midas_raw"] / DEPTH_STD


# ---------------------------------------------------------------------------------------------
# Official full-size layouts (built on the meta device)
# ---------------------------------------------------------------------------------------------


def _layout_of(module_or_state) -> dict[str, tuple[list[int], str]]:
    state = module_or_state.state_dict() if isinstance(module_or_state, torch.nn.Module) else module_or_state
    return {k: (list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in state.items()}


def _expected(tensors: dict) -> dict[str, tuple[list[int], str]]:
    return {k: (v["shape"], v["dtype"]) for k, v in tensors.items()}


def test_official_pidinet_layouts(family):
    layouts = _layouts(family)
    with torch.device("meta"):
        model = PiDiNet()
        file_state = {
            k: torch.empty(v["shape"], dtype=getattr(torch, v["dtype"]))
            for k, v in layouts["pidinet_table5_file"]["tensors"].items()
        }
    expected_model = _expected(layouts["pidinet_model_after_conversion"])
    assert list(_layout_of(model).items()) == list(expected_model.items())  # names, shapes, order
    converted = convert_pixel_difference_state_dict(strip_prefixes(file_state))
    assert _layout_of(converted) == expected_model
    assert list(file_state) == [f"module.{k}" for k in expected_model]


def test_official_sketch_cleaner_layout(family):
    with torch.device("meta"):
        model = SketchCleaner()
    expected = _expected(_layouts(family)["sketch_simplification_gan_file"]["tensors"])
    assert list(_layout_of(model).items()) == list(expected.items())


def test_official_midas_layout(family):
    official = MidasConfig.from_dict(family.config["midas"]["official_config"])
    assert official == MidasConfig.official()
    with torch.device("meta"):
        model = MiDaS(official)
    expected = _expected(_layouts(family)["midas_v3_dpt_large_file"]["tensors"])
    assert _layout_of(model) == expected
