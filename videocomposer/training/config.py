"""Training configuration: one dataclass, layered YAML files and ``key=value`` overrides.

Precedence (lowest first): the dataclass defaults (= ``configs/train_base.yaml``), the task YAML (which
may name another YAML under ``base:``), then command-line overrides. Every key is checked against the
dataclass: an unknown key, a value of the wrong type or out of range, or a condition trained but not
built into the model is a :class:`ConfigError` naming the key, raised before any model or video loads.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..conditions import CONDITIONS, OFFICIAL_COMPOSITIONS
from ..config import CONFIG_DIR, ConfigError, YamlSource, check_keys, coerce, is_file, merge, read_layers, save_resolved
from ..diffusion.gaussian_diffusion import LOSS_WEIGHTINGS
from ..diffusion.prediction import PREDICTION_TYPES
from ..video.motion import MotionSettings
from .port_config import PORT_KEYS, is_port_config, map_port_config

BASE_CONFIG = CONFIG_DIR / "train_base.yaml"


OPTIMIZERS = ("adamw", "momentum")
LR_SCHEDULES = ("constant", "cosine")
MIXED_PRECISION = ("fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
PARALLELISM = ("ddp", "fsdp2")
#: Keys that may change between a run and its resumption without a warning.
RESUMABLE_CHANGES = frozenset(
    {
        "max_steps",
        "epochs",
        "checkpoint_every",
        "keep_last",
        "log_every",
        "num_workers",
        "prefetch_factor",
        "progress_bar",
        "tensorboard",
        "resume",
        "output_dir",
        "compile",
        "device",
        "parallelism",
        "fsdp_cpu_offload",
        "dist_timeout_minutes",
        "condition_cache",
    }
)


#: UNetConfig fields the training config owns as top-level keys (not settable under ``unet``).
UNET_KEYS_SET_BY_TRAINING = ("video_compositions", "misc_dropout", "p_all_zero", "p_all_keep", "use_checkpoint")


@dataclass
class TrainConfig:
    """Every training setting. The defaults are the MindSpore port's ``train_base`` recipe (see
    ``configs/train_base.yaml``, which documents each key in the same order).
    """

    # --- conditions ---------------------------------------------------------------------------
    #: Condition encoders the UNet is built with (decides which official weights exist). Names:
    #: text, mask, depthmap, sketch, motion, image, local_image, single_sketch.
    video_compositions: list[str] = field(default_factory=lambda: list(OFFICIAL_COMPOSITIONS))
    #: Conditions extracted and fed while training; each must be in ``video_compositions``.
    conditions_for_train: list[str] = field(default_factory=lambda: ["text", "motion", "image", "local_image"])

    # --- data ---------------------------------------------------------------------------------
    #: Dataset folder holding ``*.csv`` (columns ``video,caption``) or ``*.json`` annotations.
    root_dir: str | None = None
    #: Drop annotation rows whose video file does not exist (with a warning) instead of failing.
    skip_missing_videos: bool = False
    #: Side of the square video frames (pixels) the VAE encodes; latents are ``resolution / 8``.
    resolution: int = 256
    #: Side of the square frames the annotators (depth, sketch), local_image and mask see.
    misc_size: int = 384
    #: Frames per training clip.
    max_frames: int = 16
    #: Frame rate (fps) clips are re-encoded and sampled at (raised for clips shorter than max_frames).
    feature_framerate: int = 4
    #: How the motion condition is made from a clip: ``reference`` (the original's: the vectors at the clip's own
    #: size) or ``rescaled`` (the clip's centre square brought to ``motion_source_size`` first, so clips of any size
    #: give the same motion; a model trained so records it and is sampled the same way).
    motion_mode: str = "reference"
    #: Short side in pixels the ``rescaled`` motion mode brings every clip to (a multiple of 16).
    motion_source_size: int = 336
    #: Clips per device per micro-batch.
    batch_size: int = 1
    #: DataLoader worker processes (0 = load in the training process).
    num_workers: int = 2
    #: Batches each worker prepares ahead (ignored with num_workers 0).
    prefetch_factor: int = 2
    #: Shuffle the clip order each epoch (seeded, reproducible).
    shuffle: bool = True

    # --- model and weights --------------------------------------------------------------------
    #: Folder with the official weight files, under their published names (required).
    weights_dir: str | None = None
    #: Initial UNet weights; overrides weights_dir. Official ``.pth`` or a ``.safetensors`` of ours.
    unet_checkpoint: str | None = None
    #: UNet architecture overrides (fields of ``UNetConfig``), e.g. a tiny model for tests.
    unet: dict[str, Any] = field(default_factory=dict)
    #: Frozen-network architecture overrides by component (vae, clip, midas, sketch_cleaner), e.g. tiny test models.
    frozen_models: dict[str, Any] = field(default_factory=dict)
    #: Frames per VAE / annotator forward (bounds memory; does not change results).
    chunk_size: int = 16
    #: Per-condition dropout probability (each condition of each sample, independently).
    misc_dropout: float = 0.5
    #: Probability that a sample loses every condition (text included).
    p_all_zero: float = 0.1
    #: Probability that a sample keeps every condition.
    p_all_keep: float = 0.1
    #: Train only UNet parameters whose name matches one of these globs; empty = the whole UNet.
    trainable_patterns: list[str] = field(default_factory=list)

    # --- optimisation -------------------------------------------------------------------------
    #: ``adamw`` or ``momentum`` (SGD with momentum, for small-memory cards).
    optimizer: str = "adamw"
    #: Peak learning rate (reached after warmup).
    learning_rate: float = 5e-5
    #: ``constant`` or ``cosine`` (decays from learning_rate to end_learning_rate after warmup).
    lr_schedule: str = "constant"
    #: Final learning rate of the cosine schedule.
    end_learning_rate: float = 5e-5
    #: Optimizer steps of linear warmup from 0 to learning_rate.
    warmup_steps: int = 10
    #: AdamW betas.
    betas: list[float] = field(default_factory=lambda: [0.9, 0.98])
    #: AdamW epsilon.
    eps: float = 1e-8
    #: Decoupled weight decay (not applied to biases and norm weights).
    weight_decay: float = 0.0
    #: SGD momentum (optimizer ``momentum``).
    momentum: float = 0.9
    #: Per-sample weights of the ε loss over timesteps: ``uniform`` (the reference), ``min_snr`` (Min-SNR-γ)
    #: or ``v_capped`` (the v-prediction objective's weights, capped at γ); see :func:`videocomposer.diffusion.loss_weights`.
    loss_weighting: str = "uniform"
    #: γ of ``min_snr`` / ``v_capped``.
    loss_weighting_gamma: float = 5.0
    #: Extra loss weight ``λ`` on the moving regions of a clip, ``1 + λ · m`` per latent pixel (0 = none, the
    #: reference); see :mod:`videocomposer.training.moving_regions`.
    moving_region_weight: float = 0.0
    #: Probability that a sample's motion condition is replaced by one stroke drawn from it, as a drawn stroke is
    #: rasterised (0 = never, the reference; needs ``motion_mode: rescaled``); see
    #: :mod:`videocomposer.training.sparse_strokes`.
    sparse_stroke_prob: float = 0.0
    #: Diffusion noise carried along each clip's motion condition (Go-with-the-Flow), with this share γ in [0, 1]
    #: of fresh noise per frame; null (the default, the reference): independent noise. Needs ``motion_mode:
    #: rescaled``; a model trained so is sampled with the same ``noise_warp``.
    noise_warp: float | None = None
    #: Std of "offset noise": a per-sample, per-channel constant added to the diffusion noise, shared by all
    #: frames and pixels (0 = none, the reference). Stops a model from reading the mean colour of each frame
    #: from the barely-noised signal at t ≈ T, which pure noise at sampling does not contain.
    noise_offset: float = 0.0
    #: Correlation between the frames of a clip's diffusion noise, in [0, 1) (PYoCo's mixed noise; 0 = independent,
    #: the reference): see :mod:`videocomposer.diffusion.noise`. A model trained with it is sampled with it.
    noise_correlation: float = 0.0
    #: What the UNet learns to predict: ``epsilon`` (the reference) or ``v_prediction``; the pipeline reads it
    #: from the saved model (see :mod:`videocomposer.diffusion.prediction`).
    prediction_type: str = "epsilon"
    #: Train on SD's schedule rescaled to zero signal at t = T (Lin et al. 2024): sampling from pure noise then
    #: matches training. Needs ``prediction_type: v_prediction``.
    zero_terminal_snr: bool = False
    #: Micro-batches summed per optimizer step (effective batch = batch_size × this × world size).
    gradient_accumulation_steps: int = 1
    #: Clip the global gradient L2 norm to this value; null or 0 = no clipping, as the port (the norm is still logged).
    max_grad_norm: float | None = None
    #: Training length in epochs (passes over the annotations), unless max_steps is set.
    epochs: int = 50
    #: Training length in optimizer steps; overrides epochs when set.
    max_steps: int | None = None
    #: Seed of everything random (init, clip sampling, masks, noise, timesteps, dropout).
    seed: int = 8888

    # --- precision and speed ------------------------------------------------------------------
    #: Autocast dtype of the UNet forward: ``fp32`` (none), ``bf16`` or ``fp16`` (with a dynamic loss scale).
    mixed_precision: str = "bf16"
    #: Initial fp16 loss scale (halved on overflow, the step skipped).
    loss_scale_init: float = 65536.0
    #: Steps without overflow before the fp16 loss scale doubles.
    loss_scale_growth_interval: int = 1000
    #: Recompute UNet block activations in the backward pass (less memory, ~30% more time).
    gradient_checkpointing: bool = False
    #: Wrap the UNet in ``torch.compile``.
    compile: bool = False
    #: ``auto`` (CUDA when available), ``cpu`` or ``cuda``.
    device: str = "auto"

    # --- several processes (torchrun) -------------------------------------------------------
    #: ``ddp`` (every process holds the whole model) or ``fsdp2`` (parameters, gradients and optimizer
    #: state sharded over the processes with ``fully_shard``); one process trains unwrapped either way.
    parallelism: str = "ddp"
    #: fsdp2 only: keep the sharded parameters and optimizer state in CPU memory (slower, least GPU memory).
    fsdp_cpu_offload: bool = False
    #: Minutes a collective may wait for the other processes before the run fails.
    dist_timeout_minutes: float = 30.0
    #: Folder of precomputed conditions (``videocomposer extract --dataset ROOT --cache DIR``); clips found
    #: there skip the frozen encoders, the others are extracted online as usual.
    condition_cache: str | None = None

    # --- EMA ----------------------------------------------------------------------------------
    #: Keep an exponential moving average of the trainable weights (saved beside the raw ones).
    use_ema: bool = False
    #: EMA decay per optimizer step.
    ema_decay: float = 0.9999

    # --- checkpoints and logs -----------------------------------------------------------------
    #: Folder for checkpoints, logs and the resolved config (set by ``--output-dir``).
    output_dir: str | None = None
    #: Save a checkpoint every this many optimizer steps (and always at the end); 0 = only at the end.
    checkpoint_every: int = 500
    #: Also save every this many epochs (the port's ``ckpt_save_interval``); 0 = off.
    checkpoint_every_epochs: int = 0
    #: Keep only the newest K checkpoints (0 = keep all).
    keep_last: int = 3
    #: Resume from a checkpoint folder, ``latest`` (newest in output_dir/checkpoints; an error if none) or
    #: ``auto`` (the newest if any, else start fresh: for jobs that may be preempted and restarted).
    resume: str | None = None
    #: Write a log row every this many optimizer steps.
    log_every: int = 1
    #: Show a progress bar (rank 0).
    progress_bar: bool = True
    #: Also log to TensorBoard when the ``tensorboard`` package is installed.
    tensorboard: bool = True

    # ------------------------------------------------------------------------------------------
    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check ranges and cross-key consistency; raise :class:`ConfigError` naming the key."""
        self._validate_conditions()
        self._validate_choices()
        self._validate_counts()
        self._validate_rates()
        self._validate_unet()

    def _validate_conditions(self) -> None:
        """``video_compositions`` and ``conditions_for_train``: known, unique, and every trained condition built."""
        for key in ("video_compositions", "conditions_for_train"):
            known = [c.reference_name for c in CONDITIONS.values()]
            unknown = [c for c in getattr(self, key) if c not in known]
            if unknown:
                raise ConfigError(f"{key}: unknown condition(s) {unknown}; known: {known}")
            if len(set(getattr(self, key))) != len(getattr(self, key)):
                raise ConfigError(f"{key}: duplicate entries in {getattr(self, key)}")
        not_built = [c for c in self.conditions_for_train if c not in self.video_compositions]
        if not_built:
            raise ConfigError(
                f"conditions_for_train: {not_built} not in video_compositions {self.video_compositions}; "
                f"a condition can only be trained when the UNet has its encoder (add it to video_compositions)"
            )

    def _validate_choices(self) -> None:
        """The keys with a fixed set of values, what ``zero_terminal_snr`` needs, and the distributed timeout."""
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check_choice("mixed_precision", self.mixed_precision, MIXED_PRECISION)
        _check_choice("device", self.device, DEVICES)
        _check_choice("parallelism", self.parallelism, PARALLELISM)
        _check_choice("loss_weighting", self.loss_weighting, LOSS_WEIGHTINGS)
        _check_choice("prediction_type", self.prediction_type, PREDICTION_TYPES)
        try:
            MotionSettings(self.motion_mode, self.motion_source_size)
        except ValueError as exc:
            raise ConfigError(f"motion_mode / motion_source_size: {exc}") from None
        if self.zero_terminal_snr and self.prediction_type != "v_prediction":
            raise ConfigError(
                "zero_terminal_snr: needs prediction_type: v_prediction (at zero signal an ε prediction "
                f"says nothing about the video), got prediction_type: {self.prediction_type}"
            )
        if not self.dist_timeout_minutes > 0:
            raise ConfigError(f"dist_timeout_minutes: must be > 0, got {self.dist_timeout_minutes}")

    def motion_settings(self) -> MotionSettings | None:
        """The clips' motion settings; None for the reference's way (exactly the original's clip sampling)."""
        if self.motion_mode == "reference":
            return None
        return MotionSettings(self.motion_mode, self.motion_source_size)

    def _validate_counts(self) -> None:
        """Counts and sizes: step, frame, batch and worker counts, the resolution, the checkpoint cadence."""
        for key in (
            "resolution",
            "misc_size",
            "max_frames",
            "feature_framerate",
            "batch_size",
            "chunk_size",
            "gradient_accumulation_steps",
            "epochs",
            "log_every",
            "prefetch_factor",
            "loss_scale_growth_interval",
        ):
            if getattr(self, key) < 1:
                raise ConfigError(f"{key}: must be >= 1, got {getattr(self, key)}")
        for key in (
            "num_workers",
            "warmup_steps",
            "checkpoint_every",
            "checkpoint_every_epochs",
            "keep_last",
            "weight_decay",
            "noise_offset",
        ):
            if getattr(self, key) < 0:
                raise ConfigError(f"{key}: must be >= 0, got {getattr(self, key)}")
        if self.resolution % 8:
            raise ConfigError(f"resolution: must be a multiple of 8 (the VAE downsamples by 8), got {self.resolution}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ConfigError(f"max_steps: must be >= 1 or null, got {self.max_steps}")

    def _validate_rates(self) -> None:
        """Probabilities, decays, learning rates and optimizer constants: each within its range."""
        if self.noise_warp is not None and not (0.0 <= self.noise_warp <= 1.0 and self.motion_mode == "rescaled"):
            raise ConfigError(
                f"noise_warp: a share of fresh noise in [0, 1] with motion_mode 'rescaled', or null; got {self.noise_warp} "
                f"with motion_mode {self.motion_mode!r}"
            )
        if self.sparse_stroke_prob and self.motion_mode != "rescaled":
            raise ConfigError(
                f"sparse_stroke_prob: strokes are drawn in the 'rescaled' motion mode; got motion_mode {self.motion_mode!r}"
            )
        for key in ("misc_dropout", "p_all_zero", "p_all_keep", "ema_decay", "momentum", "sparse_stroke_prob"):
            if not 0.0 <= getattr(self, key) <= 1.0:
                raise ConfigError(f"{key}: must be in [0, 1], got {getattr(self, key)}")
        if not self.moving_region_weight >= 0.0:
            raise ConfigError(f"moving_region_weight: must be >= 0 (0: uniform), got {self.moving_region_weight}")
        if not 0.0 <= self.noise_correlation < 1.0:
            raise ConfigError(f"noise_correlation: must be in [0, 1), got {self.noise_correlation}")
        if self.p_all_zero + self.p_all_keep > 1.0:
            raise ConfigError(f"p_all_zero + p_all_keep: must be <= 1, got {self.p_all_zero} + {self.p_all_keep}")
        for key in ("learning_rate", "end_learning_rate", "eps", "loss_scale_init", "loss_weighting_gamma"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{key}: must be > 0, got {getattr(self, key)}")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"betas: expected two values in [0, 1), got {self.betas}")
        if self.max_grad_norm is not None and self.max_grad_norm < 0:
            raise ConfigError(f"max_grad_norm: must be > 0, or 0/null for no clipping, got {self.max_grad_norm}")

    def _validate_unet(self) -> None:
        """The ``unet`` section must not set what the training keys control."""
        for key in UNET_KEYS_SET_BY_TRAINING:
            if key in self.unet:
                top = "gradient_checkpointing" if key == "use_checkpoint" else key
                raise ConfigError(f"unet.{key}: set it as the top-level key '{top}' instead")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = "config") -> TrainConfig:
        """Build from a plain dict, coercing and checking every value against the field types."""
        return cls(**_coerce_all(values, source))


def _check_choice(key: str, value: str, choices: Iterable[str]) -> None:
    if value not in choices:
        raise ConfigError(f"{key}: expected one of {list(choices)}, got {value!r}")


_FIELD_TYPES: dict[str, Any] = typing.get_type_hints(TrainConfig)
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(TrainConfig))


