"""Classifier-free guidance: forming the two passes and combining their ε predictions.

The reference (``inference_single.py``) builds a conditional and an unconditional kwargs dict, keeps
only the task's ``guidances`` keys in both, and guides with ``u + s·(c − u)``. In the unconditional
pass only the text and the style image are dropped; every spatial condition is passed unchanged,
so guidance contrasts text and style only. This module works on plain tensors and kwargs names: what
the unconditional pass gives each kwarg is an argument (the condition registry's
:func:`~videocomposer.conditions.unconditional_rules` for the UNet's conditions).

The scale is one number (the reference) or one per frame (:func:`frame_guidance_scales`, as Stable Video
Diffusion): a ramp from ``min_guidance_scale`` on frame 0 to ``guidance_scale`` on the last frame keeps
the frame that a first-frame image fixes close to it while the later frames still follow the text.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

EpsModel = Callable[..., torch.Tensor]  # model(x_t [B, C, F, H, W], t int64 [B], **kwargs) -> eps, shaped like x_t
#: What the unconditional pass gives a kwarg: the empty caption's embedding, zeros, or the same tensor.
UNCONDITIONAL_RULES = ("empty_caption", "zeros", "same")


def make_guidance_kwargs(conditions: Mapping[str, Any], zero_y: torch.Tensor | None, guidances: Sequence[str],
                         unconditional: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``(cond, uncond)`` model kwargs of a task, exactly as the reference forms them.

    ``conditions``: every extracted condition by model kwarg name (e.g. a text context ``[B, 77, D]``,
    a style embedding ``[B, 1, D]``, spatial maps ``[B, C, F, H, W]``); ``guidances``: the task's kwarg
    names; ``unconditional``: the rule of each kwarg whose unconditional value differs (names absent:
    ``same``): ``empty_caption`` → ``zero_y.repeat(B, 1, 1)``, ``zeros`` → ``zeros_like(value)``;
    ``zero_y``: the embedding of the empty caption ``[1, 77, D]`` (the model's ``zero_y``, not zeros),
    needed when a guided kwarg has the ``empty_caption`` rule.

    Both dicts hold only the ``guidances`` keys (a task without the text passes no text in either: the
    UNet then uses its own ``zero_y`` in both).
    """
    missing = [key for key in guidances if key not in conditions]
    if missing:
        raise ValueError(f"guidances name {missing}, which are not among the conditions given {sorted(conditions)}")
    unknown = {key: rule for key, rule in unconditional.items() if rule not in UNCONDITIONAL_RULES}
    if unknown:
        raise ValueError(f"unconditional rules {unknown}: each must be one of {list(UNCONDITIONAL_RULES)}")
    cond = {key: conditions[key] for key in guidances}
    uncond = dict(cond)
    for key, value in cond.items():
        rule = unconditional.get(key, "same")
        if rule == "empty_caption":
            uncond[key] = _empty_caption(zero_y, value, key)
        elif rule == "zeros":
            uncond[key] = torch.zeros_like(value)
    return cond, uncond


def frame_guidance_scales(guidance_scale: float, min_guidance_scale: float, num_frames: int) -> torch.Tensor:
    """Per-frame guidance scales ``[1, 1, F, 1, 1]`` float32 (broadcast over a ``[B, C, F, H, W]`` ε):
    linear from ``min_guidance_scale`` (frame 0) to ``guidance_scale`` (frame ``F - 1``), as diffusers'
    ``StableVideoDiffusionPipeline`` (``min_guidance_scale`` → ``max_guidance_scale``)."""
    return torch.linspace(min_guidance_scale, guidance_scale, num_frames, dtype=torch.float32).view(1, 1, -1, 1, 1)


def _empty_caption(zero_y: torch.Tensor | None, y: torch.Tensor, key: str) -> torch.Tensor:
    """``zero_y`` ``[1, L, D]`` repeated to the batch of ``y`` ``[B, L, D]``."""
    if zero_y is None:
        raise ValueError(f"zero_y (the empty-caption embedding [1, 77, D]) is required when '{key}' is in guidances")
    if zero_y.shape[-2:] != y.shape[1:] or zero_y.numel() != y[0].numel():
        raise ValueError(f"zero_y {tuple(zero_y.shape)} must be [1, L, D] matching {key} {tuple(y.shape)}")
    return zero_y.reshape(1, *y.shape[1:]).to(y).repeat(y.shape[0], 1, 1)


def can_batch(cond: Mapping[str, Any], uncond: Mapping[str, Any] | None) -> bool:
    """Whether the two passes can run as one forward: same keys, every value a tensor (or None in both)."""
    return uncond is not None and set(cond) == set(uncond) and all(
        (isinstance(c, torch.Tensor) and isinstance(uncond[k], torch.Tensor)) or (c is None and uncond[k] is None)
        for k, c in cond.items())


def _concat_kwargs(cond: Mapping[str, Any], uncond: Mapping[str, Any]) -> dict[str, Any]:
    """Stack the two passes along the batch: tensors are concatenated ``[cond; uncond]``."""
    if not can_batch(cond, uncond):
        raise ValueError(f"batched guidance needs the same tensor kwargs in both passes, got "
                         f"{ {k: type(v).__name__ for k, v in cond.items()} } and "
                         f"{ {k: type(v).__name__ for k, v in uncond.items()} } (use batched_cfg=False)")
    return {key: None if c is None else torch.cat([c, uncond[key]]) for key, c in cond.items()}


class GuidedDenoiser:
    """``eps(x_t, t)`` for a sampler: one model pass, or the guided ``u + s·(c − u)`` of two.

    ``guidance_scale`` is a number or a tensor that broadcasts over ε (per frame: :func:`frame_guidance_scales`);
    ``None`` runs the model once with ``cond_kwargs``. Otherwise the conditional
    and unconditional passes run either as two forwards (the reference's order: cond, then uncond)
    or, with ``batched=True``, as one forward of batch ``2B`` (requires tensor kwargs).
    """

    def __init__(self, model: EpsModel, cond_kwargs: Mapping[str, Any], uncond_kwargs: Mapping[str, Any] | None = None,
                 guidance_scale: float | torch.Tensor | None = None, batched: bool = False):
        if guidance_scale is not None and uncond_kwargs is None:
            raise ValueError("uncond_kwargs are required when guidance_scale is set (see make_guidance_kwargs)")
        self.model = model
        self.cond_kwargs = dict(cond_kwargs)
        self.uncond_kwargs = dict(uncond_kwargs) if uncond_kwargs is not None else {}  # read only when guided
        self.guidance_scale = guidance_scale
        self.batched_kwargs = _concat_kwargs(cond_kwargs, self.uncond_kwargs) if batched and guidance_scale is not None \
            else None

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t``: ``[B, C, F, H, W]``; ``t``: ``[B]``. Returns ε ``[B, C, F, H, W]``."""
        if self.guidance_scale is None:
            return self.model(x_t, t, **self.cond_kwargs)
        if self.batched_kwargs is not None:
            c, u = self.model(torch.cat([x_t, x_t]), torch.cat([t, t]), **self.batched_kwargs).chunk(2)
        else:
            c = self.model(x_t, t, **self.cond_kwargs)
            u = self.model(x_t, t, **self.uncond_kwargs)
        scale = self.guidance_scale
        if isinstance(scale, torch.Tensor):
            scale = scale.to(c.device, c.dtype)
        return u + scale * (c - u)
