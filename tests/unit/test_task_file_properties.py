"""Property tests of the task-YAML parsers, all three dialects: any text, and any mapping of the keys a dialect
knows (and some it does not) to any YAML values, gives a result or our own typed error (``ConfigError``, the
app layer's ``RequestError``), never another exception."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videocomposer.app import GenerateRequest, RequestError
from videocomposer.app.generation_request import task_preset
from videocomposer.config import ConfigError, read_yaml_source
from videocomposer.pipelines import available_presets, load_preset
from videocomposer.pipelines.presets import TaskPreset
from videocomposer.pipelines.reference_config import REFERENCE_KEYS
from videocomposer.training.config import FIELD_NAMES, load_train_config
from videocomposer.training.port_config import PORT_KEYS

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
OUR_PRESET_KEYS = [f.name for f in dataclasses.fields(TaskPreset)]
CONDITION_NAMES = ["y", "text", "depth", "depthmap", "motion", "image", "local_image", "sketch", "masked", "canny"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(CONDITION_NAMES + ["SINGLE_TASK", "MULTI_TASK", "UNetSD_temporal", "224", "1e-5", "yes"])
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(max_size=8) | st.sampled_from(["1", "16"]), inner, max_size=4)
    ),
    max_leaves=12,
)


def mappings(keys: list[str], unknown: bool = True) -> st.SearchStrategy[dict]:
    """Mappings of some of ``keys`` (and, with ``unknown``, sometimes another key) to any YAML values."""
    names = st.sampled_from(keys) | st.text(min_size=1, max_size=12) if unknown else st.sampled_from(keys)
    return st.dictionaries(names, values, max_size=8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("task_files")


def write(folder: Path, data: object, name: str = "task.yaml") -> Path:
    path = folder / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def load_task(path: Path) -> None:
    """The preset and the request built from the file: a result, or one of our errors."""
    try:
        load_preset(path, report=lambda line: None)
        task_preset(GenerateRequest(task=str(path)), report=lambda line: None)
    except (ConfigError, RequestError):
        pass


def load_training(path: Path) -> None:
    try:
        load_train_config(path, report=lambda line: None)
    except ConfigError:
        pass


@PROPERTY
@given(text=st.text(max_size=200))
def test_any_text_reads_or_fails_with_a_config_error(folder, text):
    path = write(folder, text)
    try:
        read_yaml_source(path)
    except ConfigError as exc:
        assert str(path) in str(exc)
    load_task(path)
    load_training(path)


@PROPERTY
@given(data=mappings(list(REFERENCE_KEYS) + ["base", "num_frames", "guidance_scale"]))
def test_any_original_or_port_task_mapping(folder, data):
    data.setdefault("TASK_TYPE", "SINGLE_TASK")  # the original's dialect
    load_task(write(folder, data))


@PROPERTY
@given(data=mappings(OUR_PRESET_KEYS + ["kind", "base"]), base=st.sampled_from([None, *available_presets()]))
def test_any_preset_mapping_with_base(folder, data, base):
    if base is not None:
        data["base"] = base
    load_task(write(folder, data))


@PROPERTY
@given(data=mappings(list(PORT_KEYS) + list(FIELD_NAMES)))
def test_any_port_or_our_training_mapping(folder, data):
    load_training(write(folder, data))


@PROPERTY
@given(data=mappings(list(FIELD_NAMES), unknown=False), port=st.booleans())
def test_any_values_of_the_training_keys(folder, data, port):
    """Only known keys, so that every value reaches the config's own checks (in a port file, or in one of ours)."""
    if port:
        data["use_recompute"] = False
    load_training(write(folder, data))


@PROPERTY
@given(data=mappings([k for k in OUR_PRESET_KEYS if k != "name"], unknown=False))
def test_any_values_of_the_preset_keys(folder, data):
    """Only known keys over a preset, so that every value reaches the preset's own checks."""
    load_task(write(folder, {"base": "compose", **data}))


@PROPERTY
@given(key=st.sampled_from(sorted(REFERENCE_KEYS)), value=values)
def test_one_original_key_of_any_value_is_used_or_named_with_its_line(folder, key, value):
    """Each of the original's keys, with any value, in one of its task files: the preset, or an error naming the
    key (and, for a wrong type, the file and the line)."""
    task = yaml.safe_load(
        (Path(__file__).parents[1] / "data" / "reference" / "exp05_text_depths_wo_style.yaml").read_text()
    )
    rest = yaml.safe_dump({k: v for k, v in task.items() if k != key}, sort_keys=False)
    path = write(folder, rest + yaml.safe_dump({key: value}))
    try:
        load_preset(path, report=lambda line: None)
    except ConfigError as exc:
        assert key in str(exc)
        if exc.key == key and "expected" in str(exc):
            assert f"{path}, line {len(rest.splitlines()) + 1}" in str(exc)
