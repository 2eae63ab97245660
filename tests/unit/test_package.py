"""The package's public names resolve, and light imports stay light."""
import importlib
import subprocess
import sys

import pytest


@pytest.mark.parametrize("package", ["videocomposer", "videocomposer.models", "videocomposer.annotators",
                                     "videocomposer.diffusion", "videocomposer.pipelines", "videocomposer.training",
                                     "videocomposer.checkpoints"])
def test_every_exported_name_resolves(package):
    module = importlib.import_module(package)
    for name in module.__all__:
        assert getattr(module, name) is not None, f"{package}.{name}"
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = module.no_such_name


def test_importing_the_unet_does_not_import_diffusers():
    code = "import sys, videocomposer, videocomposer.models.unet; print('diffusers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_command_line_parser_does_not_import_gradio():
    code = "import sys; from videocomposer.cli import build_parser; build_parser(); print('gradio' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
