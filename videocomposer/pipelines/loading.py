"""Loading and saving a pipeline, diffusers-style: the official weight files, or a ``save_pretrained`` folder.

A ``save_pretrained`` folder holds one sub-folder per component (``config.json`` + safetensors), the scheduler
component ``scheduler/scheduler_config.json`` and ``model_index.json`` (the components, the output size, the UNet's
source file and how the motion condition is made).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import torch

from ..checkpoints import OFFICIAL_FILES
from ..conditions import CONDITIONS, normalize_conditions
from .components import (
    COMPONENTS,
    INDEX_NAME,
    WEIGHTS_NAME,
    components_for,
    is_pretrained_folder,
    load_components,
    load_official_components,
    official_paths,
    read_index,
    save_component,
    write_index,
)
from .folder_settings import load_motion_settings, load_scheduler_config, output_defaults, save_scheduler_config

#: The weight file of each component in a ``save_pretrained`` folder (the VAE in diffusers' layout).
PRETRAINED_WEIGHTS = {n: "diffusion_pytorch_model.safetensors" if n == "vae" else WEIGHTS_NAME for n in COMPONENTS}


def pretrained_weight_files(
    folder: str | os.PathLike, names: Sequence[str], unet_file: str | os.PathLike | None = None
) -> dict[str, Path]:
    """The files :meth:`PretrainedMixin.from_pretrained` reads ``names`` from (absolute): ``<folder>/<name>/...``, the
    UNet from ``unet_file`` when that is the path of a file."""
    files = {n: (Path(folder) / n / PRETRAINED_WEIGHTS[n]).resolve() for n in names}
    if "unet" in files and unet_file is not None and Path(unet_file).is_file():
        files["unet"] = Path(unet_file).resolve()
    return files


#: The pipeline class a classmethod builds.
PipelineT = TypeVar("PipelineT", bound="PretrainedMixin")


class PretrainedMixin:
    """``from_official``, ``from_pretrained``, ``load`` and ``save_pretrained`` of
    :class:`~videocomposer.pipelines.VideoComposerPipeline`."""

    @classmethod
    def from_official(
        cls: type[PipelineT],
        weights_dir: str | os.PathLike,
        conditions: Sequence[str] | None = None,
        config: dict[str, Any] | None = None,
        unet_file: str | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> PipelineT:
        """Load the official weight files from ``weights_dir``, only the models ``conditions`` need.

        Args:
            weights_dir: folder with the published files (``non_ema_228000.pth``, ...).
            conditions: conditions the pipeline will be used with (UNet names or the reference's);
                default all eight. Depth needs MiDaS, sketches PiDiNet + the cleaner, ``image`` the CLIP
                image tower; the UNet, VAE and CLIP text tower are always loaded.
            config: architecture overrides by component (``{"unet": UNetConfig | dict, "clip": ...,
                "vae": ..., "midas": ..., "sketch_cleaner": ...}``), e.g.
                :func:`~videocomposer.pipelines.tiny.tiny_configs`.
            unet_file: UNet file name in ``weights_dir`` (default ``non_ema_228000.pth``).
            device, dtype: passed to :meth:`to`.
        Raises:
            WeightFileError: a file is missing (which, where looked, where published) or does not
                match its model (which keys).
        """
        conditions = normalize_conditions(conditions) if conditions is not None else list(CONDITIONS)
        names, towers = components_for(conditions)
        pipe = cls(**load_official_components(weights_dir, names, config, towers, unet_file)).to(device, dtype)
        pipe.unet_source = Path(unet_file or OFFICIAL_FILES["unet"].filename).name
        pipe.weight_files = {n: p.resolve() for n, p in official_paths(weights_dir, names, unet_file).items()}
        return pipe

    @classmethod
    def from_pretrained(
        cls: type[PipelineT],
        folder: str | os.PathLike,
        conditions: Sequence[str] | None = None,
        config: dict[str, Any] | None = None,
        unet_file: str | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> PipelineT:
        """Load a folder written by :meth:`save_pretrained`: every component in it, or only those
        ``conditions`` need, with its scheduler config and output size. ``unet_file`` (a path) loads other UNet
        weights onto the folder's UNet; ``config`` is refused (the folder records the architectures). See
        :func:`~videocomposer.pipelines.components.load_components`; a folder of the older layout (sampling settings
        in ``model_index.json``) loads with those settings: :func:`~videocomposer.pipelines.folder_settings.load_scheduler_config`."""
        folder = Path(folder)
        index = read_index(folder)
        if conditions is None:
            names, towers = [n for n in COMPONENTS if n in index], ()
        else:
            names, towers = components_for(normalize_conditions(conditions))
        scheduler_config = load_scheduler_config(folder)  # checked before any weights are read
        settings = index.get("pipeline_config", {})
        pipe = cls(**load_components(folder, names, config, towers, unet_file), scheduler_config=scheduler_config)
        # a bare file name only selects the folder's own UNet (see load_components): its source is the folder's
        pipe.unet_source = (
            Path(unet_file).name if unet_file and Path(unet_file).is_file() else settings.get("unet_file")
        )
        pipe.weight_files = pretrained_weight_files(folder, names, unet_file)
        pipe.motion_settings = load_motion_settings(folder)
        pipe.set_defaults(**output_defaults(settings, f"{folder / INDEX_NAME}: pipeline_config"))
        return pipe.to(device, dtype)

    @classmethod
    def load(cls: type[PipelineT], weights_dir: str | os.PathLike, **kwargs: Any) -> PipelineT:
        """:meth:`from_pretrained` for a ``save_pretrained`` folder, else :meth:`from_official` (same arguments)."""
        if is_pretrained_folder(weights_dir):
            return cls.from_pretrained(weights_dir, **kwargs)
        return cls.from_official(weights_dir, **kwargs)

    def components(self) -> dict[str, torch.nn.Module]:
        """The loaded network components by name."""
        return {n: getattr(self, n) for n in COMPONENTS if getattr(self, n) is not None}

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write one sub-folder per component (``config.json`` + safetensors), the scheduler component
        ``scheduler/scheduler_config.json`` (:attr:`scheduler_config`) and ``model_index.json`` (whose
        ``pipeline_config`` holds the output size, ``misc_size`` and the UNet's source file)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, module in self.components().items():
            save_component(name, module, folder)
        save_scheduler_config(self.scheduler_config, folder)
        settings = {
            **({"unet_file": self.unet_source} if self.unet_source else {}),
            "motion_condition": self.motion_settings.to_dict(),
            **self._output_defaults,
            **({"misc_size": self.misc_size} if self.misc_size is not None else {}),
        }
        write_index(folder, list(self.components()), settings)
        return folder
