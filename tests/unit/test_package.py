"""The package's public names resolve, light imports stay light, the package stands without the repository's
``recipes/``, and its data files are declared."""

import ast
import fnmatch
import importlib
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    "package",
    [
        "videocomposer",
        "videocomposer.models",
        "videocomposer.annotators",
        "videocomposer.diffusion",
        "videocomposer.pipelines",
        "videocomposer.training",
        "videocomposer.checkpoints",
        "videocomposer.app",
    ],
)
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
    code = (
        "import sys; from videocomposer.cli import build_parser; build_parser(['ui']); print('gradio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


PACKAGE = Path(__file__).resolve().parents[2] / "videocomposer"


def _imported_modules(tree: ast.Module) -> set[str]:
    """Absolute module names a file imports (``import x``, ``from x import y``, ``importlib.import_module("x")``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_nothing_in_the_package_imports_the_recipes():
    """``recipes/`` (how the toy model is made) sits outside the package and is not installed with it."""
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 50
    offenders = [
        f"{path.relative_to(PACKAGE.parent)}: {name}"
        for path in files
        for name in _imported_modules(ast.parse(path.read_text(encoding="utf-8")))
        if name == "recipes" or name.startswith("recipes.")
    ]
    assert not offenders
    assert _imported_modules(ast.parse("import recipes.toy\nfrom recipes import toy")) == {"recipes.toy", "recipes"}


def test_every_packaged_asset_is_declared_package_data():
    """A file under ``videocomposer/assets`` that no package-data pattern names would be missing from a wheel."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    patterns = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assets = [p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "assets").rglob("*") if p.is_file()]
    assert any(a.startswith("assets/demo/") for a in assets) and any(a.startswith("assets/toy_model/") for a in assets)
    undeclared = [
        a
        for a in assets
        if not any(fnmatch.fnmatchcase(a, p) and a.count("/") == p.count("/") for p in patterns["videocomposer"])
    ]
    assert not undeclared


def test_the_application_layer_knows_no_front_end():
    """videocomposer.app imports neither argparse nor gradio, nor the command line or the web app."""
    folder = Path(__file__).resolve().parents[2] / "videocomposer" / "app"
    for path in sorted(folder.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        names |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        parts = {part for name in names for part in name.split(".")}
        assert not parts & {"argparse", "gradio", "cli", "ui"}, f"{path.name} imports {sorted(names)}"


def test_the_ui_extra_never_downgrades_a_package_of_the_base_install():
    """Every package the base install shares with the installed gradio (the ui extra) is bounded as tightly as gradio
    bounds it: the newest versions gradio refuses are refused by the base install too, so adding ``.[ui]`` later
    changes nothing installed (pillow: gradio 6 requires pillow<13)."""
    tomllib = pytest.importorskip("tomllib")
    metadata = pytest.importorskip("importlib.metadata")
    requirements = pytest.importorskip("packaging.requirements")
    try:
        gradio = [requirements.Requirement(r) for r in metadata.requires("gradio") or []]
    except metadata.PackageNotFoundError:
        pytest.skip("gradio (the ui extra) is not installed")
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]
    ours = {r.name.lower(): r for r in map(requirements.Requirement, project["dependencies"])}
    assert "gradio>=6,<7" in project["optional-dependencies"]["ui"]
    shared = [r for r in gradio if r.name.lower() in ours and r.marker is None]
    assert "pillow" in {r.name.lower() for r in shared}
    for theirs in shared:
        for bound in theirs.specifier:
            if bound.operator in ("<", "<="):
                refused = bound.version if bound.operator == "<" else f"{bound.version}.post1"
                assert not ours[theirs.name.lower()].specifier.contains(refused, prereleases=True), (
                    f"pyproject.toml allows {theirs.name} {refused}, which gradio refuses ({theirs}): installing the "
                    "ui extra would downgrade it"
                )
