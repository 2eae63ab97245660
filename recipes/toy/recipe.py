"""The stages that reproduce the built-in toy model from nothing::

    python -m recipes.toy --output-dir runs/toy --threads 2 --evaluate --install

Stages (each writes into the output folder; a finished stage is skipped when the command is run again):

1. ``data/``: synthetic clips of moving shapes (:mod:`recipes.toy.synthetic`, seed ``--data-seed``, world
   ``--world``) with their truth files + ``clips.csv``;
2. ``vae/``: a small ``AutoencoderKL`` trained on their frames (:mod:`recipes.toy.vae`), its latent scale measured;
3. ``start_weights/``: the starting files in the official formats the trainer reads: the trained VAE
   (SD checkpoint layout), a frozen random tiny OpenCLIP text tower, a random-init UNet whose condition
   encoders are calibrated on the first training clips (:mod:`videocomposer.training.condition_init`);
   ``model_config.json`` holds their architectures (:func:`recipes.toy.settings.toy_architectures`);
4. ``cache/``: the condition cache of the training clips (``videocomposer extract --dataset --cache``:
   VAE posteriors, text contexts, first frames and motion vectors computed once, so that a training step
   costs the UNet alone);
5. ``unet_run/``: ``videocomposer train --config train_toy_motion`` (the package's trainer) from that UNet,
   reading the cache; the shipped UNet is its EMA;
6. ``vae_decoder/``: the VAE with its decoder trained further, encoder frozen (the latents the UNet
   learned do not change; :func:`recipes.toy.vae.finetune_decoder`);
7. ``toy_model/``: the pipeline (UNet + VAE + text tower) as a ``save_pretrained`` folder whose
   ``model_index.json`` carries the model's frame count and size, and whose ``scheduler/scheduler_config.json``
   its sampling defaults, the prediction type and schedule it was trained with (v-prediction, zero terminal
   SNR, the frames' noise correlation), and its empty caption (the zero context its training gave a dropped
   caption).
8. (``--evaluate``) ``eval/`` and ``metrics_full.json``: the held-out benchmarks: codec motion vectors
   (:mod:`recipes.toy.codec_benchmark`, 50 clips, DPM-Solver++ 20 steps and DDIM 50 steps) plus the small
   regression subset the test suite re-checks, and ground truth (:mod:`recipes.toy.benchmark`: 50 clips, 20
   strokes).

``recipe.json`` records each stage's settings and time. ``--install`` then copies ``toy_model/`` into the package
(``videocomposer/assets/toy_model``) with ``metrics.json``, ``training.json`` and ``MODEL_CARD.md``, and writes
the inputs of ``videocomposer demo`` (:mod:`recipes.toy.install`).
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import torch
import yaml
from diffusers import AutoencoderKL

from videocomposer.checkpoints import OFFICIAL_FILES, read_state_dict
from videocomposer.conditions import ConditionBuilder
from videocomposer.diffusion import SchedulerConfig
from videocomposer.files import atomic_path, ensure_writable_dir, write_text
from videocomposer.models.clip import OpenCLIPConfig
from videocomposer.models.unet import UNetConfig, VideoComposerUNet
from videocomposer.models.vae import VAEConfig
from videocomposer.pipelines.pipeline import VideoComposerPipeline
from videocomposer.pipelines.tiny import vae_state_dict_to_ldm, write_tiny_official_weights
from videocomposer.training.condition_init import calibrate_condition_stems
from videocomposer.video.motion import MotionSettings
from videocomposer.video.sampling import load_video_clip

from . import synthetic
from .benchmark import run_benchmark
from .codec_benchmark import evaluate_toy_model
from .heldout import held_out_clips
from .settings import (
    CALIBRATION_CLIPS,
    CONDITIONS,
    DATA_SEED,
    EVAL_CLIPS,
    EVAL_SEED,
    MOTION_SOURCE_SIZE,
    NUM_FRAMES,
    REGRESSION_CLIPS,
    SAMPLING_DEFAULTS,
    SCHEDULER,
    SHIPPED_WORLD,
    SIZE,
    TASK_CONFIG,
    toy_architectures,
)
from .vae import finetune_decoder, read_frames, train_vae

#: The stages that make the model, in the order :meth:`Recipe.run` runs them (``evaluate`` follows when asked).
TRAINING_STAGES = ("data", "vae", "start_weights", "cache", "unet", "vae_decoder", "assemble")


class Recipe:
    """The stages of the module docstring, run in order by :meth:`run`."""

    def __init__(
        self,
        output_dir: str | os.PathLike,
        num_clips: int = 1500,
        vae_steps: int = 2000,
        unet_steps: int | None = None,
        data_seed: int = DATA_SEED,
        overrides: Sequence[str] = (),
        decoder_steps: int = 3500,
        world: str = SHIPPED_WORLD,
    ):
        synthetic.world_module(world)
        self.root = ensure_writable_dir(output_dir)
        self.world = world
        self.num_clips, self.vae_steps, self.unet_steps = num_clips, vae_steps, unet_steps
        self.decoder_steps = decoder_steps
        self.data_seed, self.overrides = data_seed, list(overrides)
        self.record_path = self.root / "recipe.json"
        self.record: dict[str, Any] = json.loads(self.record_path.read_text()) if self.record_path.is_file() else {}

    # ------------------------------------------------------------------ bookkeeping
    def _done(self, stage: str) -> bool:
        return stage in self.record.get("stages", {})

    def _finish(self, stage: str, began: float, **info: Any) -> None:
        self.record.setdefault("stages", {})[stage] = {"seconds": round(time.time() - began, 1), **info}
        write_text(self.record_path, json.dumps(self.record, indent=2) + "\n")
        print(f"[toy recipe] {stage} done in {time.time() - began:.0f} s", flush=True)

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def weights_dir(self) -> Path:
        return self.root / "start_weights"

    @property
    def model_config_path(self) -> Path:
        return self.root / "model_config.json"

    @property
    def cache_dir(self) -> Path:
        return self.root / "cache"

    @property
    def model_dir(self) -> Path:
        return self.root / "toy_model"

    def training_videos(self) -> list[Path]:
        """The training clips, in the order of ``clips.csv``."""
        with open(self.data_dir / "clips.csv", newline="") as handle:
            return [self.data_dir / row["video"] for row in csv.DictReader(handle)]

    # ------------------------------------------------------------------ stages
    def make_data(self) -> None:
        began = time.time()
        synthetic.write_dataset(self.data_dir, self.num_clips, self.data_seed, world=self.world)
        self._finish("data", began, clips=self.num_clips, seed=self.data_seed, world=self.world)

    def _vae_frames(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training frames (4 per clip) and held-out frames (16 clips of the evaluation seed), at the model's size."""
        videos = self.training_videos()
        frames = read_frames(videos, frames_per_clip=4, seed=self.data_seed, size=SIZE)
        held_out_videos = [c.path for c in held_out_clips(self.root / "held_out", 16, EVAL_SEED, self.world)]
        return frames, read_frames(held_out_videos, frames_per_clip=4, seed=0, size=SIZE)

    def train_vae(self) -> None:
        began = time.time()
        config = VAEConfig.from_dict(toy_architectures()["vae"])
        frames, held_out = self._vae_frames()
        result = train_vae(config, frames, self.vae_steps, eval_frames=held_out, seed=self.data_seed, crop=None)
        config.scale_factor = round(1.0 / result.latent_std, 5)
        result.vae.register_to_config(scaling_factor=config.scale_factor)
        vae_dir = ensure_writable_dir(self.root / "vae")
        result.vae.save_pretrained(vae_dir, safe_serialization=True)
        self._finish(
            "vae",
            began,
            steps=self.vae_steps,
            train_seconds=round(result.seconds, 1),
            held_out_psnr_db=round(result.psnr_db, 2),
            latent_std=result.latent_std,
            scale_factor=config.scale_factor,
            first_loss=result.losses[0],
            last_loss=result.losses[-1],
        )

    def write_start_weights(self) -> None:
        """Official-format files: trained VAE (LDM layout), random text tower and UNet
        (see :mod:`videocomposer.pipelines.tiny`)."""
        began = time.time()
        archs = toy_architectures()
        archs["vae"]["scale_factor"] = self.record["stages"]["vae"]["scale_factor"]
        configs = {
            "unet": UNetConfig(**archs["unet"]),
            "clip": OpenCLIPConfig.from_dict(archs["clip"]),
            "vae": VAEConfig.from_dict(archs["vae"]),
        }
        write_tiny_official_weights(self.weights_dir, seed=self.data_seed, configs=configs, components=("unet", "clip"))
        clip_file = self.weights_dir / OFFICIAL_FILES["clip"].filename
        clip = torch.load(clip_file, weights_only=True)
        with atomic_path(clip_file) as tmp:  # fp16 values: the shipped model stores the text tower in fp16, exactly
            torch.save({k: v.half().float() if v.is_floating_point() else v for k, v in clip.items()}, tmp)
        vae = AutoencoderKL.from_pretrained(self.root / "vae", local_files_only=True, low_cpu_mem_usage=False)
        ldm = vae_state_dict_to_ldm(vae.state_dict(), len(configs["vae"].ch_mult))
        with atomic_path(self.weights_dir / OFFICIAL_FILES["vae"].filename) as tmp:
            torch.save({"state_dict": {f"first_stage_model.{k}": v for k, v in ldm.items()}}, tmp)
        calibrated = self.calibrate_condition_encoders(configs["unet"])
        write_text(self.model_config_path, json.dumps(archs, indent=2) + "\n")
        self._finish("start_weights", began, calibrated_encoder_std=calibrated)

    def calibrate_condition_encoders(self, config: UNetConfig) -> dict[str, float]:
        """Rescale the random UNet's condition stems on the conditions of the first training clips (LSUV,
        :func:`~videocomposer.training.condition_init.calibrate_condition_stems`) and rewrite its file."""
        unet_file = self.weights_dir / OFFICIAL_FILES["unet"].filename
        unet = VideoComposerUNet(config)
        unet.load_state_dict(read_state_dict(unet_file))
        names = [c.name for c in unet.stc_conditions]
        videos = self.training_videos()[:CALIBRATION_CLIPS]
        builder = ConditionBuilder()
        built = [
            builder.build(
                names,
                video=load_video_clip(v, NUM_FRAMES, SIZE, SIZE, seed=self.data_seed + i, with_mask=False),
                misc_size=SIZE,
            )
            for i, v in enumerate(videos)
        ]
        inputs = {name: torch.cat([b[name] for b in built]) for name in names}
        stds = calibrate_condition_stems(unet, inputs, pooled_size=(SIZE, SIZE))
        with atomic_path(unet_file) as tmp:
            torch.save(unet.state_dict(), tmp)
        return {name: round(std, 4) for name, std in stds.items()}

    def cache_command(self) -> list[str]:
        """The ``videocomposer extract --dataset`` command of stage 4 (run with this interpreter; the training
        overrides go with it, so that the cache is made for the clips the run will read)."""
        return [
            sys.executable,
            "-m",
            "videocomposer.cli",
            "extract",
            "--dataset",
            str(self.data_dir),
            "--cache",
            str(self.cache_dir),
            "--config",
            TASK_CONFIG,
            "--weights-dir",
            str(self.weights_dir),
            "--model-config",
            str(self.model_config_path),
            f"root_dir={self.data_dir}",
            *self.overrides,
        ]

    def fill_cache(self) -> None:
        began = time.time()
        command = self.cache_command()
        print("[toy recipe] " + " ".join(command), flush=True)
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
        self._finish("cache", began, command=command[1:])

    def train_command(self) -> list[str]:
        """The ``videocomposer train`` command of stage 4 (run with this interpreter)."""
        steps = [f"max_steps={self.unet_steps}"] if self.unet_steps else []
        return [
            sys.executable,
            "-m",
            "videocomposer.cli",
            "train",
            "--config",
            TASK_CONFIG,
            "--output-dir",
            str(self.root / "unet_run"),
            "--weights-dir",
            str(self.weights_dir),
            "--model-config",
            str(self.model_config_path),
            f"root_dir={self.data_dir}",
            f"condition_cache={self.cache_dir}",
            "resume=auto",  # an interrupted stage continues from its last checkpoint
            *steps,
            *self.overrides,
        ]

    def train_unet(self) -> None:
        began = time.time()
        command = self.train_command()
        print("[toy recipe] " + " ".join(command), flush=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
        subprocess.run(command, check=True, env=env)
        summary = json.loads((self.root / "unet_run" / "summary.json").read_text())
        self._finish(
            "unet",
            began,
            command=command[1:],
            steps=summary["steps"],
            s_per_step=summary["s_per_step"],
            first_loss=summary["first_loss"],
            last_loss=summary["last_loss"],
            checkpoint=summary["checkpoints"][-1] if summary["checkpoints"] else None,
        )

    def finetune_decoder(self) -> None:
        began = time.time()
        vae = AutoencoderKL.from_pretrained(self.root / "vae", local_files_only=True, low_cpu_mem_usage=False)
        frames, held_out = self._vae_frames()
        result = finetune_decoder(vae, frames, self.decoder_steps, eval_frames=held_out, seed=self.data_seed)
        result.vae.save_pretrained(ensure_writable_dir(self.root / "vae_decoder"), safe_serialization=True)
        self._finish(
            "vae_decoder",
            began,
            steps=self.decoder_steps,
            train_seconds=round(result.seconds, 1),
            held_out_psnr_db=round(result.psnr_db, 2),
            latent_std=result.latent_std,
            first_loss=result.losses[0],
            last_loss=result.losses[-1],
        )

    def assemble(self) -> None:
        began = time.time()
        # the run's last checkpoint, found under this output folder wherever the recipe is run from: its EMA
        # weights when the run kept them (train_toy_motion does), else the raw ones
        folder = self.root / "unet_run" / "checkpoints" / Path(self.record["stages"]["unet"]["checkpoint"]).name
        checkpoint = next(
            f for f in (folder / "unet_ema.safetensors", folder / "unet.safetensors") if f.is_file()
        ).resolve()
        archs = json.loads(self.model_config_path.read_text())
        pipe = VideoComposerPipeline.from_official(
            self.weights_dir, conditions=list(CONDITIONS), config=archs, unet_file=str(checkpoint)
        )
        pipe.vae = (
            AutoencoderKL.from_pretrained(self.root / "vae_decoder", local_files_only=True, low_cpu_mem_usage=False)
            .eval()
            .requires_grad_(False)
        )
        pipe.vae.register_to_config(_name_or_path="vae_decoder")  # the stage's folder, not this machine's path
        sampling = ("num_inference_steps", "guidance_scale", "min_guidance_scale")
        pipe.set_defaults(**{k: v for k, v in SAMPLING_DEFAULTS.items() if k not in sampling})
        trained = yaml.safe_load((self.root / "unet_run" / "config.yaml").read_text())  # the run's resolved config
        # empty_caption: the condition dropout trained a dropped caption as a zero context, so that is the model's
        # "no caption", not the text tower's embedding of "" (the reference's inference), which it never saw
        pipe.scheduler_config = SchedulerConfig(
            scheduler=SCHEDULER,
            **{k: SAMPLING_DEFAULTS[k] for k in sampling},
            prediction_type=trained["prediction_type"],
            zero_terminal_snr=trained["zero_terminal_snr"],
            noise_correlation=trained.get("noise_correlation", 0.0),  # absent from runs that predate the setting
            empty_caption="zeros",
        )
        pipe.unet_source = None  # trained here, not converted from an official UNet file: no --unet-file to match
        # sampled as its motion condition was trained: sources of any size brought to the training clips' scale
        pipe.motion_settings = MotionSettings("rescaled", trained.get("motion_source_size", MOTION_SOURCE_SIZE))
        pipe.clip.half()  # its values are fp16 already (write_start_weights); loading casts back to float32
        if self.model_dir.exists():
            shutil.rmtree(self.model_dir)
        pipe.save_pretrained(self.model_dir)
        size = sum(p.stat().st_size for p in self.model_dir.rglob("*") if p.is_file())
        self._finish("assemble", began, bytes=size)

    def evaluate(self) -> None:
        began = time.time()
        default = [(SCHEDULER, SAMPLING_DEFAULTS["num_inference_steps"])]
        jobs = {
            "main": (_evaluate_job, EVAL_CLIPS, default + [("ddim", 50)], 10),
            "regression": (_evaluate_job, REGRESSION_CLIPS, default, REGRESSION_CLIPS),
            "tracks": (_tracks_job, EVAL_CLIPS, default, 10),
        }
        held_out_clips(
            self.root / "eval" / "held_out", EVAL_CLIPS, world=self.world
        )  # written once, before the workers
        # the evaluations are independent: one process each, as many at once as there are threads to spare
        workers = max(1, min(len(jobs), (os.cpu_count() or 1) // torch.get_num_threads()))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {
                name: pool.submit(
                    job, str(self.model_dir), str(self.root / "eval"), self.world, *settings, torch.get_num_threads()
                )
                for name, (job, *settings) in jobs.items()
            }
            reports = {name: future.result() for name, future in futures.items()}
        write_text(self.root / "metrics_full.json", json.dumps(reports, indent=2) + "\n")
        self._finish("evaluate", began, metrics=metrics_summary(reports))

    def run(self, evaluate: bool = False) -> Path:
        """Run every stage not finished yet (:data:`TRAINING_STAGES`, then ``evaluate`` when asked); returns the
        model folder."""
        methods = {
            "data": self.make_data,
            "vae": self.train_vae,
            "start_weights": self.write_start_weights,
            "cache": self.fill_cache,
            "unet": self.train_unet,
            "vae_decoder": self.finetune_decoder,
            "assemble": self.assemble,
            "evaluate": self.evaluate,
        }
        for stage in (*TRAINING_STAGES, *(("evaluate",) if evaluate else ())):
            if not self._done(stage):
                methods[stage]()
        return self.model_dir


def metrics_summary(reports: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``metrics.json`` from the ``main``, ``regression`` and (when run) ``tracks`` benchmark reports: the world, the
    default sampler's means on the held-out clips, the reference points, the sampler comparison, the regression
    subset and the ground-truth means (no per-clip values)."""

    def means(report: dict[str, Any]) -> dict[str, Any]:
        return {
            k: {"means": v["means"], "sampling_seconds": v["sampling_seconds"]} for k, v in report["samplers"].items()
        }

    key = f"{SCHEDULER}-{SAMPLING_DEFAULTS['num_inference_steps']}"
    report, main = reports["main"], means(reports["main"])
    summary = {
        "world": report.get("world", "v1"),
        "clips": EVAL_CLIPS,
        "text_clips": report["text_clips"],
        "guidance_scale": report["guidance_scale"],
        "min_guidance_scale": report["min_guidance_scale"],
        "samplers": {key: main[key]},
        "reference_points": report["reference_points"]["means"],
        "comparison": {"clips": EVAL_CLIPS, "samplers": main, **report["comparison"]},
        "regression_subset": {
            "clips": REGRESSION_CLIPS,
            "scheduler": SCHEDULER,
            "steps": SAMPLING_DEFAULTS["num_inference_steps"],
            **means(reports["regression"])[key],
        },
    }
    if "tracks" in reports:
        summary["tracks"] = {
            k: reports["tracks"][k] for k in ("clips", "strokes", "text_clips", "min_side", "sampler", "means")
        }
    return summary


def _worker_pipeline(model_dir: str, threads: int) -> VideoComposerPipeline:
    torch.set_num_threads(threads)
    pipe = VideoComposerPipeline.from_pretrained(model_dir)
    pipe.set_progress_bar_config(disable=True)
    pipe.batched_cfg = True  # one UNet call per step for both guidance passes (same result, faster here)
    return pipe


def _evaluate_job(
    model_dir: str,
    work_dir: str,
    world: str,
    clips: int,
    samplers: list[tuple[str, int]],
    batch_size: int,
    threads: int,
) -> dict[str, Any]:
    """One held-out codec-vector evaluation in a worker process (see :meth:`Recipe.evaluate`)."""
    pipe = _worker_pipeline(model_dir, threads)
    return evaluate_toy_model(pipe, work_dir, clips, samplers=samplers, batch_size=batch_size, world=world)


def _tracks_job(
    model_dir: str,
    work_dir: str,
    world: str,
    clips: int,
    samplers: list[tuple[str, int]],
    batch_size: int,
    threads: int,
) -> dict[str, Any]:
    """The ground-truth benchmark (the model's default sampler) in a worker process (see :meth:`Recipe.evaluate`)."""
    pipe = _worker_pipeline(model_dir, threads)
    return run_benchmark(pipe, work_dir, clips, batch_size=batch_size, world_name=world)
