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

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from ..conditions import CONDITIONS, INPUTS, ConditionBuilder, normalize_condition
from ..diffusion import NoiseSchedule, SchedulerConfig, frame_noise, make_sampler, sample
from ..models.tokenizer import CLIPTokenizer
from ..models.vae import decode_video
from ..video.clip import VideoClip
from ..video.motion import MotionSettings
from ..video.trajectory import Trajectory
from .checks import (
    call_conditions,
    check_condition_sources,
    check_guidance,
    check_latents,
    check_memory,
    check_prompt,
    check_sampling_and_output,
    check_sizes,
)
from .condition_guidance import guided_passes
from .devices import DeviceOptionsMixin
from .inputs import PreparedConditions, prepare_conditions
from .loading import PretrainedMixin
from .noise_warp import check_noise_warp, warp_initial_noise
from .settings import (
    OUTPUT_DEFAULTS,
    SAMPLING_DEFAULTS,
    CallArguments,
    OutputType,
    SchedulerSetting,
    VideoComposerPipelineOutput,
    call_defaults,
)


class VideoComposerPipeline(PretrainedMixin, DeviceOptionsMixin):
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

    Arguments of a call (``pipe(...)``):
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
        noise_warp: carry the initial noise along the motion condition (Go-with-the-Flow), with this share
            ``γ`` in [0, 1] of fresh noise in each frame (:mod:`videocomposer.diffusion.warped_noise`); needs a motion
            condition in the ``rescaled`` mode. None (default): plain noise.
        extra_inputs: inputs of conditions added with :func:`~videocomposer.conditions.register_condition`.
    """

    _callback_tensor_inputs = ["latents"]
    #: Read-only views of ``scheduler_config``'s fields: the default sampler, what the UNet predicts, the frame
    #: correlation of the noise it was trained on, and how its empty caption ``zero_y`` is formed.
    scheduler = SchedulerSetting()
    prediction_type = SchedulerSetting()
    noise_correlation = SchedulerSetting()
    empty_caption = SchedulerSetting()

    def __init__(
        self,
        unet: torch.nn.Module,
        vae: torch.nn.Module | None = None,
        clip: torch.nn.Module | None = None,
        tokenizer: CLIPTokenizer | None = None,
        midas: torch.nn.Module | None = None,
        pidinet: torch.nn.Module | None = None,
        sketch_cleaner: torch.nn.Module | None = None,
        scheduler_config: SchedulerConfig | None = None,
    ):
        self.unet, self.vae, self.clip, self.midas, self.pidinet, self.sketch_cleaner = (
            unet,
            vae,
            clip,
            midas,
            pidinet,
            sketch_cleaner,
        )
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
        #: The weight files the components were read from, by component (absolute paths; empty for a pipeline built
        #: from modules in memory): what a run's records name as the model it used.
        self.weight_files: dict[str, Path] = {}
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
        return call_defaults(self._output_defaults, self.scheduler_config)

    def set_defaults(self, misc_size: int | None = None, **defaults: int) -> None:
        """Set the output size :meth:`__call__` uses when an argument is not given (``num_frames``, ``height``,
        ``width``) and the annotator frame size ``misc_size``; :meth:`save_pretrained` stores them with the model.
        The sampling defaults are :attr:`scheduler_config`'s."""
        sampling = sorted(set(defaults) & set(SAMPLING_DEFAULTS))
        if sampling:
            raise ValueError(
                f"{sampling} are sampling settings, held by pipe.scheduler_config: "
                f"pipe.scheduler_config = dataclasses.replace(pipe.scheduler_config, {sampling[0]}=...)"
            )
        unknown = sorted(set(defaults) - set(OUTPUT_DEFAULTS))
        if unknown:
            raise ValueError(f"unknown pipeline default(s) {unknown}; expected some of {sorted(OUTPUT_DEFAULTS)}")
        self._output_defaults.update(defaults)
        if misc_size is not None:
            self.misc_size = misc_size

    def builder(self) -> ConditionBuilder:
        """A :class:`ConditionBuilder` over this pipeline's frozen models."""
        return ConditionBuilder(
            self.tokenizer,
            self.clip,
            self.midas,
            self.pidinet,
            self.sketch_cleaner,
            annotator_chunk_size=self.annotator_chunk_size,
        )

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
        return call_conditions(self, conditions, **inputs)

    def check_inputs(
        self,
        conditions: Sequence[str],
        args: CallArguments,
        inputs: dict[str, Any],
        precomputed: dict[str, torch.Tensor],
    ) -> None:
        """Reject bad arguments of a call (its sampling settings resolved) before any compute, naming the argument,
        the value and what is expected (:mod:`videocomposer.pipelines.checks`)."""
        check_prompt(conditions, args.prompt, args.prompt_embeds, args.negative_prompt, args.negative_prompt_embeds)
        check_sizes(self, args.num_frames, args.height, args.width, args.num_inference_steps)
        batch = len(args.prompt) if isinstance(args.prompt, (list, tuple)) else 1
        if args.prompt_embeds is not None:
            batch = args.prompt_embeds.shape[0]
        check_memory(self, batch, args.num_frames, args.height, args.width, args.output_type)
        check_guidance(conditions, args.guidance_scale, args.min_guidance_scale, self.scheduler_config.guidance_scale)
        check_sampling_and_output(self, args.scheduler, args.output_type, args.callback_on_step_end)
        given = {"prompt": args.prompt, "prompt_embeds": args.prompt_embeds, "video": args.video, **inputs}
        check_condition_sources(self, conditions, args.video, given, precomputed)
        check_latents(self, args.latents, args.num_frames, args.height, args.width)
        settings = self.motion_settings.with_mode(args.motion_mode)
        check_noise_warp(args.noise_warp, conditions, settings, args.height, args.width)

    def prepare_conditions(
        self,
        conditions: Sequence[str],
        *,
        video: str | os.PathLike | VideoClip | None = None,
        num_frames: int = 16,
        height: int = 256,
        width: int = 256,
        seed: int | None = None,
        precomputed: dict[str, torch.Tensor] | None = None,
        motion_mode: str | None = None,
        **inputs: Any,
    ) -> PreparedConditions:
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
            return prepare_conditions(
                self.builder(),
                conditions,
                video=video,
                num_frames=num_frames,
                height=height,
                width=width,
                seed=seed,
                misc_size=self.misc_size,
                precomputed=precomputed,
                device=self.device,
                motion_settings=self.motion_settings.with_mode(motion_mode),
                **inputs,
            )

    @property
    def vae_scale_factor(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1) if self.vae is not None else 8

    def prepare_latents(
        self,
        batch: int,
        num_frames: int,
        height: int,
        width: int,
        generator: torch.Generator | None,
        latents: torch.Tensor | None,
    ) -> torch.Tensor:
        """Standard-normal ``x_T`` ``[B, 4, F, H/8, W/8]`` float32 on the execution device (or the given ``latents``),
        its frames correlated as the model's training noise (``scheduler_config.noise_correlation``)."""
        if latents is not None:
            if latents.shape[0] not in (1, batch):
                raise ValueError(f"latents have batch {latents.shape[0]}, the conditions have {batch}")
            return latents.to(self.device, torch.float32).expand(batch, *latents.shape[1:]).contiguous()
        shape = (
            batch,
            self.unet.config.in_dim,
            num_frames,
            height // self.vae_scale_factor,
            width // self.vae_scale_factor,
        )
        return frame_noise(shape, self.scheduler_config.noise_correlation, generator).to(self.device)

    def _eps(self, x: torch.Tensor, t: torch.Tensor, **kwargs: torch.Tensor) -> torch.Tensor:
        """The UNet as the sampler sees it: latents in the UNet's dtype, ε returned in float32."""
        dtype = next(self.unet.parameters()).dtype
        with self._autocast():
            return self._unet_forward(x.to(dtype), t, **kwargs).float()

    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Latents ``[B, 4, F, h, w]`` → video ``[B, 3, F, H, W]`` in [0, 1], ``vae_decode_chunk_size`` frames per call."""
        with torch.no_grad(), self._autocast():
            video = decode_video(self.vae, latents, chunk_size=self.vae_decode_chunk_size)
        return (video.float() * 0.5 + 0.5).clamp(0, 1)

    def _call_settings(self, args: CallArguments) -> CallArguments:
        """``args`` with the sampling settings left at their defaults set to the model's (:attr:`defaults`,
        :attr:`scheduler_config`); ``eta`` is the model's with its own sampler, else 0."""
        config, defaults = self.scheduler_config, self.defaults
        sizes = {
            k: defaults[k] for k in ("num_frames", "height", "width", "num_inference_steps") if getattr(args, k) is None
        }
        guidance = {k: defaults[k] for k in ("guidance_scale", "min_guidance_scale") if getattr(args, k) == "default"}
        scheduler = args.scheduler or config.scheduler
        eta = (config.eta if scheduler == config.scheduler else 0.0) if args.eta is None else args.eta
        return dataclasses.replace(args, **sizes, **guidance, scheduler=scheduler, eta=eta)

    def _denoise(
        self,
        x_T: torch.Tensor,
        cond_kwargs: dict[str, torch.Tensor],
        uncond_kwargs: Any,
        scale: Any,
        args: CallArguments,
    ) -> torch.Tensor:
        """Stage 6 of :meth:`__call__`: :func:`~videocomposer.diffusion.sample` from ``x_T`` ``[B, 4, F, h, w]`` with
        the model's schedule, prediction type and noise correlation, a progress bar and the step callback."""
        config, callback_on_step_end = self.scheduler_config, args.callback_on_step_end
        scheduler, steps, eta = args.scheduler, args.num_inference_steps, args.eta
        schedule = config.noise_schedule()
        total_steps = len(make_sampler(scheduler, schedule, steps, eta=eta).timesteps)
        bar = tqdm(total=total_steps, desc="denoising", **self._progress_bar_config)

        def on_step(step: int, timestep: int, x: torch.Tensor) -> None:
            bar.update(1)
            if callback_on_step_end is not None:
                result = callback_on_step_end(self, step, timestep, {"latents": x})
                if result and result.get("latents") is not None:
                    x.copy_(result["latents"])

        try:
            return sample(
                self._eps,
                x_T,
                cond_kwargs,
                uncond_kwargs,
                scale,
                num_steps=steps,
                scheduler=scheduler,
                schedule=schedule,
                eta=eta,
                generator=args.generator,
                batched_cfg=self.batched_cfg,
                callback=on_step,
                prediction_type=config.prediction_type,
                noise_correlation=config.noise_correlation,
            )
        finally:
            bar.close()

    @staticmethod
    def _condition_inputs(args: CallArguments) -> dict[str, Any]:
        """The call's condition inputs by registered input name; an unknown extra keyword is an error."""
        unknown = sorted(set(args.extra_inputs) - set(INPUTS))
        if unknown:
            raise TypeError(f"unexpected argument(s) {unknown}: not registered condition inputs")
        named = ("image", "style_image", "sketch", "depth", "mask", "motion")
        return {**{name: getattr(args, name) for name in named}, **args.extra_inputs}

    @staticmethod
    def _frames(video: torch.Tensor, output_type: str) -> Any:
        """Decoded video ``[B, 3, F, H, W]`` in [0, 1] as ``output_type`` asks: ``"pt"`` ``[B, F, 3, H, W]``,
        ``"np"`` ``[B, F, H, W, 3]``, ``"pil"`` lists of PIL images."""
        video_out = video.permute(0, 2, 1, 3, 4).cpu()  # [B, F, 3, H, W]
        if output_type == "pt":
            return video_out
        if output_type == "np":
            return video_out.permute(0, 1, 3, 4, 2).numpy()
        return [
            [Image.fromarray(f) for f in (v.permute(0, 2, 3, 1) * 255).round().to(torch.uint8).numpy()]
            for v in video_out
        ]

    # ------------------------------------------------------------------ generation

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | Sequence[str] | None = None,
        *,
        video: str | os.PathLike | VideoClip | None = None,
        image: Image.Image | torch.Tensor | None = None,
        style_image: Image.Image | torch.Tensor | None = None,
        sketch: Image.Image | torch.Tensor | None = None,
        depth: torch.Tensor | None = None,
        mask: Image.Image | np.ndarray | torch.Tensor | None = None,
        motion: torch.Tensor | Trajectory | None = None,
        conditions: Sequence[str] | None = None,
        negative_prompt: str | Sequence[str] | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | Mapping[str, float] | None | Literal["default"] = "default",
        min_guidance_scale: float | None | Literal["default"] = "default",
        scheduler: str | None = None,
        eta: float | None = None,
        generator: torch.Generator | None = None,
        latents: torch.Tensor | None = None,
        prompt_embeds: torch.Tensor | None = None,
        negative_prompt_embeds: torch.Tensor | None = None,
        precomputed_conditions: dict[str, torch.Tensor] | None = None,
        seed: int | None = None,
        output_type: OutputType = "pil",
        callback_on_step_end: Callable[..., dict | None] | None = None,
        motion_mode: str | None = None,
        noise_warp: float | None = None,
        **extra_inputs: Any,
    ) -> VideoComposerPipelineOutput:
        """Generate a video from any composition of conditions (arguments: the class docstring, *Arguments of a call*)."""
        arguments = {name: value for name, value in locals().items() if name != "self"}  # exactly the parameters
        return self._generate(CallArguments(**arguments))

    def _generate(self, args: CallArguments) -> VideoComposerPipelineOutput:
        """:meth:`__call__` in its numbered stages."""
        # 1. check inputs
        args = self._call_settings(args)
        inputs = self._condition_inputs(args)
        precomputed = dict(args.precomputed_conditions or {})
        given = {"prompt": args.prompt, "prompt_embeds": args.prompt_embeds, "video": args.video}
        conditions = self.resolve_conditions(args.conditions, **given, **inputs, precomputed=precomputed)
        self.check_inputs(conditions, args, inputs, precomputed)
        seed = args.generator.initial_seed() if args.seed is None and args.generator is not None else args.seed

        # 2-3. read the video and build the conditions
        size = {"num_frames": args.num_frames, "height": args.height, "width": args.width}
        prepared = self.prepare_conditions(
            conditions, **given, **size, **inputs, precomputed=precomputed, seed=seed, motion_mode=args.motion_mode
        )
        cond, negative = prepared.conditions, args.negative_prompt_embeds
        if args.negative_prompt is not None:
            with self._encoders_on_device():
                negative = self.builder().encode_prompt(args.negative_prompt, self.device)
        negative = None if negative is None else negative.to(self.device, torch.float32)

        # 4. the guided passes (one scale: y -> zero_y, image -> zeros, as the reference; or one scale per condition)
        cond_kwargs, uncond_kwargs, scale = guided_passes(
            self.unet,
            cond,
            conditions,
            args.guidance_scale,
            args.min_guidance_scale,
            args.num_frames,
            negative,
            self.scheduler_config.guidance_scale,
        )
        batch = max((v.shape[0] for v in cond.values()), default=1)

        # 5. latents
        x_T = self.prepare_latents(batch, args.num_frames, args.height, args.width, args.generator, args.latents)
        if args.noise_warp is not None:
            settings = self.motion_settings.with_mode(args.motion_mode)
            x_T = warp_initial_noise(x_T, cond, args.noise_warp, settings, args.generator)

        # 6. denoise
        x_0 = self._denoise(x_T, cond_kwargs, uncond_kwargs, scale, args)

        # 7. decode
        frames = x_0 if args.output_type == "latent" else self._frames(self.decode_latents(x_0), args.output_type)
        return VideoComposerPipelineOutput(
            frames, {k: v.float().cpu() for k, v in cond.items()}, prepared.source_video()
        )
