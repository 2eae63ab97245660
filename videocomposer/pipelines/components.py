"""The pipeline's components: which conditions need which, loading the official files, and the
``save_pretrained`` folder layout.

Component names are those of :data:`videocomposer.checkpoints.OFFICIAL_FILES`: ``unet``, ``clip``,
``vae``, ``midas``, ``pidinet``, ``sketch_cleaner``. A ``save_pretrained`` folder holds one sub-folder
per component with ``config.json`` and ``model.safetensors`` (the VAE in diffusers' own layout:
``config.json`` + ``diffusion_pytorch_model.safetensors``) and a top-level ``model_index.json``.
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch
from diffusers import AutoencoderKL
from safetensors.torch import save_file
from torch import nn

from ..annotators.midas import MiDaS, MidasConfig
from ..annotators.pidinet import PiDiNet
from ..annotators.sketch import SketchCleaner, SketchCleanerConfig
from ..checkpoints import OFFICIAL_FILES, WeightFileError, load_strict, missing_file_error, read_state_dict
from ..conditions import models_needed
from ..models.clip import OpenCLIP, OpenCLIPConfig
from ..models.unet import UNetConfig, VideoComposerUNet
from ..models.vae import load_vae
from ..files import atomic_path, write_text

COMPONENTS: tuple[str, ...] = ("unet", "vae", "clip", "midas", "pidinet", "sketch_cleaner")
WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
INDEX_NAME = "model_index.json"


def components_for(conditions: Sequence[str]) -> tuple[list[str], tuple[str, ...]]:
    """The components the conditions need, and the CLIP towers.

    The UNet, VAE and CLIP text tower are always needed (the text tower also gives ``zero_y``, the
    empty-caption context of the unconditional pass); the image tower only for ``image``.
    """
    models = models_needed(conditions)
    names = ["unet", "vae", "clip"] + [m for m in ("midas", "pidinet", "sketch_cleaner") if m in models]
    towers = ("text", "image") if "clip:image" in models else ("text",)
    return names, towers


def _config(value: Any, cls: type, parse) -> Any:
    if value is None or isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return parse(value)
    raise ValueError(f"config for {cls.__name__} must be a {cls.__name__} or a dict, got {type(value).__name__}")


def official_paths(weights_dir: str | os.PathLike, names: Sequence[str], unet_file: str | None = None) -> dict[str, Path]:
    """The official file of each component in ``weights_dir``; one error listing every missing file."""
    weights_dir = Path(weights_dir)
    if not weights_dir.is_dir():
        raise FileNotFoundError(f"weights folder not found: {weights_dir.resolve()}\n"
                                f"  download the official files (see the README's weights table) into one folder "
                                f"and pass it with --weights-dir")
    paths = {n: weights_dir / (unet_file if n == "unet" and unet_file else OFFICIAL_FILES[n].filename) for n in names}
    missing = [str(missing_file_error(p, n)) for n, p in paths.items() if not p.is_file()]
    if missing:
        raise WeightFileError(f"{len(missing)} weight file(s) missing for the requested conditions:\n" + "\n".join(missing))
    return paths


def load_official_component(name: str, path: Path, config: Any = None, towers: Sequence[str] = ("text",)) -> nn.Module:
    """Load one component from its official file; ``config`` (dataclass or dict) overrides the official architecture."""
    if name == "unet":
        return VideoComposerUNet.from_official(path, _config(config, UNetConfig, lambda d: UNetConfig(**d)))
    if name == "clip":
        return OpenCLIP.from_official(path, _config(config, OpenCLIPConfig, OpenCLIPConfig.from_dict), towers=towers)
    if name == "vae":
        return load_vae(path, config)
    if name == "midas":
        return MiDaS.from_official(path, _config(config, MidasConfig, MidasConfig.from_dict))
    if name == "pidinet":
        return PiDiNet.from_official(path)
    if name == "sketch_cleaner":
        return SketchCleaner.from_official(path, _config(config, SketchCleanerConfig, SketchCleanerConfig.from_dict))
    raise ValueError(f"unknown component {name!r}; expected one of {COMPONENTS}")


def load_official_components(weights_dir: str | os.PathLike, names: Sequence[str], config: Mapping[str, Any] | None = None,
                             towers: Sequence[str] = ("text",), unet_file: str | None = None) -> dict[str, nn.Module]:
    """``names`` from the official files in ``weights_dir`` (every file checked before any is read);
    ``config``: architecture overrides by component name."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(COMPONENTS))
    if unknown:
        raise ValueError(f"config has unknown component(s) {unknown}; expected some of {list(COMPONENTS)}")
    paths = official_paths(weights_dir, names, unet_file)
    return {n: load_official_component(n, paths[n], config.get(n), towers) for n in names}


