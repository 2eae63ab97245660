"""The condition registry: one :class:`Condition` record per condition, and every table derived from it.

A condition is known by its UNet keyword name (``y``, ``image``, ``local_image``, ``masked``,
``depth``, ``sketch``, ``single_sketch``, ``motion``): that is the package's one vocabulary. The
reference's names (``text``, ``mask``, ``depthmap``, as in ``video_compositions``) are accepted only at
the edges (YAML files, the command line, ``UNetConfig.video_compositions``) through
:func:`normalize_condition`.

A record says everything the rest of the package needs: the user inputs that supply the condition
(and so the CLI flags), the frozen models it runs, the clip streams it reads, its extractor, its STC
encoder (channels and official state-dict names) and what the unconditional pass of classifier-free
guidance does with it. :func:`register_condition` adds one (e.g. a test's toy condition): the builder,
the UNet, the pipeline, the presets and the CLI pick it up without further edits.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import torch

from .context import BuildContext, needs_message

#: What the unconditional pass of classifier-free guidance gives a condition (see ``Condition.unconditional``).
Unconditional = Literal["empty_caption", "zeros", "same"]
#: What a guidance pass without a condition gives it (see ``Condition.without``).
Without = Literal["empty_caption", "zeros"]


@dataclass(frozen=True)
class UserInput:
    """An input a user gives (an argument of :meth:`ConditionBuilder.build` / the pipeline, a CLI flag).

    ``flag`` is the reference's CLI flag (None: no flag, e.g. tensors given only through the API);
    ``kind`` says how the CLI reads the file (``video``, ``image``, ``sketch``, ``depth``, ``trajectory``, ``text``;
    :func:`videocomposer.pipelines.inputs.read_input` has a reader for each); ``misc_image``: a PIL image given
    for it goes through the misc transform (the annotators' frame size), drawing from the clip's RNG in
    :data:`INPUTS` order before the clip is sampled, as the reference.
    """

    name: str
    flag: str | None = None
    kind: str = "image"
    help: str = ""
    misc_image: bool = False


@dataclass(frozen=True)
class STCEncoder:
    """The UNet's spatio-temporal encoder of a condition: input channels, value range, the two official
    state-dict prefixes, and ``order``: its position among the summed encoders (the reference's order,
    which also fixes module creation and the training-mode dropout draws)."""

    in_channels: int
    value_range: str
    stem_key: str
    frames_key: str
    order: int = 100


@dataclass(frozen=True)
class Condition:
    """One condition.

    Attributes:
        name: the UNet keyword argument that carries it (the package's name for it).
        reference_name: its name in the reference's ``video_compositions``.
        aliases: further names accepted at the edges.
        description: one line for help texts.
        inputs: user inputs (:data:`INPUTS` names, ``video`` = a video file or clip) any one of which
            provides it, in order of preference.
        implied_by: the inputs whose presence implies this condition when no conditions are named (``video``: when
            the loaded model serves it, see :func:`implied_conditions`).
        models: frozen models its extractor needs (``clip:text``, ``clip:image``, ``midas``, ``pidinet``,
            ``sketch_cleaner``), none when its input is given as a map.
        clip_streams: the :class:`~videocomposer.video.clip.VideoClip` streams it reads (``misc``,
            ``misc_first`` = only frame 0, ``motion``, ``vit_image``, ``mask``).
        extract: ``fn(ctx: BuildContext) -> tensor``: the UNet-ready tensor (layout below).
        layout: ``"tokens"`` (``[B, L, D]``, cross-attention context) or ``"video"`` (``[B, C, F, H, W]``).
        stc: its STC encoder, for ``video`` conditions.
        unconditional: the classifier-free-guidance unconditional pass: ``"empty_caption"`` (the
            UNet's ``zero_y``), ``"zeros"``, or ``"same"`` (the same tensor as the conditional pass).
        without: what a pass *without* this condition gives it when it has a guidance scale of its own
            (``guidance_scale={"motion": 3.0}``: nested guidance, :mod:`videocomposer.diffusion.guidance`):
            ``"empty_caption"`` (the UNet's ``zero_y``) or ``"zeros"`` (the null value the condition dropout of
            training gives a spatial condition).
        extractable: ``videocomposer extract`` can compute it from a video alone.
        preview: ``fn(one sample [F, C, H, W]) -> uint8 [F, H, W, 3]`` for the result grid (default:
            :func:`~videocomposer.conditions.previews.default_preview`).
        cached_output: the training condition cache stores its output: once per caption when it reads no
            clip stream, once per clip start otherwise (for extractors that run a frozen encoder on what a
            caption or a clip start fixes, such as the text and style embeddings). Any other condition is
            extracted while training, from the cached streams when it reads only those
            (:data:`videocomposer.training.cache.CACHED_STREAMS`), else from the decoded clip.
        unet_keys: state-dict prefixes of UNet modules only this condition feeds, besides its STC encoder
            (frozen while it is not trained).
        evaluated_by: the :mod:`videocomposer.evaluation` function that compares a generated video with
            this condition (``motion_error``, ``first_frame_metrics``, ``depth_error``, ``sketch_error``), if any.
        motion_field: its tensor is a sparse block motion field ``[B, 2, F, R, R]`` (dx, dy) that the initial
            noise can follow (the pipeline's ``noise_warp``).
    """

    name: str
    reference_name: str
    extract: Callable[[BuildContext], torch.Tensor]
    inputs: tuple[str, ...] = ()
    layout: Literal["tokens", "video"] = "video"
    stc: STCEncoder | None = None
    aliases: tuple[str, ...] = ()
    description: str = ""
    implied_by: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    clip_streams: tuple[str, ...] = ()
    unconditional: Unconditional = "same"
    without: Without = "zeros"
    extractable: bool = False
    preview: Callable[[torch.Tensor], Any] | None = None
    cached_output: bool = False
    unet_keys: tuple[str, ...] = ()
    evaluated_by: str | None = None
    motion_field: bool = False

    def __post_init__(self) -> None:
        if self.layout == "video" and self.stc is None:
            raise ValueError(f"condition {self.name!r}: a video condition needs an STC encoder (stc=STCEncoder(...))")
        unknown = [i for i in self.inputs if i not in INPUTS]
        if unknown:
            raise ValueError(
                f"condition {self.name!r}: unknown input(s) {unknown}; register them with register_input "
                f"(known: {list(INPUTS)})"
            )

    @property
    def stc_encoder(self) -> STCEncoder:
        """Its STC encoder; a ``ValueError`` for a ``tokens`` condition, which has none."""
        if self.stc is None:
            raise ValueError(f"condition {self.name!r} has no STC encoder (its layout is {self.layout!r})")
        return self.stc

    @property
    def names(self) -> tuple[str, ...]:
        """Every name this condition answers to (UNet kwarg first)."""
        return tuple(dict.fromkeys((self.name, self.reference_name, *self.aliases)))


#: Every user input by name, in the order the CLI lists them.
INPUTS: dict[str, UserInput] = {}
#: Every condition by UNet keyword name, in the reference's ``video_compositions`` order.
CONDITIONS: dict[str, Condition] = {}
_BY_ANY_NAME: dict[str, str] = {}


def register_input(user_input: UserInput) -> UserInput:
    """Add a user input (an argument name of the builder and pipeline; a CLI flag when ``flag`` is set)."""
    if user_input.name in INPUTS and INPUTS[user_input.name] != user_input:
        raise ValueError(f"input {user_input.name!r} is already registered differently")
    INPUTS[user_input.name] = user_input
    return user_input


def register_condition(condition: Condition) -> Condition:
    """Add a condition; its names must not clash with a registered one."""
    taken = {n: _BY_ANY_NAME[n] for n in condition.names if n in _BY_ANY_NAME and _BY_ANY_NAME[n] != condition.name}
    if taken or condition.name in CONDITIONS:
        raise ValueError(f"condition {condition.name!r}: name(s) already registered: {taken or [condition.name]}")
    CONDITIONS[condition.name] = condition
    for name in condition.names:
        _BY_ANY_NAME[name] = condition.name
    return condition


def unregister_condition(name: str) -> None:
    """Remove a condition added with :func:`register_condition` (for tests)."""
    condition = CONDITIONS.pop(name)
    for alias in condition.names:
        _BY_ANY_NAME.pop(alias, None)


def normalize_condition(name: str) -> str:
    """``'text'`` → ``'y'``, ``'depthmap'`` → ``'depth'``, ...; UNet keyword names pass unchanged."""
    if name in _BY_ANY_NAME:
        return _BY_ANY_NAME[name]
    references = [c.reference_name for c in CONDITIONS.values() if c.reference_name != c.name]
    raise ValueError(
        f"unknown condition {name!r}; choose from {list(CONDITIONS)} (or the reference names {references})"
    )


def normalize_conditions(names: str | Sequence[str]) -> list[str]:
    """A list (or a comma-separated string) of condition names → UNet keyword names, duplicates removed."""
    if isinstance(names, str):
        names = [n.strip() for n in names.split(",") if n.strip()]
    out: list[str] = []
    for name in names:
        kwarg = normalize_condition(name)
        if kwarg not in out:
            out.append(kwarg)
    if not out:
        raise ValueError("at least one condition is required")
    return out


def known_condition_names() -> set[str]:
    """Every name a registered condition answers to (UNet kwargs, reference names, aliases)."""
    return set(_BY_ANY_NAME)


def get_condition(name: str) -> Condition:
    """The record of a condition by any of its names."""
    return CONDITIONS[normalize_condition(name)]


def reference_name(name: str) -> str:
    """The reference's ``video_compositions`` name of a condition given by any name."""
    return get_condition(name).reference_name


def models_needed(conditions: Sequence[str]) -> set[str]:
    """The frozen models the conditions need: subset of ``{'clip:text', 'clip:image', 'midas', 'pidinet', 'sketch_cleaner'}``."""
    unknown = [c for c in conditions if c not in CONDITIONS]
    if unknown:
        raise ValueError(f"unknown condition(s) {unknown}; choose from {list(CONDITIONS)}")
    return {model for c in conditions for model in CONDITIONS[c].models}


def clip_streams(conditions: Sequence[str]) -> set[str]:
    """The clip streams the conditions read (``misc_first`` dropped when ``misc`` is read anyway)."""
    streams = {s for c in conditions for s in get_condition(c).clip_streams}
    return streams - {"misc_first"} if "misc" in streams else streams


def stc_conditions(names: Sequence[str] | None = None) -> list[Condition]:
    """Conditions with an STC encoder (among ``names``, any vocabulary), in the reference's summation order."""
    chosen = None if names is None else {normalize_condition(n) for n in names}
    encoded = [
        (c.stc.order, c) for c in CONDITIONS.values() if c.stc is not None and (chosen is None or c.name in chosen)
    ]
    return [c for _, c in sorted(encoded, key=lambda pair: pair[0])]


def missing_input_message(name: str) -> str:
    """``"condition 'depth' needs video= or depth="``-style text."""
    return needs_message(name, CONDITIONS[name].inputs)


def unconditional_rules(names: Sequence[str]) -> dict[str, Unconditional]:
    """``{UNet name: rule}`` of the conditions (any vocabulary) whose unconditional pass differs from the
    conditional one (``empty_caption`` or ``zeros``): the ``unconditional`` argument of
    :func:`videocomposer.diffusion.make_guidance_kwargs`."""
    records = [get_condition(name) for name in names]
    return {c.name: c.unconditional for c in records if c.unconditional != "same"}


def guidance_null_rules(names: Sequence[str]) -> dict[str, Without]:
    """``{UNet name: rule}`` of the conditions (any vocabulary): what a guidance pass without each gives it
    (``Condition.without``), the ``null_rules`` of :func:`videocomposer.diffusion.nested_guidance_kwargs`."""
    records = [get_condition(name) for name in names]
    return {c.name: c.without for c in records}


def guided_by_default(names: Sequence[str]) -> list[str]:
    """The conditions (UNet names) among ``names`` that a single guidance scale guides: those the unconditional
    pass drops (the text and the style image); the others are the same in both passes."""
    return [name for name in unconditional_rules(names)]


def evaluated_condition(function: str) -> str | None:
    """The condition that the evaluation function ``function`` compares a video with (``evaluated_by``), if any."""
    return next((c.name for c in CONDITIONS.values() if c.evaluated_by == function), None)


def motion_field_condition(names: Sequence[str]) -> str | None:
    """The first of ``names`` whose tensor is a motion field (:attr:`Condition.motion_field`), or None."""
    return next((n for n in names if get_condition(n).motion_field), None)


def input_flags(name: str) -> list[str]:
    """The CLI flags that can supply a condition (one of them is enough)."""
    flags = [INPUTS[i].flag for i in CONDITIONS[name].inputs]
    return [flag for flag in flags if flag]


def implied_conditions(given: dict, served: Collection[str] | None = None) -> list[str]:
    """The conditions implied by the inputs given (values not None), in the registry's order.

    A video implies only the conditions of :func:`video_conditions` among ``served`` (the loaded model's: a video
    gives many conditions, a model takes some); None: all of them.
    """

    def implied(condition: Condition, name: str) -> bool:
        return name in condition.implied_by and (name != "video" or served is None or condition.name in served)

    return [c.name for c in CONDITIONS.values() if any(given.get(n) is not None and implied(c, n) for n in INPUTS)]


def video_conditions() -> list[str]:
    """The conditions a video implies when no conditions are named (those with ``video`` in ``implied_by``)."""
    return [c.name for c in CONDITIONS.values() if "video" in c.implied_by]


def conditions_reading(
    name: str, conditions: Sequence[str], given: dict, precomputed: Collection[str] = ()
) -> list[str]:
    """The conditions among ``conditions`` that take their value from input ``name``: it is one of their inputs,
    no other of their inputs is given, and they are not ``precomputed``."""
    return [
        c
        for c in conditions
        if c not in precomputed
        and name in CONDITIONS[c].inputs
        and all(given.get(other) is None for other in CONDITIONS[c].inputs if other != name)
    ]
