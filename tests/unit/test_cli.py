"""The ``videocomposer`` command: help, demo, generate (tiny official-format weights), extract, convert, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import av
import pytest
from safetensors.torch import load_file

import videocomposer
from videocomposer.app import GenerateRequest, RequestError
from videocomposer.app.generation_request import task_preset
from videocomposer.cli import COMMANDS, build_parser, main
from videocomposer.pipelines import available_presets, load_preset
from videocomposer.pipelines.demo import make_demo_video
from videocomposer.pipelines.tiny import tiny_model_config, write_tiny_official_weights


def decode(path):
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
    return stream.codec_context.name, frames


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    weights = folder / "weights"
    write_tiny_official_weights(weights, components=["unet", "vae", "clip"])
    config = folder / "tiny_model.json"
    config.write_text(json.dumps(tiny_model_config()))
    frames = make_demo_video(folder / "clip.mp4", num_frames=24, height=48, width=64)
    frames[0].save(folder / "first.png")
    return {"weights": weights, "config": config, "video": folder / "clip.mp4", "image": folder / "first.png"}


def test_help_lists_every_command_and_task(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert all(name in text for name in ("generate", "extract", "convert", "demo", "train"))
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    text = capsys.readouterr().out
    assert all(task in text for task in available_presets()) and "--input_video" in text and "--weights-dir" in text
    for command in ("extract", "convert", "demo"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"videocomposer {videocomposer.__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["--version"]])
def test_help_and_version_load_neither_torch_nor_any_command(argv):
    code = (
        "import contextlib, io, sys\nfrom videocomposer.cli import main\n"
        f"with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): main({argv!r})\n"
        "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('videocomposer.', 'gradio'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(out.stdout) == ["videocomposer._lazy", "videocomposer.cli"]


def test_a_command_module_loads_only_for_its_own_command():
    code = (
        "import sys\nfrom videocomposer.cli import build_parser\nbuild_parser(['convert', '--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('videocomposer.cli.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert eval(out.stdout) == ["videocomposer.cli.convert", "videocomposer.cli.options"]
    assert set(COMMANDS) == {"generate", "extract", "convert", "demo", "train", "evaluate", "ui"}


def test_help_shows_the_model_s_own_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    generic = " ".join(capsys.readouterr().out.split())
    assert "denoising steps (default: the model's own; official: 50)" in generic
    assert "sampler (default: the model's own; official: ddim)" in generic
    with pytest.raises(SystemExit):
        main(["generate", "--weights-dir", "toy", "--help"])
    toy = " ".join(capsys.readouterr().out.split())
    from videocomposer.pipelines.toy_model import stored_defaults, toy_model_dir

    stored = stored_defaults(toy_model_dir())
    assert f"denoising steps (default: {stored['num_inference_steps']}, the model's own)" in toy
    assert f"number of frames (default: {stored['num_frames']}, the model's own)" in toy
    assert f"sampler (default: {stored['scheduler']}, the model's own)" in toy


def test_help_speaks_to_users(capsys):
    for argv in (["--help"], *([name, "--help"] for name in COMMANDS)):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out.lower()
        assert "module" not in text and "add_parser" not in text and "subcommand" not in text, argv


@pytest.mark.parametrize(
    "argv, field, flag",
    [
        (["generate", "compose", "--conditions", "y", "--steps", "0"], "steps", "--steps"),
        (["generate", "compose", "--conditions", "y", "--guidance-scale", "-1"], "guidance_scale", "--guidance-scale"),
        (
            ["generate", "compose", "--conditions", "y", "--guidance-scale", "y=7.5,colour=3"],
            "guidance_scale",
            "--guidance-scale",
        ),
        (
            ["generate", "compose", "--conditions", "y", "--guidance-scale", "y=7.5,motion"],
            "guidance_scale",
            "--guidance-scale",
        ),
        (
            ["generate", "compose", "--conditions", "y", "--guidance-scale", "y=-2"],
            "guidance_scale",
            "--guidance-scale",
        ),
        (
            ["generate", "compose", "--conditions", "y", "--guidance-scale", "strong"],
            "guidance_scale",
            "--guidance-scale",
        ),
        (["demo", "--frames", "4"], "frames", "--frames"),
        (["evaluate", "x.mp4", "--metrics", "nope"], "metrics", "--metrics"),
        (["extract", "--input_video", "{video}", "--output-dir", "{tmp}", "--frames", "0"], "frames", "--frames"),
    ],
)
def test_a_bad_request_field_is_named_by_its_flag(tiny, tmp_path, capsys, argv, field, flag):
    assert main([a.format(video=tiny["video"], tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"videocomposer {argv[0]}: error: {flag}") and err.count("\n") == 1, err


def test_a_bad_request_field_is_named_by_its_keyword_in_python():
    with pytest.raises(RequestError) as raised:
        GenerateRequest(task="compose", conditions="y", steps=0).check()
    assert raised.value.field == "steps" and str(raised.value).startswith("steps: must be a whole number >= 1")
    with pytest.raises(RequestError, match="^conditions: unknown condition 'canny'"):
        GenerateRequest(task="compose", conditions="y,canny").check()


def test_the_request_renders_the_command_that_makes_it():
    from videocomposer.cli import parse_command_line
    from videocomposer.cli.generate import to_request

    request = GenerateRequest(
        task="exp02_motion_transfer",
        prompt="a 'quoted' ball",
        video="my clip.mp4",
        image="first.png",
        steps=3,
        guidance_scale=2.5,
        frames=4,
        weights_dir="toy",
        device="cpu",
        progress=False,
        output_dir="out dir",
    )
    argv = __import__("shlex").split(request.to_command())
    assert argv[:3] == ["videocomposer", "generate", "exp02_motion_transfer"] and argv[-2:] == [
        "--output-dir",
        "out dir",
    ]
    assert to_request(parse_command_line(argv[1:])) == request


def test_guidance_scale_per_condition_from_the_command_line():
    """``--guidance-scale y=7.5,motion=3`` is a scale per condition (reference names become the registry's), a plain
    number is one scale; the request renders them back to the same command; bad text names the field and says what
    is expected; the config.yaml form (a mapping) loads back."""
    from videocomposer.cli import parse_command_line
    from videocomposer.cli.generate import parse_guidance_scale, to_request

    assert parse_guidance_scale("9") == 9.0 and parse_guidance_scale(None) is None
    assert parse_guidance_scale("y=7.5, motion=3") == {"y": 7.5, "motion": 3.0}
    argv = ["generate", "compose", "--conditions", "y,motion", "--guidance-scale", "text=7.5,motion=3"]
    request = to_request(parse_command_line(argv))
    assert request.guidance_scale == {"text": 7.5, "motion": 3.0}
    request.check()
    command = request.to_command()
    assert "--guidance-scale text=7.5,motion=3" in command
    assert to_request(parse_command_line(__import__("shlex").split(command)[1:])) == request
    preset = task_preset(request, report=lambda line: None)
    assert preset.guidance_scale == {"y": 7.5, "motion": 3.0}
    assert preset.run_guidance_scale("compose") == {"y": 7.5, "motion": 3.0}
    assert (
        load_preset("compose", {"guidances": ["y", "motion"], **preset.to_dict()}).guidance_scale
        == preset.guidance_scale
    )
    for text, message in (
        ("y=", "got 'y='"),
        ("y=1,y=2", "each condition once"),
        ("=2", "got '=2'"),
        ("nine", "expected a number .* or condition=scale pairs"),
    ):
        with pytest.raises(RequestError, match=message) as raised:
            parse_guidance_scale(text)
        assert raised.value.field == "guidance_scale"
    with pytest.raises(RequestError, match=r"^guidance_scale: names \['depth'\], which task compose does not use"):
        task_preset(GenerateRequest(task="compose", conditions="y,motion", guidance_scale={"depth": 2.0}))
    with pytest.raises(RequestError, match="^guidance_scale: the scale of 'motion' must be a number >= 0"):
        GenerateRequest(task="compose", guidance_scale={"motion": -1.0}).check()


def test_task_choices_come_from_the_preset_registry():
    generate = build_parser(["generate"])._subparsers._group_actions[0].choices["generate"]
    task = next(a for a in generate._actions if a.dest == "task")
    assert list(task.choices) == list(available_presets())


def test_demo_writes_a_decodable_video_and_says_it_is_random(tmp_path, capsys):
    assert (
        main(
            [
                "demo",
                "--random",
                "--output-dir",
                str(tmp_path),
                "--frames",
                "2",
                "--size",
                "32",
                "--steps",
                "2",
                "--quiet",
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "RANDOM" in printed and "videocomposer generate" in printed
    mp4 = tmp_path / "demo_random_tiny_model-S08888.mp4"
    codec, frames = decode(mp4)
    assert codec == "h264" and len(frames) == 2 and frames[0].shape == (32, 32, 3)
    notice = (tmp_path / "NOTICE.txt").read_text()
    assert "NOT VIDEOCOMPOSER'S TRAINED MODEL" in notice and "--weights-dir model_weights" in notice
    assert (tmp_path / "demo_random_tiny_model-S08888_grid.gif").is_file()


def test_generate_writes_the_requested_frames_and_size(tiny, tmp_path, capsys):
    code = main(
        [
            "generate",
            "exp02_motion_transfer",
            "--weights-dir",
            str(tiny["weights"]),
            "--model-config",
            str(tiny["config"]),
            "--input_video",
            str(tiny["video"]),
            "--image_path",
            str(tiny["image"]),
            "--input_text_desc",
            "a red ball",
            "--seed",
            "7",
            "--frames",
            "3",
            "--height",
            "32",
            "--width",
            "48",
            "--steps",
            "2",
            "--min-guidance-scale",
            "2",
            "--output-dir",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    folder = tmp_path / "exp02_motion_transfer-clip-S00007"  # <task>-<video stem>-S<seed>
    codec, frames = decode(folder / "exp02_motion_transfer-S00007.mp4")
    assert codec == "h264" and len(frames) == 3 and frames[0].shape == (32, 48, 3)
    assert (folder / "exp02_motion_transfer-S00007_grid.gif").is_file()
    assert (folder / "text_description.txt").read_text().strip() == "a red ball"
    assert load_preset(folder / "config.yaml").to_dict() == {
        **load_preset("exp02_motion_transfer").to_dict(),
        "prompt": "a red ball",
        "seed": 7,
        "num_frames": 3,
        "height": 32,
        "width": 48,
        "num_inference_steps": 2,
        "min_guidance_scale": 2.0,
    }


def test_generate_records_a_guidance_scale_per_condition(tiny, tmp_path, capsys):
    code = main(
        [
            "generate",
            "compose",
            "--conditions",
            "y,motion",
            "--weights-dir",
            str(tiny["weights"]),
            "--model-config",
            str(tiny["config"]),
            "--input_video",
            str(tiny["video"]),
            "--frames",
            "2",
            "--height",
            "32",
            "--width",
            "32",
            "--steps",
            "1",
            "--guidance-scale",
            "text=7.5,motion=3",
            "--output-dir",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    config = tmp_path / "compose-clip-S08888" / "config.yaml"
    assert "--guidance-scale text=7.5,motion=3" in config.read_text()
    assert load_preset(config).guidance_scale == {"y": 7.5, "motion": 3.0}


def test_generate_never_replaces_an_earlier_result(tiny, tmp_path, capsys):
    other = tmp_path / "other.mp4"
    make_demo_video(other, num_frames=24, height=48, width=64)
    base = [
        "generate",
        "compose",
        "--conditions",
        "y,motion",
        "--weights-dir",
        str(tiny["weights"]),
        "--model-config",
        str(tiny["config"]),
        "--frames",
        "2",
        "--height",
        "32",
        "--width",
        "32",
        "--steps",
        "1",
        "--output-dir",
        str(tmp_path / "out"),
        "--quiet",
    ]
    assert main(base + ["--input_video", str(tiny["video"])]) == 0
    first = tmp_path / "out" / "compose-clip-S08888" / "compose-S08888.mp4"
    before = first.stat().st_mtime_ns, first.read_bytes()
    assert main(base + ["--input_video", str(other)]) == 0  # another video: its own folder
    assert (tmp_path / "out" / "compose-other-S08888" / "compose-S08888.mp4").is_file()
    capsys.readouterr()
    assert main(base + ["--input_video", str(tiny["video"])]) == 2  # the same run again: refused, nothing touched
    err = capsys.readouterr().err
    assert "already holds an earlier result" in err and "--overwrite" in err
    assert (first.stat().st_mtime_ns, first.read_bytes()) == before
    assert main(base + ["--input_video", str(tiny["video"]), "--overwrite"]) == 0
    assert first.stat().st_mtime_ns != before[0]


def test_generate_from_a_cfg_file_with_base_and_a_converted_folder(tiny, tmp_path, capsys):
    converted = tmp_path / "converted"
    assert (
        main(
            [
                "convert",
                "--weights-dir",
                str(tiny["weights"]),
                "--model-config",
                str(tiny["config"]),
                "--conditions",
                "y,local_image",
                "--output-dir",
                str(converted),
            ]
        )
        == 0
    )
    assert (converted / "model_index.json").is_file() and (converted / "unet" / "model.safetensors").is_file()
    cfg = tmp_path / "my_task.yaml"
    cfg.write_text(
        "base: compose\nguidances: [y, local_image]\nnum_frames: 2\nheight: 32\nwidth: 32\n"
        "num_inference_steps: 1\nseed: 3\n"
    )
    code = main(
        [
            "generate",
            "--cfg",
            str(cfg),
            "--weights-dir",
            str(converted),
            "--image_path",
            str(tiny["image"]),
            "--output-dir",
            str(tmp_path / "out"),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    _, frames = decode(tmp_path / "out" / "my_task-S00003" / "my_task-S00003.mp4")  # no video: no stem
    assert len(frames) == 2 and frames[0].shape == (32, 32, 3)


def test_extract_writes_conditions_without_weights(tiny, tmp_path, capsys):
    code = main(
        [
            "extract",
            "--input_video",
            str(tiny["video"]),
            "--output-dir",
            str(tmp_path),
            "--frames",
            "3",
            "--resolution",
            "32",
            "--conditions",
            "motion,masked,local_image",
        ]
    )
    assert code == 0, capsys.readouterr().err
    tensors = load_file(str(tmp_path / "clip_conditions.safetensors"))
    assert tensors["motion"].shape == (1, 2, 3, 32, 32) and tensors["masked"].shape == (1, 4, 3, 64, 64)
    assert tensors["source"].shape == (1, 3, 3, 64, 64)
    _, frames = decode(tmp_path / "clip_motion.mp4")
    assert len(frames) == 3
    assert (tmp_path / "clip_conditions.gif").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["generate", "exp02_motion_transfer", "--input_video", "{video}"], "needs --image_path"),
        (["generate", "exp05_text_depths_wo_style"], "needs --input_video"),
        (
            ["generate", "exp02_motion_transfer", "--input_video", "missing.mp4", "--image_path", "{image}"],
            "--input_video: file not found",
        ),
        (["generate", "compose", "--conditions", "y,canny"], "unknown condition 'canny'"),
        (["generate", "compose", "--conditions", "y,depth"], "condition 'depth' needs --input_video or --depth_path"),
        (
            ["generate", "compose", "--conditions", "y", "--output-dir", "{blocker}/out"],
            "cannot write to output folder",
        ),
        (["generate", "compose", "--conditions", "y", "--weights-dir", "{empty}"], "non_ema_228000.pth"),
        # an unreadable video is reported before the weights (here: none) are looked at
        (
            ["generate", "exp05_text_depths_wo_style", "--input_video", "{blocker}", "--weights-dir", "{empty}"],
            "blocker",
        ),
        (["generate", "compose", "--conditions", "y"], "--weights-dir is required"),
        (["generate", "--cfg", "nope.yaml"], "unknown task preset"),
        (
            ["extract", "--input_video", "{video}", "--output-dir", "{tmp}/x", "--conditions", "depth"],
            "--weights-dir is required",
        ),
    ],
)
def test_user_errors_are_one_line_with_the_fix(tiny, tmp_path, capsys, args, message):
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    (tmp_path / "empty").mkdir()
    values = {
        "video": tiny["video"],
        "image": tiny["image"],
        "blocker": blocker,
        "empty": tmp_path / "empty",
        "tmp": tmp_path,
    }
    raw, args = args, [a.format(**values) for a in args]
    if "--output-dir" not in args and args[0] == "generate":
        args += ["--output-dir", str(tmp_path / "outputs")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    if "{empty}" in " ".join(raw) and message != "non_ema_228000.pth":
        assert "non_ema_228000.pth" not in err  # reported before any weight file is looked for


def test_unwritable_output_is_reported_before_loading_weights(tiny, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    code = main(
        [
            "generate",
            "compose",
            "--conditions",
            "y",
            "--weights-dir",
            str(tmp_path / "no_weights_here"),
            "--output-dir",
            str(blocker),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "cannot write to output folder" in err and "weights" not in err  # reported first
