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

**A scale per condition** (compositional guidance, :func:`nested_guidance_kwargs` and
:class:`NestedGuidedDenoiser`) uses the nested form of InstructPix2Pix (Brooks et al., CVPR 2023, eq. 3),
extended to ``k`` groups of kwargs ``G_1 … G_k`` with scales ``s_1 … s_k``::

    ε = ε(P_0) + Σ_j s_j · (ε(P_j) − ε(P_{j−1}))        P_j: groups 1..j present, j+1..k at their null value

``P_k`` is the conditional pass and ``P_0`` drops every group; kwargs in no group are the same in every pass.
It runs ``k + 1`` passes. With one group it is ``u + s·(c − u)`` itself (the same arithmetic, bit for bit); with
every ``s_j = s`` it telescopes to ``u + s·(c − u)`` of the groups together; and a group at ``s_j = 1`` leaves
the others' terms as they would be with that group present in every pass. (Composable diffusion, Liu et al.
ECCV 2022, ``ε_∅ + Σ s_i (ε(c_i) − ε_∅)``, also runs ``k + 1`` passes but never the pass with every condition,
and has neither property.)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import torch

EpsModel = Callable[..., torch.Tensor]  # model(x_t [B, C, F, H, W], t int64 [B], **kwargs) -> eps, shaped like x_t
#: What the unconditional pass gives a kwarg: the empty caption's embedding, zeros, or the same tensor.
UNCONDITIONAL_RULES = ("empty_caption", "zeros", "same")


def make_guidance_kwargs(
    conditions: Mapping[str, Any],
    zero_y: torch.Tensor | None,
    guidances: Sequence[str],
    unconditional: Mapping[str, str],
) -> tuple[dict[str, Any], dict[str, Any]]:
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
    uncond = {key: _null_value(unconditional.get(key, "same"), value, zero_y, key) for key, value in cond.items()}
    return cond, uncond


def nested_guidance_kwargs(
    conditions: Mapping[str, Any],
    zero_y: torch.Tensor | None,
    guidances: Sequence[str],
    groups: Sequence[Collection[str]],
    null_rules: Mapping[str, str],
    nulls: Mapping[str, torch.Tensor] | None = None,
) -> list[dict[str, Any]]:
    """The passes ``P_0 … P_k`` of nested guidance (module docstring) over ``k = len(groups)`` groups of kwargs.

    ``conditions``, ``zero_y``, ``guidances``: as :func:`make_guidance_kwargs`. ``groups``: disjoint kwarg names
    among ``guidances``, innermost first; ``null_rules``: what a pass without a grouped kwarg gives it
    (``empty_caption`` or ``zeros``); ``nulls``: a given null value by kwarg instead (e.g. a negative prompt's
    embedding ``[B, L, D]`` for the text). Every pass holds only the ``guidances`` keys; ``P_k`` is the conditional pass.
    """
    make_guidance_kwargs(conditions, zero_y, guidances, {})  # the same checks of the names
    grouped = [key for group in groups for key in group]
    if len(set(grouped)) != len(grouped) or not set(grouped) <= set(guidances):
        raise ValueError(f"groups {[sorted(g) for g in groups]} must be disjoint and among guidances {list(guidances)}")
    rules = {key: null_rules.get(key, "") for key in grouped}
    bad = {key: rule for key, rule in rules.items() if rule not in ("empty_caption", "zeros")}
    if bad:
        raise ValueError(f"null rules {bad}: a guided kwarg needs 'empty_caption' or 'zeros'")
    cond = {key: conditions[key] for key in guidances}
    null = {key: (nulls or {}).get(key) for key in grouped}
    null = {key: _null_value(rules[key], cond[key], zero_y, key) if v is None else v for key, v in null.items()}
    passes = []
    for j in range(len(groups) + 1):
        dropped = {key for group in groups[j:] for key in group}
        passes.append({key: null[key] if key in dropped else value for key, value in cond.items()})
    return passes


def frame_guidance_scales(guidance_scale: float, min_guidance_scale: float, num_frames: int) -> torch.Tensor:
    """Per-frame guidance scales ``[1, 1, F, 1, 1]`` float32 (broadcast over a ``[B, C, F, H, W]`` ε):
    linear from ``min_guidance_scale`` (frame 0) to ``guidance_scale`` (frame ``F - 1``), as diffusers'
    ``StableVideoDiffusionPipeline`` (``min_guidance_scale`` → ``max_guidance_scale``)."""
    return torch.linspace(min_guidance_scale, guidance_scale, num_frames, dtype=torch.float32).view(1, 1, -1, 1, 1)


def _null_value(rule: str, value: Any, zero_y: torch.Tensor | None, key: str) -> Any:
    """A kwarg's value in a pass without it: the empty caption, zeros, or (``same``) the value itself."""
    if rule == "empty_caption":
        return _empty_caption(zero_y, value, key)
    return torch.zeros_like(value) if rule == "zeros" else value


