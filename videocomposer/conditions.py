"""The condition builder shared by inference and training: a clip and/or user inputs → UNet kwargs.

:class:`ConditionBuilder` computes exactly the requested conditions (UNet keyword names, see
:data:`CONDITION_MODELS`) and nothing else, running the frozen annotators and CLIP towers only
when a condition needs them. A map the user gives (a depth tensor, a 1-channel sketch map, a motion
field, a mask) is used as is and its extractor is not run.

Output layouts (``B`` batch, ``F`` frames, ``M`` the misc/annotator size, ``R`` the video size):

============== ====================== =================================================================
``y``          ``[B, 77, D]``         OpenCLIP text context (penultimate layer) of the prompt
``image``      ``[B, 1, D]``          CLIP embedding of the style image, else of the clip's middle frame
``local_image````[B, 3, F, M, M]``    first frame (or the given image) in [0, 1], repeated over F
``masked``     ``[B, 4, F, M, M]``    ``cat([(2·misc − 1)·(1 − mask), 1 − mask])``
``depth``      ``[B, 1, F, M, M]``    MiDaS inverse depth / 20, clamped to [0, 10]
``sketch``     ``[B, 1, F, M, M]``    ``1 − cleaner(1 − pidinet(frame))`` in [0, 1]
``single_sketch````[B, 1, F, M, M]``  the first frame's sketch (or the sketch image's), repeated
``motion``     ``[B, 2, F, R, R]``    motion vectors (dx, dy) in source pixels, sparse
============== ====================== =================================================================

All outputs are float32 on ``device``. A given tensor keeps its own spatial size (the UNet's
condition encoders accept any ``H×W``); a map with one frame is repeated over ``F``.
"""
from __future__ import annotations

import random
from typing import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

from .annotators.depth import DEPTH_CLAMP, DEPTH_STD, extract_depth
from .annotators.masks import masked_condition
from .annotators.midas import MiDaS
from .annotators.pidinet import PiDiNet
from .annotators.sketch import SketchCleaner, extract_sketch
from .models.clip import OpenCLIP
from .models.image_preprocess import preprocess_style_image
from .models.tokenizer import CLIPTokenizer
from .video.clip import VideoClip
from .video.sampling import draw_misc_interpolations, misc_frames_uint8

#: Every condition and the frozen models computing it needs (none when its input is given as a map).
CONDITION_MODELS: dict[str, tuple[str, ...]] = {
    "y": ("clip:text",), "image": ("clip:image",), "local_image": (), "masked": (), "depth": ("midas",),
    "sketch": ("pidinet", "sketch_cleaner"), "single_sketch": ("pidinet", "sketch_cleaner"), "motion": (),
}
#: The arguments of :meth:`ConditionBuilder.build` (``clip`` = the video) any one of which provides each condition.
CONDITION_INPUTS: dict[str, tuple[str, ...]] = {
    "y": ("prompt", "prompt_embeds"), "image": ("style_image", "clip"), "local_image": ("image", "clip"),
    "masked": ("clip",), "depth": ("clip", "depth"), "sketch": ("clip", "sketch"), "single_sketch": ("sketch", "clip"),
    "motion": ("clip", "motion"),
}


def missing_input_message(name: str) -> str:
    """``"condition 'depth' needs video= or depth="``-style text (``clip`` is the video)."""
    names = [("video" if a == "clip" else a) + "=" for a in CONDITION_INPUTS[name]]
    return f"condition '{name}' needs {' or '.join(names)}"


def models_needed(conditions: Sequence[str]) -> set[str]:
    """The frozen models the conditions need: subset of ``{'clip:text', 'clip:image', 'midas', 'pidinet', 'sketch_cleaner'}``."""
    unknown = [c for c in conditions if c not in CONDITION_MODELS]
    if unknown:
        raise ValueError(f"unknown condition(s) {unknown}; choose from {list(CONDITION_MODELS)}")
    return {model for c in conditions for model in CONDITION_MODELS[c]}


