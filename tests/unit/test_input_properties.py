"""Property tests of the parsers of user files and flags: whatever a careless or hostile user gives, each returns a
result or raises the package's own typed error, whose message names the file or flag, and never another exception.

Covered: trajectory JSON (``--trajectory``), guidance specs (``--guidance-scale``), dataset annotation files (CSV and
JSON, ``train``/``extract --dataset``), model folders (``--weights-dir``, ``from_pretrained``) and image inputs.
"""

from __future__ import annotations

import json
import math
import shutil
import struct
import zlib
from pathlib import Path
from unittest import mock

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from videocomposer import memory
from videocomposer.app.errors import RequestError
from videocomposer.app.generation_request import check_guidance_scale
from videocomposer.checkpoints import WeightFileError
from videocomposer.cli.generate import parse_guidance_scale
from videocomposer.conditions import CONDITIONS
from videocomposer.config import ConfigError
from videocomposer.memory import FreeMemory, InsufficientMemoryError
from videocomposer.pipelines.inputs import InputError, open_image
from videocomposer.training.data import Annotation, AnnotationError, read_annotation_file
from videocomposer.video.trajectory import TIMINGS, Trajectory, TrajectoryError

BOUNDED = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

numbers = st.integers() | st.floats(allow_nan=True, allow_infinity=True)
scalars = st.none() | st.booleans() | numbers | st.text(max_size=8)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


def little_memory():
    """Free RAM of 64 MiB, so that any large motion field is refused instead of allocated."""
    return mock.patch.object(memory, "available_ram", lambda: FreeMemory(64 << 20, "available RAM"))


# ------------------------------------------------------------------ trajectory JSON

sizes = st.integers(min_value=-2, max_value=300) | numbers | scalars
strokes = st.fixed_dictionaries(
    {
        "points": st.lists(st.lists(numbers | st.integers(-50, 400), max_size=3), max_size=5) | json_values,
        "radius": st.floats(0, 500) | numbers | json_values,
    },
    optional={"timing": st.sampled_from(TIMINGS) | json_values, "extra": json_values},
)
documents = st.fixed_dictionaries(
    {"width": sizes, "height": sizes, "strokes": st.lists(strokes, max_size=3) | json_values},
    optional={"source_size": sizes, "format": st.just("videocomposer-trajectory") | scalars, "version": scalars},
)


def check_trajectory_text(text: str) -> None:
    try:
        trajectory = Trajectory.from_json(text, source="--trajectory t.json")
    except TrajectoryError as error:
        assert str(error).startswith("--trajectory t.json: ")
        return
    with little_memory():
        try:
            field = trajectory.motion_condition(3, 32)
        except (TrajectoryError, InsufficientMemoryError):
            return
    assert field.shape == (3, 2, 32, 32) and torch.isfinite(field).all()


@BOUNDED
@given(documents)
def test_any_trajectory_document_gives_a_field_or_a_trajectory_error(document):
    check_trajectory_text(json.dumps(document))


pairs = st.lists(st.tuples(numbers, numbers).map(list), min_size=1, max_size=4)
canvases = st.fixed_dictionaries(
    {
        "width": st.integers(1, 300),
        "height": st.integers(1, 300),
        "strokes": st.lists(st.fixed_dictionaries({"points": pairs, "radius": numbers}), min_size=1, max_size=2),
    },
    optional={"source_size": st.integers(1, 20000)},
)


@BOUNDED
@given(canvases)
def test_any_numbers_on_a_valid_canvas_give_a_field_or_a_trajectory_error(document):
    check_trajectory_text(json.dumps(document))


@BOUNDED
@given(st.text(max_size=80) | json_values.map(json.dumps))
def test_any_trajectory_text_gives_a_field_or_a_trajectory_error(text):
    check_trajectory_text(text)


# ------------------------------------------------------------------ guidance specs

names = st.sampled_from([*CONDITIONS, "text", "depthmap", "", "y ", "nope"])
scale_words = st.sampled_from(["7.5", "0", "-1", "inf", "nan", "1e999", "", "x", " 3 "]) | st.floats().map(str)
specs = st.lists(st.tuples(names, scale_words).map("=".join), min_size=1, max_size=4).map(",".join)


@BOUNDED
@given(specs | st.text(max_size=30) | scale_words)
def test_any_guidance_spec_gives_finite_scales_or_a_request_error(text):
    try:
        value = check_guidance_scale(parse_guidance_scale(text))
    except RequestError as error:
        assert error.field == "guidance_scale"
        return
    scales = value.values() if isinstance(value, dict) else [value]
    assert all(math.isfinite(s) and s >= 0 for s in scales)
    assert not isinstance(value, dict) or set(value) <= set(CONDITIONS)


