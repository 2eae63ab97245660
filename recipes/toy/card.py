"""``MODEL_CARD.md`` of the built-in toy model: :file:`card_template.md` filled from the model folder's records.

Every figure in the card comes from two files the recipe's ``--install`` stage writes into the model folder:
``training.json`` (the settings and time of each stage, :func:`recipes.toy.install.training_summary`) and
``metrics.json`` (the held-out benchmarks, :mod:`recipes.toy.codec_benchmark` and :mod:`recipes.toy.benchmark`). Re-render the card of a model folder::

    python -m recipes.toy.card videocomposer/assets/toy_model
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from string import Template
from typing import Any

import torch

from videocomposer.files import write_text
from videocomposer.models.clip import OpenCLIP, OpenCLIPConfig
from videocomposer.models.unet import UNetConfig, VideoComposerUNet
from videocomposer.models.vae import VAEConfig, build_vae
from videocomposer.pipelines.toy_model import RECIPE_COMMAND

from . import world_v1
from .settings import (
    EVAL_NOISE_SEED,
    EVAL_SEED,
    NUM_FRAMES,
    SAMPLING_DEFAULTS,
    SCHEDULER,
    SIZE,
    TEXT_SEED,
    toy_architectures,
)

TEMPLATE = Path(__file__).with_name("card_template.md")
#: The targets of the three headline metrics: (shown, met?), judged on the default sampler.
TARGETS = {
    "motion_epe_ratio": ("≤ 0.5", lambda v: v <= 0.5),
    "first_frame_psnr": ("≥ 25 dB", lambda v: v >= 25.0),
    "text_colour_accuracy": ("≥ 80 %", lambda v: v >= 0.8),
}
#: The rows of the metric tables: (key in ``metrics.json``, label).
TABLE_ROWS = (
    ("motion_epe", "motion EPE with motion (source px)"),
    ("motion_epe_no_motion", "motion EPE without motion"),
    ("motion_epe_ratio", "ratio with / without motion"),
    ("motion_epe_moving", "motion EPE on moving cells, with motion"),
    ("motion_epe_moving_no_motion", "... without motion"),
    ("motion_epe_static", "motion EPE on static cells, with motion"),
    ("motion_epe_static_no_motion", "... without motion"),
    ("motion_cosine_moving", "direction cosine on moving cells, with motion"),
    ("motion_cosine_moving_no_motion", "... without motion"),
    ("motion_gain_moving", "speed along the condition on moving cells (1 = its speed), with motion"),
    ("motion_gain_moving_no_motion", "... without motion"),
    ("flow_epe", "Farneback flow EPE with motion"),
    ("flow_epe_no_motion", "Farneback flow EPE without motion"),
    ("flow_epe_ratio", "flow ratio with / without"),
    ("first_frame_psnr", "first-frame PSNR (dB)"),
    ("frame_change", "frame-to-frame change (0-255)"),
    ("source_frame_change", "the source clips' frame-to-frame change"),
    ("text_colour_accuracy", "text: caption colour dominant"),
)


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.3f}"


def parameter_counts(archs: dict[str, Any]) -> dict[str, int]:
    """Parameter counts of the shipped networks (UNet, VAE, text tower), built on the meta device."""
    with torch.device("meta"):
        unet = VideoComposerUNet(UNetConfig(**archs["unet"]))
        vae = build_vae(VAEConfig.from_dict(archs["vae"]))
        clip = OpenCLIP(OpenCLIPConfig.from_dict(archs["clip"]), towers=("text",))
    return {
        name: sum(p.numel() for p in module.parameters())
        for name, module in (("UNet", unet), ("VAE", vae), ("text tower", clip))
    }


def missed_targets(means: dict[str, float]) -> list[str]:
    """The metrics of :data:`TARGETS` whose target the means do not reach (or that were not measured)."""
    return [key for key, (_, passed) in TARGETS.items() if means.get(key) is None or not passed(means[key])]


def metric_table(samplers: dict[str, Any], with_targets: bool) -> str:
    """Markdown table of the metric means, one column per sampler (and the targets, judged on the first)."""
    names = list(samplers)
    lines = [
        "| metric | " + " | ".join(names) + (" | target |" if with_targets else " |"),
        "|---|" + "---|" * (len(names) + with_targets),
    ]
    for key, label in TABLE_ROWS:
        values = [samplers[s]["means"].get(key) for s in names]
        cells = " | ".join(_fmt(v) for v in values)
        if with_targets:
            target, passed = TARGETS.get(key, ("", None))
            verdict = "" if passed is None or values[0] is None else (" (met)" if passed(values[0]) else " (NOT met)")
            cells += f" | {target}{verdict}"
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


def guidance_text(settings: dict[str, Any]) -> str:
    """``guidance 3.0``, or the per-frame ramp ``guidance 1.0 (frame 0) → 3.0 (last frame)``."""
    if settings.get("min_guidance_scale") is None:
        return f"guidance {settings['guidance_scale']}"
    return f"guidance {settings['min_guidance_scale']} (frame 0) → {settings['guidance_scale']} (last frame)"


def reference_points_text(metrics: dict[str, Any]) -> str:
    """The paragraph on the motion EPE of the source, still and VAE round-trip videos (no sampling)."""
    points = metrics.get("reference_points")
    if not points:
        return ""
    without = next(iter(metrics["samplers"].values()))["means"]["motion_epe_no_motion"]
    side = "below" if 0.5 * without < points["motion_epe_vae"] else "above"
    return (
        f"Reference points, the same protocol on videos made from the source clips without sampling\n"
        f"(`reference_points` in `metrics.json`): motion EPE {_fmt(points['motion_epe_source'])} for the source "
        f"clip itself at {SIZE} px (a perfect model),\n{_fmt(points['motion_epe_still'])} for its first frame "
        f"repeated (a still video) and {_fmt(points['motion_epe_vae'])} for the source clip encoded and decoded\n"
        f"by this model's VAE (flow EPE {_fmt(points['flow_epe_source'])}, {_fmt(points['flow_epe_still'])} and "
        f"{_fmt(points['flow_epe_vae'])}). The codec's vectors answer any small change between frames,\nso the "
        f"VAE alone already scores worse than a still video; with the motion condition left out the model scores\n"
        f"{_fmt(without)}, so the target ratio of 0.5 asks for {_fmt(0.5 * without)} with it, {side} what a perfect "
        f"latent model decoded by\nthis VAE scores."
    )


def training_settings_text(cfg: dict[str, Any]) -> str:
    """The UNet run's optimisation settings, from its training config (``train_config`` of ``training.json``)."""
    target = {"epsilon": "ε", "v_prediction": "v"}[cfg["prediction_type"]]
    loss = {
        "uniform": f"{target} MSE",
        "min_snr": f"min-SNR-{{g:g}} weighted {target} MSE",
        "v_capped": f"{target} MSE weighted 1 + 1/SNR (v-prediction's weights; cap {{g:g}}, 214 at t = 999)",
    }[cfg["loss_weighting"]].format(g=cfg["loss_weighting_gamma"])
    if cfg["zero_terminal_snr"]:
        loss += " on SD's schedule rescaled to zero terminal SNR"
    if cfg.get("noise_correlation"):
        loss += f", noise correlated {cfg['noise_correlation']:g} between frames"
    if cfg["noise_offset"]:
        loss += f", offset noise {cfg['noise_offset']:g}"
    ema = f", EMA {cfg['ema_decay']:g} (shipped)" if cfg["use_ema"] else ""
    return (
        f"batch {cfg['batch_size']}, AdamW {cfg['learning_rate']:g} {cfg['lr_schedule']} to {cfg['end_learning_rate']:g}, "
        f"{loss}, condition dropout {cfg['misc_dropout']:g}{ema}, from the condition cache"
    )


