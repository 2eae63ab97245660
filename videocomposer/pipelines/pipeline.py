"""``VideoComposerPipeline``: compositional text-to-video generation, diffusers-style.

::

    pipe = VideoComposerPipeline.from_official("model_weights", conditions=["y", "depth"]).to("cuda")
    out = pipe("A glass bowl with goldfish swimming inside", video="source.mp4", conditions=["y", "depth"],
               generator=torch.Generator().manual_seed(8888))
    out.frames[0]  # 16 PIL images, 256x256

``__call__`` runs in numbered stages: 1. check inputs, 2. read the video, 3. build the conditions
(:class:`~videocomposer.conditions.ConditionBuilder`), 4. form the guided passes, 5. prepare
latents, 6. denoise, 7. decode. How the model samples is one :class:`~videocomposer.diffusion.SchedulerConfig`,
``pipe.scheduler_config`` (the official model's by default: DDIM, 50 steps, eta 0, guidance 9.0); the output size
defaults to 16 frames at 256x256 (:meth:`set_defaults`). A ``save_pretrained`` folder stores both (the scheduler
component ``scheduler/scheduler_config.json``, the size in ``model_index.json``), as the built-in toy model does
(8 frames at 64x64, DPM-Solver++ 20 steps).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..checkpoints import OFFICIAL_FILES
from ..conditions import (
    CONDITIONS,
    INPUTS,
    ConditionBuilder,
    conditions_reading,
    implied_conditions,
    missing_input_message,
    normalize_condition,
    normalize_conditions,
    unconditional_rules,
    video_conditions,
)
from ..diffusion import (
    SCHEDULERS,
    NoiseSchedule,
    SchedulerConfig,
    frame_guidance_scales,
    frame_noise,
    make_guidance_kwargs,
    make_sampler,
    sample,
)
from ..models.tokenizer import CLIPTokenizer
from ..models.vae import decode_video
from ..video.clip import VideoClip
from ..video.motion import MotionSettings
from ..video.trajectory import Trajectory
from .components import (
    COMPONENTS,
    components_for,
    is_pretrained_folder,
    load_components,
    load_official_components,
    read_index,
    save_component,
    write_index,
)
from .condition_guidance import GuidanceScale, condition_guidance, condition_guidance_passes
from .folder_settings import load_motion_settings, load_scheduler_config, output_defaults, save_scheduler_config
from .inputs import PreparedConditions, prepare_conditions

OutputType = Literal["pil", "np", "pt", "latent"]
_FROZEN_ENCODERS = ("clip", "midas", "pidinet", "sketch_cleaner")
#: The official model's output size (a ``save_pretrained`` folder may store its own in ``model_index.json``,
#: e.g. the toy model's 8 x 64 x 64).
OUTPUT_DEFAULTS = {"num_frames": 16, "height": 256, "width": 256}
#: The :class:`~videocomposer.diffusion.SchedulerConfig` fields that are defaults of :meth:`~VideoComposerPipeline.__call__`.
_SAMPLING_DEFAULTS = ("num_inference_steps", "guidance_scale", "min_guidance_scale")


def _call_defaults(output: dict[str, int], config: SchedulerConfig) -> dict[str, Any]:
    """The defaults of :meth:`VideoComposerPipeline.__call__`: the output size and the sampling defaults of ``config``."""
    return {**output, **{k: getattr(config, k) for k in _SAMPLING_DEFAULTS}}


#: The official model's defaults of :meth:`VideoComposerPipeline.__call__` (16 x 256 x 256, 50 steps, guidance 9.0, no ramp).
DEFAULTS = _call_defaults(OUTPUT_DEFAULTS, SchedulerConfig())


class _SchedulerSetting:
    """A read-only view of one field of ``pipe.scheduler_config``; assigning to it says how to change it."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, pipe: Any, owner: type | None = None) -> Any:
        return self if pipe is None else getattr(pipe.scheduler_config, self.name)

    def __set__(self, pipe: Any, value: Any) -> None:
        raise AttributeError(f"{self.name} is a field of pipe.scheduler_config (a frozen SchedulerConfig, saved with the "
                             f"model): pipe.scheduler_config = dataclasses.replace(pipe.scheduler_config, "
                             f"{self.name}={value!r})")


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


