"""The per-clip data the reference dataset produces, shared by inference and training."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch


@dataclass
class VideoClip:
    """One sampled clip of ``F`` consecutive frames and its per-frame streams (layout ``[F, C, H, W]``).

    Attributes:
        video: ``[F, 3, R, R]`` float32 in [-1, 1]; the frames through ``CenterCropV2(R)`` (R = 256
            officially). Encoded by the VAE for training; its shape sets the latent size.
        misc: ``[F, 3, M, M]`` float32 in [0, 1]; the frames through the 384-px ``misc`` transform. Input
            of the annotators (depth, sketch), of ``local_image`` and of ``masked``.
        motion: ``[F, 2, R, R]`` float32; motion field (dx, dy) in source pixels, sparse, zeros on I-frames.
        vit_image: ``[3, 224, 224]`` float32; the middle frame, CLIP-normalised (style fallback).
        mask: ``[F, 1, M, M]`` float32 in {0, 1} (1 = hidden), or None when no mask was drawn.

    A collated batch has a leading ``B`` on every stream (``[B, F, C, H, W]``, ``vit_image``
    ``[B, 3, 224, 224]``). Training keeps only the streams its conditions read: ``misc``, ``motion``
    and ``vit_image`` may then be None (see :func:`videocomposer.conditions.clip_streams`); a clip
    rebuilt from the training condition cache has no decoded ``video`` (None) and ``misc`` may hold
    frame 0 only.
        frame_indices: ``[F]`` int64 indices into the re-encoded stream.
        fps: the sampling frame rate the clip was re-encoded at.
        frame_types: picture types of the re-encoded stream (``"IPPP..."``), for inspection.
    """

    video: torch.Tensor | None
    misc: torch.Tensor | None
    motion: torch.Tensor | None
    vit_image: torch.Tensor | None
    mask: torch.Tensor | None = None
    frame_indices: torch.Tensor | None = None
    fps: float = 0.0
    frame_types: str = field(default="")

    @property
    def num_frames(self) -> int:
        """``F``, also for a collated clip (streams ``[B, F, C, H, W]``); an error when the frames were not decoded."""
        if self.video is None:
            raise ValueError(
                "this clip's frames were not decoded (a clip rebuilt from the condition cache); give num_frames with it"
            )
        return int(self.video.shape[-4])
