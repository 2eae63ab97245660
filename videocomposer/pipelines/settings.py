"""The pipeline's defaults, its read-only views of the scheduler config, and the record a call returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch

from ..diffusion import SchedulerConfig

OutputType = Literal["pil", "np", "pt", "latent"]
#: The official model's output size (a ``save_pretrained`` folder may store its own in ``model_index.json``,
#: e.g. the toy model's 8 x 64 x 64).
OUTPUT_DEFAULTS = {"num_frames": 16, "height": 256, "width": 256}
#: The :class:`~videocomposer.diffusion.SchedulerConfig` fields that are defaults of :meth:`~VideoComposerPipeline.__call__`.
SAMPLING_DEFAULTS = ("num_inference_steps", "guidance_scale", "min_guidance_scale")


def call_defaults(output: dict[str, int], config: SchedulerConfig) -> dict[str, Any]:
    """The defaults of :meth:`VideoComposerPipeline.__call__`: the output size and the sampling defaults of ``config``."""
    return {**output, **{k: getattr(config, k) for k in SAMPLING_DEFAULTS}}


#: The official model's defaults of :meth:`VideoComposerPipeline.__call__` (16 x 256 x 256, 50 steps, guidance 9.0, no ramp).
DEFAULTS = call_defaults(OUTPUT_DEFAULTS, SchedulerConfig())


class SchedulerSetting:
    """A read-only view of one field of ``pipe.scheduler_config``; assigning to it says how to change it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, pipe: Any, owner: type | None = None) -> Any:
        return self if pipe is None else getattr(pipe.scheduler_config, self.name)

    def __set__(self, pipe: Any, value: Any) -> None:
        raise AttributeError(
            f"{self.name} is a field of pipe.scheduler_config (a frozen SchedulerConfig, saved with the "
            f"model): pipe.scheduler_config = dataclasses.replace(pipe.scheduler_config, "
            f"{self.name}={value!r})"
        )


@dataclass
class VideoComposerPipelineOutput:
    """Result of :meth:`VideoComposerPipeline.__call__`.

    Attributes:
        frames: by ``output_type``: ``"pil"`` list (batch) of lists (frames) of PIL images; ``"np"``
            float32 ``[B, F, H, W, 3]`` in [0, 1]; ``"pt"`` float32 ``[B, F, 3, H, W]`` in [0, 1];
            ``"latent"`` the sampled latents ``[B, 4, F, H/8, W/8]``.
        conditions: the conditional UNet kwargs used (float32, CPU), for visualisation.
        source: the clip's annotator frames ``[B, 3, F, M, M]`` in [0, 1], or None without a video.
    """

    frames: Any
    conditions: dict[str, torch.Tensor] = field(default_factory=dict)
    source: torch.Tensor | None = None


@dataclass
class CallArguments:
    """The arguments of one :meth:`VideoComposerPipeline.__call__`, by name (described in the pipeline's class
    docstring); the pipeline fills the sampling settings left at their defaults with the model's."""

    prompt: Any = None
    video: Any = None
    image: Any = None
    style_image: Any = None
    sketch: Any = None
    depth: Any = None
    mask: Any = None
    motion: Any = None
    conditions: Any = None
    negative_prompt: Any = None
    num_frames: Any = None
    height: Any = None
    width: Any = None
    num_inference_steps: Any = None
    guidance_scale: Any = "default"
    min_guidance_scale: Any = "default"
    scheduler: Any = None
    eta: Any = None
    generator: torch.Generator | None = None
    latents: torch.Tensor | None = None
    prompt_embeds: torch.Tensor | None = None
    negative_prompt_embeds: torch.Tensor | None = None
    precomputed_conditions: dict[str, torch.Tensor] | None = None
    seed: int | None = None
    output_type: str = "pil"
    callback_on_step_end: Any = None
    motion_mode: str | None = None
    noise_warp: float | None = None
    extra_inputs: dict[str, Any] = field(default_factory=dict)
