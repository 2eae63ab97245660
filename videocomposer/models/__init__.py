"""Networks: the VideoComposer UNet and STC encoders, attention, the CLIP towers and tokenizer, the VAE.

Names are imported lazily, so ``from videocomposer.models.unet import ...`` does not pull in diffusers.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_LAZY = {
    "OpenCLIP": ".clip",
    "OpenCLIPConfig": ".clip",
    "CLIPTokenizer": ".tokenizer",
    "UNetConfig": ".unet",
    "VideoComposerUNet": ".unet",
    "VAEConfig": ".vae",
    "decode_video": ".vae",
    "encode_video": ".vae",
    "load_vae": ".vae",
}

__all__ = list(_LAZY)

__getattr__ = lazy_exports(__name__, _LAZY)