def diffusion_text(cfg: dict[str, Any]) -> str:
    """What the network predicts, on which schedule, from which noise (the training config's settings)."""
    text = {"epsilon": "predicts the noise ε", "v_prediction": "predicts the velocity v"}[cfg["prediction_type"]]
    text += " on SD's scaled-linear schedule"
    if cfg["zero_terminal_snr"]:
        text += " rescaled to zero terminal SNR"
    if cfg.get("noise_correlation"):
        text += f", from noise whose frames have correlation {cfg['noise_correlation']:g} (PYoCo's mixed noise)"
    return text


def targets_text(means: dict[str, float]) -> str:
    """The limitation bullets on the targets the default sampler does not reach (empty when all are met)."""
    missed = missed_targets(means)
    if not missed:
        return ""
    lines = [f"- Targets not reached: {', '.join(f'{k} {TARGETS[k][0]}' for k in missed)} (the table above)."]
    if "motion_epe_ratio" in missed:
        moving, moving_without = means["motion_epe_moving"], means["motion_epe_moving_no_motion"]
        still, still_without = means["motion_epe_static"], means["motion_epe_static_no_motion"]
        lines.append(
            f"- Motion is followed in part: on the cells that move, the motion error is {moving:.2f} px with the "
            f"condition and\n  {moving_without:.2f} without (ratio {moving / moving_without:.2f}), the generated "
            f"vectors point along the condition's (cosine\n  {means['motion_cosine_moving']:.2f}) at "
            f"{means['motion_gain_moving']:.2f} of its speed; on the cells that stand still, {still:.2f} and "
            f"{still_without:.2f} px (ratio\n  {still / still_without:.2f}). The VAE's own round trip of the "
            "source already scores worse than a still video (reference\n  points above)."
        )
    return "\n".join(lines)