class VideoComposerPipeline:
    """The VideoComposer generation pipeline.

    Components (``None`` when the requested conditions do not need them): ``unet``, ``vae`` (diffusers
    ``AutoencoderKL``), ``clip`` (OpenCLIP text tower, plus the image tower for ``image``), ``tokenizer``,
    ``midas`` (``depth``), ``pidinet`` and ``sketch_cleaner`` (``sketch``, ``single_sketch``).

    Memory/speed options (each gives the same output within float32 noise):

    * ``batched_cfg``: run the conditional and unconditional passes as one batch (``None`` = on for
      accelerators, off on CPU);
    * ``vae_decode_chunk_size``: frames per VAE decode call (16 = the reference);
    * :meth:`enable_encoder_offload`: keep the frozen encoders/annotators on the CPU except while they run;
    * :meth:`enable_autocast`: run the UNet and VAE under fp16/bf16 autocast on accelerators (the
      reference uses fp16); ignored on CPU;
    * :meth:`enable_compile`: ``torch.compile`` the UNet.
    """

    _callback_tensor_inputs = ["latents"]
    #: Read-only views of ``scheduler_config``'s fields: the default sampler, what the UNet predicts, the frame
    #: correlation of the noise it was trained on, and how its empty caption ``zero_y`` is formed.
    scheduler = _SchedulerSetting()
    prediction_type = _SchedulerSetting()
    noise_correlation = _SchedulerSetting()
    empty_caption = _SchedulerSetting()

    def __init__(self, unet: torch.nn.Module, vae: torch.nn.Module | None = None, clip: torch.nn.Module | None = None,
                 tokenizer: CLIPTokenizer | None = None, midas: torch.nn.Module | None = None,
                 pidinet: torch.nn.Module | None = None, sketch_cleaner: torch.nn.Module | None = None,
                 scheduler_config: SchedulerConfig | None = None):
        self.unet, self.vae, self.clip, self.midas, self.pidinet, self.sketch_cleaner = unet, vae, clip, midas, pidinet, sketch_cleaner
        for module in self.components().values():  # inference only: eval mode, no gradients (also fixes kernel choice)
            module.eval().requires_grad_(False)
        self.tokenizer = tokenizer if tokenizer is not None or clip is None else CLIPTokenizer()
        self.batched_cfg: bool | None = None
        self.vae_decode_chunk_size = 16
        self.annotator_chunk_size = 1
        #: Side of the annotator frames (None: :func:`~videocomposer.pipelines.inputs.default_misc_size`).
        self.misc_size: int | None = None
        self._output_defaults: dict[str, int] = dict(OUTPUT_DEFAULTS)
        self.autocast_dtype: torch.dtype | None = None
        self.offload_device: torch.device | None = None
        self._unet_forward: Callable[..., torch.Tensor] = unet
        self._progress_bar_config: dict[str, Any] = {}
        #: The name of the UNet weight file the pipeline was loaded from (recorded by save_pretrained).
        self.unet_source: str | None = None
        self._scheduler_config: SchedulerConfig | None = None
        self.scheduler_config = scheduler_config if scheduler_config is not None else SchedulerConfig()
        #: How the motion condition is made from a video or a drawn trajectory (the model's; ``save_pretrained``
        #: records it as ``pipeline_config.motion_condition``); one call may pick another mode (``motion_mode``).
        self.motion_settings = MotionSettings()

    @property
    def scheduler_config(self) -> SchedulerConfig:
        """How the model samples (:class:`~videocomposer.diffusion.SchedulerConfig`): the defaults of
        :meth:`__call__` and what the model was trained on; :meth:`save_pretrained` writes it as
        ``scheduler/scheduler_config.json``. Assigning a new config (e.g. ``dataclasses.replace(pipe.scheduler_config,
        num_inference_steps=25)``) also sets the UNet's empty caption ``zero_y`` when ``empty_caption`` changes."""
        assert self._scheduler_config is not None
        return self._scheduler_config

    @scheduler_config.setter
    def scheduler_config(self, config: SchedulerConfig) -> None:
        if not isinstance(config, SchedulerConfig):
            raise TypeError(f"scheduler_config must be a SchedulerConfig, got {type(config).__name__}")
        previous, self._scheduler_config = self._scheduler_config, config
        if previous is None or previous.empty_caption != config.empty_caption:
            self._set_zero_y(config.empty_caption)

    def _set_zero_y(self, empty_caption: str) -> None:
        """The UNet's ``zero_y``: zeros, or the text tower's embedding of ``""`` (kept as loaded without a text tower)."""
        if empty_caption == "zeros":
            self.unet.set_zero_y(torch.zeros_like(self.unet.zero_y))
        elif self.clip is not None and "text" in self.clip.towers:
            self.unet.set_zero_y(self.builder().encode_prompt("").to("cpu"))

    @property
    def schedule(self) -> NoiseSchedule:
        """The noise schedule the model was trained on (:meth:`SchedulerConfig.noise_schedule`)."""
        return self.scheduler_config.noise_schedule()

    @property
    def defaults(self) -> dict[str, Any]:
        """The defaults of :meth:`__call__` (a copy): the output size (``num_frames``, ``height``, ``width``; see
        :meth:`set_defaults`) and ``scheduler_config``'s ``num_inference_steps``, ``guidance_scale`` and
        ``min_guidance_scale``."""
        return _call_defaults(self._output_defaults, self.scheduler_config)

    # ------------------------------------------------------------------ loading and saving

    @classmethod
    def from_official(cls, weights_dir: str | os.PathLike, conditions: Sequence[str] | None = None,
                      config: dict[str, Any] | None = None, unet_file: str | None = None,
                      device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> VideoComposerPipeline:
        """Load the official weight files from ``weights_dir``, only the models ``conditions`` need.

        Args:
            weights_dir: folder with the published files (``non_ema_228000.pth``, ...).
            conditions: conditions the pipeline will be used with (UNet names or the reference's);
                default all eight. Depth needs MiDaS, sketches PiDiNet + the cleaner, ``image`` the CLIP
                image tower; the UNet, VAE and CLIP text tower are always loaded.
            config: architecture overrides by component (``{"unet": UNetConfig | dict, "clip": ...,
                "vae": ..., "midas": ..., "sketch_cleaner": ...}``), e.g.
                :func:`~videocomposer.pipelines.tiny.tiny_configs`.
            unet_file: UNet file name in ``weights_dir`` (default ``non_ema_228000.pth``).
            device, dtype: passed to :meth:`to`.
        Raises:
            WeightFileError: a file is missing (which, where looked, where published) or does not
                match its model (which keys).
        """
        conditions = normalize_conditions(conditions) if conditions is not None else list(CONDITIONS)
        names, towers = components_for(conditions)
        pipe = cls(**load_official_components(weights_dir, names, config, towers, unet_file)).to(device, dtype)
        pipe.unet_source = Path(unet_file or OFFICIAL_FILES["unet"].filename).name
        return pipe

    @classmethod
    def from_pretrained(cls, folder: str | os.PathLike, conditions: Sequence[str] | None = None,
                        config: dict[str, Any] | None = None, unet_file: str | None = None,
                        device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> VideoComposerPipeline:
        """Load a folder written by :meth:`save_pretrained`: every component in it, or only those
        ``conditions`` need, with its scheduler config and output size. ``unet_file`` (a path) loads other UNet
        weights onto the folder's UNet; ``config`` is refused (the folder records the architectures). See
        :func:`~videocomposer.pipelines.components.load_components`; a folder of the older layout (sampling settings
        in ``model_index.json``) loads with those settings: :func:`~videocomposer.pipelines.folder_settings.load_scheduler_config`."""
        folder = Path(folder)
        index = read_index(folder)
        if conditions is None:
            names, towers = [n for n in COMPONENTS if n in index], ()
        else:
            names, towers = components_for(normalize_conditions(conditions))
        scheduler_config = load_scheduler_config(folder)  # checked before any weights are read
        settings = index.get("pipeline_config", {})
        pipe = cls(**load_components(folder, names, config, towers, unet_file), scheduler_config=scheduler_config)
        pipe.unet_source = Path(unet_file).name if unet_file else settings.get("unet_file")
        pipe.motion_settings = load_motion_settings(folder)
        pipe.set_defaults(**output_defaults(settings))
        return pipe.to(device, dtype)

    @classmethod
    def load(cls, weights_dir: str | os.PathLike, **kwargs: Any) -> VideoComposerPipeline:
        """:meth:`from_pretrained` for a ``save_pretrained`` folder, else :meth:`from_official` (same arguments)."""
        if is_pretrained_folder(weights_dir):
            return cls.from_pretrained(weights_dir, **kwargs)
        return cls.from_official(weights_dir, **kwargs)

    def components(self) -> dict[str, torch.nn.Module]:
        """The loaded network components by name."""
        return {n: getattr(self, n) for n in COMPONENTS if getattr(self, n) is not None}

    def save_pretrained(self, folder: str | os.PathLike) -> Path:
        """Write one sub-folder per component (``config.json`` + safetensors), the scheduler component
        ``scheduler/scheduler_config.json`` (:attr:`scheduler_config`) and ``model_index.json`` (whose
        ``pipeline_config`` holds the output size, ``misc_size`` and the UNet's source file)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, module in self.components().items():
            save_component(name, module, folder)
        save_scheduler_config(self.scheduler_config, folder)
        settings = {**({"unet_file": self.unet_source} if self.unet_source else {}), "motion_condition": self.motion_settings.to_dict(), **self._output_defaults,
                    **({"misc_size": self.misc_size} if self.misc_size is not None else {})}
        write_index(folder, list(self.components()), settings)
        return folder

    def set_defaults(self, misc_size: int | None = None, **defaults: int) -> None:
        """Set the output size :meth:`__call__` uses when an argument is not given (``num_frames``, ``height``,
        ``width``) and the annotator frame size ``misc_size``; :meth:`save_pretrained` stores them with the model.
        The sampling defaults are :attr:`scheduler_config`'s."""
        sampling = sorted(set(defaults) & set(_SAMPLING_DEFAULTS))
        if sampling:
            raise ValueError(f"{sampling} are sampling settings, held by pipe.scheduler_config: "
                             f"pipe.scheduler_config = dataclasses.replace(pipe.scheduler_config, {sampling[0]}=...)")
        unknown = sorted(set(defaults) - set(OUTPUT_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown pipeline default(s) {unknown}; expected some of {sorted(OUTPUT_DEFAULTS)}")
        self._output_defaults.update(defaults)
        if misc_size is not None:
            self.misc_size = misc_size

    # ------------------------------------------------------------------ devices and options

    @property
    def device(self) -> torch.device:
        """The execution device (where the UNet is)."""
        return next(self.unet.parameters()).device

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> VideoComposerPipeline:
        """Move every component (frozen encoders stay on the offload device when offloading is on)."""
        for name, module in self.components().items():
            target = self.offload_device if name in _FROZEN_ENCODERS and self.offload_device is not None else device
            kwargs = {k: v for k, v in (("device", target), ("dtype", dtype)) if v is not None}
            if kwargs:
                module.to(**kwargs)
        return self

    def enable_encoder_offload(self, offload_device: torch.device | str = "cpu") -> None:
        """Keep CLIP and the annotators on ``offload_device``; they visit the UNet's device only while they run."""
        self.offload_device = torch.device(offload_device)
        for name in _FROZEN_ENCODERS:
            if getattr(self, name) is not None:
                getattr(self, name).to(self.offload_device)

    def disable_encoder_offload(self) -> None:
        self.offload_device = None
        self.to(self.device)

    def enable_autocast(self, dtype: torch.dtype = torch.float16) -> None:
        """Run the UNet and the VAE decoder under autocast in ``dtype`` on accelerators (no effect on CPU)."""
        if dtype not in (torch.float16, torch.bfloat16):
            raise ValueError(f"autocast dtype must be torch.float16 or torch.bfloat16, got {dtype}")
        self.autocast_dtype = dtype

    def disable_autocast(self) -> None:
        self.autocast_dtype = None

    def enable_compile(self, **compile_kwargs: Any) -> None:
        """Denoise with ``torch.compile(unet, **compile_kwargs)`` (compiles on the first call)."""
        self._unet_forward = torch.compile(self.unet, **compile_kwargs)

    def set_progress_bar_config(self, **kwargs: Any) -> None:
        """tqdm options of the denoising bar, e.g. ``disable=True``."""
        self._progress_bar_config = dict(kwargs)

    def _autocast(self) -> contextlib.AbstractContextManager:
        device = self.device
        if self.autocast_dtype is None or device.type == "cpu":
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)

    @contextlib.contextmanager
    def _encoders_on_device(self) -> Iterator[None]:
        """With offloading on: move the frozen encoders to the execution device for the block, then back."""
        if self.offload_device is None:
            yield
            return
        encoders = [getattr(self, n) for n in _FROZEN_ENCODERS if getattr(self, n) is not None]
        for module in encoders:
            module.to(self.device)
        try:
            yield
        finally:
            for module in encoders:
                module.to(self.offload_device)

    def builder(self) -> ConditionBuilder:
        """A :class:`ConditionBuilder` over this pipeline's frozen models."""
        return ConditionBuilder(self.tokenizer, self.clip, self.midas, self.pidinet, self.sketch_cleaner,
                                annotator_chunk_size=self.annotator_chunk_size)

    # ------------------------------------------------------------------ stages

    def loaded_models(self) -> set[str]:
        """The frozen models this pipeline holds, by the names conditions ask for (``clip:text``, ``clip:image``,
        ``midas``, ``pidinet``, ``sketch_cleaner``)."""
        towers = {f"clip:{tower}" for tower in self.clip.towers} if self.clip is not None else set()
        return towers | {name for name in ("midas", "pidinet", "sketch_cleaner") if getattr(self, name) is not None}

    def served_conditions(self) -> list[str]:
        """The conditions this pipeline can build and its UNet takes (its ``video_compositions`` whose frozen
        models are loaded), in the registry's order."""
        composed = {normalize_condition(name) for name in self.unet.config.video_compositions}
        loaded = self.loaded_models()
        return [c.name for c in CONDITIONS.values() if c.name in composed and set(c.models) <= loaded]

    def resolve_conditions(self, conditions: Sequence[str] | None, **inputs: Any) -> list[str]:
        """``conditions`` normalised; when None, implied by the inputs given (each condition's ``implied_by``:
        prompt → ``y``, image → ``local_image``, style_image → ``image``, sketch → ``single_sketch``, depth,
        mask → ``masked``, motion; a video → every condition it gives that this pipeline serves, e.g. ``motion``
        and ``local_image`` for the built-in toy model) and the precomputed ones.

        A given video that no condition would read is refused, naming the conditions that could read it."""
        precomputed = inputs.get("precomputed") or {}
        if conditions is not None:
            resolved = normalize_conditions(conditions)
        else:
            resolved = implied_conditions(inputs, served=self.served_conditions())
            resolved += [c for c in precomputed if c not in resolved]
        if inputs.get("video") is not None and not conditions_reading("video", resolved, inputs, precomputed):
            raise ValueError(self._unused_video_message(resolved, inputs, precomputed))
        if not resolved:
            raise ValueError("nothing to condition on: give a prompt and/or inputs (a video, an image, ...), or "
                             f"conditions=[...] (this model serves {self.served_conditions()})")
        return resolved

    def _unused_video_message(self, conditions: Sequence[str], inputs: dict[str, Any], precomputed: dict) -> str:
        readers = [c for c in self.served_conditions() if c in video_conditions()]
        elsewhere = [f"{c} from {other}=" for c in conditions if c not in precomputed
                     for other in CONDITIONS[c].inputs if other != "video" and inputs.get(other) is not None]
        where = f" (it takes {', '.join(elsewhere)})" if elsewhere else ""
        return (f"video= is given, but none of the conditions {list(conditions)} reads it{where}; this model takes "
                f"{readers or 'nothing'} from a video: name the ones to use with conditions=[...], or leave video= out")

    def check_inputs(self, conditions: Sequence[str], *, prompt: Any, prompt_embeds: Any, negative_prompt: Any,
                     negative_prompt_embeds: Any, video: Any, num_frames: int, height: int, width: int,
                     num_inference_steps: int, guidance_scale: GuidanceScale, scheduler: str, output_type: str,
                     min_guidance_scale: float | None = None,
                     latents: torch.Tensor | None, callback_on_step_end: Any, inputs: dict[str, Any],
                     precomputed: dict[str, torch.Tensor]) -> None:
        """Reject bad arguments before any compute, naming the argument, the value and what is expected."""
        if prompt is not None and prompt_embeds is not None:
            raise ValueError("give either prompt or prompt_embeds, not both")
        if prompt is not None and not (isinstance(prompt, str) or (isinstance(prompt, (list, tuple)) and prompt
                                                                    and all(isinstance(p, str) for p in prompt))):
            raise ValueError(f"prompt must be a string or a non-empty list of strings, got {prompt!r}")
        if (negative_prompt is not None or negative_prompt_embeds is not None) and "y" not in conditions:
            raise ValueError("negative_prompt needs the 'y' (text) condition among conditions")
        for name, value in (("num_frames", num_frames), ("height", height), ("width", width),
                            ("num_inference_steps", num_inference_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        multiple = self.vae_scale_factor * 2 ** (len(self.unet.config.dim_mult) - 1)
        if height % multiple or width % multiple:
            raise ValueError(f"height and width must be multiples of {multiple} (VAE x{self.vae_scale_factor}, "
                             f"{len(self.unet.config.dim_mult)} UNet levels), got {height}x{width}")
        if isinstance(guidance_scale, Mapping):
            condition_guidance(guidance_scale, conditions, self.scheduler_config.guidance_scale)
            if min_guidance_scale is not None and not min_guidance_scale >= 0:
                raise ValueError(f"min_guidance_scale (frame 0's guidance) must be >= 0, got {min_guidance_scale}")
        elif guidance_scale is not None and guidance_scale < 0:
            raise ValueError(f"guidance_scale must be >= 0 (or None for no guidance), got {guidance_scale}")
        guided = isinstance(guidance_scale, (int, float)) and guidance_scale > 1.0
        if guided and min_guidance_scale is not None and not 0 <= min_guidance_scale <= guidance_scale:
            raise ValueError(f"min_guidance_scale (frame 0's guidance) must be between 0 and guidance_scale "
                             f"({guidance_scale}), got {min_guidance_scale}; None gives every frame guidance_scale")
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {sorted(SCHEDULERS)}, got {scheduler!r}")
        if output_type not in ("pil", "np", "pt", "latent"):
            raise ValueError(f"output_type must be 'pil', 'np', 'pt' or 'latent', got {output_type!r}")
        if output_type != "latent" and self.vae is None:
            raise ValueError("this pipeline has no VAE; use output_type='latent'")
        if callback_on_step_end is not None and not callable(callback_on_step_end):
            raise ValueError(f"callback_on_step_end must be callable, got {type(callback_on_step_end).__name__}")
        if video is not None and not isinstance(video, (str, os.PathLike, VideoClip)):
            raise ValueError(f"video must be a file path or a VideoClip, got {type(video).__name__}")
        if isinstance(video, (str, os.PathLike)) and not Path(video).is_file():
            raise FileNotFoundError(f"video file not found: {Path(video).resolve()}")
        supported = {c.name for c in CONDITIONS.values() if c.stc is None} | {c.name for c in self.unet.stc_conditions}
        unknown = [c for c in conditions if c not in supported]
        if unknown:
            raise ValueError(f"the UNet was built without the condition encoder(s) for {unknown}")
        given = {"prompt": prompt, "prompt_embeds": prompt_embeds, "video": video, **inputs}
        for name in conditions:
            if name not in precomputed and all(given.get(arg) is None for arg in CONDITIONS[name].inputs):
                raise ValueError(missing_input_message(name))
        if latents is not None:
            expected = (self.unet.config.in_dim, num_frames, height // self.vae_scale_factor, width // self.vae_scale_factor)
            if latents.ndim != 5 or tuple(latents.shape[1:]) != expected:
                raise ValueError(f"latents must have shape [B, {', '.join(map(str, expected))}], got {list(latents.shape)}")

    def prepare_conditions(self, conditions: Sequence[str], *, video: str | os.PathLike | VideoClip | None = None,
                           num_frames: int = 16, height: int = 256, width: int = 256, seed: int | None = None,
                           precomputed: dict[str, torch.Tensor] | None = None, motion_mode: str | None = None,
                           **inputs: Any) -> PreparedConditions:
        """Stages 2-3 of :meth:`__call__`: sample the clip from ``video`` and build ``conditions`` once
        (:func:`~videocomposer.pipelines.inputs.prepare_conditions` over this pipeline's frozen models).
        ``motion_mode``: how the motion condition is made (:data:`~videocomposer.video.motion.MOTION_MODES`;
        default: the model's, :attr:`motion_settings`).

        ``inputs``: ``prompt``, ``prompt_embeds``, ``image``, ``style_image``, ``sketch``, ``depth``, ``mask``,
        ``motion`` (or any registered input) as in :meth:`__call__`. ``seed`` drives clip sampling and the
        misc-transform draws, in the reference's order. Useful to build the union of several runs'
        conditions once and pass them as ``precomputed_conditions``.
        """
        with self._encoders_on_device():  # with offloading, the frozen encoders visit the device only now
            return prepare_conditions(self.builder(), conditions, video=video, num_frames=num_frames, height=height,
                                      width=width, seed=seed, misc_size=self.misc_size, precomputed=precomputed,
                                      device=self.device, motion_settings=self.motion_settings.with_mode(motion_mode),
                                      **inputs)

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1) if self.vae is not None else 8

    def prepare_latents(self, batch: int, num_frames: int, height: int, width: int,
                        generator: torch.Generator | None, latents: torch.Tensor | None) -> torch.Tensor:
        """Standard-normal ``x_T`` ``[B, 4, F, H/8, W/8]`` float32 on the execution device (or the given ``latents``),
        its frames correlated as the model's training noise (``scheduler_config.noise_correlation``)."""
        if latents is not None:
            if latents.shape[0] not in (1, batch):
                raise ValueError(f"latents have batch {latents.shape[0]}, the conditions have {batch}")
            return latents.to(self.device, torch.float32).expand(batch, *latents.shape[1:]).contiguous()
        shape = (batch, self.unet.config.in_dim, num_frames, height // self.vae_scale_factor, width // self.vae_scale_factor)
        return frame_noise(shape, self.scheduler_config.noise_correlation, generator).to(self.device)

    def _eps(self, x: torch.Tensor, t: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        """The UNet as the sampler sees it: latents in the UNet's dtype, ε returned in float32."""
        dtype = next(self.unet.parameters()).dtype
        with self._autocast():
            return self._unet_forward(x.to(dtype), t, **kwargs).float()

    def _guided_passes(self, cond: dict[str, torch.Tensor], conditions: Sequence[str], guidance_scale: GuidanceScale,
                       min_guidance_scale: float | None, num_frames: int, negative_prompt_embeds: torch.Tensor | None
                       ) -> tuple[dict[str, torch.Tensor], Any, Any]:
        """Stage 4 of :meth:`__call__`: ``(cond_kwargs, uncond_kwargs, scale)`` of :func:`~videocomposer.diffusion.sample`
        in the UNet's dtype: one unconditional pass and scale (the reference), a list of passes and scales (a scale per
        condition: :mod:`.condition_guidance`), or ``(cond_kwargs, None, None)`` unguided."""
        unet_dtype = next(self.unet.parameters()).dtype
        negative = None if negative_prompt_embeds is None else \
            negative_prompt_embeds.to(self.device, torch.float32).expand_as(cond["y"])
        if isinstance(guidance_scale, Mapping):
            guidance = condition_guidance(guidance_scale, conditions, self.scheduler_config.guidance_scale)
            if not guidance.groups:
                return {k: cond[k].to(unet_dtype) for k in conditions}, None, None
            grouped = {name for group in guidance.groups for name in group}
            passes, scales = condition_guidance_passes(
                guidance, cond, conditions, self.unet.empty_caption() if "y" in grouped else None, min_guidance_scale,
                num_frames, {"y": negative} if negative is not None else None)
            passes = [{k: v.to(unet_dtype) for k, v in p.items()} for p in passes]
            return passes[-1], passes[:-1], scales
        rules = unconditional_rules(conditions)
        needs_empty_caption = "empty_caption" in rules.values()
        cond_kwargs, uncond_kwargs = make_guidance_kwargs(cond, self.unet.empty_caption() if needs_empty_caption else None,
                                                          conditions, rules)
        if negative is not None:
            uncond_kwargs["y"] = negative
        cond_kwargs = {k: v.to(unet_dtype) for k, v in cond_kwargs.items()}
        if guidance_scale is None or guidance_scale <= 1.0:
            return cond_kwargs, None, None
        scale = frame_guidance_scales(guidance_scale, min_guidance_scale, num_frames) \
            if min_guidance_scale is not None else guidance_scale
        return cond_kwargs, {k: v.to(unet_dtype) for k, v in uncond_kwargs.items()}, scale

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``[B, 4, F, h, w]`` → video ``[B, 3, F, H, W]`` in [0, 1], ``vae_decode_chunk_size`` frames per call."""
        with torch.no_grad(), self._autocast():
            video = decode_video(self.vae, latents, chunk_size=self.vae_decode_chunk_size)
        return (video.float() * 0.5 + 0.5).clamp(0, 1)

    # ------------------------------------------------------------------ generation

    @torch.no_grad()
    def __call__(self, prompt: str | Sequence[str] | None = None, *, video: str | os.PathLike | VideoClip | None = None,
                 image: Image.Image | torch.Tensor | None = None, style_image: Image.Image | torch.Tensor | None = None,
                 sketch: Image.Image | torch.Tensor | None = None, depth: torch.Tensor | None = None,
                 mask: Image.Image | np.ndarray | torch.Tensor | None = None, motion: torch.Tensor | Trajectory | None = None,
                 conditions: Sequence[str] | None = None, negative_prompt: str | Sequence[str] | None = None,
                 num_frames: int | None = None, height: int | None = None, width: int | None = None,
                 num_inference_steps: int | None = None,
                 guidance_scale: float | Mapping[str, float] | None | Literal["default"] = "default",
                 min_guidance_scale: float | None | Literal["default"] = "default", scheduler: str | None = None,
                 eta: float | None = None,
                 generator: torch.Generator | None = None, latents: torch.Tensor | None = None,
                 prompt_embeds: torch.Tensor | None = None, negative_prompt_embeds: torch.Tensor | None = None,
                 precomputed_conditions: dict[str, torch.Tensor] | None = None, seed: int | None = None,
                 output_type: OutputType = "pil", callback_on_step_end: Callable[..., dict | None] | None = None,
                 motion_mode: str | None = None, **extra_inputs: Any) -> VideoComposerPipelineOutput:
        """Generate a video from any composition of conditions.

        Args:
            prompt: the caption (``y``); a list gives a batch.
            video: a video file (or a sampled :class:`VideoClip`) from which depth, sketch, motion, the
                mask frames, the first frame (``local_image``) and the middle frame (``image`` without a
                style image) are taken. It is sampled at the frame rate the model was trained with.
            image: the first-frame image for ``local_image`` (PIL, or ``[3, H, W]`` in [0, 1]).
            style_image: the style image for ``image`` (PIL).
            sketch: a sketch image (PIL, run through PiDiNet + the cleaner) or a 1-channel map ``[F, 1, H, W]``.
            depth, motion: maps ``[F, C, H, W]`` or ``[B, C, F, H, W]`` that replace the extracted ones; ``motion``
                may also be a hand-drawn :class:`~videocomposer.video.trajectory.Trajectory`.
            mask: inpainting mask for ``masked`` (1 / white = regenerate); default: the clip's random mask.
            conditions: the UNet conditions to use (e.g. ``["y", "depth"]``; reference names accepted).
                Default: implied by the inputs given (see :meth:`resolve_conditions`).
            negative_prompt: text for the unconditional pass (default: the empty caption, as the reference).
            num_frames, height, width: output size (with a video, ``num_frames`` frames are sampled from it);
                default: the model's (:attr:`defaults`: 16 x 256 x 256 for the official model).
            num_inference_steps, guidance_scale, scheduler, eta: sampling (``guidance_scale`` ≤ 1 or None
                turns guidance off; ``scheduler`` one of ``ddim``, ``dpmsolver++``, ``euler``; ``eta`` for
                ``ddim`` only); each defaults to the model's :attr:`scheduler_config` (DDIM, 50 steps, guidance
                9.0, eta 0 for the official model; ``eta`` to 0 with a sampler other than the model's).
            guidance_scale: also a scale per condition, ``{"y": 7.5, "motion": 3.0}`` (names as the registry's or the
                reference's): nested guidance, one more UNet pass per named condition (:mod:`.condition_guidance`).
                A named condition is guided against a pass without it (the empty caption for the text, zeros for a
                spatial condition); the unnamed text and style image keep the model's scale; a spatial condition at
                1.0 is as with a single number.
            min_guidance_scale: a guidance scale per frame, linear from this on frame 0 to ``guidance_scale``
                on the last (:func:`~videocomposer.diffusion.guidance.frame_guidance_scales`, as Stable
                Video Diffusion), so that the frame a first-frame image fixes is not pushed away from it by
                the text; None: one scale for every frame (the reference). Default: the model's (None for
                the official model, 1.0 for the toy model).
            generator: torch generator of the initial noise (and, via its seed, of clip sampling).
            latents: initial noise ``[B, 4, F, H/8, W/8]`` instead of drawing it.
            prompt_embeds, negative_prompt_embeds: precomputed text contexts ``[B, 77, D]``.
            precomputed_conditions: UNet-ready condition tensors by name (``y`` ``[B, L, D]``, ``image``
                ``[B, 1, D]``, spatial ``[B, C, F, H, W]``), used as is instead of being computed.
            seed: seed of the clip sampling and misc-transform draws (default: the generator's seed).
            output_type: ``"pil"``, ``"np"``, ``"pt"`` or ``"latent"``.
            callback_on_step_end: ``fn(pipe, step, timestep, {"latents": x})`` after every step; a returned
                dict with ``"latents"`` replaces the running latents.
            motion_mode: how the motion condition is made from ``video`` or a drawn trajectory: ``"reference"`` (the
                original's: the source's vectors at its own size) or ``"rescaled"`` (the source brought to the
                model's training scale first: the same motion at any source size); default: the model's
                (:attr:`motion_settings`; see :mod:`videocomposer.video.motion`).
            extra_inputs: inputs of conditions added with :func:`~videocomposer.conditions.register_condition`.
        """
        # 1. check inputs
        config, defaults = self.scheduler_config, self.defaults
        scheduler = scheduler or config.scheduler
        num_frames = defaults["num_frames"] if num_frames is None else num_frames
        height = defaults["height"] if height is None else height
        width = defaults["width"] if width is None else width
        num_inference_steps = defaults["num_inference_steps"] if num_inference_steps is None else num_inference_steps
        guidance_scale = defaults["guidance_scale"] if guidance_scale == "default" else guidance_scale
        min_guidance_scale = defaults["min_guidance_scale"] if min_guidance_scale == "default" else min_guidance_scale
        if eta is None:
            eta = config.eta if scheduler == config.scheduler else 0.0
        schedule = config.noise_schedule()
        unknown = sorted(set(extra_inputs) - set(INPUTS))
        if unknown:
            raise TypeError(f"unexpected argument(s) {unknown}: not registered condition inputs")
        inputs = dict(image=image, style_image=style_image, sketch=sketch, depth=depth, mask=mask, motion=motion,
                      **extra_inputs)
        precomputed = dict(precomputed_conditions or {})
        conditions = self.resolve_conditions(conditions, prompt=prompt, prompt_embeds=prompt_embeds, video=video,
                                             **inputs, precomputed=precomputed)
        self.check_inputs(conditions, prompt=prompt, prompt_embeds=prompt_embeds, negative_prompt=negative_prompt,
                          negative_prompt_embeds=negative_prompt_embeds, video=video, num_frames=num_frames, height=height,
                          width=width, num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                          min_guidance_scale=min_guidance_scale,
                          scheduler=scheduler, output_type=output_type, latents=latents,
                          callback_on_step_end=callback_on_step_end, inputs=inputs, precomputed=precomputed)
        total_steps = len(make_sampler(scheduler, schedule, num_inference_steps, eta=eta).timesteps)
        device = self.device
        if seed is None and generator is not None:
            seed = generator.initial_seed()

        # 2-3. read the video and build the conditions
        prepared = self.prepare_conditions(conditions, video=video, prompt=prompt, prompt_embeds=prompt_embeds,
                                           precomputed=precomputed, num_frames=num_frames, height=height, width=width,
                                           seed=seed, motion_mode=motion_mode, **inputs)
        cond = prepared.conditions
        if negative_prompt is not None:
            with self._encoders_on_device():
                negative_prompt_embeds = self.builder().encode_prompt(negative_prompt, device)

        # 4. the guided passes (one scale: y -> zero_y, image -> zeros, as the reference; or one scale per condition)
        cond_kwargs, uncond_kwargs, scale = self._guided_passes(cond, conditions, guidance_scale, min_guidance_scale,
                                                                num_frames, negative_prompt_embeds)
        batch = max((v.shape[0] for v in cond.values()), default=1)

        # 5. latents
        x_T = self.prepare_latents(batch, num_frames, height, width, generator, latents)

        # 6. denoise
        bar = tqdm(total=total_steps, desc="denoising", **self._progress_bar_config)

        def on_step(step: int, timestep: int, x: torch.Tensor) -> None:
            bar.update(1)
            if callback_on_step_end is not None:
                result = callback_on_step_end(self, step, timestep, {"latents": x})
                if result and result.get("latents") is not None:
                    x.copy_(result["latents"])

        try:
            x_0 = sample(self._eps, x_T, cond_kwargs, uncond_kwargs, scale,
                         num_steps=num_inference_steps, scheduler=scheduler, schedule=schedule, eta=eta,
                         generator=generator, batched_cfg=self.batched_cfg, callback=on_step,
                         prediction_type=config.prediction_type, noise_correlation=config.noise_correlation)
        finally:
            bar.close()

        # 7. decode
        conditions_out = {k: v.float().cpu() for k, v in cond.items()}
        source = prepared.source_video()
        if output_type == "latent":
            return VideoComposerPipelineOutput(x_0, conditions_out, source)
        video_out = self.decode_latents(x_0).permute(0, 2, 1, 3, 4).cpu()  # [B, F, 3, H, W]
        if output_type == "pt":
            frames: Any = video_out
        elif output_type == "np":
            frames = video_out.permute(0, 1, 3, 4, 2).numpy()
        else:
            frames = [[Image.fromarray(f) for f in (v.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()]
                      for v in video_out]
        return VideoComposerPipelineOutput(frames, conditions_out, source)

