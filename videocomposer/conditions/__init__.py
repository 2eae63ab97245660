"""Conditions: the registry of what a condition is, and the builder shared by inference and training.

* :mod:`.registry`: one :class:`Condition` record per condition and the tables derived from it;
  :func:`register_condition` adds one.
* :mod:`.context`: :class:`BuildContext`, what an extractor sees, and the tensor helpers extractors share.
* :mod:`.builder`: :class:`ConditionBuilder` (a clip and/or user inputs → UNet kwargs).
* :mod:`.builtin`: the official model's eight conditions and their extractors.

The built-in conditions (``B`` batch, ``F`` frames, ``M`` the misc/annotator size, ``R`` the video size):

================= ===================== ===============================================================
``y``             ``[B, 77, D]``        OpenCLIP text context (penultimate layer) of the prompt
``image``         ``[B, 1, D]``         CLIP embedding of the style image, else of the clip's middle frame
``local_image``   ``[B, 3, F, M, M]``   first frame (or the given image) in [0, 1], repeated over F
``masked``        ``[B, 4, F, M, M]``   ``cat([(2·misc − 1)·(1 − mask), 1 − mask])``
``depth``         ``[B, 1, F, M, M]``   MiDaS inverse depth / 20, clamped to [0, 10]
``sketch``        ``[B, 1, F, M, M]``   ``1 − cleaner(1 − pidinet(frame))`` in [0, 1]
``single_sketch`` ``[B, 1, F, M, M]``   the first frame's sketch (or the sketch image's), repeated
``motion``        ``[B, 2, F, R, R]``   motion vectors (dx, dy) in source pixels, sparse (see
                                        :mod:`videocomposer.video.motion` for the modes)
================= ===================== ===============================================================
"""

from __future__ import annotations

from .builder import ConditionBuilder
from .builtin import OFFICIAL_COMPOSITIONS  # registers the built-in conditions
from .context import BuildContext, FrozenModels, expand_batch, misc_transform, repeat_frames, video_tensor
from .registry import (
    CONDITIONS,
    INPUTS,
    Condition,
    STCEncoder,
    Unconditional,
    UserInput,
    Without,
    clip_streams,
    conditions_reading,
    evaluated_condition,
    get_condition,
    guidance_null_rules,
    guided_by_default,
    implied_conditions,
    input_flags,
    known_condition_names,
    missing_input_message,
    models_needed,
    motion_field_condition,
    normalize_condition,
    normalize_conditions,
    reference_name,
    register_condition,
    register_input,
    stc_conditions,
    unconditional_rules,
    unregister_condition,
    video_conditions,
)

__all__ = [
    "CONDITIONS",
    "INPUTS",
    "OFFICIAL_COMPOSITIONS",
    "BuildContext",
    "Condition",
    "ConditionBuilder",
    "FrozenModels",
    "STCEncoder",
    "Unconditional",
    "UserInput",
    "Without",
    "clip_streams",
    "conditions_reading",
    "evaluated_condition",
    "expand_batch",
    "get_condition",
    "guidance_null_rules",
    "guided_by_default",
    "implied_conditions",
    "input_flags",
    "known_condition_names",
    "misc_transform",
    "missing_input_message",
    "models_needed",
    "motion_field_condition",
    "normalize_condition",
    "normalize_conditions",
    "reference_name",
    "register_condition",
    "register_input",
    "repeat_frames",
    "stc_conditions",
    "unconditional_rules",
    "unregister_condition",
    "video_conditions",
    "video_tensor",
]