def _sampler_fields(metrics: dict[str, Any]) -> dict[str, str]:
    """The template fields of the evaluation section."""
    comparison, regression = metrics["comparison"], metrics["regression_subset"]
    steps = SAMPLING_DEFAULTS["num_inference_steps"]
    world = metrics.get("world", "v1")  # the synthetic world the model was trained and measured on
    return {
        "eval_clips": str(metrics["clips"]),
        "text_clips": str(metrics["text_clips"]),
        "noise_seed": str(EVAL_NOISE_SEED),
        "eval_guidance": guidance_text(metrics),
        "main_table": metric_table(metrics["samplers"], with_targets=True),
        "benchmark_command": f"python -m recipes.toy.codec_benchmark --world {world} --clips {metrics['clips']} "
        f"--samplers {SCHEDULER}:{steps} --output metrics.json",
        "reference_points": reference_points_text(metrics),
        "regression_clips": str(regression["clips"]),
        "regression_ratio": _fmt(regression["means"]["motion_epe_ratio"]),
        "regression_psnr": f"{regression['means']['first_frame_psnr']:.2f}",
        "compare_clips": str(comparison["clips"]),
        "compare_command": f"python -m recipes.toy.codec_benchmark --world {world} --clips {comparison['clips']} "
        "--output compare.json",
        "compare_table": metric_table(comparison["samplers"], with_targets=False),
        "timing": ", ".join(f"{s} {v['sampling_seconds']:.0f} s" for s, v in comparison["samplers"].items()),
        "time_ratio": _fmt(comparison["time_ratio"]),
        "differences": ", ".join(
            f"{k} {100 * v:.1f} %" for k, v in comparison["relative_difference"].items() if not k.endswith("_no_motion")
        ),
    }


