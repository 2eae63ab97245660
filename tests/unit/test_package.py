"""The package's public names resolve, and light imports stay light."""
import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("package", ["videocomposer", "videocomposer.models", "videocomposer.annotators",
                                     "videocomposer.diffusion", "videocomposer.pipelines", "videocomposer.training",
                                     "videocomposer.checkpoints", "videocomposer.app"])
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError, match="no_such_name"):
        getattr(module, "no_such_name")


def test_importing_the_unet_does_not_import_diffusers():
    code = "import sys, videocomposer, videocomposer.models.unet; print('diffusers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_command_line_parser_does_not_import_gradio():
    code = "import sys; from videocomposer.cli import build_parser; build_parser(['ui']); print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_application_layer_knows_no_front_end():
    """videocomposer.app imports neither argparse nor gradio, nor the command line or the web app."""
    folder = Path(__file__).resolve().parents[2] / "videocomposer" / "app"
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        parts = {part for name in names for part in name.split(".")}
        assert not parts & {"argparse", "gradio", "cli", "ui"}, f"{path.name} imports {sorted(names)}"
