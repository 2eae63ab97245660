"""A guidance scale per condition (``pipe(..., guidance_scale={"y": 7.5, "motion": 3.0})``): the groups of nested
guidance (:mod:`videocomposer.diffusion.guidance`), their order and scales, and the passes they need.

Each condition the mapping names is a group of its own, guided at its scale against a pass that gives it its null
value (the registry's ``Condition.without``: the empty caption for the text, zeros otherwise). The conditions it does
not name that a single number guides (the text and the style image, :func:`~videocomposer.conditions.guided_by_default`)
form one group at the model's default scale (``scheduler_config.guidance_scale``; not guided when that is None or
≤ 1), and every other condition is the same in every pass, as with a single number.

Groups are nested innermost first: the spatial conditions (registry order), then the text and style. So with the
text at ``s`` and ``motion`` at ``m``::

    ε = ε(∅, motion 0) + m·(ε(∅, motion) − ε(∅, motion 0)) + s·(ε(text, motion) − ε(∅, motion))

``m = 1`` is today's ``u + s·(c − u)`` (the motion present in both passes), up to float rounding, and each scale
above 1 pushes its condition harder. A mapping runs one pass per group plus one.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from ..conditions import CONDITIONS, guidance_null_rules, guided_by_default, normalize_condition, unconditional_rules
from ..diffusion import frame_guidance_scales, make_guidance_kwargs, nested_guidance_kwargs

#: A guidance scale as ``__call__`` takes it: one number (None: no guidance), or one per condition.
GuidanceScale = float | Mapping[str, float] | None


def condition_scales(scales: Mapping[str, Any], field: str = "guidance_scale") -> dict[str, float]:
    """``{condition name (any vocabulary): scale}`` → ``{UNet name: float}``; a ``ValueError`` naming ``field`` for an
    unknown condition, a name given twice, or a scale that is not a number ≥ 0."""
    out: dict[str, float] = {}
    for name, value in scales.items():
        try:
            kwarg = normalize_condition(str(name))
        except ValueError as exc:
            raise ValueError(f"{field}: {exc}") from None
        if kwarg in out:
            raise ValueError(f"{field}: condition {kwarg!r} is given twice (as {name!r})")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
            raise ValueError(f"{field}: the scale of {name!r} must be a number >= 0, got {value!r}")
        if not math.isfinite(value):
            raise ValueError(f"{field}: the scale of {name!r} must be a finite number, got {value!r}")
        out[kwarg] = float(value)
    return out


@dataclass(frozen=True)
class ConditionGuidance:
    """Nested guidance's groups of UNet kwargs, innermost first, and the scale of each."""

    groups: tuple[tuple[str, ...], ...]
    scales: tuple[float, ...]


def condition_guidance(
    scales: Mapping[str, Any], conditions: Sequence[str], default: float | None
) -> ConditionGuidance:
    """The groups and scales of a per-condition ``scales`` mapping over the ``conditions`` used (module docstring);
    ``default``: the scale of the unnamed conditions a single number guides. A ``ValueError`` for a scale of a
    condition that is not used."""
    named = condition_scales(scales)
    unused = [name for name in named if name not in conditions]
    if unused:
        raise ValueError(f"guidance_scale names {unused}, which are not among the conditions used {list(conditions)}")
    by_default = guided_by_default(conditions)
    groups: list[tuple[tuple[str, ...], float]] = [((name,), scale) for name, scale in named.items()]
    rest = tuple(c for c in by_default if c not in named)
    if rest and default is not None and default > 1.0:
        groups.append((rest, default))
    order = list(CONDITIONS)
    groups.sort(key=lambda g: (g[0][0] in by_default, order.index(g[0][0])))
    return ConditionGuidance(tuple(g for g, _ in groups), tuple(s for _, s in groups))


def condition_guidance_passes(
    guidance: ConditionGuidance,
    conditions: Mapping[str, torch.Tensor],
    used: Sequence[str],
    zero_y: torch.Tensor | None,
    min_guidance_scale: float | None,
    num_frames: int,
    nulls: Mapping[str, torch.Tensor] | None = None,
) -> tuple[list[dict[str, Any]], list[float | torch.Tensor]]:
    """The passes ``P_0 … P_k`` (:func:`~videocomposer.diffusion.nested_guidance_kwargs`) and the scales of
    :func:`~videocomposer.diffusion.sample`; with ``min_guidance_scale`` every scale is a per-frame ramp
    ``[1, 1, F, 1, 1]`` from it on frame 0 to the group's scale on the last frame."""
    grouped = [name for group in guidance.groups for name in group]
    passes = nested_guidance_kwargs(conditions, zero_y, used, guidance.groups, guidance_null_rules(grouped), nulls)
    if min_guidance_scale is None:
        return passes, list(guidance.scales)
    return passes, [frame_guidance_scales(s, min_guidance_scale, num_frames) for s in guidance.scales]


def guided_passes(
    unet: Any,
    cond: dict[str, torch.Tensor],
    conditions: Sequence[str],
    guidance_scale: GuidanceScale,
    min_guidance_scale: float | None,
    num_frames: int,
    negative_prompt_embeds: torch.Tensor | None,
    default_scale: float | None,
) -> tuple[dict[str, torch.Tensor], Any, Any]:
    """The guided passes of a call (``unet``: a :class:`~videocomposer.models.unet.VideoComposerUNet`; ``cond``: the
    built conditions by UNet kwarg, on its device; ``default_scale``: the model's guidance scale):
    ``(cond_kwargs, uncond_kwargs, scale)`` of :func:`~videocomposer.diffusion.sample`
    in the UNet's dtype: one unconditional pass and scale (the reference), a list of passes and scales (a scale per
    condition: :mod:`.condition_guidance`), or ``(cond_kwargs, None, None)`` unguided."""
    unet_dtype = next(unet.parameters()).dtype
    negative = None if negative_prompt_embeds is None else negative_prompt_embeds.to(torch.float32).expand_as(cond["y"])
    if isinstance(guidance_scale, Mapping):
        guidance = condition_guidance(guidance_scale, conditions, default_scale)
        if not guidance.groups:
            return {k: cond[k].to(unet_dtype) for k in conditions}, None, None
        grouped = {name for group in guidance.groups for name in group}
        passes, scales = condition_guidance_passes(
            guidance,
            cond,
            conditions,
            unet.empty_caption() if "y" in grouped else None,
            min_guidance_scale,
            num_frames,
            {"y": negative} if negative is not None else None,
        )
        passes = [{k: v.to(unet_dtype) for k, v in p.items()} for p in passes]
        return passes[-1], passes[:-1], scales
    rules = unconditional_rules(conditions)
    needs_empty_caption = "empty_caption" in rules.values()
    cond_kwargs, uncond_kwargs = make_guidance_kwargs(
        cond, unet.empty_caption() if needs_empty_caption else None, conditions, rules
    )
    if negative is not None:
        uncond_kwargs["y"] = negative
    cond_kwargs = {k: v.to(unet_dtype) for k, v in cond_kwargs.items()}
    if guidance_scale is None or guidance_scale <= 1.0:
        return cond_kwargs, None, None
    scale = (
        frame_guidance_scales(guidance_scale, min_guidance_scale, num_frames)
        if min_guidance_scale is not None
        else guidance_scale
    )
    return cond_kwargs, {k: v.to(unet_dtype) for k, v in uncond_kwargs.items()}, scale
