"""Conditions: the registry of what a condition is, and the builder shared by inference and training.

* :mod:`.registry`: one :class:`Condition` record per condition and the tables derived from it;
  :func:`register_condition` adds one.
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

from .registry import (CONDITIONS, INPUTS, Condition, STCEncoder, UserInput, clip_streams, conditions_reading,
                       get_condition, implied_conditions, input_flags, known_condition_names, missing_input_message, models_needed, normalize_condition, normalize_conditions, reference_name,
                       register_condition, register_input, stc_conditions, unregister_condition, video_conditions)
from .builder import BuildContext, ConditionBuilder, misc_transform  # noqa: E402  (after the registry)
from .builtin import OFFICIAL_COMPOSITIONS  # noqa: E402  (registers the built-in conditions)


__all__ = ["BuildContext", "CONDITIONS", "OFFICIAL_COMPOSITIONS", "Condition", "ConditionBuilder", "INPUTS", "STCEncoder", "UserInput",
           "clip_streams", "conditions_reading", "get_condition", "implied_conditions", "input_flags", "known_condition_names", "misc_transform",
           "missing_input_message", "models_needed", "normalize_condition", "normalize_conditions", "reference_name",
           "register_condition", "register_input", "stc_conditions", "unregister_condition",
           "video_conditions"]