def load_components(weights_dir: str | os.PathLike, names: Sequence[str], config: Mapping[str, Any] | None = None,
                    towers: Sequence[str] = ("text",), unet_file: str | None = None) -> dict[str, nn.Module]:
    """``names`` from ``weights_dir``: a ``save_pretrained`` folder (``videocomposer convert``; ``config``,
    ``towers`` and ``unet_file`` are then fixed by the folder) or the folder of official files."""
    if not is_pretrained_folder(weights_dir):
        return load_official_components(weights_dir, names, config, towers, unet_file)
    absent = [n for n in names if n not in read_index(weights_dir)]
    if absent:
        raise WeightFileError(f"{weights_dir} (a save_pretrained / convert folder) has no {absent}: convert again "
                              "without --conditions, or pass the folder of official weight files")
    return {n: load_component(n, Path(weights_dir)) for n in names}


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


def _build(name: str, info: Mapping[str, Any]) -> nn.Module:
    config = info.get("config", {})
    if name == "unet":
        return VideoComposerUNet(UNetConfig(**config))
    if name == "clip":
        return OpenCLIP(OpenCLIPConfig.from_dict(config), towers=tuple(info["towers"]))
    if name == "midas":
        return MiDaS(MidasConfig.from_dict(config))
    if name == "pidinet":
        return PiDiNet()
    if name == "sketch_cleaner":
        return SketchCleaner(SketchCleanerConfig.from_dict(config))
    raise ValueError(f"unknown component {name!r} in the pretrained folder")


def save_component(name: str, module: nn.Module, folder: Path) -> None:
    """Write ``folder/<name>/`` (config + safetensors weights, each file atomically)."""
    target = folder / name
    if name == "vae":
        module.save_pretrained(target, safe_serialization=True)
        return
    target.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}
    with atomic_path(target / WEIGHTS_NAME) as tmp:
        save_file(state, str(tmp))
    write_text(target / CONFIG_NAME, json.dumps(_describe(name, module), indent=2) + "\n")


def load_component(name: str, folder: Path) -> nn.Module:
    """Load ``folder/<name>/`` written by :func:`save_component` (strictly), frozen and in eval mode."""
    target = folder / name
    if name == "vae":
        # low_cpu_mem_usage=False: the same load, without diffusers' "install accelerate" warning
        module = AutoencoderKL.from_pretrained(target, local_files_only=True, low_cpu_mem_usage=False)
    else:
        config_file, weights = target / CONFIG_NAME, target / WEIGHTS_NAME
        if not config_file.is_file():
            raise FileNotFoundError(f"{config_file} not found: {folder} is not a complete save_pretrained folder")
        with torch.device("meta"):
            module = _build(name, json.loads(config_file.read_text()))
        module.to_empty(device="cpu")
        load_strict(module, read_state_dict(weights), weights)
    return module.eval().requires_grad_(False)


def write_index(folder: Path, components: Sequence[str], pipeline_config: Mapping[str, Any]) -> None:
    """``model_index.json``: the pipeline class, ``{component: [module, class]}`` and the pipeline's own settings."""
    classes = {"unet": ["videocomposer.models.unet", "VideoComposerUNet"],
               "vae": ["diffusers", "AutoencoderKL"],
               "clip": ["videocomposer.models.clip", "OpenCLIP"],
               "midas": ["videocomposer.annotators.midas", "MiDaS"],
               "pidinet": ["videocomposer.annotators.pidinet", "PiDiNet"],
               "sketch_cleaner": ["videocomposer.annotators.sketch", "SketchCleaner"]}
    from .. import __version__

    index = {"_class_name": "VideoComposerPipeline", "_videocomposer_version": __version__,
             **{c: classes[c] for c in components},
             "tokenizer": ["videocomposer.models.tokenizer", "CLIPTokenizer"],
             "pipeline_config": dict(pipeline_config)}
    write_text(folder / INDEX_NAME, json.dumps(index, indent=2) + "\n")


def read_index(folder: str | os.PathLike) -> dict[str, Any]:
    """Read ``model_index.json``; a clear error when ``folder`` is not a ``save_pretrained`` folder."""
    path = Path(folder) / INDEX_NAME
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {folder} is not a folder written by save_pretrained "
                                f"(for the official weight files use from_official)")
    index = json.loads(path.read_text())
    if index.get("_class_name") != "VideoComposerPipeline":
        raise ValueError(f"{path} describes a {index.get('_class_name')!r}, not a VideoComposerPipeline")
    return index


def is_pretrained_folder(folder: str | os.PathLike) -> bool:
    return (Path(folder) / INDEX_NAME).is_file()


__all__ = ["COMPONENTS", "components_for", "is_pretrained_folder", "load_component", "load_components",
           "load_official_component", "load_official_components", "official_paths", "read_index", "save_component",
           "write_index"]