def _coerce_all(values: Mapping[str, Any], source: str, origins: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Every value as its field's type; an error names the key and where it was set (``origins``, else ``source``)."""
    _check_keys(values, source, origins)
    return {k: coerce(v, _FIELD_TYPES[k], f"{k} ({(origins or {}).get(k, source)})") for k, v in values.items()}


def _check_keys(values: Mapping[str, Any], source: str, origins: Mapping[str, str] | None = None) -> None:
    try:
        check_keys(TrainConfig, values, source, suggest=PORT_KEYS, origins=origins)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; every key is documented in {BASE_CONFIG}") from None


def resolve_config_path(name_or_path: str | os.PathLike) -> Path:
    """A YAML path, or a preset name from ``videocomposer/configs`` (``train_exp02_motion_transfer``)."""
    path = Path(name_or_path)
    if is_file(path):
        return path
    for candidate in (CONFIG_DIR / path.name, CONFIG_DIR / f"{path.name}.yaml"):
        if candidate.is_file() and candidate.name.startswith("train_"):
            return candidate
    presets = sorted(p.stem for p in CONFIG_DIR.glob("train_*.yaml"))
    raise FileNotFoundError(
        f"training config not found: {name_or_path!r}; give a YAML file or one of the presets: {presets}"
    )


def read_yaml_layers(
    path: Path, report: Callable[[str], None] | None = None, origins: dict[str, str] | None = None
) -> dict[str, Any]:
    """Read ``path`` over the file named by its ``base:`` key (recursively; base paths are relative to the
    file, else preset names). Files other than ``train_base.yaml`` inherit from it when they name no base.
    A MindSpore-port training YAML is mapped onto our keys first (the mapping goes to ``report``).
    ``origins`` receives ``{key: "FILE, line N"}`` of each key (see :func:`~videocomposer.config.read_layers`)."""

    def layer(values: dict[str, Any], source: YamlSource) -> dict[str, Any]:
        if is_port_config(values):
            values, lines = map_port_config(values, source, _FIELD_TYPES)
            for line in lines:
                (report or (lambda _: None))(line)
        own = {k: v for k, v in values.items() if k != "base"}
        _check_keys(own, str(source.path), {k: source.at(k) for k in own})
        return values

    return read_layers(path, resolve_config_path, BASE_CONFIG.name, transform=layer, origins=origins)


def parse_overrides(overrides: Iterable[str]) -> dict[str, Any]:
    """``["learning_rate=1e-5", "unet.dim=32"]`` → nested dict. Values are read as YAML scalars/lists."""
    out: dict[str, Any] = {}
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip().lstrip("-")
        if not sep or not key:
            raise ConfigError(f"override {item!r}: expected key=value (e.g. learning_rate=1e-5)")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            value = raw
        top, _, rest = key.partition(".")
        if top not in FIELD_NAMES:
            _check_keys({top: None}, f"override {item!r}")
        if rest:
            if typing.get_origin(_FIELD_TYPES[top]) is not dict:
                raise ConfigError(f"override {item!r}: {top!r} has no sub-keys")
            node = out.setdefault(top, {})
            *parents, leaf = rest.split(".")
            for parent in parents:
                node = node.setdefault(parent, {})
            node[leaf] = value
        else:
            out[key] = value
    return out


def load_train_config(
    config: str | os.PathLike | None = None,
    overrides: Iterable[str] = (),
    *,
    report: Callable[[str], None] | None = None,
    **values: Any,
) -> TrainConfig:
    """Resolve a training config: defaults ← ``train_base.yaml`` ← ``config`` ← ``overrides`` ← ``values``.

    Args:
        config: a preset name (``train_exp02_motion_transfer``) or a YAML path; None = the base alone.
        overrides: ``key=value`` strings (dotted keys reach into ``unet`` / ``frozen_models``).
        report: receives the mapping of a MindSpore-port YAML, one line at a time (default: not shown).
        values: programmatic overrides (e.g. ``output_dir=...``), applied last.
    """
    origins: dict[str, str] = {}
    merged = read_yaml_layers(resolve_config_path(config) if config is not None else BASE_CONFIG, report, origins)
    given = parse_overrides(overrides)
    merge(merged, given)
    merge(merged, values)
    located = {k: v for k, v in origins.items() if k not in given and k not in values}
    return TrainConfig(**_coerce_all(merged, "config", located))


def changed_keys(old: Mapping[str, Any], new: TrainConfig) -> list[str]:
    """Keys whose value differs between a checkpoint's config and ``new``, except RESUMABLE_CHANGES."""
    now = new.to_dict()
    return sorted(k for k in now if k not in RESUMABLE_CHANGES and old.get(k, now[k]) != now[k])


def dump_config(cfg: TrainConfig, path: Path) -> None:
    """Write the resolved config as YAML (atomically)."""
    save_resolved(path, cfg.to_dict())
