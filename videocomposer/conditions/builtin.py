"""The eight conditions of the official model, their user inputs, and their extractors.

Each extractor takes a :class:`~videocomposer.conditions.context.BuildContext` and returns the
UNet-ready tensor (``video`` conditions may return one frame; the builder repeats it over ``F``).
"""

from __future__ import annotations

import torch

from ..annotators.depth import extract_depth
from ..annotators.masks import masked_condition
from .context import BuildContext, expand_batch, repeat_frames, video_tensor
from .masks import mask_tensor
from .previews import depth_preview, masked_preview, motion_preview
from .registry import Condition, STCEncoder, UserInput, register_condition, register_input

for _input in (
    UserInput("video", "--input_video", "video", "source video: motion, depth, sketch, mask, first/middle frame"),
    UserInput("prompt", "--input_text_desc", "text", "the caption"),
    UserInput("prompt_embeds"),
    UserInput("image", "--image_path", "image", "first-frame image (local_image)", misc_image=True),
    UserInput("style_image", "--style_image", "image", "style image (image)"),
    UserInput(
        "sketch",
        "--sketch_path",
        "sketch",
        "sketch image (cleaned by PiDiNet + the sketch GAN), or a sketch .safetensors from `extract`",
        misc_image=True,
    ),
    UserInput(
        "depth",
        "--depth_path",
        "depth",
        "depth map instead of MiDaS: .safetensors from `extract` (exact), or a "
        "greyscale image/video (white = near, mapped to [0, 1])",
    ),
    UserInput("mask", "--mask_path", "image", "inpainting mask image, white = regenerate (default: random)"),
    UserInput(
        "motion",
        "--trajectory",
        "trajectory",
        "hand-drawn motion instead of the video's: a JSON file of strokes "
        "(points per frame or a path, and a radius; the schema is in videocomposer/video/trajectory.py), as "
        "`videocomposer ui` exports",
    ),
):
    register_input(_input)


def text(ctx: BuildContext) -> torch.Tensor:
    """``[B, 77, D]``: OpenCLIP text context (penultimate layer) of the prompt, or the given embeddings."""
    if ctx.input("prompt_embeds") is not None:
        return ctx.input("prompt_embeds")
    if ctx.input("prompt") is None:
        raise ctx.missing_input()
    return ctx.builder.encode_prompt(ctx.input("prompt"), ctx.device)


def style(ctx: BuildContext) -> torch.Tensor:
    """``[B, 1, D]``: CLIP embedding of the style image, else of the clip's middle frame."""
    source = ctx.input("style_image")
    if source is None:
        source = ctx.clip().vit_image
    if source is None:
        raise ValueError(
            f"condition '{ctx.name}' reads the clip's 'vit_image' stream, which this clip was loaded "
            "without (register the condition's clip_streams)"
        )
    return ctx.builder.encode_image(source, ctx.device)


def first_frame(ctx: BuildContext) -> torch.Tensor:
    """``[B, 3, 1, M, M]``: the given image (or the clip's first misc frame) in [0, 1]."""
    if ctx.input("image") is not None:
        return ctx.rgb_source(ctx.input("image"), "image")
    return ctx.clip_stream("misc")[:, :, :1]


def masked_video(ctx: BuildContext) -> torch.Tensor:
    """``[B, 4, F, M, M]``: ``cat([(2·misc − 1)·(1 − mask), 1 − mask])`` with the given or the clip's mask."""
    misc = ctx.clip_stream("misc")
    mask = ctx.input("mask")
    if mask is None and ctx.clip().mask is None:
        raise ValueError("condition 'masked' needs mask= (the clip was sampled without a mask)")
    given = mask if mask is not None else ctx.clip_stream("mask")
    hidden = repeat_frames(mask_tensor(given, (misc.shape[-2], misc.shape[-1])), ctx.num_frames, "mask")
    b = max(misc.shape[0], hidden.shape[0])
    misc, hidden = expand_batch(misc, b, "video"), expand_batch(hidden, b, "mask")
    value = masked_condition(misc.transpose(1, 2).flatten(0, 1), hidden.transpose(1, 2).flatten(0, 1))
    return value.unflatten(0, (b, ctx.num_frames)).transpose(1, 2)


def depth(ctx: BuildContext) -> torch.Tensor:
    """``[B, 1, F, M, M]``: the given map, or MiDaS inverse depth / depth_std clamped to [0, depth_clamp]."""
    if ctx.input("depth") is not None:
        return video_tensor(ctx.input("depth"), "depth", 1)
    midas, b = ctx.model("midas"), ctx.builder
    return ctx.per_frame(
        lambda x: extract_depth(midas, x, b.annotator_chunk_size, b.depth_std, b.depth_clamp), ctx.clip_stream("misc")
    )


def _sketches(ctx: BuildContext) -> torch.Tensor:
    """The sketch video shared by ``sketch`` and ``single_sketch``: a given 1-channel map, the given
    image's sketch, or the clip's (only frame 0 when ``sketch`` itself is not requested)."""
    if "sketch" not in ctx.cache:
        given = ctx.input("sketch")
        if isinstance(given, torch.Tensor) and given.shape[-3 if given.ndim < 5 else 1] == 1:
            value = video_tensor(given[None] if given.ndim == 3 else given, "sketch", 1)
        elif given is not None:
            value = ctx.per_frame(ctx.builder.sketch, ctx.rgb_source(given, "sketch")[:, :, :1])
        else:
            misc = ctx.clip_stream("misc")
            first_only = ctx.name == "single_sketch" and "sketch" not in ctx.conditions
            value = ctx.per_frame(ctx.builder.sketch, misc[:, :, :1] if first_only else misc)
        ctx.cache["sketch"] = value
    return ctx.cache["sketch"]