def _empty_caption(zero_y: torch.Tensor | None, y: torch.Tensor, key: str) -> torch.Tensor:
    """``zero_y`` ``[1, L, D]`` repeated to the batch of ``y`` ``[B, L, D]``."""
    if zero_y is None:
        raise ValueError(f"zero_y (the empty-caption embedding [1, 77, D]) is required when '{key}' is in guidances")
    if zero_y.shape[-2:] != y.shape[1:] or zero_y.numel() != y[0].numel():
        raise ValueError(f"zero_y {tuple(zero_y.shape)} must be [1, L, D] matching {key} {tuple(y.shape)}")
    return zero_y.reshape(1, *y.shape[1:]).to(y).repeat(y.shape[0], 1, 1)


def can_batch(cond: Mapping[str, Any], uncond: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None) -> bool:
    """Whether the passes (``cond`` and ``uncond``, or each of a sequence of unconditional passes) can run as one
    forward: same keys, every value a tensor (or None in all)."""
    if uncond is None:
        return False
    others = [uncond] if isinstance(uncond, Mapping) else list(uncond)
    return all(
        set(cond) == set(other)
        and all(
            (isinstance(c, torch.Tensor) and isinstance(other[k], torch.Tensor)) or (c is None and other[k] is None)
            for k, c in cond.items()
        )
        for other in others
    )


def _concat_kwargs(cond: Mapping[str, Any], uncond: Mapping[str, Any]) -> dict[str, Any]:
    """Stack the two passes along the batch: tensors are concatenated ``[cond; uncond]``."""
    if not can_batch(cond, uncond):
        raise ValueError(
            f"batched guidance needs the same tensor kwargs in both passes, got "
            f"{ {k: type(v).__name__ for k, v in cond.items()} } and "
            f"{ {k: type(v).__name__ for k, v in uncond.items()} } (use batched_cfg=False)"
        )
    return {key: None if c is None else torch.cat([c, uncond[key]]) for key, c in cond.items()}


class GuidedDenoiser:
    """``eps(x_t, t)`` for a sampler: one model pass, or the guided ``u + s·(c − u)`` of two.

    ``guidance_scale`` is a number or a tensor that broadcasts over ε (per frame: :func:`frame_guidance_scales`);
    ``None`` runs the model once with ``cond_kwargs``. Otherwise the conditional
    and unconditional passes run either as two forwards (the reference's order: cond, then uncond)
    or, with ``batched=True``, as one forward of batch ``2B`` (requires tensor kwargs).
    """

    def __init__(
        self,
        model: EpsModel,
        cond_kwargs: Mapping[str, Any],
        uncond_kwargs: Mapping[str, Any] | None = None,
        guidance_scale: float | torch.Tensor | None = None,
        batched: bool = False,
    ):
        if guidance_scale is not None and uncond_kwargs is None:
            raise ValueError("uncond_kwargs are required when guidance_scale is set (see make_guidance_kwargs)")
        self.model = model
        self.cond_kwargs = dict(cond_kwargs)
        self.uncond_kwargs = dict(uncond_kwargs) if uncond_kwargs is not None else {}  # read only when guided
        self.guidance_scale = guidance_scale
        self.batched_kwargs = (
            _concat_kwargs(cond_kwargs, self.uncond_kwargs) if batched and guidance_scale is not None else None
        )

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


class NestedGuidedDenoiser:
    """``eps(x_t, t)`` of nested guidance (module docstring): ``ε(P_0) + Σ_j s_j·(ε(P_j) − ε(P_{j−1}))``.

    ``passes``: ``P_0 … P_k`` (:func:`nested_guidance_kwargs`); ``scales``: ``s_1 … s_k``, each a number or a tensor
    that broadcasts over ε (per frame: :func:`frame_guidance_scales`). The passes run as ``k + 1`` forwards
    (conditional first, as :class:`GuidedDenoiser`), or with ``batched=True`` as one forward of batch ``(k + 1)·B``.
    """

    def __init__(
        self,
        model: EpsModel,
        passes: Sequence[Mapping[str, Any]],
        scales: Sequence[float | torch.Tensor],
        batched: bool = False,
    ):
        if len(passes) != len(scales) + 1 or not scales:
            raise ValueError(
                f"nested guidance needs one pass more than scales (k >= 1), got {len(passes)} passes "
                f"and {len(scales)} scales"
            )
        if batched and not can_batch(passes[-1], passes[:-1]):
            raise ValueError("batched guidance needs the same tensor kwargs in every pass (use batched_cfg=False)")
        self.model = model
        self.passes = [dict(p) for p in passes]
        self.scales = list(scales)
        self.batched_kwargs = (
            {
                key: None if value is None else torch.cat([p[key] for p in self.passes])
                for key, value in self.passes[0].items()
            }
            if batched
            else None
        )

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """``x_t``: ``[B, C, F, H, W]``; ``t``: ``[B]``. Returns ε ``[B, C, F, H, W]``."""
        n = len(self.passes)
        if self.batched_kwargs is not None:
            eps = list(self.model(torch.cat([x_t] * n), torch.cat([t] * n), **self.batched_kwargs).chunk(n))
        else:
            last = self.model(x_t, t, **self.passes[-1])
            eps = [self.model(x_t, t, **p) for p in self.passes[:-1]] + [last]
        out = eps[0]
        for j, scale in enumerate(self.scales, start=1):
            if isinstance(scale, torch.Tensor):
                scale = scale.to(out.device, out.dtype)
            out = out + scale * (eps[j] - eps[j - 1])
        return out
