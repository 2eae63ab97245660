"""OpenCLIP towers, tokenizer and image normalisation against the reference's ``clip/`` fixtures.

Everything (model size, captions, image size, tensors) comes from ``clip/config.json`` and
``io.safetensors``; bounds are the fixture README's (tokens exact, embeddings in ``bounds.py``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import load_family

from videocomposer.models.clip import OpenCLIP, OpenCLIPConfig
from videocomposer.models.tokenizer import CLIPTokenizer
from videocomposer.video.image_preprocess import normalize_pixels

from .bounds import BOUNDS

EMBEDDING_BOUND = BOUNDS["clip.embeddings"]


@pytest.fixture(scope="module")
def family():
    return load_family("clip")


@pytest.fixture(scope="module")
def io(family):
    return family.tensors("io.safetensors")


@pytest.fixture(scope="module")
def model(family) -> OpenCLIP:
    config = OpenCLIPConfig.from_dict(family.config["open_clip_model_config"])
    return OpenCLIP.from_official(family.file("weights.safetensors"), config)


@pytest.fixture(scope="module")
def tokenizer() -> CLIPTokenizer:
    return CLIPTokenizer()


def _check(name: str, ours: torch.Tensor, expected: torch.Tensor, bound: float = EMBEDDING_BOUND) -> None:
    assert ours.shape == expected.shape, f"{name}: shape {tuple(ours.shape)} vs fixture {tuple(expected.shape)}"
    err = (ours - expected).abs().max().item()
    print(f"{name}: max abs error {err:.3g} (bound {bound:g})")
    assert err <= bound, f"{name}: max abs error {err:.3g} > {bound:g}"


def test_tokens_exact(family, io, tokenizer):
    tokens = tokenizer(family.config["captions"])
    assert tokens.dtype == io["tokens"].dtype == torch.int64
    mismatched = [
        c for c, ours, ref in zip(family.config["captions"], tokens, io["tokens"]) if not torch.equal(ours, ref)
    ]
    assert tokens.shape == io["tokens"].shape and not mismatched, f"captions tokenized differently: {mismatched}"


@torch.no_grad()
@pytest.mark.parametrize("layer, key", [("penultimate", "text_penultimate"), ("last", "text_last")])
def test_text_context(io, model, layer, key):
    _check(key, model.encode_text_context(io["tokens"], layer=layer), io[key])


@torch.no_grad()
def test_zero_y_is_empty_caption(io, model, tokenizer):
    _check("zero_y", model.encode_text_context(tokenizer([""])), io["zero_y"])


@torch.no_grad()
def test_text_pooled_projected(io, model):
    _check("text_pooled_projected", model.encode_text(io["tokens"]), io["text_pooled_projected"])


@torch.no_grad()
@pytest.mark.parametrize(
    "image_key, embedding_key", [("style_uint8", "style_embedding"), ("ref_uint8", "ref_embedding")]
)
def test_image_embedding(io, model, image_key, embedding_key):
    pixels = normalize_pixels(io[image_key]).unsqueeze(0)  # [1, 3, S, S]
    _check(embedding_key, model.encode_image_context(pixels), io[embedding_key])


@torch.no_grad()
def test_white_image_embedding(io, model):
    size = model.config.vision_cfg.image_size
    white = normalize_pixels(torch.full((1, 3, size, size), 255, dtype=torch.uint8))
    _check("white_image_embedding", model.encode_image_context(white), io["white_image_embedding"])


def test_normalisation_uses_fixture_constants(family, model):
    assert model.image_mean == pytest.approx(tuple(family.config["vit_mean"]), abs=0)
    assert model.image_std == pytest.approx(tuple(family.config["vit_std"]), abs=0)


def test_official_vit_h_14_layout(family):
    layout = json.loads(Path(family.file("official_state_dict_layout.json")).read_text())
    with torch.device("meta"):
        official = OpenCLIP(OpenCLIPConfig.vit_h_14())
    ours = {k: list(v.shape) for k, v in official.state_dict().items()}
    expected = {k: v["shape"] for k, v in layout["tensors"].items()}
    assert len(expected) == layout["num_tensors"]
    assert sorted(set(expected) - set(ours)) == [], "keys of open_clip_pytorch_model.bin missing from OpenCLIP"
    assert sorted(set(ours) - set(expected)) == [], "OpenCLIP keys not in open_clip_pytorch_model.bin"
    assert {k: s for k, s in ours.items() if expected[k] != s} == {}, "shape mismatches"