def sketch(ctx: BuildContext) -> torch.Tensor:
    """``[B, 1, F, M, M]``: ``1 − cleaner(1 − pidinet(frame))`` in [0, 1] per frame."""
    return _sketches(ctx)


def single_sketch(ctx: BuildContext) -> torch.Tensor:
    """``[B, 1, 1, M, M]``: the first frame's sketch (or the sketch image's)."""
    return _sketches(ctx)[:, :, :1]


def motion(ctx: BuildContext) -> torch.Tensor:
    """``[B, 2, F, R, R]``: motion vectors (dx, dy) in pixels of the source (or, in the ``rescaled`` mode, of the
    source brought to the model's training scale: :mod:`videocomposer.video.motion`), sparse; or the given field."""
    if ctx.input("motion") is not None:
        return video_tensor(ctx.input("motion"), "motion", 2)
    return ctx.clip_stream("motion")


# In the reference's ``video_compositions`` order; ``STCEncoder.order`` is the order the reference sums them.
_OFFICIAL = (
    Condition(
        "y",
        "text",
        text,
        inputs=("prompt", "prompt_embeds"),
        layout="tokens",
        models=("clip:text",),
        implied_by=("prompt", "prompt_embeds"),
        unconditional="empty_caption",
        without="empty_caption",
        cached_output=True,
        description="the caption (OpenCLIP text context)",
    ),
    Condition(
        "masked",
        "mask",
        masked_video,
        inputs=("video",),
        implied_by=("mask",),
        clip_streams=("misc", "mask"),
        stc=STCEncoder(
            4, "cat([rgb·(1-m), 1-m]), rgb in [-1, 1], m in {0, 1}", "masked_embedding", "mask_embedding_after", order=5
        ),
        extractable=True,
        description="the video with a masked region to regenerate",
        preview=masked_preview,
    ),
    Condition(
        "depth",
        "depthmap",
        depth,
        inputs=("video", "depth"),
        implied_by=("depth", "video"),
        models=("midas",),
        clip_streams=("misc",),
        extractable=True,
        description="MiDaS depth of every frame",
        preview=depth_preview,
        evaluated_by="depth_error",
        stc=STCEncoder(1, "MiDaS depth / 20, clamped to [0, 10]", "depth_embedding", "depth_embedding_after", order=0),
    ),
    Condition(
        "sketch",
        "sketch",
        sketch,
        inputs=("video", "sketch"),
        implied_by=("video",),
        models=("pidinet", "sketch_cleaner"),
        clip_streams=("misc",),
        extractable=True,
        description="the sketch of every frame",
        evaluated_by="sketch_error",
        stc=STCEncoder(1, "per-frame sketch in [0, 1]", "sketch_embedding", "sketch_embedding_after", order=3),
    ),
    Condition(
        "motion",
        "motion",
        motion,
        inputs=("video", "motion"),
        implied_by=("motion", "video"),
        clip_streams=("motion",),
        extractable=True,
        description="motion vectors of the video",
        preview=motion_preview,
        evaluated_by="motion_error",
        motion_field=True,
        stc=STCEncoder(2, "motion vectors (dx, dy) in pixels", "motion_embedding", "motion_embedding_after", order=2),
    ),
    Condition(
        "image",
        "image",
        style,
        inputs=("style_image", "video"),
        layout="tokens",
        implied_by=("style_image", "video"),
        models=("clip:image",),
        clip_streams=("vit_image",),
        unconditional="zeros",
        cached_output=True,
        unet_keys=("pre_image_condition",),
        description="the style image (CLIP image embedding)",
    ),
    Condition(
        "local_image",
        "local_image",
        first_frame,
        inputs=("image", "video"),
        implied_by=("image", "video"),
        clip_streams=("misc_first",),
        extractable=True,
        description="the first frame",
        evaluated_by="first_frame_metrics",
        stc=STCEncoder(
            3,
            "RGB in [0, 1], one frame repeated over F",
            "local_image_embedding",
            "local_image_embedding_after",
            order=1,
        ),
    ),
    Condition(
        "single_sketch",
        "single_sketch",
        single_sketch,
        inputs=("sketch", "video"),
        implied_by=("sketch", "video"),
        models=("pidinet", "sketch_cleaner"),
        clip_streams=("misc_first",),
        extractable=True,
        description="the first frame's sketch",
        stc=STCEncoder(
            1,
            "one sketch in [0, 1] repeated over F",
            "single_sketch_embedding",
            "single_sketch_embedding_after",
            order=4,
        ),
    ),
)
for _condition in _OFFICIAL:
    register_condition(_condition)

#: The official model's ``video_compositions`` (reference names, in the reference's order).
OFFICIAL_COMPOSITIONS: tuple[str, ...] = tuple(c.reference_name for c in _OFFICIAL)
