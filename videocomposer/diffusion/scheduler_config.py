"""How a model is sampled, as data: :class:`SchedulerConfig`, the ``scheduler`` component of a model folder.

A ``save_pretrained`` folder stores it as ``scheduler/scheduler_config.json`` (as diffusers stores its schedulers),
e.g. the built-in toy model's::

    {"_class_name": "SchedulerConfig", "_videocomposer_version": "0.1.0", "scheduler": "dpmsolver++",
     "num_inference_steps": 20, "eta": 0.0, "guidance_scale": 3.0, "min_guidance_scale": 1.0,
     "prediction_type": "v_prediction", "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
     "num_train_timesteps": 1000, "zero_terminal_snr": true, "noise_correlation": 0.0, "empty_caption": "zeros"}

The defaults, ``SchedulerConfig()``, are the official model's: DDIM, 50 steps, eta 0, guidance 9.0 on every frame,
ε-prediction on Stable Diffusion's scaled-linear schedule of 1000 steps, independent noise per frame, and the text
tower's embedding of ``""`` as the empty caption. Keys starting with ``_`` are metadata, ignored when read.
"""

from __future__ import annotations

import dataclasses
import json
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..config import ConfigError, build
from ..files import write_text
from .noise import check_noise_correlation
from .prediction import check_prediction_type
from .schedule import NoiseSchedule
from .schedulers import SCHEDULERS

#: The beta schedules a model may be trained on, by diffusers' names: ``"scaled_linear"`` is Stable Diffusion's
#: (the reference's ``linear_sd``): ``linspace(sqrt(beta_start), sqrt(beta_end), num_train_timesteps) ** 2``.
BETA_SCHEDULES = ("scaled_linear",)
#: How a model's empty caption (the UNet's ``zero_y``: the text context of the unconditional pass, and of a call
#: without a caption) is formed. ``"encoded"``: the text tower's embedding of ``""``, as the reference's inference
#: (the official model). ``"zeros"``: a zero context, which is what the condition dropout turns a dropped caption
#: into in training (the reference's UNet, and so ``videocomposer train``): a model trained with its captions
#: dropped that way has only ever seen zeros as "no caption".
EMPTY_CAPTIONS = ("encoded", "zeros")


def check_empty_caption(kind: str) -> str:
    """``kind`` if it is one of :data:`EMPTY_CAPTIONS`, else a ``ValueError`` naming them."""
    if kind not in EMPTY_CAPTIONS:
        raise ValueError(f"empty_caption must be one of {', '.join(EMPTY_CAPTIONS)}, got {kind!r}")
    return kind


