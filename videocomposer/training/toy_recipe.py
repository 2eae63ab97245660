"""The built-in toy model, reproduced from nothing with one command::

    python -m videocomposer.training.toy_recipe --output-dir runs/toy

Stages (each writes into ``--output-dir``; a finished stage is skipped when the command is run again):

1. ``data/``: synthetic clips of moving shapes (:mod:`videocomposer.training.synthetic`, seed ``--data-seed``)
   as MP4 + ``clips.csv``;
2. ``vae/``: a small ``AutoencoderKL`` trained on their frames (:mod:`videocomposer.training.toy_vae`),
   its latent scale measured;
3. ``start_weights/``: the starting files in the official formats the trainer reads: the trained VAE
   (SD checkpoint layout), a frozen random tiny OpenCLIP text tower, a random-init UNet whose condition
   encoders are calibrated on the first training clips (:mod:`~videocomposer.training.condition_init`);
   ``model_config.json`` holds their architectures (:func:`toy_architectures`);
4. ``cache/``: the condition cache of the training clips (``videocomposer extract --dataset --cache``:
   VAE posteriors, text contexts, first frames and motion vectors computed once, so a training step
   costs the UNet alone: 0.57 s per batch of 8 here, where reading the clips online took 0.71 s per batch of 2);
5. ``unet_run/``: ``videocomposer train --config train_toy_motion`` (the real trainer) from that UNet,
   reading the cache; the shipped UNet is its EMA;
6. ``vae_decoder/``: the VAE with its decoder trained further, encoder frozen (the latents the UNet
   learned do not change; :func:`~videocomposer.training.toy_vae.finetune_decoder`);
7. ``toy_model/``: the pipeline (UNet + VAE + text tower) as a ``save_pretrained`` folder whose
   ``model_index.json`` carries the model's frame count, size and sampling defaults, and the prediction type
   and schedule it was trained with (v-prediction, zero terminal SNR, the frames' noise correlation), and its
   empty caption (the zero context its training gave a dropped caption).

``--evaluate`` adds stage 8, the held-out benchmark (:mod:`videocomposer.evaluation.toy_benchmark`, 50
clips, DPM-Solver++ 20 steps and DDIM 50 steps) plus the small regression subset the test suite re-checks.
``--install`` then copies ``toy_model/`` into the package (``videocomposer/assets/toy_model``, the folder
:func:`videocomposer.toy_model_dir` returns) with ``MODEL_CARD.md`` and ``metrics.json``.
``recipe.json`` records each stage's settings and time.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, Sequence

import torch
import yaml

from ..diffusion import NoiseSchedule
from ..models.clip import CLIPTextConfig, CLIPVisionConfig, OpenCLIPConfig
from ..models.unet import UNetConfig
from ..models.vae import VAEConfig
from ..files import ensure_writable_dir, write_text
from . import synthetic
from .toy_vae import finetune_decoder, read_frames, train_vae

#: The training data seed (the evaluation uses other seeds: :data:`EVAL_SEED`).
DATA_SEED = 1
#: Held-out clips come from this seed, never used in training.
EVAL_SEED = 1001
TASK_CONFIG = "train_toy_motion"
CONDITIONS = ("y", "local_image", "motion")
#: Output frames and side: the clips are drawn at 128 px (16-px macroblocks carry the motion vectors) and
#: the model works at 64 px (a 4x VAE: 16 x 16 latents), which is what this CPU budget affords.
NUM_FRAMES, SIZE = 8, 64
#: Sampling defaults stored in the model's ``model_index.json``. Guidance ramps from 1.0 on frame 0 to 3.0 on the
#: last frame (``min_guidance_scale``): on validation clips (seed 3001) one scale of 3.0 for every frame pushed
#: frame 0 away from the given first frame (PSNR 19.4 dB against 24.3 with the ramp, 24.4 unguided) while
#: the text score did not drop with the ramp (43 → 48 % of 40 captions).
SAMPLING_DEFAULTS = {"num_frames": NUM_FRAMES, "height": SIZE, "width": SIZE, "misc_size": SIZE,
                     "num_inference_steps": 20, "guidance_scale": 3.0, "min_guidance_scale": 1.0}
#: The toy model's default sampler (DPM-Solver++ at 20 steps matches DDIM at 50: see its model card).
SCHEDULER = "dpmsolver++"
CONTEXT_DIM = 32
#: Training clips whose first frames and motion vectors calibrate the UNet's condition encoders.
CALIBRATION_CLIPS = 16
#: Held-out clips of the benchmark (the default sampler, and DDIM 50 steps on the same clips and captions for the
#: comparison: with fewer captions one caption alone would move the text score by more than the 5 % asked) and of
#: the regression subset the test suite regenerates.
EVAL_CLIPS, REGRESSION_CLIPS = 50, 4


def toy_architectures() -> dict[str, Any]:
    """The toy model's architectures by component (the ``--model-config`` file's content).

    UNet: 3 levels (32/64/64 channels), attention at the two lower levels, 8-channel STC encoders for
    first frame and motion; VAE: 4x downsampling (64 px → 16 x 16 latents), 32/64/64 channels, 4 latent
    channels; text tower: a 2-layer, 32-wide OpenCLIP text transformer (frozen, random; its weights are
    fp16 values so that it is stored in half the space) with a minimal image tower.
    """
    unet = UNetConfig(dim=32, context_dim=CONTEXT_DIM, dim_mult=(1, 2, 2), num_heads=2, head_dim=16, num_res_blocks=1,
                      attn_scales=(0.5, 0.25), dropout=0.0, temporal_conv_dropout=0.0, stc_dropout=0.0,
                      video_compositions=("text", "local_image", "motion"), use_checkpoint=False)
    clip = OpenCLIPConfig(embed_dim=CONTEXT_DIM,
                          vision_cfg=CLIPVisionConfig(image_size=224, patch_size=32, width=32, layers=1, head_width=16),
                          text_cfg=CLIPTextConfig(width=CONTEXT_DIM, heads=2, layers=2))
    vae = VAEConfig(ch=32, ch_mult=[1, 2, 2], num_res_blocks=1, resolution=SIZE)
    return {"unet": dataclasses.asdict(unet), "clip": dataclasses.asdict(clip), "vae": dataclasses.asdict(vae)}


class Recipe:
    """The stages of the module docstring, run in order by :meth:`run`."""

    def __init__(self, output_dir: str | os.PathLike, num_clips: int = 1500, vae_steps: int = 2000,
                 unet_steps: int | None = None, data_seed: int = DATA_SEED, overrides: Sequence[str] = (),
                 decoder_steps: int = 3500):
        self.root = ensure_writable_dir(output_dir)
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

    # ------------------------------------------------------------------ stages
    def make_data(self) -> None:
        began = time.time()
        synthetic.write_dataset(self.data_dir, self.num_clips, self.data_seed)
        self._finish("data", began, clips=self.num_clips, seed=self.data_seed,
                     frames=synthetic.CLIP_FRAMES, size=synthetic.CLIP_SIZE, fps=synthetic.CLIP_FPS)

    def _vae_frames(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Training frames (4 per clip) and held-out frames (16 clips of the evaluation seed), at the model's size."""
        videos = sorted((self.data_dir / "clips").glob("*.mp4"))
        frames = read_frames(videos, frames_per_clip=4, seed=self.data_seed, size=SIZE)
        held_out_videos = [synthetic.clip_file(self.root / "held_out", EVAL_SEED, i)[0] for i in range(16)]
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
        self._finish("vae", began, steps=self.vae_steps, train_seconds=round(result.seconds, 1),
                     held_out_psnr_db=round(result.psnr_db, 2), latent_std=result.latent_std,
                     scale_factor=config.scale_factor, first_loss=result.losses[0], last_loss=result.losses[-1])

    def write_start_weights(self) -> None:
        """Official-format files: trained VAE (LDM layout), random text tower and UNet (see :mod:`..pipelines.tiny`)."""
        from diffusers import AutoencoderKL

        from ..checkpoints import OFFICIAL_FILES
        from ..pipelines.tiny import vae_state_dict_to_ldm, write_tiny_official_weights
        from ..files import atomic_path

        began = time.time()
        archs = toy_architectures()
        archs["vae"]["scale_factor"] = self.record["stages"]["vae"]["scale_factor"]
        configs = {"unet": UNetConfig(**archs["unet"]), "clip": OpenCLIPConfig.from_dict(archs["clip"]),
                   "vae": VAEConfig.from_dict(archs["vae"])}
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
        from ..checkpoints import OFFICIAL_FILES, read_state_dict
        from ..conditions import ConditionBuilder
        from ..files import atomic_path
        from ..models.unet import VideoComposerUNet
        from ..video.sampling import load_video_clip
        from .condition_init import calibrate_condition_stems

        unet_file = self.weights_dir / OFFICIAL_FILES["unet"].filename
        unet = VideoComposerUNet(config)
        unet.load_state_dict(read_state_dict(unet_file))
        names = [c.name for c in unet.stc_conditions]
        videos = sorted((self.data_dir / "clips").glob("*.mp4"))[:CALIBRATION_CLIPS]
        builder = ConditionBuilder()
        built = [builder.build(names, video=load_video_clip(v, NUM_FRAMES, SIZE, SIZE, seed=self.data_seed + i,
                                                             with_mask=False), misc_size=SIZE)
                 for i, v in enumerate(videos)]
        inputs = {name: torch.cat([b[name] for b in built]) for name in names}
        stds = calibrate_condition_stems(unet, inputs, pooled_size=(SIZE, SIZE))
        with atomic_path(unet_file) as tmp:
            torch.save(unet.state_dict(), tmp)
        return {name: round(std, 4) for name, std in stds.items()}

    def cache_command(self) -> list[str]:
        """The ``videocomposer extract --dataset`` command of stage 4 (run with this interpreter; the training
        overrides go with it, so that the cache is made for the clips the run will read)."""
        return [sys.executable, "-m", "videocomposer.cli", "extract", "--dataset", str(self.data_dir),
                "--cache", str(self.cache_dir), "--config", TASK_CONFIG, "--weights-dir", str(self.weights_dir),
                "--model-config", str(self.model_config_path), f"root_dir={self.data_dir}", *self.overrides]

    def fill_cache(self) -> None:
        began = time.time()
        command = self.cache_command()
        print("[toy recipe] " + " ".join(command), flush=True)
        subprocess.run(command, check=True, env={**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())})
        self._finish("cache", began, command=command[1:])

    def train_command(self) -> list[str]:
        """The ``videocomposer train`` command of stage 4 (run with this interpreter)."""
        steps = [f"max_steps={self.unet_steps}"] if self.unet_steps else []
        return [sys.executable, "-m", "videocomposer.cli", "train", "--config", TASK_CONFIG,
                "--output-dir", str(self.root / "unet_run"), "--weights-dir", str(self.weights_dir),
                "--model-config", str(self.model_config_path), f"root_dir={self.data_dir}", f"condition_cache={self.cache_dir}", *steps, *self.overrides]

    def train_unet(self) -> None:
        began = time.time()
        command = self.train_command()
        print("[toy recipe] " + " ".join(command), flush=True)
        env = {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}
        subprocess.run(command, check=True, env=env)
        summary = json.loads((self.root / "unet_run" / "summary.json").read_text())
        self._finish("unet", began, command=command[1:], steps=summary["steps"], s_per_step=summary["s_per_step"],
                     first_loss=summary["first_loss"], last_loss=summary["last_loss"],
                     checkpoint=summary["checkpoints"][-1] if summary["checkpoints"] else None)

    def finetune_decoder(self) -> None:
        from diffusers import AutoencoderKL

        began = time.time()
        vae = AutoencoderKL.from_pretrained(self.root / "vae", local_files_only=True, low_cpu_mem_usage=False)
        frames, held_out = self._vae_frames()
        result = finetune_decoder(vae, frames, self.decoder_steps, eval_frames=held_out, seed=self.data_seed)
        result.vae.save_pretrained(ensure_writable_dir(self.root / "vae_decoder"), safe_serialization=True)
        self._finish("vae_decoder", began, steps=self.decoder_steps, train_seconds=round(result.seconds, 1),
                     held_out_psnr_db=round(result.psnr_db, 2), latent_std=result.latent_std,
                     first_loss=result.losses[0], last_loss=result.losses[-1])

    def assemble(self) -> None:
        from diffusers import AutoencoderKL

        from ..pipelines.pipeline import VideoComposerPipeline
        from ..video.motion import MotionSettings

        began = time.time()
        # the run's last checkpoint, found under this output folder wherever the recipe is run from: its EMA
        # weights when the run kept them (train_toy_motion does), else the raw ones
        folder = self.root / "unet_run" / "checkpoints" / Path(self.record["stages"]["unet"]["checkpoint"]).name
        checkpoint = next(f for f in (folder / "unet_ema.safetensors", folder / "unet.safetensors") if f.is_file()).resolve()
        archs = json.loads(self.model_config_path.read_text())
        pipe = VideoComposerPipeline.from_official(self.weights_dir, conditions=list(CONDITIONS), config=archs,
                                                   unet_file=str(checkpoint))
        pipe.vae = AutoencoderKL.from_pretrained(self.root / "vae_decoder", local_files_only=True,
                                                 low_cpu_mem_usage=False).eval().requires_grad_(False)
        pipe.vae.register_to_config(_name_or_path="vae_decoder")  # the stage's folder, not this machine's path
        pipe.set_defaults(**SAMPLING_DEFAULTS)
        pipe.scheduler = SCHEDULER
        trained = yaml.safe_load((self.root / "unet_run" / "config.yaml").read_text())  # the run's resolved config
        pipe.prediction_type = trained["prediction_type"]
        pipe.schedule = NoiseSchedule.for_training(trained["zero_terminal_snr"])
        pipe.noise_correlation = trained.get("noise_correlation", 0.0)  # absent from runs that predate the setting
        # the condition dropout trained a dropped caption as a zero context, so that is the model's "no caption",
        # not the text tower's embedding of "" (the reference's inference), which it never saw: the model card's
        # "How the recipe got here" has what this changes
        pipe.empty_caption = "zeros"
        pipe.unet_source = None  # trained here, not converted from an official UNet file: no --unet-file to match
        # its motion condition was trained on 128-px clips: sources of any size are brought to that scale first
        pipe.motion_settings = MotionSettings("rescaled", synthetic.CLIP_SIZE)
        pipe.clip.half()  # its values are fp16 already (write_start_weights); loading casts back to float32
        if self.model_dir.exists():
            shutil.rmtree(self.model_dir)
        pipe.save_pretrained(self.model_dir)
        size = sum(p.stat().st_size for p in self.model_dir.rglob("*") if p.is_file())
        self._finish("assemble", began, bytes=size)

    def evaluate(self) -> None:
        from ..evaluation.toy_benchmark import held_out_clips

        began = time.time()
        default = [(SCHEDULER, SAMPLING_DEFAULTS["num_inference_steps"])]
        jobs = {"main": (EVAL_CLIPS, default + [("ddim", 50)], 10), "regression": (REGRESSION_CLIPS, default, REGRESSION_CLIPS)}
        held_out_clips(self.root / "eval" / "held_out", EVAL_CLIPS)  # written once, before the workers read them
        # the two evaluations are independent: one process each, as many at once as there are threads to spare
        workers = max(1, min(len(jobs), (os.cpu_count() or 1) // torch.get_num_threads()))
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {name: pool.submit(_evaluate_job, str(self.model_dir), str(self.root / "eval"), *job,
                                         torch.get_num_threads()) for name, job in jobs.items()}
            reports = {name: future.result() for name, future in futures.items()}
        write_text(self.root / "metrics_full.json", json.dumps(reports, indent=2) + "\n")

        def means(report: dict[str, Any]) -> dict[str, Any]:
            return {k: {"means": v["means"], "sampling_seconds": v["sampling_seconds"]} for k, v in report["samplers"].items()}

        key = f"{SCHEDULER}-{SAMPLING_DEFAULTS['num_inference_steps']}"
        main = means(reports["main"])
        summary = {"clips": EVAL_CLIPS, "text_clips": reports["main"]["text_clips"], "guidance_scale": reports["main"]["guidance_scale"],
                   "min_guidance_scale": reports["main"]["min_guidance_scale"], "samplers": {key: main[key]},
                   "reference_points": reports["main"]["reference_points"]["means"],
                   "comparison": {"clips": EVAL_CLIPS, "samplers": main, **reports["main"]["comparison"]},
                   "regression_subset": {"clips": REGRESSION_CLIPS, "scheduler": SCHEDULER,
                                         "steps": SAMPLING_DEFAULTS["num_inference_steps"], **means(reports["regression"])[key]}}
        self._finish("evaluate", began, metrics=summary)

    def run(self, evaluate: bool = False) -> Path:
        stages = [("data", self.make_data), ("vae", self.train_vae), ("start_weights", self.write_start_weights),
                  ("cache", self.fill_cache), ("unet", self.train_unet), ("vae_decoder", self.finetune_decoder), ("assemble", self.assemble)]
        if evaluate:
            stages.append(("evaluate", self.evaluate))
        for stage, method in stages:
            if not self._done(stage):
                method()
        return self.model_dir


def _evaluate_job(model_dir: str, work_dir: str, clips: int, samplers: list[tuple[str, int]], batch_size: int,
                  threads: int) -> dict[str, Any]:
    """One held-out evaluation in a worker process (see :meth:`Recipe.evaluate`)."""
    from ..evaluation.toy_benchmark import evaluate_toy_model
    from ..pipelines.pipeline import VideoComposerPipeline

    torch.set_num_threads(threads)
    pipe = VideoComposerPipeline.from_pretrained(model_dir)
    pipe.set_progress_bar_config(disable=True)
    pipe.batched_cfg = True  # one UNet call per step for both guidance passes (same result, faster here)
    return evaluate_toy_model(pipe, work_dir, clips, samplers=samplers, batch_size=batch_size)


def install(model_dir: Path, record: dict[str, Any]) -> Path:
    """Copy the assembled model into the package (``videocomposer/assets/toy_model``) with its
    ``MODEL_CARD.md`` and ``metrics.json`` (needs the ``evaluate`` stage), replacing the old one."""
    from ..pipelines.toy_model import PACKAGED_TOY_MODEL
    from .toy_card import render_model_card

    if "evaluate" not in record.get("stages", {}):
        raise ValueError("--install needs the measured metrics for the model card: add --evaluate")
    staging = PACKAGED_TOY_MODEL.with_name(PACKAGED_TOY_MODEL.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model_dir, staging)
    write_text(staging / "metrics.json", json.dumps(record["stages"]["evaluate"]["metrics"], indent=2) + "\n")
    train_config = yaml.safe_load((model_dir.parent / "unet_run" / "config.yaml").read_text())  # as resolved by the run
    write_text(staging / "MODEL_CARD.md", render_model_card(record, toy_architectures(), train_config))
    if PACKAGED_TOY_MODEL.exists():
        shutil.rmtree(PACKAGED_TOY_MODEL)
    staging.rename(PACKAGED_TOY_MODEL)
    return PACKAGED_TOY_MODEL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m videocomposer.training.toy_recipe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True, help="working folder (run again to continue after the last finished stage)")
    parser.add_argument("--num-clips", type=int, default=1500, help="training clips (default 1500)")
    parser.add_argument("--vae-steps", type=int, default=2000, help="VAE training steps (default 2000)")
    parser.add_argument("--decoder-steps", type=int, default=3500, help="VAE decoder steps after the UNet (default 3500)")
    parser.add_argument("--unet-steps", type=int, help="UNet optimizer steps (default: the task config's max_steps)")
    parser.add_argument("--data-seed", type=int, default=DATA_SEED, help=f"training data seed (default {DATA_SEED})")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's); on a busy machine 1 is faster")
    parser.add_argument("--evaluate", action="store_true", help="measure the held-out metrics (stage 8)")
    parser.add_argument("--install", action="store_true", help="copy the result into videocomposer/assets/toy_model "
                        "with its model card (needs --evaluate)")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="extra `videocomposer train` config overrides")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = Recipe(args.output_dir, args.num_clips, args.vae_steps, args.unet_steps, args.data_seed, args.overrides,
                    args.decoder_steps)
    model_dir = recipe.run(evaluate=args.evaluate)
    print(f"[toy recipe] model: {model_dir}")
    if args.install:
        print(f"[toy recipe] installed: {install(model_dir, recipe.record)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
