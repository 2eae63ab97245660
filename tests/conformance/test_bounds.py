"""The bounds table (``bounds.py``) mirrors the fixture README's "Recommended acceptance bounds"."""

from __future__ import annotations

import re

import pytest
from conftest import reference_root

from .bounds import BOUNDS, README_ROWS, TOY_SAMPLER_LONG_RUN_BOUND, TOY_SAMPLER_SHORT_RUN_BOUND, toy_sampler_bound


def _readme_rows() -> list[list[str]]:
    readme = reference_root() / "README.md"
    if not readme.is_file():
        pytest.skip(f"reference fixtures not found: {readme} (set VC_REFERENCE_FIXTURES to a fixture folder)")
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in readme.read_text().splitlines()
        if line.startswith("| ")
    ]
    return [row for row in rows if len(row) >= 5]


def _numbers(cell: str) -> list[float]:
    return [float(x) for x in re.findall(r"\d+(?:\.\d+)?e-\d+", cell)]


def test_every_bound_is_the_readmes():
    rows = _readme_rows()
    assert set(README_ROWS) == set(BOUNDS)
    for key, (fixture, phrase) in README_ROWS.items():
        matches = [row for row in rows if row[0] == fixture and phrase in row[1]]
        assert len(matches) == 1, f"{key}: expected one README row for {fixture} / {phrase}, found {len(matches)}"
        assert BOUNDS[key] in _numbers(matches[0][-1]), f"{key}: {BOUNDS[key]} is not the README's {matches[0][-1]!r}"


def test_toy_sampler_bound_follows_the_step_count_rule():
    (row,) = [row for row in _readme_rows() if row[0] == "diffusion" and "toy_sampler" in row[1]]
    rules = re.findall(r"(\d+(?:\.\d+)?e-\d+) for the (\d+)-step runs", row[-1].replace("**", ""))
    assert len(rules) == 2, row[-1]
    short, long = sorted(rules, key=lambda rule: int(rule[1]))
    assert float(short[0]) == TOY_SAMPLER_SHORT_RUN_BOUND == toy_sampler_bound(int(short[1]))
    assert float(long[0]) == TOY_SAMPLER_LONG_RUN_BOUND == toy_sampler_bound(int(long[1]))