def misc_transform(image: Image.Image, size: int, py_rng: random.Random | None = None) -> torch.Tensor:
    """A user image through the reference's ``misc_transforms`` → ``[1, 3, size, size]`` float in [0, 1].

    Short side resized to ``size`` with an interpolation drawn by ``py_rng.choice`` (bilinear, bicubic
    or Lanczos, as the reference), then ``CenterCropV2(size)``.
    """
    if not isinstance(image, Image.Image):
        raise ValueError(f"expected a PIL image, got {type(image).__name__}")
    return misc_frames_uint8([image.convert("RGB")], size, draw_misc_interpolations(1, py_rng)).float() / 255


def _video_tensor(value: torch.Tensor, name: str, channels: int) -> torch.Tensor:
    """``[F, C, H, W]`` (per-frame layout, one sample) or ``[B, C, F, H, W]`` → ``[B, C, F, H, W]``."""
    if not isinstance(value, torch.Tensor) or value.ndim not in (4, 5) or value.shape[-4 if value.ndim == 5 else 1] != channels:
        shape = list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"{name} must be a tensor [F, {channels}, H, W] or [B, {channels}, F, H, W], got {shape}")
    return value.permute(1, 0, 2, 3).unsqueeze(0) if value.ndim == 4 else value


def _repeat_frames(video: torch.Tensor, num_frames: int, name: str) -> torch.Tensor:
    """``[B, C, F, H, W]`` with ``F == num_frames`` or ``F == 1`` (repeated) → ``[B, C, num_frames, H, W]``."""
    if video.shape[2] == num_frames:
        return video
    if video.shape[2] == 1:
        return video.expand(-1, -1, num_frames, -1, -1)
    raise ValueError(f"{name} has {video.shape[2]} frames; expected {num_frames} (or 1, repeated over the frames)")


def _batch(value: torch.Tensor, batch: int, name: str) -> torch.Tensor:
    if value.shape[0] == batch:
        return value
    if value.shape[0] == 1:
        return value.expand(batch, *value.shape[1:])
    raise ValueError(f"{name} has batch size {value.shape[0]}; expected {batch} (or 1, shared by every sample)")


def _clip_stream(clip: VideoClip, name: str) -> torch.Tensor:
    """A clip stream ``[F, C, H, W]`` or collated ``[B, F, C, H, W]`` → ``[B, C, F, H, W]``."""
    value = getattr(clip, name)
    return value.permute(1, 0, 2, 3).unsqueeze(0) if value.ndim == 4 else value.permute(0, 2, 1, 3, 4)


