"""The six official VideoComposer weight files: names, roles and where they are published.

Used by every loader so that a missing file produces the same actionable message.
"""

from __future__ import annotations

from dataclasses import dataclass

OFFICIAL_WEIGHTS_URL = "https://modelscope.cn/models/damo/VideoComposer/files (folder model_weights/)"


@dataclass(frozen=True)
class OfficialFile:
    """One published weight file."""

    filename: str
    component: str
    description: str
    approx_size: str
    url: str = OFFICIAL_WEIGHTS_URL


OFFICIAL_FILES: dict[str, OfficialFile] = {
    f.component: f
    for f in (
        OfficialFile(
            "non_ema_228000.pth", "unet", "VideoComposer 3D UNet + STC encoders (fp32, flat state dict)", "5.7 GB"
        ),
        OfficialFile(
            "open_clip_pytorch_model.bin", "clip", "OpenCLIP ViT-H-14 laion2b_s32b_b79k (text + image towers)", "3.9 GB"
        ),
        OfficialFile(
            "v2-1_512-ema-pruned.ckpt",
            "vae",
            "Stable Diffusion 2.1 checkpoint; only first_stage_model.* (the VAE) is used",
            "5.2 GB",
        ),
        OfficialFile(
            "midas_v3_dpt_large.pth", "midas", "MiDaS v3 DPT-Large depth estimator (VideoComposer key names)", "1.4 GB"
        ),
        OfficialFile(
            "table5_pidinet.pth",
            "pidinet",
            "PiDiNet 'table5' edge detector (pixel-difference form, module. prefix)",
            "2.9 MB",
        ),
        OfficialFile(
            "sketch_simplification_gan.pth", "sketch_cleaner", "Sketch simplification GAN (Simo-Serra et al.)", "177 MB"
        ),
    )
}
