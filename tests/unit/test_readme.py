"""README.md and docs/*.md cannot drift from the code: every command in their ``bash`` blocks parses with the
real command-line parsers (subcommands, flags, task and training presets, ``key=value`` keys, the inputs each
task needs), every preset they name exists, and the Python API they show has the names it uses. The README
itself shows the set-up commands, the test command exactly as ``.ci/run`` runs it.

Nothing is generated or trained here: only parsers, config files and signatures are checked. The
behaviours the README promises and only the CLI provides are tested on tiny weights at the end.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import importlib
import inspect
import json
import re
import shlex
import typing
from pathlib import Path

import pytest

import videocomposer
from videocomposer.app.generation_request import check_task_inputs, given_inputs, run_folder, task_preset
from videocomposer.app.training import task_presets
from videocomposer.cli import build_parser, main, parse_command_line
from videocomposer.cli.generate import to_request
from videocomposer.diffusion import SCHEDULERS
from videocomposer.pipelines import VideoComposerPipeline, VideoComposerPipelineOutput, available_presets, load_preset
from videocomposer.pipelines.demo import real_model_command
from videocomposer.pipelines.pipeline import OutputType
from videocomposer.pipelines.presets import normalize_conditions
from videocomposer.training.components import check_model_config
from videocomposer.training.config import CONFIG_DIR, load_train_config

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
#: The user documentation: README.md, then every page of docs/ (checked as one text).
DOCUMENTS = [README, *sorted((ROOT / "docs").glob("*.md"))]
TEXT = "\n".join(path.read_text(encoding="utf-8") for path in DOCUMENTS)
#: Commands that the README may show without them being ours to check.
FOREIGN = (("pip", "install"), ("python", "-m", "pytest"))


def code_blocks(language: str, text: str = TEXT) -> list[str]:
    """The fenced code blocks of ``text`` (the documentation) in ``language`` (indented fences inside lists included)."""
    return [m.group(1) for m in re.finditer(rf"^ *```{language}\n(.*?)^ *```", text, re.MULTILINE | re.DOTALL)]


def shell_commands(text: str = TEXT) -> list[list[str]]:
    """Every command of the bash blocks as argv lists: continuations joined, comments dropped, split at ``&&``."""
    commands: list[list[str]] = []
    for block in code_blocks("bash", text):
        for line in block.replace("\\\n", " ").splitlines():
            command: list[str] = []
            for word in shlex.split(line, comments=True) + ["&&"]:
                if word != "&&":
                    command.append(word)
                elif command:
                    commands.append(command)
                    command = []
    return commands


def ours(prefix: tuple[str, ...]) -> list[list[str]]:
    return [c for c in shell_commands() if tuple(c[: len(prefix)]) == prefix]


def module_cli_args(command: list[str]) -> list[str]:
    """The arguments after ``-m videocomposer.cli`` (``python -m ...`` or ``torchrun ... -m ...``)."""
    return command[command.index("videocomposer.cli") + 1 :]


def is_module_cli(command: list[str]) -> bool:
    return command[0] in ("python", "torchrun") and "videocomposer.cli" in command


def is_python_c(command: list[str]) -> bool:
    return command[:2] == ["python", "-c"]


def parse_or_fail(argv: list[str]) -> argparse.Namespace:
    try:
        return parse_command_line(argv)
    except SystemExit as exc:  # argparse reports and exits
        pytest.fail(f"documented command does not parse (exit {exc.code}): videocomposer {shlex.join(argv)}")


VIDEOCOMPOSER_COMMANDS = ours(("videocomposer",))


#: Packages whose ``python -m <module>`` tools the documentation may show: the library and the recipes.
MODULE_TOOL_PACKAGES = ("videocomposer.", "recipes.")


def module_tool_parser(module_name: str) -> argparse.ArgumentParser:
    """The parser of a ``python -m <module>`` tool: the module's (or, for a package, its ``__main__``'s)
    ``build_parser()``. Fails the test when the module or its ``build_parser`` does not exist."""
    try:
        module = importlib.import_module(module_name)
        if hasattr(module, "__path__"):  # a package runs its __main__
            module = importlib.import_module(f"{module_name}.__main__")
    except ImportError as exc:
        pytest.fail(f"documented command names a module that cannot be imported: python -m {module_name} ({exc})")
    if not callable(getattr(module, "build_parser", None)):
        pytest.fail(f"python -m {module_name}: {module.__name__} has no build_parser() to check its arguments with")
    return module.build_parser()


def is_module_tool(command: list[str]) -> bool:
    return (
        command[:2] == ["python", "-m"]
        and len(command) > 2
        and command[2].startswith(MODULE_TOOL_PACKAGES)
        and command[2] != "videocomposer.training"
    )


def test_readme_has_only_commands_we_check():
    unknown = [
        c
        for c in shell_commands()
        if c[0] != "videocomposer"
        and not is_module_cli(c)
        and not is_python_c(c)
        and not is_module_tool(c)
        and not any(tuple(c[: len(p)]) == p for p in FOREIGN)
    ]
    assert not unknown, f"README / docs bash blocks hold commands this test does not check: {unknown}"


def test_readme_shows_the_setup_commands_ci_runs():
    """README, "Set up": the demo command, and the test command exactly as ``.ci/run`` runs it."""
    readme_commands = shell_commands(README.read_text(encoding="utf-8"))
    ci_lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("pip install")]
    assert len(ci_lines) == 1, ".ci/run should install and test with one pip install ... && python -m pytest line"
    ci_commands = shell_commands(f"```bash\n{ci_lines[0]}\n```\n")
    assert ci_commands[-1][:3] == ["python", "-m", "pytest"]
    assert all(c in readme_commands for c in ci_commands), f"README does not show .ci/run's command: {ci_lines[0]}"
    assert ["videocomposer", "demo"] in readme_commands, "README's set-up does not run the demo"


def test_relative_links_and_images_resolve():
    """Every relative link or image of README.md and docs/*.md names a file of the repository."""
    missing = []
    for document in DOCUMENTS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text(encoding="utf-8")):
            if "://" not in target and not (document.parent / target).exists():
                missing.append(f"{document.relative_to(ROOT)} -> {target}")
    assert not missing, f"links to files that do not exist: {missing}"


@pytest.mark.parametrize("command", [c for c in shell_commands() if is_module_tool(c)], ids=lambda c: c[2])
def test_module_tool_command_parses(command):
    parser = module_tool_parser(command[2])
    try:
        parser.parse_args(command[3:])
    except SystemExit as exc:
        pytest.fail(f"documented command does not parse (exit {exc.code}): {shlex.join(command)}")


def test_readme_shows_every_subcommand():
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    shown = {c[1] for c in VIDEOCOMPOSER_COMMANDS}
    assert set(subparsers.choices) <= shown, f"not shown in a README bash block: {set(subparsers.choices) - shown}"


def check_command(argv: list[str]) -> None:
    """A ``videocomposer`` command parses, and what it names exists (tasks, inputs, conditions, config keys)."""
    args = parse_or_fail(argv)
    if args.command == "generate":
        request = to_request(args)
        preset = task_preset(request)  # the task or --cfg file, with every override applied and checked
        check_task_inputs(preset, given_inputs(request, check_files=False))  # the task's inputs are given
    elif args.command == "extract" and args.conditions:
        normalize_conditions(args.conditions)
    elif args.command == "train":
        check_train_command(args)


@pytest.mark.parametrize("command", VIDEOCOMPOSER_COMMANDS, ids=lambda c: " ".join(c[1:3]))
def test_videocomposer_command_parses(command, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    if command[1:] == ["--version"]:  # prints the version and exits 0 (argparse's version action exits too)
        try:
            code = main(["--version"])
        except SystemExit as exc:
            code = exc.code
        out = capsys.readouterr()
        assert code in (0, None), f"videocomposer --version exits {code}: {out.err}"
        assert videocomposer.__version__ in out.out, f"videocomposer --version printed {out.out!r}"
        return
    (tmp_path / "my_task.yaml").write_text(readme_task_yaml())
    check_command(command[1:])


@pytest.mark.parametrize("command", [c for c in shell_commands() if is_module_cli(c)], ids=lambda c: c[0])
def test_module_cli_command_parses(command):
    """``python -m videocomposer.cli ...`` and ``torchrun ... -m videocomposer.cli ...`` run the same command."""
    check_command(module_cli_args(command))


def check_train_command(args: argparse.Namespace) -> None:
    """The preset exists and every ``key=value`` is a valid, well-typed training key."""
    cfg = load_train_config(
        args.config,
        args.overrides,
        output_dir=args.output_dir,
        weights_dir=args.weights_dir or "model_weights",
        **({"resume": args.resume} if args.resume else {}),
    )
    check_model_config(cfg)


def readme_task_yaml() -> str:
    """The README's ``my_task.yaml`` example."""
    blocks = [b for b in code_blocks("yaml") if "my_task.yaml" in b]
    assert len(blocks) == 1, "README should show exactly one my_task.yaml block"
    return blocks[0]


def test_readme_task_yaml_loads(tmp_path):
    path = tmp_path / "my_task.yaml"
    path.write_text(readme_task_yaml())
    preset = load_preset(path)
    command = next(c for c in ours(("videocomposer", "generate")) if "my_task.yaml" in c)
    video = Path(command[command.index("--input_video") + 1])
    assert preset.name == "my_task" and f"{run_folder('outputs', preset, video)}/" in TEXT


@pytest.mark.parametrize("command", [c for c in shell_commands() if is_python_c(c)], ids=lambda c: "python -c")
def test_python_one_liners_import_existing_names(command):
    tree = ast.parse(command[2])
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            module = importlib.import_module(node.module)
            missing = [a.name for a in node.names if not hasattr(module, a.name)]
            assert not missing, f"{node.module} has no {missing}"


def test_model_config_help_names_a_real_function():
    from videocomposer.cli.options import MODEL_CONFIG_HELP

    names = re.findall(r"(videocomposer(?:\.\w+)+)\(\)", MODEL_CONFIG_HELP)
    assert names
    for name in names:
        module, _, attribute = name.rpartition(".")
        assert callable(getattr(importlib.import_module(module), attribute)), name


def test_demo_prints_a_parsable_real_model_command():
    command = shlex.split(real_model_command(Path("demo out/demo_input.mp4"), Path("demo out/first frame.png")))
    args = parse_or_fail(command[1:])
    assert args.video == "demo out/demo_input.mp4" and args.image == "demo out/first frame.png"
    request = to_request(args)
    check_task_inputs(task_preset(request), given_inputs(request, check_files=False))


# ----------------------------------------------------------------------------------------------
# presets named anywhere in the README
# ----------------------------------------------------------------------------------------------


def test_every_generation_preset_named_exists_and_every_preset_is_named():
    named = set(re.findall(r"\b(exp\d+_[a-z0-9_]+)", TEXT))
    assert named and named <= set(available_presets()), (
        f"unknown presets in the README: {named - set(available_presets())}"
    )
    unmentioned = [p for p in available_presets() if not re.search(rf"\b{p}\b", TEXT)]
    assert not unmentioned, f"presets the README never mentions: {unmentioned}"


def test_every_training_config_named_exists_and_the_list_is_complete():
    named = set(re.findall(r"\b(train_[a-z0-9_]+)", TEXT))
    files = {p.stem for p in CONFIG_DIR.glob("train_*.yaml")}
    assert named and named <= files, f"unknown training configs in the README: {named - files}"
    listed = re.findall(r"^ +- `(train_[a-z0-9_]+)`$", TEXT, re.MULTILINE)
    assert sorted(listed) == task_presets(), "the README's list of training task configs differs from configs/"


# ----------------------------------------------------------------------------------------------
# the Python API section
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pipe() -> VideoComposerPipeline:
    from videocomposer.models.unet import VideoComposerUNet
    from videocomposer.pipelines.tiny import tiny_configs

    return VideoComposerPipeline(VideoComposerUNet(tiny_configs()["unet"]))


def test_python_blocks_import_and_call_existing_names():
    blocks = code_blocks("python")
    assert blocks
    call_parameters = inspect.signature(VideoComposerPipeline.__call__).parameters
    for block in blocks:
        tree = ast.parse(block)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = importlib.import_module(node.module)
                assert all(hasattr(module, a.name) for a in node.names), f"from {node.module} import ..."
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "pipe":
                unknown = [k.arg for k in node.keywords if k.arg not in call_parameters]
                assert not unknown, f"pipe(...) has no keyword(s) {unknown}"
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "from_official"
            ):
                parameters = inspect.signature(VideoComposerPipeline.from_official).parameters
                assert all(k.arg in parameters for k in node.keywords)


def test_every_pipe_and_out_attribute_named_exists(pipe):
    for name in set(re.findall(r"\bpipe\.([a-z_]+)", TEXT)):
        assert hasattr(pipe, name), f"README names pipe.{name}"
    fields = {f.name for f in dataclasses.fields(VideoComposerPipelineOutput)}
    for name in set(re.findall(r"\bout\.([a-z_]+)", TEXT)):
        assert name in fields, f"README names out.{name}"
    for name in ("from_official", "from_pretrained", "save_pretrained"):
        assert f"{name}(" in TEXT and callable(getattr(VideoComposerPipeline, name))


def test_named_call_arguments_exist():
    """Arguments the README's prose names: pipeline inputs and options, load_video_clip's flags."""
    call = inspect.signature(VideoComposerPipeline.__call__).parameters
    inputs = re.search(r"- Inputs: (.*?)\n- ", TEXT, re.DOTALL).group(1)
    extra = re.search(r"You can also pass (.*?)\.\n", TEXT, re.DOTALL).group(1)
    for name in re.findall(r"`([a-z_]+)`", inputs + extra):
        assert name in call, f"pipe(...) has no argument {name!r}"
    from videocomposer.video.sampling import load_video_clip

    for name in re.findall(r"`load_video_clip\(\.\.\., ([a-z_]+)=", TEXT) + re.findall(r"`(encoder_threads)`", TEXT):
        assert name in inspect.signature(load_video_clip).parameters


def test_output_types_and_schedulers_are_the_real_ones():
    output_types = re.search(r"`output_type` is (.*?)\.", TEXT).group(1)
    assert set(re.findall(r'"([a-z]+)"', output_types)) == set(typing.get_args(OutputType))
    schedulers = re.search(r"`scheduler` is (.*?)\.\n", TEXT, re.DOTALL).group(1)
    assert set(re.findall(r'"([a-z+]+)"', schedulers)) == set(SCHEDULERS)
    assert f"--scheduler {'|'.join(sorted(SCHEDULERS))}`" in TEXT


# ----------------------------------------------------------------------------------------------
# behaviours the README promises from the CLI (tiny weights, a few seconds)
# ----------------------------------------------------------------------------------------------


def test_train_overrides_may_follow_flags(tmp_path, capsys):
    """README: "the same command plus --resume latest" — key=value before and after the flags both apply."""
    code = main(
        [
            "train",
            "--config",
            "train_exp02_motion_transfer",
            "--output-dir",
            str(tmp_path),
            "max_steps=7",
            "--weights-dir",
            "model_weights",
            "--dry-run",
            "learning_rate=1e-6",
        ]
    )
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "max_steps: 7" in out.out and "learning_rate: 1.0e-06" in out.out
    with pytest.raises(SystemExit):
        parse_command_line(["train", "--config", "x", "--output-dir", "y", "--no-such-flag"])
    with pytest.raises(SystemExit):
        parse_command_line(["generate", "compose", "max_steps=7"])  # only train takes key=value


def test_train_model_config_sets_the_architectures(tmp_path, capsys):
    """``train --model-config`` takes the file ``generate --model-config`` takes."""
    from videocomposer.pipelines.tiny import tiny_model_config

    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(tiny_model_config()))
    assert (
        main(
            [
                "train",
                "--config",
                "train_exp02_motion_transfer",
                "--output-dir",
                str(tmp_path),
                "--weights-dir",
                "w",
                "--model-config",
                str(config),
                "--dry-run",
            ]
        )
        == 0
    )
    import yaml

    resolved = yaml.safe_load(capsys.readouterr().out)
    assert resolved["unet"]["dim"] == tiny_model_config()["unet"]["dim"]
    assert "misc_dropout" not in resolved["unet"]  # the training config's own key
    assert resolved["frozen_models"]["vae"] == tiny_model_config()["vae"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from videocomposer.pipelines.demo import make_demo_video
    from videocomposer.pipelines.tiny import tiny_model_config, write_tiny_official_weights

    folder = tmp_path_factory.mktemp("readme")
    write_tiny_official_weights(folder / "weights", components=["unet", "vae", "clip", "midas"])
    (folder / "tiny.json").write_text(json.dumps(tiny_model_config()))
    make_demo_video(folder / "source.mp4", num_frames=20, height=48, width=64)
    return folder


def test_extract_accepts_a_converted_folder(tiny, tmp_path, capsys):
    """README: `generate` and `extract` accept a `convert` folder as --weights-dir."""
    converted = tmp_path / "converted"
    assert (
        main(
            [
                "convert",
                "--weights-dir",
                str(tiny / "weights"),
                "--model-config",
                str(tiny / "tiny.json"),
                "--conditions",
                "y,depth",
                "--output-dir",
                str(converted),
            ]
        )
        == 0
    )
    code = main(
        [
            "extract",
            "--input_video",
            str(tiny / "source.mp4"),
            "--output-dir",
            str(tmp_path / "c"),
            "--weights-dir",
            str(converted),
            "--conditions",
            "depth",
            "--frames",
            "2",
            "--resolution",
            "32",
        ]
    )
    assert code == 0, capsys.readouterr().err
    assert (tmp_path / "c" / "source_depth.mp4").is_file()
    code = main(
        [
            "extract",
            "--input_video",
            str(tiny / "source.mp4"),
            "--output-dir",
            str(tmp_path / "c"),
            "--weights-dir",
            str(converted),
            "--conditions",
            "sketch",
            "--overwrite",
        ]
    )
    assert code == 2 and "has no ['pidinet', 'sketch_cleaner']" in capsys.readouterr().err


def test_unet_file_takes_a_path(tiny, tmp_path, capsys, monkeypatch):
    """README: generate with a fine-tuned UNet via --unet-file runs/.../unet.safetensors (a path, not a name)."""
    import torch
    from safetensors.torch import save_file

    from videocomposer.checkpoints import read_state_dict

    checkpoint = tmp_path / "runs" / "step_00000001" / "unet.safetensors"
    checkpoint.parent.mkdir(parents=True)
    save_file(
        {k: torch.zeros_like(v) for k, v in read_state_dict(tiny / "weights" / "non_ema_228000.pth", "unet").items()},
        str(checkpoint),
    )  # another UNet than the official file's
    monkeypatch.chdir(tmp_path)
    common = [
        "generate",
        "compose",
        "--conditions",
        "y",
        "--weights-dir",
        str(tiny / "weights"),
        "--model-config",
        str(tiny / "tiny.json"),
        "--frames",
        "1",
        "--height",
        "32",
        "--width",
        "32",
        "--steps",
        "1",
        "--quiet",
    ]
    assert main(common + ["--unet-file", "runs/step_00000001/unet.safetensors", "--output-dir", "zero"]) == 0
    assert main(common + ["--output-dir", "official"]) == 0
    settings = (tmp_path / "zero" / "compose-S08888" / "settings.txt").read_text()
    assert f"unet_file: {checkpoint.resolve()}" in settings
    zero = (tmp_path / "zero" / "compose-S08888" / "compose-S08888_grid.gif").read_bytes()
    official = (tmp_path / "official" / "compose-S08888" / "compose-S08888_grid.gif").read_bytes()
    assert zero != official, "--unet-file did not change the UNet"
    capsys.readouterr()


def test_generate_on_cpu_prints_no_dtype_note_by_default(tiny, tmp_path, capsys):
    common = [
        "generate",
        "compose",
        "--conditions",
        "y",
        "--weights-dir",
        str(tiny / "weights"),
        "--model-config",
        str(tiny / "tiny.json"),
        "--frames",
        "1",
        "--height",
        "32",
        "--width",
        "32",
        "--steps",
        "1",
        "--quiet",
        "--device",
        "cpu",
        "--output-dir",
        str(tmp_path),
    ]
    assert main(common) == 0
    assert "--dtype" not in capsys.readouterr().err
    assert main(common + ["--dtype", "bfloat16", "--overwrite"]) == 0
    assert "note: --dtype bfloat16 is used on accelerators only" in capsys.readouterr().err
