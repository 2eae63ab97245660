"""The condition builder shared by inference and training: a clip and/or user inputs → UNet kwargs.

:class:`ConditionBuilder` computes exactly the requested conditions and nothing else: for each it
calls the extractor of its :class:`~videocomposer.conditions.registry.Condition` record with a
:class:`BuildContext`, which runs the frozen annotators and CLIP towers only when asked. A map the
user gives (a depth tensor, a 1-channel sketch map, a motion field, a mask) is used as is.

All outputs are float32 on ``device``; ``tokens`` conditions are ``[B, L, D]``, ``video`` conditions
``[B, C, F, H, W]`` (a given tensor keeps its own spatial size, the UNet's condition encoders accept
any ``H×W``; a map with one frame is repeated over ``F``). The layouts of the built-in conditions are
listed in :mod:`videocomposer.conditions`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

import torch
from PIL import Image

from ..annotators.depth import DEPTH_CLAMP, DEPTH_STD
from ..annotators.midas import MiDaS
from ..annotators.pidinet import PiDiNet
from ..annotators.sketch import SketchCleaner, extract_sketch
from ..video.clip import VideoClip
from ..video.image_preprocess import preprocess_style_image
from .context import BuildContext, expand_batch, repeat_frames
from .registry import CONDITIONS, INPUTS, models_needed


class Tokenizer(Protocol):
    """Texts → token ids ``[B, 77]`` int64 (:class:`~videocomposer.models.tokenizer.CLIPTokenizer`)."""

    def __call__(self, texts: Sequence[str]) -> torch.Tensor: ...


class CLIPEncoder(Protocol):
    """The OpenCLIP towers the builder runs (:class:`~videocomposer.models.clip.OpenCLIP`)."""

    def parameters(self) -> Iterator[torch.nn.Parameter]: ...

    def encode_text_context(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids ``[B, 77]`` → text context ``[B, 77, D]``."""

    def encode_image_context(self, pixels: torch.Tensor) -> torch.Tensor:
        """CLIP-normalised pixels ``[B, 3, S, S]`` → image context ``[B, 1, D]``."""


