"""The pipeline's components: which conditions need which, loading the official files, and the
``save_pretrained`` folder layout.

Component names are those of :data:`videocomposer.checkpoints.OFFICIAL_FILES`: ``unet``, ``clip``,
``vae``, ``midas``, ``pidinet``, ``sketch_cleaner``. A ``save_pretrained`` folder holds one sub-folder
per component with ``config.json`` and ``model.safetensors`` (the VAE in diffusers' own layout:
``config.json`` + ``diffusion_pytorch_model.safetensors``), the scheduler component
``scheduler/scheduler_config.json`` (:mod:`.folder_settings`) and a top-level ``model_index.json``.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file
from torch import nn

from ..annotators.midas import MiDaS, MidasConfig
from ..annotators.pidinet import PiDiNet
from ..annotators.sketch import SketchCleaner, SketchCleanerConfig
from ..checkpoints import (
    OFFICIAL_FILES,
    WeightFileError,
    check_safetensors,
    check_state_dict,
    load_strict,
    missing_file_error,
    read_state_dict,
)
from ..conditions import models_needed
from ..config import ConfigError, build, read_json_file
from ..files import atomic_path, write_text
from ..models.clip import OpenCLIP, OpenCLIPConfig
from ..models.unet import UNetConfig, VideoComposerUNet
from ..models.vae import VAEConfig, load_vae

COMPONENTS: tuple[str, ...] = ("unet", "vae", "clip", "midas", "pidinet", "sketch_cleaner")
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
INDEX_NAME = "model_index.json"
#: ``model_index.json``'s entry for the scheduler component (``scheduler/scheduler_config.json``, see
#: :mod:`.folder_settings`): ``[module, class]``, as for the networks.
SCHEDULER_INDEX_ENTRY = ["videocomposer.diffusion", "SchedulerConfig"]
#: What to do about a missing, truncated or malformed file of a model folder.
FOLDER_FIX = "copy the whole model folder again"


def components_for(conditions: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """The components the conditions need, and the CLIP towers.

    The UNet, VAE and CLIP text tower are always needed (the text tower also gives ``zero_y``, the
    empty-caption context of the unconditional pass); the image tower only for ``image``.
    """
    models = models_needed(conditions)
    names = ["unet", "vae", "clip"] + [m for m in ("midas", "pidinet", "sketch_cleaner") if m in models]
    towers = ("text", "image") if "clip:image" in models else ("text",)
    return names, towers


@dataclass(frozen=True)
class ComponentClass:
    """A class a component may be: its import name (recorded in ``model_index.json``), how its config is
    parsed, how it loads from an official file and how it is built from a ``config.json``."""

    module: str
    name: str
    config: type | None
    parse: Callable[[Mapping[str, Any]], Any] | None
    official: Callable[[Path, Any, Sequence[str]], nn.Module]
    build: Callable[[Mapping[str, Any]], nn.Module] | None  # None: the class has its own save/load (diffusers)

    @property
    def index_entry(self) -> list[str]:
        return [self.module, self.name]


#: The one class of each component (``model_index.json`` records it; loading dispatches on it).
COMPONENT_CLASSES: dict[str, ComponentClass] = {
    "unet": ComponentClass(
        "videocomposer.models.unet",
        "VideoComposerUNet",
        UNetConfig,
        lambda d: build(UNetConfig, d),
        lambda path, cfg, towers: VideoComposerUNet.from_official(path, cfg),
        lambda info: VideoComposerUNet(build(UNetConfig, info.get("config", {}))),
    ),
    "vae": ComponentClass(
        "diffusers",
        "AutoencoderKL",
        VAEConfig,
        VAEConfig.from_dict,
        lambda path, cfg, towers: load_vae(path, cfg),
        None,
    ),
    "clip": ComponentClass(
        "videocomposer.models.clip",
        "OpenCLIP",
        OpenCLIPConfig,
        OpenCLIPConfig.from_dict,
        lambda path, cfg, towers: OpenCLIP.from_official(path, cfg, towers=towers),
        lambda info: OpenCLIP(OpenCLIPConfig.from_dict(info.get("config", {})), towers=tuple(info["towers"])),
    ),
    "midas": ComponentClass(
        "videocomposer.annotators.midas",
        "MiDaS",
        MidasConfig,
        MidasConfig.from_dict,
        lambda path, cfg, towers: MiDaS.from_official(path, cfg),
        lambda info: MiDaS(MidasConfig.from_dict(info.get("config", {}))),
    ),
    "pidinet": ComponentClass(
        "videocomposer.annotators.pidinet",
        "PiDiNet",
        None,
        None,
        lambda path, cfg, towers: PiDiNet.from_official(path),
        lambda info: PiDiNet(),
    ),
    "sketch_cleaner": ComponentClass(
        "videocomposer.annotators.sketch",
        "SketchCleaner",
        SketchCleanerConfig,
        SketchCleanerConfig.from_dict,
        lambda path, cfg, towers: SketchCleaner.from_official(path, cfg),
        lambda info: SketchCleaner(SketchCleanerConfig.from_dict(info.get("config", {}))),
    ),
}


def architecture_config(name: str, value: Any) -> Any:
    """An architecture override (the component's config dataclass, or a dict parsed into it)."""
    component = COMPONENT_CLASSES[name]
    if value is None or (component.config is not None and isinstance(value, component.config)):
        return value
    if isinstance(value, Mapping) and component.parse is not None:
        return component.parse(value)
    expected = component.config.__name__ if component.config else "nothing (it has no architecture options)"
    raise ValueError(f"config for {name} must be a {expected} or a dict, got {type(value).__name__}")


def official_paths(
    weights_dir: str | os.PathLike, names: Sequence[str], unet_file: str | None = None
) -> dict[str, Path]:
    """The official file of each component in ``weights_dir``; one error listing every missing file."""
    weights_dir = Path(weights_dir)
    if not weights_dir.is_dir():
        raise FileNotFoundError(
            f"weights folder not found: {weights_dir.resolve()}\n"
            f"  download the official files (see the README's weights table) into one folder "
            f"and pass it with --weights-dir"
        )
    paths = {n: weights_dir / (unet_file if n == "unet" and unet_file else OFFICIAL_FILES[n].filename) for n in names}
    missing = [str(missing_file_error(p, n)) for n, p in paths.items() if not p.is_file()]
    if missing:
        raise WeightFileError(
            f"{len(missing)} weight file(s) missing for the requested conditions:\n" + "\n".join(missing)
        )
    return paths


def load_official_component(name: str, path: Path, config: Any = None, towers: Sequence[str] = ("text",)) -> nn.Module:
    """Load one component from its official file; ``config`` (dataclass or dict) overrides the official architecture."""
    if name not in COMPONENT_CLASSES:
        raise ValueError(f"unknown component {name!r}; expected one of {COMPONENTS}")
    return COMPONENT_CLASSES[name].official(path, architecture_config(name, config), towers)


def load_official_components(
    weights_dir: str | os.PathLike,
    names: Sequence[str],
    config: Mapping[str, Any] | None = None,
    towers: Sequence[str] = ("text",),
    unet_file: str | None = None,
) -> dict[str, nn.Module]:
    """``names`` from the official files in ``weights_dir`` (every file checked before any is read);
    ``config``: architecture overrides by component name."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(COMPONENTS))
    if unknown:
        raise ValueError(f"config has unknown component(s) {unknown}; expected some of {list(COMPONENTS)}")
    paths = official_paths(weights_dir, names, unet_file)
    return {n: load_official_component(n, paths[n], config.get(n), towers) for n in names}


def load_components(
    weights_dir: str | os.PathLike,
    names: Sequence[str],
    config: Mapping[str, Any] | None = None,
    towers: Sequence[str] = ("text",),
    unet_file: str | None = None,
) -> dict[str, nn.Module]:
    """``names`` from ``weights_dir``: the folder of official files, or a ``save_pretrained`` folder
    (``videocomposer convert``), where every argument is honoured or refused with a clear error:

    * ``config``: refused (the folder's ``config.json`` files record the architectures);
    * ``towers``: the folder's CLIP must have them;
    * ``unet_file``: the path of a UNet file is loaded onto the folder's UNet architecture; a bare file
      name must be the one the folder was converted from.
    """
    if not is_pretrained_folder(weights_dir):
        return load_official_components(weights_dir, names, config, towers, unet_file)
    folder = Path(weights_dir)
    index = read_index(folder)
    if config:
        raise ValueError(
            f"an architecture config (--model-config) applies to official weight files only; {folder} is a "
            "save_pretrained / convert folder whose config.json files record the architectures: leave it out"
        )
    absent = [n for n in names if n not in index]
    if absent:
        raise WeightFileError(
            f"{folder} (a save_pretrained / convert folder) has no {absent}: convert again "
            "without --conditions, or pass the folder of official weight files"
        )
    modules = {n: load_component(n, folder) for n in names}
    if "clip" in modules and not set(towers) <= set(modules["clip"].towers):
        raise WeightFileError(
            f"{folder}: its CLIP has the {list(modules['clip'].towers)} tower(s), the conditions need "
            f"{list(towers)}: convert again with those conditions (or without --conditions)"
        )
    if unet_file is not None and "unet" in modules:
        modules["unet"] = _pretrained_unet(folder, index, modules["unet"], unet_file)
    return modules


def _pretrained_unet(folder: Path, index: Mapping[str, Any], unet: nn.Module, unet_file: str) -> nn.Module:
    """The folder's UNet, or the weights of the file ``unet_file`` names on its architecture."""
    if Path(unet_file).is_file():
        return VideoComposerUNet.from_official(unet_file, unet.config).eval().requires_grad_(False)
    source = index.get("pipeline_config", {}).get("unet_file", OFFICIAL_FILES["unet"].filename)
    if Path(unet_file).name != source:
        raise WeightFileError(
            f"{folder} holds the UNet converted from {source}, not {unet_file}: pass the path of "
            f"{unet_file}, or convert again with --unet-file {unet_file}"
        )
    return unet


# ----------------------------------------------------------------------------------------------
# save_pretrained / from_pretrained layout
# ----------------------------------------------------------------------------------------------


def _describe(name: str, module: nn.Module) -> dict[str, Any]:
    """``config.json`` content: the class and the architecture needed to rebuild the module."""
    info: dict[str, Any] = {"_class_name": type(module).__name__}
    config = getattr(module, "config", None)
    if dataclasses.is_dataclass(config):
        info["config"] = dataclasses.asdict(config)
    if name == "clip":
        info["towers"] = list(module.towers)
    return info


def _component_class(name: str, folder: Path) -> ComponentClass:
    """The class ``model_index.json`` records for ``name``, if it is one this version builds."""
    recorded = read_index(folder).get(name)
    known = COMPONENT_CLASSES.get(name)
    if known is None or recorded != known.index_entry:
        raise WeightFileError(
            f"{folder / INDEX_NAME} records {name} as {recorded!r}; this version loads "
            f"{name} only as {known.index_entry if known else 'nothing'} (convert the weights again)"
        )
    return known


def save_component(name: str, module: nn.Module, folder: Path) -> None:
    """Write ``folder/<name>/`` (config + safetensors weights, each file atomically)."""
    target = folder / name
    if COMPONENT_CLASSES[name].build is None:  # diffusers' AutoencoderKL: its own layout
        module.save_pretrained(target, safe_serialization=True)
        return
    target.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    with atomic_path(target / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp))
    write_text(target / CONFIG_NAME, json.dumps(_describe(name, module), indent=2) + "\n")


def load_component(name: str, folder: Path) -> nn.Module:
    """Load ``folder/<name>/`` written by :func:`save_component` (strictly), frozen and in eval mode.

    Raises:
        ConfigError: its ``config.json`` is missing, truncated or describes no model this version builds.
        WeightFileError: its weights file is missing, truncated or does not match that model.
    """
    target = folder / name
    component = _component_class(name, folder)
    config_file = target / CONFIG_NAME
    info = read_json_file(config_file, f"the {name} configuration save_pretrained writes", FOLDER_FIX)
    if component.build is None:  # diffusers' AutoencoderKL
        return _load_diffusers_vae(target).eval().requires_grad_(False)
    weights = target / WEIGHTS_NAME
    try:
        with torch.device("meta"):
            module = component.build(info)
    except Exception as exc:  # a config.json this version cannot build from: name it, not the constructor's line
        raise ConfigError(
            f"{config_file}: describes no {name} this version builds ({type(exc).__name__}: {exc})"
        ) from None
    state = read_state_dict(weights)
    check_state_dict(module, state, weights)  # on the meta device: a mismatch allocates nothing
    module.to_empty(device="cpu")
    load_strict(module, state, weights)
    return module.eval().requires_grad_(False)


def _load_diffusers_vae(target: Path) -> nn.Module:
    """diffusers' ``AutoencoderKL`` from ``target`` (its weights checked first); its errors name the folder."""
    weights = target / "diffusion_pytorch_model.safetensors"
    if not weights.is_file():
        raise missing_file_error(weights)
    check_safetensors(weights)
    try:
        # low_cpu_mem_usage=False: the same load, without diffusers' "install accelerate" warning
        return AutoencoderKL.from_pretrained(target, local_files_only=True, low_cpu_mem_usage=False)
    except Exception as exc:  # diffusers reports a bad folder with many types; one message naming it
        raise WeightFileError(
            f"cannot load the VAE in {target} ({type(exc).__name__}: {exc}); expected the folder "
            "AutoencoderKL.save_pretrained writes (config.json and diffusion_pytorch_model.safetensors): copy the "
            "whole model folder again"
        ) from None


def write_index(folder: Path, components: Sequence[str], pipeline_config: Mapping[str, Any]) -> None:
    """``model_index.json``: the pipeline class, ``{component: [module, class]}`` (the networks, the tokenizer and the
    scheduler) and ``pipeline_config``, the pipeline's own settings (output size, the UNet's source file)."""
    from .. import __version__

    index = {
        "_class_name": "VideoComposerPipeline",
        "_videocomposer_version": __version__,
        **{c: COMPONENT_CLASSES[c].index_entry for c in components},
        "tokenizer": ["videocomposer.models.tokenizer", "CLIPTokenizer"],
        "scheduler": SCHEDULER_INDEX_ENTRY,
        "pipeline_config": dict(pipeline_config),
    }
    write_text(folder / INDEX_NAME, json.dumps(index, indent=2) + "\n")


def read_index(folder: str | os.PathLike) -> dict[str, Any]:
    """Read ``model_index.json``; a clear error when ``folder`` is not a ``save_pretrained`` folder, or when the file
    is truncated or malformed (:class:`~videocomposer.config.ConfigError` naming it)."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} not found: {folder} is not a folder written by save_pretrained "
            f"(for the official weight files use from_official)"
        )
    index = read_json_file(path, "the model_index.json save_pretrained writes", FOLDER_FIX)
    if index.get("_class_name") != "VideoComposerPipeline":
        raise ConfigError(f"{path} describes a {index.get('_class_name')!r}, not a VideoComposerPipeline")
    if not isinstance(index.get("pipeline_config", {}), dict):
        raise ConfigError(f"{path}: pipeline_config must be an object of the pipeline's settings")
    return index


def is_pretrained_folder(folder: str | os.PathLike) -> bool:
    return (Path(folder) / INDEX_NAME).is_file()


__all__ = [
    "COMPONENTS",
    "COMPONENT_CLASSES",
    "architecture_config",
    "SCHEDULER_INDEX_ENTRY",
    "ComponentClass",
    "components_for",
    "is_pretrained_folder",
    "load_component",
    "load_components",
    "load_official_component",
    "load_official_components",
    "official_paths",
    "read_index",
    "save_component",
    "write_index",
]