def _model_fields(training: dict[str, Any]) -> dict[str, str]:
    """The template fields of the model details and training data sections."""
    archs = toy_architectures()
    unet, data, cfg = archs["unet"], training["data"], training["train_config"]
    return {
        "num_frames": str(NUM_FRAMES),
        "size": str(SIZE),
        "unet_dim": str(unet["dim"]),
        "parameters": ", ".join(f"{name} {n / 1e6:.2f} M" for name, n in parameter_counts(archs).items()),
        "unet_levels": str(list(unet["dim_mult"])),
        "unet_attention": str(list(unet["attn_scales"])),
        "latent_scale": str(training["vae"]["scale_factor"]),
        "text_width": str(archs["clip"]["text_cfg"]["width"]),
        "diffusion": diffusion_text(cfg),
        "scheduler": SCHEDULER,
        "steps": str(SAMPLING_DEFAULTS["num_inference_steps"]),
        "default_guidance": guidance_text(SAMPLING_DEFAULTS),
        "data_clips": str(data["clips"]),
        "data_seed": str(data["seed"]),
        "data_frames": str(data["frames"]),
        "data_fps": str(data["fps"]),
        "data_size": str(data["size"]),
        "object_colour_count": str(len(world_v1.OBJECT_COLOURS)),
        "object_colours": ", ".join(world_v1.OBJECT_COLOURS),
        "background_colour_count": str(len(world_v1.BACKGROUND_COLOURS)),
        "background_colours": ", ".join(world_v1.BACKGROUND_COLOURS),
        "eval_seed": str(EVAL_SEED),
        "text_seed": str(TEXT_SEED),
    }


def _training_fields(training: dict[str, Any]) -> dict[str, str]:
    """The template fields of the training procedure section."""
    vae, unet, decoder, cfg = training["vae"], training["unet"], training["vae_decoder"], training["train_config"]
    return {
        "recipe_command": RECIPE_COMMAND,
        "data_minutes": f"{training['data']['minutes']:.1f}",
        "vae_steps": str(vae["steps"]),
        "vae_psnr": f"{vae['held_out_psnr_db']:.2f}",
        "vae_minutes": f"{vae['minutes']:.1f}",
        "cache_minutes": f"{training['cache']['minutes']:.1f}",
        "unet_steps": str(unet["steps"]),
        "unet_settings": training_settings_text(cfg),
        "unet_first_loss": f"{unet['first_loss']:.3f}",
        "unet_last_loss": f"{unet['last_loss']:.3f}",
        "unet_step_seconds": f"{unet['s_per_step']:.2f}",
        "unet_minutes": f"{unet['minutes']:.1f}",
        "decoder_steps": str(decoder["steps"]),
        "decoder_psnr": f"{decoder['held_out_psnr_db']:.2f}",
        "decoder_minutes": f"{decoder['minutes']:.1f}",
        "total_minutes": f"{training['total_minutes']:.0f}",
        "batch_size": str(cfg["batch_size"]),
        "passes": f"{unet['steps'] * cfg['batch_size'] / training['data']['clips']:.0f}",
    }


def render_model_card(training: dict[str, Any], metrics: dict[str, Any]) -> str:
    """The card's Markdown text from ``training.json`` and ``metrics.json`` (their contents)."""
    means = next(iter(metrics["samplers"].values()))["means"]
    fields = {
        **_model_fields(training),
        **_training_fields(training),
        **_sampler_fields(metrics),
        "targets_not_met": targets_text(means),
    }
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(fields).rstrip("\n") + "\n"


def write_model_card(model_dir: str | os.PathLike) -> Path:
    """Render ``MODEL_CARD.md`` of ``model_dir`` from its ``training.json`` and ``metrics.json``; returns its path."""
    folder = Path(model_dir)
    records = {}
    for name in ("training.json", "metrics.json"):
        if not (folder / name).is_file():
            raise FileNotFoundError(
                f"{folder / name} is missing: the model card is made from it "
                "(the recipe's --evaluate --install stages write it)"
            )
        records[name] = json.loads((folder / name).read_text(encoding="utf-8"))
    return write_text(folder / "MODEL_CARD.md", render_model_card(records["training.json"], records["metrics.json"]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m recipes.toy.card", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model_dir", help="model folder holding training.json and metrics.json")
    print(f"written: {write_model_card(parser.parse_args(argv).model_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