def _mask_tensor(mask: Image.Image | np.ndarray | torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """A mask (PIL: white = hidden; array/tensor: 1 = hidden) → ``[B, 1, F, H, W]`` in {0, 1} at ``size``."""
    if isinstance(mask, Image.Image):
        mask = torch.from_numpy(np.asarray(mask.convert("L"), dtype=np.float32) / 255.0)
    mask = torch.as_tensor(mask, dtype=torch.float32)
    if mask.ndim == 2:
        mask = mask[None, None]  # [1, 1, H, W]
    elif mask.ndim == 3:
        mask = mask[None]
    mask = _video_tensor(mask, "mask", 1)
    if tuple(mask.shape[-2:]) != size:
        b, _, f = mask.shape[:3]
        flat = mask.reshape(b * f, 1, *mask.shape[-2:])
        mask = torch.nn.functional.interpolate(flat, size=size, mode="nearest").reshape(b, 1, f, *size)
    return (mask > 0.5).float()


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

    def _model(self, name: str):
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
        clip = self._model("clip")
        tokens = self._model("tokenizer")(prompts).to(next(clip.parameters()).device)
        return clip.encode_text_context(tokens).float().to(device or tokens.device)

    @torch.no_grad()
    def encode_image(self, image: Image.Image | torch.Tensor, device: torch.device | str | None = None) -> torch.Tensor:
        """Style image (PIL, open_clip preprocessing) or CLIP-normalised pixels ``[3, S, S]`` / ``[B, 3, S, S]``
        → embedding ``[B, 1, D]`` float32."""
        pixels = preprocess_style_image(image)[None] if isinstance(image, Image.Image) else image
        if pixels.ndim == 3:
            pixels = pixels[None]
        clip = self._model("clip")
        weight = next(clip.parameters())
        return clip.encode_image_context(pixels.to(weight.device, weight.dtype)).float().to(device or weight.device)

    @torch.no_grad()
    def _sketch(self, frames: torch.Tensor) -> torch.Tensor:
        """RGB ``[N, 3, H, W]`` in [0, 1] → sketch ``[N, 1, H, W]``."""
        return extract_sketch(self._model("pidinet"), self._model("sketch_cleaner"), frames, self.annotator_chunk_size).float()

    # ------------------------------------------------------------------ the builder

    def build(self, conditions: Sequence[str], *, clip: VideoClip | None = None, prompt: str | Sequence[str] | None = None,
              prompt_embeds: torch.Tensor | None = None, image: Image.Image | torch.Tensor | None = None,
              style_image: Image.Image | torch.Tensor | None = None,
              sketch: Image.Image | torch.Tensor | None = None, depth: torch.Tensor | None = None,
              mask: Image.Image | np.ndarray | torch.Tensor | None = None, motion: torch.Tensor | None = None,
              precomputed: Mapping[str, torch.Tensor] | None = None, num_frames: int | None = None,
              misc_size: int = 384, py_rng: random.Random | None = None,
              device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
        """Compute the requested conditions (UNet keyword names, in the order given).

        Args:
            conditions: subset of :data:`CONDITION_MODELS`.
            clip: a sampled clip (one sample ``[F, ...]`` streams, or a collated batch ``[B, F, ...]``).
            prompt / prompt_embeds: text, or its context ``[B, L, D]`` (``y``).
            image: the ``local_image`` source: PIL (through the misc transform), ``[3, H, W]`` /
                ``[B, 3, H, W]`` in [0, 1] (one frame, repeated), or ``[B, 3, F, H, W]`` as is.
            style_image: the ``image`` source (PIL, or CLIP-normalised pixels ``[B, 3, S, S]``); without
                it, the clip's middle frame (``vit_image``) is used.
            sketch: PIL or RGB ``[3, H, W]`` / ``[B, 3, H, W]`` in [0, 1] → extracted (``sketch`` is that
                sketch repeated over F); or a 1-channel map ``[F, 1, H, W]`` / ``[B, 1, F, H, W]`` used as is.
            depth: map ``[F, 1, H, W]`` / ``[B, 1, F, H, W]`` in [0, depth_clamp], used as is.
            mask: 1 = hidden (white in a PIL image); ``[H, W]``, ``[F, 1, H, W]`` or ``[B, 1, F, H, W]``;
                default: the clip's mask.
            motion: field ``[F, 2, H, W]`` / ``[B, 2, F, H, W]`` in pixels, used as is.
            precomputed: UNet-ready tensors by condition name (the layouts above), used as they are.
            num_frames: F when there is no clip (ignored otherwise; the clip decides).
            misc_size: side of PIL images after the misc transform (the reference: 384).
            py_rng: RNG of the misc transform's interpolation draws (default: the global ``random``).
            device: where the outputs go.
        Returns:
            ``{name: tensor}`` with the layouts of the module docstring, all float32, batch ``B``.
        """
        models_needed(conditions)  # validates the names
        if clip is not None:
            num_frames = clip.num_frames if clip.video.ndim == 4 else int(clip.video.shape[1])
        if num_frames is None:
            raise ValueError("num_frames is required when no video clip is given")

        def need_clip(name: str) -> VideoClip:
            if clip is None:
                raise ValueError(missing_input_message(name))
            return clip

        def rgb_source(value, name: str) -> torch.Tensor:
            """PIL, [3, H, W], [B, 3, H, W] (one frame) or [B, 3, F, H, W] → [B, 3, F', H, W] in [0, 1]."""
            if isinstance(value, Image.Image):
                value = misc_transform(value, misc_size, py_rng)
            if not isinstance(value, torch.Tensor) or value.ndim not in (3, 4, 5) or value.shape[-3 if value.ndim < 5 else 1] != 3:
                raise ValueError(f"{name} must be a PIL image, [3, H, W], [B, 3, H, W] or [B, 3, F, H, W]; got "
                                 f"{list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}")
            value = value[None] if value.ndim == 3 else value
            return value.unsqueeze(2) if value.ndim == 4 else value

        def per_frame(fn, video: torch.Tensor) -> torch.Tensor:
            """Apply an image network to every frame: [B, C, F, H, W] → [B, C', F, H, W]."""
            b, _, f = video.shape[:3]
            return fn(video.transpose(1, 2).flatten(0, 1)).float().unflatten(0, (b, f)).transpose(1, 2)

        sketches: torch.Tensor | None = None  # shared by 'sketch' and 'single_sketch'

        def sketch_video(first_frame_only: bool) -> torch.Tensor:
            nonlocal sketches
            if sketches is None:
                if isinstance(sketch, torch.Tensor) and sketch.shape[-3 if sketch.ndim < 5 else 1] == 1:
                    sketches = _video_tensor(sketch[None] if sketch.ndim == 3 else sketch, "sketch", 1)
                elif sketch is not None:
                    sketches = per_frame(self._sketch, rgb_source(sketch, "sketch")[:, :, :1])
                else:
                    misc = _clip_stream(need_clip("sketch"), "misc")
                    sketches = per_frame(self._sketch, misc[:, :, :1] if first_frame_only else misc)
            return sketches

        out: dict[str, torch.Tensor] = {}
        precomputed = dict(precomputed or {})
        unknown = sorted(set(precomputed) - set(conditions))
        if unknown:
            raise ValueError(f"precomputed conditions {unknown} are not among the requested conditions {list(conditions)}")
        for name in conditions:
            if name in precomputed:
                value = precomputed[name]
                expected = 3 if name in ("y", "image") else 5
                if not isinstance(value, torch.Tensor) or value.ndim != expected:
                    raise ValueError(f"precomputed '{name}' must be a {expected}-D tensor, got "
                                     f"{list(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__}")
                if expected == 5:
                    value = _repeat_frames(value, num_frames, name)
            elif name == "y":
                if prompt_embeds is None and prompt is None:
                    raise ValueError(missing_input_message("y"))
                value = prompt_embeds if prompt_embeds is not None else self.encode_prompt(prompt, device)
            elif name == "image":
                value = self.encode_image(style_image if style_image is not None else need_clip(name).vit_image, device)
            elif name == "local_image":
                source = rgb_source(image, "image") if image is not None else _clip_stream(need_clip(name), "misc")[:, :, :1]
                value = _repeat_frames(source, num_frames, "image")
            elif name == "masked":
                misc = _clip_stream(need_clip(name), "misc")  # [B, 3, F, M, M]
                if mask is None and clip.mask is None:
                    raise ValueError("condition 'masked' needs mask= (the clip was sampled without a mask)")
                given = mask if mask is not None else _clip_stream(clip, "mask")
                hidden = _repeat_frames(_mask_tensor(given, tuple(misc.shape[-2:])), num_frames, "mask")
                b = max(misc.shape[0], hidden.shape[0])
                misc, hidden = _batch(misc, b, "video"), _batch(hidden, b, "mask")
                value = masked_condition(misc.transpose(1, 2).flatten(0, 1), hidden.transpose(1, 2).flatten(0, 1))
                value = value.unflatten(0, (b, num_frames)).transpose(1, 2)
            elif name == "depth":
                if depth is not None:
                    value = _video_tensor(depth, "depth", 1)
                else:
                    midas = self._model("midas")
                    value = per_frame(lambda x: extract_depth(midas, x, self.annotator_chunk_size, self.depth_std, self.depth_clamp),
                                      _clip_stream(need_clip(name), "misc"))
                value = _repeat_frames(value, num_frames, "depth")
            elif name in ("sketch", "single_sketch"):
                value = sketch_video(first_frame_only=name == "single_sketch" and "sketch" not in conditions)
                value = _repeat_frames(value[:, :, :1] if name == "single_sketch" else value, num_frames, "sketch")
            else:  # motion
                value = _video_tensor(motion, "motion", 2) if motion is not None else _clip_stream(need_clip(name), "motion")
                value = _repeat_frames(value, num_frames, "motion")
            out[name] = value.to(device=device, dtype=torch.float32)

        batch = max((v.shape[0] for v in out.values()), default=1)
        return {k: _batch(v, batch, k).contiguous() for k, v in out.items()}
