"""Bad user files on the command line: numbers far outside their range, requests that cannot fit in memory,
truncated model folders and images that declare a huge size. Each fails as a user error: exit code 2, one message
naming the file, field or flag and what was expected, no traceback, and no output folder left behind."""

from __future__ import annotations

import json
import shutil
import struct
import zlib

import pytest

from videocomposer import memory
from videocomposer.cli import main
from videocomposer.memory import FreeMemory, InsufficientMemoryError, format_bytes
from videocomposer.pipelines.demo import make_demo_video
from videocomposer.pipelines.memory_estimate import ModelShape, estimate_generation_memory
from videocomposer.pipelines.tiny import tiny_model_config, write_tiny_official_weights
from videocomposer.pipelines.toy_model import toy_model_dir

TOY_FILES = [
    "model_index.json",
    "scheduler/scheduler_config.json",
    "unet/config.json",
    "unet/model.safetensors",
    "clip/config.json",
    "clip/model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width x height`` RGB pixels and holds almost none of them."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    folder = tmp_path_factory.mktemp("inputs")
    frames = make_demo_video(folder / "clip.mp4", num_frames=12, height=64, width=64)
    frames[0].save(folder / "first.png")
    return folder


@pytest.fixture
def no_model_loading(monkeypatch):
    """Loading a model fails the test: the refusal must come before it."""
    from videocomposer.pipelines import VideoComposerPipeline

    monkeypatch.setattr(VideoComposerPipeline, "load", lambda *a, **k: pytest.fail("the model was loaded"))


def run(argv, capsys):
    """``main(argv)``: its exit code and its stderr."""
    code = main(argv)
    return code, capsys.readouterr().err


def assert_user_error(code, err, *parts):
    assert code == 2, err
    assert "Traceback" not in err and err.count("\n") == 1, err  # one line
    for part in parts:
        assert part in err, err


# ------------------------------------------------------------------ numbers and sizes


@pytest.mark.parametrize(
    "trajectory, message",
    [
        ({"points": [[1e30, 8], [40, 8]], "radius": 6}, "strokes[0].points[0] = [1e+30, 8] lies far outside"),
        ({"points": [[8, 8], [40, 8]], "radius": 1e30}, "strokes[0].radius must be at most 192 pixels"),
        ({"points": [[8, 8], [40, 8]], "radius": -6}, "radius must be a positive number"),
    ],
)
def test_a_trajectory_number_out_of_range_is_named_with_its_file(tmp_path, capsys, trajectory, message):
    path = tmp_path / "stroke.json"
    path.write_text(json.dumps({"width": 64, "height": 64, "strokes": [trajectory]}))
    out = tmp_path / "out"
    argv = ["generate", "compose", "--conditions", "y,motion", "--trajectory", str(path), "--weights-dir", "toy"]
    assert_user_error(*run([*argv, "--output-dir", str(out)], capsys), f"--trajectory {path}", message)
    assert not out.exists()


def test_a_trajectory_canvas_too_large_for_memory_is_refused_before_the_weights(
    tmp_path, capsys, monkeypatch, no_model_loading
):
    monkeypatch.setattr(memory, "available_ram", lambda: FreeMemory(2 << 30, "available RAM"))
    path = tmp_path / "stroke.json"
    strokes = [{"points": [[8, 8], [40, 8]], "radius": 6}]
    path.write_text(json.dumps({"width": 64, "height": 64, "strokes": strokes, "source_size": 16384}))
    out = tmp_path / "out"
    argv = ["generate", "compose", "--conditions", "y,motion", "--trajectory", str(path), "--output-dir", str(out)]
    code, err = run([*argv, "--weights-dir", "toy"], capsys)
    assert_user_error(code, err, f"--trajectory: {path}:", "8 frames on a 16384x16384 source", "of available RAM")
    assert "source_size" in err and "needs about 64 GiB" in err and not out.exists()


def test_generate_refuses_a_request_that_cannot_fit_before_loading_anything(tmp_path, capsys, no_model_loading):
    out = tmp_path / "out"
    argv = ["generate", "compose", "--conditions", "y", "--weights-dir", "toy", "--output-dir", str(out)]
    code, err = run([*argv, "--frames", "100000", "--height", "8192", "--width", "8192"], capsys)
    assert_user_error(code, err, "a video of 100000 frames of 8192x8192", "needs about", "of available RAM")
    assert (
        "ask for fewer --frames or a smaller --height and --width" in err and "the video 73.2 TiB" in err
    )  # 100000 x 3 x 8192² float32
    assert not out.exists()


def test_the_memory_estimate_counts_weights_skip_activations_decoding_and_the_video():
    # a UNet of width 32 over 2 levels, 1 block each, and a VAE of 3 levels (latents 4x smaller), 100 bytes of weights
    shape = ModelShape(dim=32, dim_mult=(1, 2), num_res_blocks=1, vae_channels=(16, 32, 32), weights_bytes=100)
    estimate = estimate_generation_memory(shape, num_frames=4, height=64, width=64)
    skips = 32 * 16 * 16 + 32 * 16 * 16 + 64 * 8 * 8  # input conv, level 0, level 1 (latent 16 x 16)
    assert estimate.weights == 100
    assert estimate.sampling == max(4 * skips * 4, 2 * 4 * 16 * 64 * 64 * 4)  # the larger: here decoding, 2 MiB
    assert estimate.video == 4 * 3 * 64 * 64 * 4
    assert estimate.total == 100 + estimate.sampling + estimate.video
    double = estimate_generation_memory(shape, num_frames=4, height=128, width=128)
    assert double.video == 4 * estimate.video and double.sampling == 4 * estimate.sampling


def test_the_pipeline_refuses_a_call_that_cannot_fit_before_sampling(monkeypatch):
    from videocomposer.pipelines import VideoComposerPipeline

    pipe = VideoComposerPipeline.from_pretrained(toy_model_dir(), conditions=["y"])
    monkeypatch.setattr(memory, "available_ram", lambda: FreeMemory(1 << 30, "available RAM"))
    monkeypatch.setattr(pipe, "_denoise", lambda *a, **k: pytest.fail("sampling started"))
    with pytest.raises(InsufficientMemoryError, match="more than the 1 GiB of available RAM: ask for fewer num_frames"):
        pipe("a ball", num_frames=64, height=1024, width=1024, num_inference_steps=1)


def test_free_memory_is_read_without_psutil(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def without_psutil(name, *args, **kwargs):
        if name == "psutil":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", without_psutil)
    free = memory.available_memory("cpu")
    with open("/proc/meminfo") as handle:
        listed = next(int(line.split()[1]) * 1024 for line in handle if line.startswith("MemAvailable:"))
    assert free.what == "available RAM" and abs(free.bytes - listed) < 1 << 30  # read a moment apart
    assert format_bytes(1536 << 20) == "1.5 GiB" and format_bytes(312) == "312 B"


@pytest.mark.parametrize("value", ["inf", "nan", "y=inf", "1e999"])
def test_a_guidance_scale_that_is_not_a_finite_number_is_refused(tmp_path, capsys, value):
    argv = ["generate", "compose", "--conditions", "y", "--weights-dir", "toy", "--guidance-scale", value]
    code, err = run([*argv, "--output-dir", str(tmp_path / "out")], capsys)
    assert_user_error(code, err, "--guidance-scale")
    assert "finite number" in err or "number >= 0" in err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"video,caption\n\xff\xfe.mp4,a ball\n", "not UTF-8 text"),
        (b"clip,text\na.mp4,a ball\n", "missing column(s) ['video', 'caption']"),
        (b"video,caption\n,a ball\n", "line 2: empty 'video' value"),
    ],
)
@pytest.mark.parametrize("command", ["train", "extract"])
def test_a_bad_dataset_csv_is_named_and_starts_nothing(tmp_path, capsys, content, message, command):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "clips.csv").write_bytes(content)
    out = tmp_path / "out"
    if command == "train":
        argv = ["train", "--config", "train_toy_motion", "--output-dir", str(out), f"root_dir={dataset}"]
    else:
        argv = ["extract", "--dataset", str(dataset), "--cache", str(out), "--config", "train_toy_motion"]
    code, err = run([*argv, "--weights-dir", "toy"], capsys)
    assert_user_error(code, err, f"annotation file {dataset / 'clips.csv'}", message)
    assert not out.exists()


