"""The toy model's fixed settings: seeds, sizes, sampling defaults and network architectures.

Every other module of the recipe reads them from here (the recipe's stages, the benchmark, the card).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from videocomposer.models.clip import CLIPTextConfig, CLIPVisionConfig, OpenCLIPConfig
from videocomposer.models.unet import UNetConfig
from videocomposer.models.vae import VAEConfig

#: The training data seed (the evaluation uses other seeds: :data:`EVAL_SEED`).
DATA_SEED = 1
#: Held-out clips come from this seed, never used in training.
EVAL_SEED = 1001
#: Seed of the one-shape captions of the benchmark's text test (held out as well).
TEXT_SEED = EVAL_SEED + 1
#: Seed of the first frames of the benchmark's drawn strokes (held out as well).
STROKE_SEED = EVAL_SEED + 2
#: Seed of the benchmark's noise and clip sampling.
EVAL_NOISE_SEED = 8888
#: The ``videocomposer train`` task config of the UNet stage.
TASK_CONFIG = "train_toy_motion"
CONDITIONS = ("y", "local_image", "motion")
#: Output frames and side: the clips are drawn at 128 px (16-px macroblocks carry the motion vectors) and
#: the model works at 64 px (a 4x VAE: 16 x 16 latents), which is what a CPU budget affords.
NUM_FRAMES, SIZE = 8, 64
#: Sampling defaults stored in the model's ``model_index.json``. Guidance ramps from 1.0 on frame 0 to 3.0 on the
#: last frame (``min_guidance_scale``): one scale of 3.0 for every frame pulls frame 0 away from the given first
#: frame (on validation clips of seed 3001: first-frame PSNR 19.4 dB against 24.3 dB with the ramp).
SAMPLING_DEFAULTS = {
    "num_frames": NUM_FRAMES,
    "height": SIZE,
    "width": SIZE,
    "misc_size": SIZE,
    "num_inference_steps": 20,
    "guidance_scale": 3.0,
    "min_guidance_scale": 1.0,
}
#: The toy model's default sampler (DPM-Solver++ at 20 steps matches DDIM at 50: see its model card).
SCHEDULER = "dpmsolver++"
CONTEXT_DIM = 32
#: Training clips whose first frames and motion vectors calibrate the UNet's condition encoders.
CALIBRATION_CLIPS = 16
#: Held-out clips of the benchmark (the default sampler, and DDIM 50 steps on the same clips and captions for the
#: comparison: with fewer captions one caption alone would move the text score by more than 5 %) and of
#: the regression subset the test suite regenerates.
EVAL_CLIPS, REGRESSION_CLIPS = 50, 4


def toy_architectures() -> dict[str, Any]:
    """The toy model's architectures by component (the ``--model-config`` file's content).

    UNet: 3 levels (32/64/64 channels), attention at the two lower levels, 8-channel STC encoders for
    first frame and motion; VAE: 4x downsampling (64 px → 16 x 16 latents), 32/64/64 channels, 4 latent
    channels; text tower: a 2-layer, 32-wide OpenCLIP text transformer (frozen, random; its weights are
    fp16 values so that it is stored in half the space) with a minimal image tower.
    """
    unet = UNetConfig(
        dim=32,
        context_dim=CONTEXT_DIM,
        dim_mult=(1, 2, 2),
        num_heads=2,
        head_dim=16,
        num_res_blocks=1,
        attn_scales=(0.5, 0.25),
        dropout=0.0,
        temporal_conv_dropout=0.0,
        stc_dropout=0.0,
        video_compositions=("text", "local_image", "motion"),
        use_checkpoint=False,
    )
    clip = OpenCLIPConfig(
        embed_dim=CONTEXT_DIM,
        vision_cfg=CLIPVisionConfig(image_size=224, patch_size=32, width=32, layers=1, head_width=16),
        text_cfg=CLIPTextConfig(width=CONTEXT_DIM, heads=2, layers=2),
    )
    vae = VAEConfig(ch=32, ch_mult=[1, 2, 2], num_res_blocks=1, resolution=SIZE)
    return {"unet": dataclasses.asdict(unet), "clip": dataclasses.asdict(clip), "vae": dataclasses.asdict(vae)}


#: The world of the shipped model's training clips: ``python -m recipes.toy`` reproduces it by default
#: (``--world v2``, the wider world of :mod:`recipes.toy.synthetic`, trains the next one).
SHIPPED_WORLD = "v1"
#: The short side of the sources the toy model's motion condition is trained on: world v1 draws every clip at this
#: size, so its vectors are exactly what the ``rescaled`` motion mode gives a source of any size at inference.
MOTION_SOURCE_SIZE = 128
