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

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import torch
from PIL import Image

from ..annotators.depth import DEPTH_CLAMP, DEPTH_STD
from ..annotators.midas import MiDaS
from ..annotators.pidinet import PiDiNet
from ..annotators.sketch import SketchCleaner, extract_sketch
from ..models.clip import OpenCLIP
from ..models.image_preprocess import preprocess_style_image
from ..models.tokenizer import CLIPTokenizer
from ..video.clip import VideoClip
from ..video.sampling import draw_misc_interpolations, misc_frames_uint8
from .registry import CONDITIONS, INPUTS, missing_input_message, models_needed


def misc_transform(image: Image.Image, size: int, py_rng: random.Random | None = None) -> torch.Tensor:
    """A user image through the reference's ``misc_transforms`` → ``[1, 3, size, size]`` float in [0, 1].

    Short side resized to ``size`` with an interpolation drawn by ``py_rng.choice`` (bilinear, bicubic
    or Lanczos, as the reference), then ``CenterCropV2(size)``.
    """
    if not isinstance(image, Image.Image):
        raise ValueError(f"expected a PIL image, got {type(image).__name__}")
    return misc_frames_uint8([image.convert("RGB")], size, draw_misc_interpolations(1, py_rng)).float() / 255


def video_tensor(value: torch.Tensor, name: str, channels: int) -> torch.Tensor:
    """``[F, C, H, W]`` (per-frame layout, one sample) or ``[B, C, F, H, W]`` → ``[B, C, F, H, W]``."""
    if not isinstance(value, torch.Tensor) or value.ndim not in (4, 5) or value.shape[-4 if value.ndim == 5 else 1] != channels:
        shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{name} must be a tensor [F, {channels}, H, W] or [B, {channels}, F, H, W], got {shape}")
    return value.permute(1, 0, 2, 3).unsqueeze(0) if value.ndim == 4 else value


def repeat_frames(video: torch.Tensor, num_frames: int, name: str) -> torch.Tensor:
    """``[B, C, F, H, W]`` with ``F == num_frames`` or ``F == 1`` (repeated) → ``[B, C, num_frames, H, W]``."""
    if video.shape[2] == num_frames:
        return video
    if video.shape[2] == 1:
        return video.expand(-1, -1, num_frames, -1, -1)
    raise ValueError(f"{name} has {video.shape[2]} frames; expected {num_frames} (or 1, repeated over the frames)")


def expand_batch(value: torch.Tensor, batch: int, name: str) -> torch.Tensor:
    """``[1 or batch, ...]`` → ``[batch, ...]``."""
    if value.shape[0] == batch:
        return value
    if value.shape[0] == 1:
        return value.expand(batch, *value.shape[1:])
    raise ValueError(f"{name} has batch size {value.shape[0]}; expected {batch} (or 1, shared by every sample)")


@dataclass
class BuildContext:
    """What an extractor sees: the builder's models, the user inputs and the clip, and helpers.

    ``inputs`` holds every registered input by name (None when absent; ``video`` is the clip).
    ``cache`` lets extractors share work within one :meth:`ConditionBuilder.build` call.
    """

    builder: "ConditionBuilder"
    name: str
    conditions: tuple[str, ...]
    inputs: dict[str, Any]
    num_frames: int
    misc_size: int
    py_rng: random.Random | None
    device: torch.device | str
    cache: dict[str, torch.Tensor] = field(default_factory=dict)

    def input(self, name: str) -> Any:
        return self.inputs.get(name)

    def clip(self) -> VideoClip:
        """The video clip; a ``missing_input_message`` error when there is none."""
        if self.inputs.get("video") is None:
            raise ValueError(missing_input_message(self.name))
        return self.inputs["video"]

    def clip_stream(self, stream: str) -> torch.Tensor:
        """A clip stream ``[F, C, H, W]`` or collated ``[B, F, C, H, W]`` → ``[B, C, F, H, W]``."""
        value = getattr(self.clip(), stream)
        if value is None:
            raise ValueError(f"condition '{self.name}' reads the clip's {stream!r} stream, which this clip was loaded "
                             f"without (register the condition's clip_streams)")
        return value.permute(1, 0, 2, 3).unsqueeze(0) if value.ndim == 4 else value.permute(0, 2, 1, 3, 4)

    def rgb_source(self, value: Any, name: str) -> torch.Tensor:
        """PIL, ``[3, H, W]``, ``[B, 3, H, W]`` (one frame) or ``[B, 3, F, H, W]`` → ``[B, 3, F', H, W]`` in [0, 1]."""
        if isinstance(value, Image.Image):
            value = misc_transform(value, self.misc_size, self.py_rng)
        if not isinstance(value, torch.Tensor) or value.ndim not in (3, 4, 5) or value.shape[-3 if value.ndim < 5 else 1] != 3:
            raise ValueError(f"{name} must be a PIL image, [3, H, W], [B, 3, H, W] or [B, 3, F, H, W]; got "
                             f"{list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}")
        value = value[None] if value.ndim == 3 else value
        return value.unsqueeze(2) if value.ndim == 4 else value

    @staticmethod
    def per_frame(fn: Callable[[torch.Tensor], torch.Tensor], video: torch.Tensor) -> torch.Tensor:
        """Apply an image network to every frame: ``[B, C, F, H, W]`` → ``[B, C', F, H, W]``."""
        b, _, f = video.shape[:3]
        return fn(video.transpose(1, 2).flatten(0, 1)).float().unflatten(0, (b, f)).transpose(1, 2)

    def model(self, name: str) -> Any:
        return self.builder.model(name)