# ------------------------------------------------------------------ model folders


@pytest.mark.parametrize("name", TOY_FILES)
@pytest.mark.parametrize("keep", [0.0, 0.5])
def test_a_truncated_file_in_a_model_folder_is_named(tmp_path, capsys, name, keep):
    folder = tmp_path / "model"
    shutil.copytree(toy_model_dir(), folder)
    data = (folder / name).read_bytes()
    (folder / name).write_bytes(data[: int(len(data) * keep)])
    out = tmp_path / "out"
    argv = ["generate", "compose", "--conditions", "y", "--input_text_desc", "a ball", "--weights-dir", str(folder)]
    code, err = run([*argv, "--steps", "1", "--quiet", "--output-dir", str(out)], capsys)
    expected = "not a complete safetensors file" if name.endswith(".safetensors") else "JSON"
    if name.endswith(".json") and keep == 0.0:
        expected = "empty" if name != "scheduler/scheduler_config.json" else "not valid JSON"
    assert_user_error(code, err, str(folder / name), expected, "again")
    assert not out.exists()


@pytest.mark.parametrize("name", ["non_ema_228000.pth", "open_clip_pytorch_model.bin", "v2-1_512-ema-pruned.ckpt"])
def test_a_truncated_official_weight_file_is_named_with_its_published_size(tmp_path, capsys, name):
    weights = tmp_path / "weights"
    write_tiny_official_weights(weights, components=["unet", "vae", "clip"])
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_model_config()))
    data = (weights / name).read_bytes()
    (weights / name).write_bytes(data[: len(data) // 2])
    argv = ["generate", "compose", "--conditions", "y", "--input_text_desc", "a ball", "--weights-dir", str(weights)]
    code, err = run([*argv, "--model-config", str(config), "--output-dir", str(tmp_path / "out")], capsys)
    assert_user_error(code, err, f"{weights / name} is not a complete weights file", "without the directory", "GB)")
    assert not (tmp_path / "out").exists()


def test_a_truncated_checkpoint_of_no_official_name_is_named(tmp_path):
    import torch

    from videocomposer.checkpoints import WeightFileError, read_state_dict

    path = tmp_path / "finetuned.pth"
    torch.save({"weight": torch.zeros(64)}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(WeightFileError, match="finetuned.pth is not a complete weights file: it is a zip-format"):
        read_state_dict(path)


# ------------------------------------------------------------------ images


@pytest.mark.parametrize("flag", ["--image_path", "--style_image", "--sketch_path", "--mask_path", "--depth_path"])
@pytest.mark.parametrize("side", [10_000, 30_000])
def test_an_image_that_declares_a_huge_size_is_refused_naming_the_flag(tmp_path, capsys, clip, flag, side):
    bomb = tmp_path / "huge.png"
    bomb.write_bytes(png_header(side, side))
    out = tmp_path / "out"
    argv = ["generate", "exp02_motion_transfer", "--weights-dir", "toy", "--input_video", str(clip / "clip.mp4")]
    argv += ["--image_path", str(clip / "first.png"), flag, str(bomb), "--output-dir", str(out)]
    code, err = run(argv, capsys)
    if flag == "--depth_path" and side == 30_000:  # beyond what the video decoder opens at all
        assert_user_error(code, err, f"{flag}: cannot read {bomb}")
    else:
        assert_user_error(code, err, f"{flag}: {bomb} declares {side * side:,} pixels, more than the 89,478,485")
    assert not out.exists()
