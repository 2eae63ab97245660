"""CLIP metrics with the in-repo OpenCLIP towers: frame consistency and CLIPSIM.

* **frame consistency** (``clip_frame_consistency``): mean cosine similarity of the CLIP image
  embeddings of consecutive frames (the VideoComposer paper's "frame consistency");
* **CLIPSIM** (``clipsim``): mean cosine similarity of the caption's CLIP text embedding and each
  frame's image embedding (GODIVA's CLIPSIM; reported as a cosine, not ×100).

Frames go through open_clip's validation transform (short side 224 bicubic, centre crop, OpenAI
mean/std: :func:`~videocomposer.video.image_preprocess.preprocess_style_image`). Weights: a local
open_clip-layout file (the official ``open_clip_pytorch_model.bin`` is ViT-H-14; other sizes with a
``clip`` entry in ``--model-config``).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from PIL import Image

from ..models.clip import OpenCLIP
from ..models.tokenizer import CLIPTokenizer
from ..video.image_preprocess import preprocess_style_image
from .frames import VideoInput, read_video_frames


def load_clip(path: str | os.PathLike, config: Any = None, device: str | torch.device = "cpu") -> OpenCLIP:
    """Both towers of an open_clip-layout file (``config``: architecture override, dict or dataclass)."""
    from ..pipelines.components import load_official_component

    return load_official_component("clip", path, config, towers=("text", "image")).to(device).freeze()


@torch.no_grad()
def frame_embeddings(clip: OpenCLIP, video: VideoInput, batch_size: int = 16) -> torch.Tensor:
    """Unit-length CLIP image embeddings of every frame → ``float32 [F, D]``."""
    frames = read_video_frames(video)
    weight = next(clip.parameters())
    pixels = torch.stack([preprocess_style_image(Image.fromarray(f)) for f in frames])
    return torch.cat(
        [
            clip.encode_image(pixels[i : i + batch_size].to(weight.device, weight.dtype), normalize=True).float().cpu()
            for i in range(0, len(pixels), batch_size)
        ]
    )


def frame_consistency(clip: OpenCLIP, video: VideoInput) -> float:
    """Mean cosine of consecutive frames' CLIP embeddings (1 = every frame looks the same); needs ≥ 2 frames."""
    embeddings = frame_embeddings(clip, video)
    if len(embeddings) < 2:
        raise ValueError("frame consistency needs at least 2 frames")
    return float((embeddings[1:] * embeddings[:-1]).sum(dim=1).mean())


@torch.no_grad()
def clipsim(clip: OpenCLIP, video: VideoInput, caption: str, tokenizer: CLIPTokenizer | None = None) -> float:
    """Mean cosine of the caption's CLIP text embedding with each frame's image embedding."""
    if not isinstance(caption, str) or not caption.strip():
        raise ValueError("CLIPSIM needs a non-empty caption")
    tokens = (tokenizer or CLIPTokenizer())([caption]).to(next(clip.parameters()).device)
    text = clip.encode_text(tokens, normalize=True).float().cpu()[0]
    return float((frame_embeddings(clip, video) @ text).mean())