class ConditionBuilder:
    """Builds the UNet condition kwargs from a :class:`VideoClip` and/or user inputs.

    Args:
        tokenizer, clip: text tokenizer and OpenCLIP (text tower for ``y``, image tower for ``image``).
        midas: depth estimator (``depth``); pidinet, sketch_cleaner: sketch extractor (``sketch``,
            ``single_sketch``). Any model may be None when no requested condition needs it.
        annotator_chunk_size: frames per annotator forward pass (1 = the reference; memory only).
        depth_std, depth_clamp: the reference's depth scaling (``cfg.depth_std``, ``cfg.depth_clamp``).
    """

    def __init__(self, tokenizer: CLIPTokenizer | None = None, clip: OpenCLIP | None = None, midas: MiDaS | None = None,
                 pidinet: PiDiNet | None = None, sketch_cleaner: SketchCleaner | None = None, *,
                 annotator_chunk_size: int = 1, depth_std: float = DEPTH_STD, depth_clamp: float = DEPTH_CLAMP):
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
            raise ValueError(f"this pipeline was loaded without the {name} model; load it with the condition that needs it "
                             f"(from_official(..., conditions=[...]))")
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
        return extract_sketch(self.model("pidinet"), self.model("sketch_cleaner"), frames, self.annotator_chunk_size).float()

    # ------------------------------------------------------------------ the builder

    def build(self, conditions: Sequence[str], *, video: VideoClip | None = None,
              precomputed: Mapping[str, torch.Tensor] | None = None, num_frames: int | None = None,
              misc_size: int = 384, py_rng: random.Random | None = None, device: torch.device | str = "cpu",
              clip: VideoClip | None = None, **inputs: Any) -> dict[str, torch.Tensor]:
        """Compute the requested conditions (UNet keyword names, in the order given).

        Args:
            conditions: names of registered conditions (:data:`~videocomposer.conditions.CONDITIONS`).
            video: a sampled clip (one sample ``[F, ...]`` streams, or a collated batch ``[B, F, ...]``);
                ``clip`` is the same argument under its earlier name (``self.clip`` is OpenCLIP).
            precomputed: UNet-ready tensors by condition name, used as they are.
            num_frames: F when there is no clip (ignored otherwise; the clip decides).
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
        if clip is not None and video is not None:
            raise ValueError("give the clip as video= (clip= is its earlier name), not both")
        clip = video if video is not None else clip
        unknown_inputs = sorted(set(inputs) - set(INPUTS))
        if unknown_inputs:
            raise ValueError(f"unknown input(s) {unknown_inputs}; the inputs are {[n for n in INPUTS if n != 'video']}")
        if clip is not None:
            num_frames = clip.num_frames
        if num_frames is None:
            raise ValueError("num_frames is required when no video clip is given")
        precomputed = dict(precomputed or {})
        unknown = sorted(set(precomputed) - set(conditions))
        if unknown:
            raise ValueError(f"precomputed conditions {unknown} are not among the requested conditions {list(conditions)}")
        values = {name: inputs.get(name) for name in INPUTS}
        values["video"] = clip
        cache: dict[str, torch.Tensor] = {}
        out: dict[str, torch.Tensor] = {}
        for name in conditions:
            record = CONDITIONS[name]
            if name in precomputed:
                value = _checked_precomputed(precomputed[name], name, record.layout, num_frames)
            else:
                ctx = BuildContext(self, name, tuple(conditions), values, num_frames, misc_size, py_rng, device, cache)
                value = record.extract(ctx)
                if record.layout == "video":
                    value = repeat_frames(value, num_frames, name)
            out[name] = value.to(device=device, dtype=torch.float32)
        batch = max((v.shape[0] for v in out.values()), default=1)
        return {k: expand_batch(v, batch, k).contiguous() for k, v in out.items()}


def _checked_precomputed(value: Any, name: str, layout: str, num_frames: int) -> torch.Tensor:
    expected = 3 if layout == "tokens" else 5
    if not isinstance(value, torch.Tensor) or value.ndim != expected:
        raise ValueError(f"precomputed '{name}' must be a {expected}-D tensor, got "
                         f"{list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}")
    return repeat_frames(value, num_frames, name) if expected == 5 else value


__all__ = ["BuildContext", "ConditionBuilder", "expand_batch", "misc_transform", "repeat_frames", "video_tensor"]
