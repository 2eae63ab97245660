"""The built-in toy model: a small VideoComposer trained from scratch on synthetic moving shapes.

It ships inside the package (``videocomposer/assets/toy_model``, a ``save_pretrained`` folder of about
20 MB) so that generation with real condition following runs anywhere in seconds, without downloads::

    import videocomposer
    pipe = videocomposer.VideoComposerPipeline.from_pretrained(videocomposer.toy_model_dir())
    out = pipe("a red circle moves left over a gray background", video="clip.mp4", image=first_frame)

Conditions: text (``y``), first frame (``local_image``) and motion vectors (``motion``); 8 frames of
64 x 64 (its own defaults: the size in ``model_index.json``, the sampling settings in
``scheduler/scheduler_config.json``). ``MODEL_CARD.md`` in the folder gives the recipe
(``recipes/toy`` in the repository), the training data and the measured metrics. On the command line
the model is ``--weights-dir toy``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

#: Where the package keeps the toy model.
PACKAGED_TOY_MODEL = Path(__file__).resolve().parents[1] / "assets" / "toy_model"
#: The ``--weights-dir`` value that selects the toy model.
TOY_WEIGHTS_NAME = "toy"
#: The command that rebuilds the toy model from nothing and installs it into the package (from a checkout of the
#: repository: the recipe lives in ``recipes/toy``, outside the package).
RECIPE_COMMAND = "python -m recipes.toy --output-dir runs/toy --threads 2 --evaluate --install"


def toy_model_dir() -> Path:
    """The folder of the built-in toy model (load it with ``VideoComposerPipeline.from_pretrained``).

    Raises:
        FileNotFoundError: the package was installed without it (it is package data); rebuild it with
            :data:`RECIPE_COMMAND`.
    """
    if not (PACKAGED_TOY_MODEL / "model_index.json").is_file():
        raise FileNotFoundError(
            f"the built-in toy model is missing from {PACKAGED_TOY_MODEL} (this installation left out "
            f"the package data); rebuild it with: {RECIPE_COMMAND}"
        )
    return PACKAGED_TOY_MODEL


def resolve_weights_dir(value: str | os.PathLike) -> Path:
    """A ``--weights-dir`` value: ``toy`` is the built-in toy model (unless a folder of that name exists)."""
    if os.fspath(value) == TOY_WEIGHTS_NAME and not Path(value).is_dir():
        return toy_model_dir()
    return Path(value)


def stored_defaults(folder: str | os.PathLike) -> dict[str, Any]:
    """The output size and sampling defaults a ``save_pretrained`` folder stores (``num_frames``, ``height``,
    ``width``, ``num_inference_steps``, ``guidance_scale``, ``min_guidance_scale``, ``scheduler``, ...: its
    ``model_index.json`` and ``scheduler/scheduler_config.json``); empty for a folder of official files."""
    from .folder_settings import stored_settings

    return stored_settings(folder)