class ConditionBuilder:
    """Builds the UNet condition kwargs from a :class:`VideoClip` and/or user inputs.

    Args:
        tokenizer, clip: text tokenizer and OpenCLIP (text tower for ``y``, image tower for ``image``).
        midas: depth estimator (``depth``); pidinet, sketch_cleaner: sketch extractor (``sketch``,
            ``single_sketch``). Any model may be None when no requested condition needs it.
        annotator_chunk_size: frames per annotator forward pass (1 = the reference; memory only).
        depth_std, depth_clamp: the reference's depth scaling (``cfg.depth_std``, ``cfg.depth_clamp``).
    """

    def __init__(
        self,
        tokenizer: Tokenizer | None = None,
        clip: CLIPEncoder | None = None,
        midas: MiDaS | None = None,
        pidinet: PiDiNet | None = None,
        sketch_cleaner: SketchCleaner | None = None,
        *,
        annotator_chunk_size: int = 1,
        depth_std: float = DEPTH_STD,
        depth_clamp: float = DEPTH_CLAMP,
    ):
        self.tokenizer = tokenizer
        self.clip = clip
        self.midas = midas
        self.pidinet = pidinet
        self.sketch_cleaner = sketch_cleaner
        self.annotator_chunk_size = annotator_chunk_size
        self.depth_std = depth_std
        self.depth_clamp = depth_clamp

    # ------------------------------------------------------------------ encoders

    def model(self, name: str) -> Any:
        """A frozen model by attribute name; an error saying how to load it when absent."""
        model = getattr(self, name)
        if model is None:
            raise ValueError(
                f"this pipeline was loaded without the {name} model; load it with the condition that needs it "
                f"(from_official(..., conditions=[...]))"
            )
        return model

    @torch.no_grad()
    def encode_prompt(self, prompt: str | Sequence[str], device: torch.device | str | None = None) -> torch.Tensor:
        """Prompt(s) → text context ``[B, 77, D]`` float32 (OpenCLIP penultimate layer)."""
        prompts = [prompt] if isinstance(prompt, str) else list(prompt)
        if not prompts or not all(isinstance(p, str) for p in prompts):
            raise ValueError(f"prompt must be a string or a list of strings, got {prompt!r}")
        clip = self.model("clip")
        tokens = self.model("tokenizer")(prompts).to(next(clip.parameters()).device)
        return clip.encode_text_context(tokens).float().to(device or tokens.device)

    @torch.no_grad()
    def encode_image(self, image: Image.Image | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """Style image (PIL, open_clip preprocessing) or CLIP-normalised pixels ``[3, S, S]`` / ``[B, 3, S, S]``
        → embedding ``[B, 1, D]`` float32."""
        pixels = preprocess_style_image(image)[None] if isinstance(image, Image.Image) else image
        if pixels.ndim == 3:
            pixels = pixels[None]
        clip = self.model("clip")
        weight = next(clip.parameters())
        return clip.encode_image_context(pixels.to(weight.device, weight.dtype)).float().to(device or weight.device)

    @torch.no_grad()
    def sketch(self, frames: torch.Tensor) -> torch.Tensor:
        """RGB ``[N, 3, H, W]`` in [0, 1] → sketch ``[N, 1, H, W]``."""
        return extract_sketch(
            self.model("pidinet"), self.model("sketch_cleaner"), frames, self.annotator_chunk_size
        ).float()

    # ------------------------------------------------------------------ the builder

    def build(
        self,
        conditions: Sequence[str],
        *,
        video: VideoClip | None = None,
        precomputed: Mapping[str, torch.Tensor] | None = None,
        num_frames: int | None = None,
        misc_size: int = 384,
        py_rng: random.Random | None = None,
        device: torch.device | str = "cpu",
        clip: VideoClip | None = None,
        **inputs: Any,
    ) -> dict[str, torch.Tensor]:
        """Compute the requested conditions (UNet keyword names, in the order given).

        Args:
            conditions: names of registered conditions (:data:`~videocomposer.conditions.CONDITIONS`).
            video: a sampled clip (one sample ``[F, ...]`` streams, or a collated batch ``[B, F, ...]``);
                ``clip`` is the same argument under its earlier name (``self.clip`` is OpenCLIP).
            precomputed: UNet-ready tensors by condition name, used as they are.
            num_frames: F when there is no clip or its frames were not decoded (ignored otherwise: the
                clip decides).
            misc_size: side of PIL images after the misc transform (the reference: 384).
            py_rng: RNG of the misc transform's interpolation draws (default: the global ``random``).
            device: where the outputs go.
            inputs: the user inputs by registered name (:data:`~videocomposer.conditions.INPUTS`):
                ``prompt`` / ``prompt_embeds`` (``y``); ``image`` (``local_image``: PIL through the
                misc transform, ``[3, H, W]`` / ``[B, 3, H, W]`` in [0, 1] repeated, or
                ``[B, 3, F, H, W]``); ``style_image`` (``image``: PIL or CLIP-normalised pixels; default
                the clip's middle frame); ``sketch`` (PIL / RGB → extracted, or a 1-channel map used as
                is); ``depth`` and ``motion`` maps ``[F, C, H, W]`` / ``[B, C, F, H, W]``; ``mask``
                (1 = hidden, white in a PIL image; default the clip's mask).
        Returns:
            ``{name: tensor}``, all float32, batch ``B``.
        """
        models_needed(conditions)  # validates the names
        clip, num_frames, precomputed = _checked_arguments(conditions, video, clip, num_frames, precomputed, inputs)
        values = {name: inputs.get(name) for name in INPUTS}
        values["video"] = clip
        # One context shared by all conditions of this call (and so one cache); each gets its own name.
        template = BuildContext(
            builder=self,
            name="",
            conditions=tuple(conditions),
            inputs=values,
            num_frames=num_frames,
            misc_size=misc_size,
            py_rng=py_rng,
            device=device,
        )
        out = {
            name: _condition(name, template, precomputed).to(device=device, dtype=torch.float32) for name in conditions
        }
        batch = max((v.shape[0] for v in out.values()), default=1)
        return {k: expand_batch(v, batch, k).contiguous() for k, v in out.items()}


def _condition(name: str, template: BuildContext, precomputed: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """One condition: the precomputed tensor (checked) or its registered extractor's output, a ``video``
    layout repeated to ``[B, C, F, H, W]`` with F = ``template.num_frames``; ``tokens`` stay ``[B, L, D]``."""
    record = CONDITIONS[name]
    if name in precomputed:
        return _checked_precomputed(precomputed[name], name, record.layout, template.num_frames)
    value = record.extract(dataclasses.replace(template, name=name, needs=record.inputs))
    return repeat_frames(value, template.num_frames, name) if record.layout == "video" else value


def _checked_arguments(
    conditions: Sequence[str],
    video: VideoClip | None,
    clip: VideoClip | None,
    num_frames: int | None,
    precomputed: Mapping[str, torch.Tensor] | None,
    inputs: Mapping[str, Any],
) -> tuple[VideoClip | None, int, dict[str, torch.Tensor]]:
    """Check :meth:`ConditionBuilder.build`'s arguments; return the clip, the frame count F (the clip's when
    its frames are decoded) and the precomputed tensors by name. Raises ValueError naming the bad argument."""
    if clip is not None and video is not None:
        raise ValueError("give the clip as video= (clip= is its earlier name), not both")
    clip = video if video is not None else clip
    unknown_inputs = sorted(set(inputs) - set(INPUTS))
    if unknown_inputs:
        raise ValueError(f"unknown input(s) {unknown_inputs}; the inputs are {[n for n in INPUTS if n != 'video']}")
    if clip is not None and clip.video is not None:
        num_frames = clip.num_frames
    if num_frames is None:
        raise ValueError("num_frames is required when no video clip (or one without decoded frames) is given")
    checked = dict(precomputed or {})
    unknown = sorted(set(checked) - set(conditions))
    if unknown:
        raise ValueError(f"precomputed conditions {unknown} are not among the requested conditions {list(conditions)}")
    return clip, num_frames, checked


def _checked_precomputed(value: Any, name: str, layout: str, num_frames: int) -> torch.Tensor:
    expected = 3 if layout == "tokens" else 5
    if not isinstance(value, torch.Tensor) or value.ndim != expected:
        raise ValueError(
            f"precomputed '{name}' must be a {expected}-D tensor, got "
            f"{list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}"
        )
    return repeat_frames(value, num_frames, name) if expected == 5 else value


__all__ = ["CLIPEncoder", "ConditionBuilder", "Tokenizer"]