@dataclass(frozen=True)
class SchedulerConfig:
    """How a model samples: the sampler and its step count, guidance, and what the model was trained on.

    Every value is checked when the config is made (a ``ValueError`` naming the field); a config read from a file
    (:meth:`from_json_file`) names the file too. Change a value with ``dataclasses.replace(config, field=value)``.
    """

    #: Folder of a ``save_pretrained`` model that holds the config, and the file's name in it.
    folder_name: ClassVar[str] = "scheduler"
    file_name: ClassVar[str] = "scheduler_config.json"

    #: The sampler, one of :data:`~videocomposer.diffusion.schedulers.SCHEDULERS` (``"ddim"`` is the reference's).
    scheduler: str = "ddim"
    num_inference_steps: int = 50
    #: DDIM's stochasticity (0: deterministic, the reference); the other samplers take only 0.
    eta: float = 0.0
    #: Classifier-free guidance scale; ``None`` or ≤ 1 samples without guidance.
    guidance_scale: float | None = 9.0
    #: Guidance of frame 0, ramped linearly to ``guidance_scale`` on the last frame
    #: (:func:`~videocomposer.diffusion.guidance.frame_guidance_scales`); ``None``: one scale for every frame.
    min_guidance_scale: float | None = None
    #: What the network predicts (:data:`~videocomposer.diffusion.prediction.PREDICTION_TYPES`).
    prediction_type: str = "epsilon"
    #: The training noise schedule: :data:`BETA_SCHEDULES`, from ``beta_start`` to ``beta_end`` over
    #: ``num_train_timesteps`` steps, optionally rescaled to zero terminal SNR (needs ``v_prediction``).
    beta_schedule: str = "scaled_linear"
    beta_start: float = 0.00085
    beta_end: float = 0.012
    num_train_timesteps: int = 1000
    zero_terminal_snr: bool = False
    #: Correlation between frames of the training noise (:mod:`~videocomposer.diffusion.noise`): ``x_T`` and
    #: DDIM's ``eta`` noise are drawn with it.
    noise_correlation: float = 0.0
    #: The empty caption (:data:`EMPTY_CAPTIONS`).
    empty_caption: str = "encoded"

    def __post_init__(self) -> None:
        self._check_types()
        if self.scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler: expected one of {', '.join(SCHEDULERS)}, got {self.scheduler!r}")
        check_prediction_type(self.prediction_type)
        if self.beta_schedule not in BETA_SCHEDULES:
            raise ValueError(f"beta_schedule: expected one of {', '.join(BETA_SCHEDULES)}, got {self.beta_schedule!r}")
        if self.num_train_timesteps < 2:
            raise ValueError(f"num_train_timesteps: must be at least 2, got {self.num_train_timesteps}")
        if not 0.0 < self.beta_start < self.beta_end < 1.0:
            raise ValueError(
                f"beta_start, beta_end: need 0 < beta_start < beta_end < 1, got {self.beta_start}, {self.beta_end}"
            )
        if not 1 <= self.num_inference_steps <= self.num_train_timesteps:
            raise ValueError(
                f"num_inference_steps: must be in [1, {self.num_train_timesteps}], got {self.num_inference_steps}"
            )
        if self.eta < 0.0 or (self.eta != 0.0 and self.scheduler != "ddim"):
            raise ValueError(
                f"eta: must be >= 0, and 0 for any scheduler but 'ddim'; got {self.eta} with {self.scheduler!r}"
            )
        if self.zero_terminal_snr and self.prediction_type != "v_prediction":
            raise ValueError(
                "zero_terminal_snr: needs prediction_type 'v_prediction' (at zero signal an ε prediction "
                f"says nothing about the video), got {self.prediction_type!r}"
            )
        check_noise_correlation(self.noise_correlation)
        check_empty_caption(self.empty_caption)
        self._check_guidance()

    def _check_types(self) -> None:
        """A ``ValueError`` naming the first field whose value is not of its type (an int is taken as a float)."""
        hints = typing.get_type_hints(type(self))
        for field in dataclasses.fields(self):
            value, hint = getattr(self, field.name), hints[field.name]
            kinds = tuple(a for a in typing.get_args(hint) if a is not type(None)) or (hint,)
            if value is None and type(None) in typing.get_args(hint):
                continue
            if float in kinds and isinstance(value, int) and not isinstance(value, bool):
                object.__setattr__(self, field.name, float(value))
            elif isinstance(value, bool) is not (bool in kinds) or not isinstance(value, kinds):
                raise ValueError(
                    f"{field.name}: expected {' or '.join(k.__name__ for k in kinds)}"
                    f"{' or None' if type(None) in typing.get_args(hint) else ''}, got {value!r}"
                )

    def _check_guidance(self) -> None:
        if self.guidance_scale is not None and self.guidance_scale < 0:
            raise ValueError(f"guidance_scale: must be >= 0 (or null for no guidance), got {self.guidance_scale}")
        if self.min_guidance_scale is None:
            return
        scale = self.guidance_scale
        if self.min_guidance_scale < 0 or (scale is not None and scale > 1.0 and self.min_guidance_scale > scale):
            raise ValueError(
                f"min_guidance_scale: frame 0's guidance must be between 0 and guidance_scale "
                f"({self.guidance_scale}), got {self.min_guidance_scale}; null gives every frame guidance_scale"
            )

    def noise_schedule(self) -> NoiseSchedule:
        """The schedule the model was trained on (float64 arrays of ``num_train_timesteps`` entries)."""
        schedule = NoiseSchedule.linear_sd(self.num_train_timesteps, self.beta_start, self.beta_end)
        return schedule.rescaled_to_zero_terminal_snr() if self.zero_terminal_snr else schedule

    def to_dict(self) -> dict[str, Any]:
        """Every field by name (JSON values)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str | None = None) -> SchedulerConfig:
        """Build from a mapping of field names; a :class:`~videocomposer.config.ConfigError` (a ``ValueError``)
        names ``source`` and the field for an unknown key (with a did-you-mean), a wrong type or a bad value."""
        source = source or cls.__name__
        try:
            return build(cls, values, source)
        except ConfigError:
            raise
        except ValueError as error:
            raise ConfigError(f"{source}: {error}") from None

    def to_json_file(self, path: str | os.PathLike) -> Path:
        """Write the config (with ``_class_name`` and ``_videocomposer_version``) to ``path``, atomically."""
        from .. import __version__

        data = {"_class_name": type(self).__name__, "_videocomposer_version": __version__, **self.to_dict()}
        return write_text(path, json.dumps(data, indent=2) + "\n")

    @classmethod
    def from_json_file(cls, path: str | os.PathLike) -> SchedulerConfig:
        """Read a file written by :meth:`to_json_file`; errors name the file and the field."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"scheduler config not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
            raise ConfigError(
                f"{path}: not valid JSON ({error}); expected the scheduler settings save_pretrained writes: the file "
                "may be truncated, copy the whole model folder again"
            ) from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a JSON object of scheduler settings, got {type(data).__name__}")
        if data.get("_class_name", cls.__name__) != cls.__name__:
            raise ConfigError(f"{path}: _class_name is {data['_class_name']!r}; this version reads {cls.__name__!r}")
        return cls.from_dict({k: v for k, v in data.items() if not k.startswith("_")}, str(path))
