"""The built-in toy model, reproduced from nothing with one command::

    python -m videocomposer.training.toy_recipe --output-dir runs/toy

Stages (each writes into ``--output-dir``; a finished stage is skipped when the command is run again):

1. ``data/``: synthetic clips of moving shapes (:mod:`videocomposer.training.synthetic`, seed ``--data-seed``)
   as MP4 + ``clips.csv``;
2. ``vae/``: a small ``AutoencoderKL`` trained on their frames (:mod:`videocomposer.training.toy_vae`),
   its latent scale measured;
3. ``start_weights/``: the starting files in the official formats the trainer reads: the trained VAE
   (SD checkpoint layout), a frozen random tiny OpenCLIP text tower, a random-init UNet;
   ``model_config.json`` holds their architectures (:func:`toy_architectures`);
4. ``unet_run/``: ``videocomposer train --config train_toy_motion`` (the real trainer) from that UNet;
5. ``toy_model/``: the pipeline (UNet + VAE + text tower) as a ``save_pretrained`` folder whose
   ``model_index.json`` carries the model's frame count, size and sampling defaults.

``--install`` then copies ``toy_model/`` into the package (``videocomposer/assets/toy_model``), the folder
:func:`videocomposer.toy_model_dir` returns. ``recipe.json`` records each stage's command and time.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import torch

from ..models.clip import CLIPTextConfig, CLIPVisionConfig, OpenCLIPConfig
from ..models.unet import UNetConfig
from ..models.vae import VAEConfig
from ..video.writer import ensure_writable_dir, write_text
from . import synthetic
from .toy_vae import read_frames, train_vae

#: The training data seed (the evaluation uses other seeds: :data:`EVAL_SEED`).
DATA_SEED = 1
#: Held-out clips come from this seed, never used in training.
EVAL_SEED = 1001
TASK_CONFIG = "train_toy_motion"
CONDITIONS = ("y", "local_image", "motion")
#: Output frames and side: the clips are drawn at 128 px (16-px macroblocks carry the motion vectors) and
#: the model works at 64 px (a 4x VAE: 16 x 16 latents), which is what this CPU budget affords.
NUM_FRAMES, SIZE = 8, 64
#: Sampling defaults stored in the model's ``model_index.json``.
SAMPLING_DEFAULTS = {"num_frames": NUM_FRAMES, "height": SIZE, "width": SIZE, "misc_size": SIZE,
                     "num_inference_steps": 20, "guidance_scale": 3.0}
#: The toy model's default sampler (DPM-Solver++ at 20 steps matches DDIM at 50: see its model card).
SCHEDULER = "dpmsolver++"
CONTEXT_DIM = 32


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

    def __init__(self, output_dir: str | os.PathLike, num_clips: int = 1500, vae_steps: int = 800,
                 unet_steps: int | None = None, data_seed: int = DATA_SEED, overrides: Sequence[str] = ()):
        self.root = ensure_writable_dir(output_dir)
        self.num_clips, self.vae_steps, self.unet_steps = num_clips, vae_steps, unet_steps
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
    def model_dir(self) -> Path:
        return self.root / "toy_model"

    # ------------------------------------------------------------------ stages
    def make_data(self) -> None:
        began = time.time()
        synthetic.write_dataset(self.data_dir, self.num_clips, self.data_seed)
        self._finish("data", began, clips=self.num_clips, seed=self.data_seed,
                     frames=synthetic.CLIP_FRAMES, size=synthetic.CLIP_SIZE, fps=synthetic.CLIP_FPS)

    def train_vae(self) -> None:
        began = time.time()
        config = VAEConfig.from_dict(toy_architectures()["vae"])
        videos = sorted((self.data_dir / "clips").glob("*.mp4"))
        frames = read_frames(videos, frames_per_clip=4, seed=self.data_seed, size=SIZE)
        held_out = read_frames([self._held_out_video(i) for i in range(16)], frames_per_clip=4, seed=0, size=SIZE)
        result = train_vae(config, frames, self.vae_steps, eval_frames=held_out, seed=self.data_seed, crop=None)
        config.scale_factor = round(1.0 / result.latent_std, 5)
        result.vae.register_to_config(scaling_factor=config.scale_factor)
        vae_dir = ensure_writable_dir(self.root / "vae")
        result.vae.save_pretrained(vae_dir, safe_serialization=True)
        self._finish("vae", began, steps=self.vae_steps, train_seconds=round(result.seconds, 1),
                     held_out_psnr_db=round(result.psnr_db, 2), latent_std=result.latent_std,
                     scale_factor=config.scale_factor, first_loss=result.losses[0], last_loss=result.losses[-1])

    def _held_out_video(self, index: int) -> Path:
        """Clip ``index`` of the evaluation seed, written under ``held_out/`` (made on first use)."""
        path = self.root / "held_out" / "clips" / f"{EVAL_SEED}_{index:06d}.mp4"
        if not path.is_file():
            from ..video.writer import write_mp4

            path.parent.mkdir(parents=True, exist_ok=True)
            write_mp4(path, synthetic.render_clip(synthetic.sample_clip_spec(EVAL_SEED, index)), fps=synthetic.CLIP_FPS)
        return path

    def write_start_weights(self) -> None:
        """Official-format files: trained VAE (LDM layout), random text tower and UNet (see :mod:`..pipelines.tiny`)."""
        from diffusers import AutoencoderKL

        from ..checkpoints import OFFICIAL_FILES
        from ..pipelines.tiny import vae_state_dict_to_ldm, write_tiny_official_weights
        from ..video.writer import atomic_path

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
        write_text(self.model_config_path, json.dumps(archs, indent=2) + "\n")
        self._finish("start_weights", began)

    def train_command(self) -> list[str]:
        """The ``videocomposer train`` command of stage 4 (run with this interpreter)."""
        steps = [f"max_steps={self.unet_steps}"] if self.unet_steps else []
        return [sys.executable, "-m", "videocomposer.cli", "train", "--config", TASK_CONFIG,
                "--output-dir", str(self.root / "unet_run"), "--weights-dir", str(self.weights_dir),
                "--model-config", str(self.model_config_path), f"root_dir={self.data_dir}", *steps, *self.overrides]

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

    def assemble(self) -> None:
        from ..pipelines.pipeline import VideoComposerPipeline

        began = time.time()
        checkpoint = Path(self.record["stages"]["unet"]["checkpoint"]) / "unet.safetensors"
        archs = json.loads(self.model_config_path.read_text())
        pipe = VideoComposerPipeline.from_official(self.weights_dir, conditions=list(CONDITIONS), config=archs,
                                                   unet_file=str(checkpoint))
        pipe.set_defaults(**SAMPLING_DEFAULTS)
        pipe.scheduler = SCHEDULER
        pipe.clip.half()  # its values are fp16 already (write_start_weights); loading casts back to float32
        if self.model_dir.exists():
            shutil.rmtree(self.model_dir)
        pipe.save_pretrained(self.model_dir)
        size = sum(p.stat().st_size for p in self.model_dir.rglob("*") if p.is_file())
        self._finish("assemble", began, bytes=size)

    def run(self) -> Path:
        for stage, method in (("data", self.make_data), ("vae", self.train_vae), ("start_weights", self.write_start_weights),
                              ("unet", self.train_unet), ("assemble", self.assemble)):
            if not self._done(stage):
                method()
        return self.model_dir


def install(model_dir: Path, record: dict[str, Any]) -> Path:
    """Copy the assembled model into the package (``videocomposer/assets/toy_model``), replacing the old one."""
    from ..pipelines.toy_model import PACKAGED_TOY_MODEL

    staging = PACKAGED_TOY_MODEL.with_name(PACKAGED_TOY_MODEL.name + ".new")
    if staging.exists():
        shutil.rmtree(staging)
    shutil.copytree(model_dir, staging)
    write_text(staging / "recipe.json", json.dumps(record, indent=2) + "\n")
    if PACKAGED_TOY_MODEL.exists():
        shutil.rmtree(PACKAGED_TOY_MODEL)
    staging.rename(PACKAGED_TOY_MODEL)
    return PACKAGED_TOY_MODEL


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m videocomposer.training.toy_recipe", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output-dir", required=True, help="working folder (run again to continue after the last finished stage)")
    parser.add_argument("--num-clips", type=int, default=1500, help="training clips (default 1500)")
    parser.add_argument("--vae-steps", type=int, default=800, help="VAE training steps (default 800)")
    parser.add_argument("--unet-steps", type=int, help="UNet optimizer steps (default: the task config's max_steps)")
    parser.add_argument("--data-seed", type=int, default=DATA_SEED, help=f"training data seed (default {DATA_SEED})")
    parser.add_argument("--threads", type=int, help="CPU threads (default: torch's); on a busy machine 1 is faster")
    parser.add_argument("--install", action="store_true", help="copy the result into videocomposer/assets/toy_model")
    parser.add_argument("overrides", nargs="*", metavar="key=value", help="extra `videocomposer train` config overrides")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    recipe = Recipe(args.output_dir, args.num_clips, args.vae_steps, args.unet_steps, args.data_seed, args.overrides)
    model_dir = recipe.run()
    print(f"[toy recipe] model: {model_dir}")
    if args.install:
        print(f"[toy recipe] installed: {install(model_dir, recipe.record)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