# ------------------------------------------------------------------ dataset annotation files

cells = st.text(alphabet=st.characters(codec="utf-8"), max_size=12) | st.sampled_from(['"', '""', ",", "\n", "\x00"])
csv_texts = st.lists(st.lists(cells, max_size=4).map(",".join), max_size=5).map("\n".join)
headers = st.sampled_from(["video,caption", "caption, video", "video", "clip,caption", ""])


def check_annotation_file(path: Path) -> None:
    try:
        rows = read_annotation_file(path, path.parent)
    except AnnotationError as error:
        assert str(path) in str(error)
        return
    assert all(isinstance(row, Annotation) and row.video.name and isinstance(row.caption, str) for row in rows)


@BOUNDED
@given(st.tuples(headers, csv_texts).map("\n".join) | st.text(max_size=60))
def test_any_csv_annotation_text_gives_rows_or_an_annotation_error(tmp_path, text):
    path = tmp_path / "clips.csv"
    path.write_text(text, encoding="utf-8")
    check_annotation_file(path)


@BOUNDED
@given(st.binary(max_size=60))
def test_any_csv_annotation_bytes_give_rows_or_an_annotation_error(tmp_path, data):
    path = tmp_path / "clips.csv"
    path.write_bytes(b"video,caption\n" + data)
    check_annotation_file(path)


@BOUNDED
@given(json_values | st.dictionaries(st.text(max_size=5), st.lists(st.lists(cells, max_size=3), max_size=3)))
def test_any_json_annotation_gives_rows_or_an_annotation_error(tmp_path, content):
    path = tmp_path / "clips.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    check_annotation_file(path)


# ------------------------------------------------------------------ model folders


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory):
    """A small ``save_pretrained`` folder (the tiny test networks)."""
    from videocomposer.pipelines import VideoComposerPipeline
    from videocomposer.pipelines.tiny import tiny_configs, write_tiny_official_weights

    root = tmp_path_factory.mktemp("model")
    write_tiny_official_weights(root / "official", components=["unet", "vae", "clip"])
    pipe = VideoComposerPipeline.from_official(root / "official", conditions=["y"], config=tiny_configs())
    pipe.set_defaults(num_frames=4, height=32, width=32)
    return pipe.save_pretrained(root / "saved")


MODEL_FILES = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "unet/config.json",
    "unet/model.safetensors",
    "clip/config.json",
    "clip/model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]


def load_or_refuse(folder: Path) -> None:
    from videocomposer.pipelines import VideoComposerPipeline

    try:
        VideoComposerPipeline.from_pretrained(folder, conditions=["y"])
    except (ConfigError, WeightFileError) as error:
        assert str(folder) in str(error)


@BOUNDED
@given(st.sampled_from(MODEL_FILES), st.floats(0, 1))
def test_a_model_folder_with_any_file_cut_short_loads_or_names_the_file(tmp_path_factory, tiny_folder, name, keep):
    folder = tmp_path_factory.mktemp("cut") / "model"
    shutil.copytree(tiny_folder, folder)
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: int(len(data) * keep)])
    load_or_refuse(folder)


@BOUNDED
@given(st.sampled_from([n for n in MODEL_FILES if n.endswith(".json")]), st.data())
def test_a_model_folder_with_any_json_value_changed_loads_or_names_the_file(tmp_path_factory, tiny_folder, name, data):
    folder = tmp_path_factory.mktemp("changed") / "model"
    shutil.copytree(tiny_folder, folder)
    content = json.loads((folder / name).read_text())
    if data.draw(st.booleans(), "whole file"):
        content = data.draw(json_values, "content")
    else:  # one entry, or one entry of a nested object, takes any JSON value
        key = data.draw(st.sampled_from(sorted(content)), "key")
        target = content[key] if isinstance(content[key], dict) and content[key] else content
        key = data.draw(st.sampled_from(sorted(target)), "nested key") if target is not content else key
        target[key] = data.draw(json_values, "value")
    (folder / name).write_text(json.dumps(content))
    load_or_refuse(folder)


# ------------------------------------------------------------------ images


def png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    )


@BOUNDED
@given(
    st.binary(max_size=200)
    | st.tuples(st.integers(1, 2**31 - 1), st.integers(1, 2**31 - 1)).map(lambda size: png_header(*size))
)
def test_any_image_file_opens_or_gives_an_input_error(tmp_path, data):
    path = tmp_path / "image.png"
    path.write_bytes(data)
    try:
        image = open_image("style_image", path)
    except InputError as error:
        assert str(error).startswith(f"--style_image: {path}")
        return
    assert image.mode == "RGB" and image.width * image.height <= 89_478_485
