"""Tiny, randomly initialised weights written in the six OFFICIAL file formats.

Used by the tests and by ``videocomposer demo``: the files go through exactly the loaders the real
weights go through (:meth:`VideoComposerPipeline.from_official`), only the architectures are small.
Nothing here is a trained model — its videos are noise-like by design.

File formats (as published; see ``videocomposer.checkpoints.OFFICIAL_FILES``):

=============================== =====================================================================
``non_ema_228000.pth``          pickled flat UNet state dict
``open_clip_pytorch_model.bin`` pickled flat open_clip state dict (text tower at the root, ``visual.*``)
``v2-1_512-ema-pruned.ckpt``    ``{'state_dict': {'first_stage_model.<LDM key>': ...}}`` (SD checkpoint)
``midas_v3_dpt_large.pth``      pickled flat MiDaS state dict
``table5_pidinet.pth``          ``{'state_dict': {'module.<key>': ...}}``, raw 3x3 pixel-difference kernels
``sketch_simplification_gan.pth`` pickled flat state dict (``layers.<i>.*``)
=============================== =====================================================================

PiDiNet has one fixed architecture, so it is written at full size (0.7 M parameters); everything
else uses :func:`tiny_configs`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..annotators.midas import MiDaS, MidasConfig
from ..annotators.pidinet import PiDiNet
from ..annotators.sketch import SketchCleaner, SketchCleanerConfig
from ..checkpoints import OFFICIAL_FILES
from ..files import atomic_path
from ..models.clip import CLIPTextConfig, CLIPVisionConfig, OpenCLIP, OpenCLIPConfig
from ..models.unet import UNetConfig, VideoComposerUNet
from ..models.vae import VAEConfig, build_vae

#: Width of the tiny text/image embeddings (= the tiny UNet's context_dim).
TINY_CONTEXT_DIM = 32


def tiny_configs() -> dict[str, Any]:
    """Architectures of the tiny models, by component (pass as ``from_official(..., config=...)``).

    The UNet has 2 levels (latent sides must be even), context width 32; the VAE keeps SD's 8x
    downsampling with 32/64 channels; CLIP is a 2-layer, 32-wide ViT/text pair; MiDaS and the sketch
    cleaner are :meth:`MidasConfig.tiny` and :meth:`SketchCleanerConfig.tiny`.
    """
    return {
        "unet": UNetConfig(
            dim=32,
            context_dim=TINY_CONTEXT_DIM,
            dim_mult=(1, 2),
            num_heads=2,
            head_dim=16,
            num_res_blocks=1,
            attn_scales=(1.0,),
            dropout=0.0,
            use_checkpoint=False,
            temporal_conv_dropout=0.0,
            stc_dropout=0.0,
        ),
        "clip": OpenCLIPConfig(
            embed_dim=TINY_CONTEXT_DIM,
            vision_cfg=CLIPVisionConfig(image_size=224, patch_size=32, width=32, layers=2, head_width=16),
            text_cfg=CLIPTextConfig(width=TINY_CONTEXT_DIM, heads=2, layers=2),
        ),
        "vae": VAEConfig(ch=32, ch_mult=[1, 2, 2, 2], num_res_blocks=1),
        "midas": MidasConfig.tiny(),
        "sketch_cleaner": SketchCleanerConfig.tiny(),
    }


def _seeded(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """Build a module with its default random init drawn from ``seed`` (the global RNG is left untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def _save(obj: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


# ----------------------------------------------------------------------------------------------
# diffusers AutoencoderKL keys -> LDM (Stable Diffusion checkpoint) keys
# ----------------------------------------------------------------------------------------------

_VAE_RENAMES = (
    (r"^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\.", lambda m, n: f"encoder.down.{m[1]}.block.{m[2]}."),
    (r"^encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", lambda m, n: f"encoder.down.{m[1]}.downsample."),
    (r"^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\.", lambda m, n: f"decoder.up.{n - 1 - int(m[1])}.block.{m[2]}."),
    (r"^decoder\.up_blocks\.(\d+)\.upsamplers\.0\.", lambda m, n: f"decoder.up.{n - 1 - int(m[1])}.upsample."),
    (r"\.mid_block\.resnets\.(\d+)\.", lambda m, n: f".mid.block_{int(m[1]) + 1}."),
    (r"\.mid_block\.attentions\.0\.", lambda m, n: ".mid.attn_1."),
    (r"\.group_norm\.", lambda m, n: ".norm."),
    (r"\.to_([qkv])\.", lambda m, n: f".{m[1]}."),
    (r"\.to_out\.0\.", lambda m, n: ".proj_out."),
    (r"\.conv_shortcut\.", lambda m, n: ".nin_shortcut."),
    (r"\.conv_norm_out\.", lambda m, n: ".norm_out."),
)


def vae_state_dict_to_ldm(state_dict: dict[str, torch.Tensor], num_levels: int) -> dict[str, torch.Tensor]:
    """diffusers ``AutoencoderKL`` state dict → the LDM layout of SD checkpoints (the inverse of
    diffusers' ``convert_ldm_vae_checkpoint``): blocks renamed, decoder levels reversed, and the
    mid-block attention's Linear weights ``[C, C]`` stored as 1x1 convolutions ``[C, C, 1, 1]``."""
    out = {}
    for key, value in state_dict.items():
        new = key
        for pattern, replace in _VAE_RENAMES:
            new = re.sub(pattern, lambda m, replace=replace: replace(m, num_levels), new)
        if ".mid.attn_1." in new and new.endswith(".weight") and value.ndim == 2:
            value = value[:, :, None, None]
        out[new] = value
    return out


# ----------------------------------------------------------------------------------------------
# Writer
# ----------------------------------------------------------------------------------------------


def tiny_model_config() -> dict[str, dict[str, Any]]:
    """:func:`tiny_configs` as plain JSON-able dicts (the format of ``videocomposer ... --model-config FILE``)."""
    return {name: dataclasses.asdict(config) for name, config in tiny_configs().items()}


def write_tiny_official_weights(
    folder: str | os.PathLike,
    seed: int = 0,
    unet_filename: str | None = None,
    configs: dict[str, Any] | None = None,
    components: Sequence[str] = tuple(OFFICIAL_FILES),
) -> dict[str, Any]:
    """Write tiny random models in the official file formats into ``folder``.

    Args:
        folder: created if needed; existing files are replaced (atomically).
        seed: each model's random init is drawn from ``seed + i`` (the global RNG is untouched).
        unet_filename: name of the UNet file (default ``non_ema_228000.pth``).
        configs: architectures (default :func:`tiny_configs`).
        components: which files to write (default all six: ``unet``, ``clip``, ``vae``, ``midas``,
            ``pidinet``, ``sketch_cleaner``).
    Returns:
        The configs used, to pass to ``VideoComposerPipeline.from_official(folder, config=...)``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    configs = configs or tiny_configs()
    unknown = sorted(set(components) - set(OFFICIAL_FILES))
    if unknown:
        raise ValueError(f"unknown component(s) {unknown}; expected some of {list(OFFICIAL_FILES)}")
    files = {c: folder / OFFICIAL_FILES[c].filename for c in OFFICIAL_FILES}
    files["unet"] = folder / (unet_filename or OFFICIAL_FILES["unet"].filename)
    for i, name in enumerate(OFFICIAL_FILES):
        if name in components:
            _save(_WRITERS[name](configs, seed + i), files[name])
    return configs


def _unet_file(configs: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    return _seeded(lambda: VideoComposerUNet(configs["unet"]), seed).state_dict()


def _clip_file(configs: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    return _seeded(lambda: OpenCLIP(configs["clip"]), seed).state_dict()


def _vae_file(configs: dict[str, Any], seed: int) -> dict[str, Any]:
    vae = _seeded(lambda: build_vae(configs["vae"]), seed)
    ldm = vae_state_dict_to_ldm(vae.state_dict(), len(configs["vae"].ch_mult))
    return {"state_dict": {f"first_stage_model.{k}": v for k, v in ldm.items()}}


def _midas_file(configs: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    return _seeded(lambda: MiDaS(configs["midas"]), seed).state_dict()


def _pidinet_file(configs: dict[str, Any], seed: int) -> dict[str, Any]:
    """The file stores 3x3 pixel-difference kernels; the loader turns the radial ones into the 5x5 kernels
    of the converted network, so those are written at their raw 3x3 size."""
    generator = torch.Generator().manual_seed(seed)
    raw = {
        f"module.{k}": (torch.randn(*v.shape[:2], 3, 3, generator=generator) * 0.1 if v.shape[-2:] == (5, 5) else v)
        for k, v in _seeded(PiDiNet, seed).state_dict().items()
    }
    return {"state_dict": raw}


def _sketch_cleaner_file(configs: dict[str, Any], seed: int) -> dict[str, torch.Tensor]:
    return _seeded(lambda: SketchCleaner(configs["sketch_cleaner"]), seed).state_dict()


_WRITERS: dict[str, Callable[[dict[str, Any], int], Any]] = {
    "unet": _unet_file,
    "clip": _clip_file,
    "vae": _vae_file,
    "midas": _midas_file,
    "pidinet": _pidinet_file,
    "sketch_cleaner": _sketch_cleaner_file,
}
