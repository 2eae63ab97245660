"""Shared test helpers: where the reference fixtures live, and loading them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

_DEFAULT = Path(__file__).resolve().parents[1].parent / "shared" / "fixtures" / "reference"


def reference_root() -> Path:
    """``$VC_REFERENCE_FIXTURES`` if set, else ``../shared/fixtures/reference`` beside the checkout."""
    return Path(os.environ.get("VC_REFERENCE_FIXTURES", _DEFAULT))


class FixtureFamily:
    """One fixture folder (e.g. ``unet/``): its ``config.json`` and its files."""

    def __init__(self, path: Path):
        self.path = path
        cfg = path / "config.json"
        self.config = json.loads(cfg.read_text()) if cfg.is_file() else {}

    def file(self, name: str) -> Path:
        return self.path / name

    def tensors(self, name: str) -> dict:
        """Load a safetensors file; tensors are cloned (aligned buffers, as the README advises)."""
        from safetensors.torch import load_file

        return {k: v.clone() for k, v in load_file(str(self.path / name)).items()}


def load_family(name: str) -> FixtureFamily:
    """Return the fixture family folder, or skip the test with the reason when it is absent."""
    root = reference_root()
    path = root / name
    if not path.is_dir():
        pytest.skip(f"reference fixtures not found: {path} (set VC_REFERENCE_FIXTURES to a fixture folder)")
    return FixtureFamily(path)


def family_config(name: str) -> dict:
    """``config.json`` of a fixture family at collection time (for parametrising), ``{}`` if absent."""
    cfg = reference_root() / name / "config.json"
    return json.loads(cfg.read_text()) if cfg.is_file() else {}


def family_keys(name: str, filename: str) -> list[str]:
    """Tensor keys of a fixture file at collection time (no tensor data read), ``[]`` if absent."""
    path = reference_root() / name / filename
    if not path.is_file():
        return []
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        return sorted(f.keys())


def pytest_configure(config):
    """One intra-op thread: tiny models run faster without thread overhead, and results are reproducible."""
    import torch

    torch.set_num_threads(1)
