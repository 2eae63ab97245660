"""Every speed and memory figure of the project in one run, within a few minutes on one GPU.

    python benchmarks/gpu_suite.py                       # one H100/H200: official sizes, <= 8 minutes
    python benchmarks/gpu_suite.py --dry-run             # tiny sizes on the CPU in seconds (the test suite runs it)
    python benchmarks/gpu_suite.py --device cpu --size mid --sections data,compile,ddp --frames 8 --resolution 128

Official-size networks are built in memory with random weights (nothing is downloaded; speed and memory
do not depend on the values). Sections (``--sections``, default all):

* ``inference``: seconds per sample — ``--frames`` × ``--resolution``², ``--steps`` DDIM steps with
  classifier-free guidance (the exp02 conditions: text, local_image, motion) and the VAE decode — in
  fp32 / bf16 / fp16 autocast, batched CFG on and off, ``torch.compile`` on (bf16); peak memory of each;
  the compute bound (≈ 499 TFLOP per official sample ÷ ``--peak-tflops``).
* ``train``: exp02 training step (UNet forward + backward + AdamW, bf16 autocast) with and without
  activation checkpointing; the most frames that fit with each (doubling from ``--frames``); the memory
  of the model state (weights, gradients, AdamW moments) that DDP keeps whole on every GPU and FSDP2
  divides by the number of GPUs (projected from this one GPU: ``state / N`` + the same activations).
* ``data``: one clip's frozen-network work — online (decode, MPEG-4 re-encode, motion vectors, VAE
  encode, CLIP text and image) against reading the condition cache — next to the training step time.
* ``compile``: ``torch.compile`` (inductor) against eager UNet inference (forward passes, no sampler).
* ``ddp``: training throughput of 1 process against 2 under torchrun, one thread each on a CPU (gloo; the
  ideal is 2×; skipped on one GPU).

Results: ``--out`` gets ``gpu_suite.json`` (every figure) and ``gpu_suite.md`` (rows for BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from videocomposer.diffusion import NoiseSchedule, training_loss
from videocomposer.diffusion.schedulers import sample
from videocomposer.files import write_text
from videocomposer.models.clip import OpenCLIP, OpenCLIPConfig
from videocomposer.models.unet import UNetConfig, VideoComposerUNet
from videocomposer.models.vae import VAEConfig, build_vae, decode_video
from videocomposer.pipelines.tiny import tiny_configs

#: Counted figures quoted beside the measurements (BENCHMARKS.md, "Compute budget").
OFFICIAL_SAMPLE_TFLOP = 499.0
PORT_FIGURES = {"s_per_sample": 11.2, "s_per_step": 0.7, "hardware": "Ascend 910*"}
DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
EXP02 = ("text", "local_image", "motion")
MID_UNET = dict(dim=96, dim_mult=(1, 2, 4, 4), num_res_blocks=2, head_dim=32, num_heads=4, context_dim=1024)


def configs(size: str) -> dict[str, Any]:
    """UNet / VAE / CLIP architectures: official, mid (UNet at a quarter width, tiny frozen nets) or tiny."""
    tiny = tiny_configs()
    if size == "official":
        return {"unet": UNetConfig(), "vae": VAEConfig.official(), "clip": OpenCLIPConfig()}
    if size == "mid":
        return {
            "unet": UNetConfig(**MID_UNET),
            "vae": tiny["vae"],
            "clip": dataclasses.replace(
                tiny["clip"], embed_dim=1024, text_cfg=dataclasses.replace(tiny["clip"].text_cfg, width=1024, heads=8)
            ),
        }
    return {"unet": tiny["unet"], "vae": tiny["vae"], "clip": tiny["clip"]}


class Suite:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.device = torch.device(args.device)
        self.cfg = configs(args.size)
        self.results: dict[str, Any] = {
            "settings": {k: v for k, v in vars(args).items() if k != "worker"},
            "machine": machine(self.device),
        }

    # -------------------------------------------------------------------------------- helpers
    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def reset_peak(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.device)

    def peak_gb(self) -> float | None:
        return torch.cuda.max_memory_allocated(self.device) / 2**30 if self.device.type == "cuda" else None

    def timed(self, fn: Callable[[], Any]) -> float:
        self.sync()
        start = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - start

    def unet(self, **changes: Any) -> VideoComposerUNet:
        """The UNet on the device; the encoders of conditions exp02 does not feed are frozen, as in training."""
        from videocomposer.training.components import untrained_encoder_prefixes

        with torch.device(self.device):
            torch.manual_seed(0)
            unet = VideoComposerUNet(dataclasses.replace(self.cfg["unet"], **changes))
        unused = untrained_encoder_prefixes(unet, list(EXP02))
        for name, param in unet.named_parameters():
            param.requires_grad_(not name.startswith(unused))
        return unet

    def trainable(self, unet: torch.nn.Module) -> list[torch.nn.Parameter]:
        return [p for p in unet.parameters() if p.requires_grad]

    def inputs(self, frames: int, batch: int = 1) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        res, ctx = self.args.resolution, self.cfg["unet"].context_dim
        misc = res * 3 // 2
        x = torch.randn(batch, 4, frames, res // 8, res // 8, device=self.device)
        cond = {
            "y": torch.randn(batch, 77, ctx, device=self.device),
            "local_image": torch.rand(batch, 3, 1, misc, misc, device=self.device).expand(-1, -1, frames, -1, -1),
            "motion": torch.randn(batch, 2, frames, res, res, device=self.device),
        }
        return x, cond

    # -------------------------------------------------------------------------------- sections
    def inference(self) -> list[dict[str, Any]]:
        args = self.args
        unet = self.unet(use_checkpoint=False).eval().requires_grad_(False)
        with torch.device(self.device):
            vae = build_vae(self.cfg["vae"]).eval().requires_grad_(False)
        x, cond = self.inputs(args.frames)
        uncond = {**cond, "y": torch.zeros_like(cond["y"])}
        rows = []
        variants = [
            ("fp32", True, False),
            ("bf16", True, False),
            ("fp16", True, False),
            ("bf16", False, False),
            ("bf16", True, True),
        ]
        for precision, batched, compiled in variants:
            if args.dry_run and (compiled or precision != "fp32"):
                continue  # CPU autocast is slow and inductor needs minutes: the dry run checks the code path
            model = torch.compile(unet) if compiled else unet
            dtype = DTYPES[precision]

            def one(steps: int, model=model, dtype=dtype, batched=batched) -> None:  # this variant's
                with torch.no_grad(), torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
                    latents = sample(model, x, cond, uncond, guidance_scale=9.0, num_steps=steps, batched_cfg=batched)
                    decode_video(vae, latents, chunk_size=16)

            row = {"precision": precision, "batched_cfg": batched, "compile": compiled}
            try:
                self.reset_peak()
                row["warmup_s"] = self.timed(lambda: one(2))  # includes compilation for compile=True
                row["s_per_sample"] = self.timed(lambda: one(args.steps))
                row["peak_memory_gb"] = self.peak_gb()
            except Exception as exc:  # an OOM or a compiler failure is a result, not the end of the suite
                row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            rows.append(row)
            print("inference", row, flush=True)
        if self.args.peak_tflops:
            self.results["compute_bound_s_per_sample"] = OFFICIAL_SAMPLE_TFLOP / self.args.peak_tflops
        return rows

    def _train_step(self, unet: VideoComposerUNet, optimizer: torch.optim.Optimizer, frames: int) -> float:
        schedule = NoiseSchedule.linear_sd()
        x, cond = self.inputs(frames, self.args.batch)
        t = torch.randint(0, 1000, (self.args.batch,), device=self.device)
        dtype = DTYPES[self.args.train_precision]

        def step() -> None:
            with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
                loss = training_loss(unet, schedule, x, t, cond, torch.randn_like(x)).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in unet.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

        step()  # warm-up (allocates the AdamW state)
        return min(self.timed(step) for _ in range(self.args.train_steps))

    def train(self) -> list[dict[str, Any]]:
        rows = []
        unet = self.unet().train()
        optimizer = torch.optim.AdamW(self.trainable(unet), lr=1e-5)
        for checkpointing in (False, True):
            unet.config = dataclasses.replace(unet.config, use_checkpoint=checkpointing)
            row: dict[str, Any] = {"activation_checkpointing": checkpointing, "frames": self.args.frames}
            try:
                self.reset_peak()
                row["s_per_step"] = self._train_step(unet, optimizer, self.args.frames)
                row["peak_memory_gb"] = self.peak_gb()
                if self.device.type == "cuda":
                    row["model_state_gb"] = torch.cuda.memory_allocated(self.device) / 2**30
                row["max_frames_fit"] = self._max_frames(unet, optimizer)
            except Exception as exc:
                row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            rows.append(row)
            print("train", row, flush=True)
        parameters = sum(p.numel() for p in unet.parameters())
        trained = sum(p.numel() for p in self.trainable(unet))
        state = (parameters * 4 + trained * 12) / 2**30  # fp32 weights; gradients, AdamW m and v of the trained ones
        self.results["train_memory"] = {
            "parameters": parameters,
            "model_state_gb": state,
            "ddp_per_gpu_state_gb": state,
            "fsdp2_per_gpu_state_gb": {n: state / n for n in (2, 4, 8)},
        }
        return rows

    def _max_frames(self, unet: VideoComposerUNet, optimizer: torch.optim.Optimizer) -> int | None:
        """Double the frames from --frames until a step runs out of memory (GPU only; one step per size)."""
        if self.device.type != "cuda" and not self.args.dry_run:
            return None
        fits, frames = None, self.args.frames
        while frames <= self.args.max_frames_probe:
            try:
                self._train_step(unet, optimizer, frames)
                fits, frames = frames, frames * 2
            except torch.OutOfMemoryError:
                break
            finally:
                optimizer.zero_grad(set_to_none=True)
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()
        return fits

    def data(self) -> dict[str, Any]:
        from videocomposer.conditions import ConditionBuilder
        from videocomposer.models.tokenizer import default_tokenizer
        from videocomposer.models.vae import encode_posterior
        from videocomposer.training.cache import CachedClipLoader, fill_clip, open_cache
        from videocomposer.training.data import Annotation, ClipLoaderSpec

        args = self.args
        with torch.device(self.device):
            vae = build_vae(self.cfg["vae"]).eval().requires_grad_(False)
            clip = OpenCLIP(self.cfg["clip"]).eval().requires_grad_(False)
        builder = ConditionBuilder(default_tokenizer(), clip)
        spec = ClipLoaderSpec(
            ("text", "image", "local_image", "motion"), args.frames, args.resolution, args.resolution * 3 // 2, 4
        )
        dtype = DTYPES[args.train_precision]

        def autocast():
            return torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None)

        with tempfile.TemporaryDirectory() as tmp:
            row = Annotation(
                write_test_video(Path(tmp) / "clip.mp4", frames=max(24, 6 * args.frames)), "a caption", "bench"
            )
            cache = open_cache(Path(tmp) / "cache", spec, 16, self.device, args.train_precision, vae, builder)

            def online() -> None:
                streams = spec(row, seed=1)
                with torch.no_grad(), autocast():
                    encode_posterior(vae, streams["video"][None].to(self.device), 16)
                    builder.encode_prompt([row.caption], self.device)
                    builder.encode_image(streams["vit_image"][None].to(self.device), self.device)

            def cached() -> None:
                out = CachedClipLoader(spec, cache)(row, seed=1)
                assert "cached_posterior_mean" in out, "the benchmark clip missed the cache"
                for value in out.values():
                    value.to(self.device)

            online()  # warm-up
            online_s = min(self.timed(online) for _ in range(3))
            fill_s = self.timed(lambda: fill_clip(cache, row, spec, vae, builder, 16, self.device, autocast))
            cached_s = min(self.timed(cached) for _ in range(3))
            files, size = cache.size()
        result = {
            "online_s_per_clip": online_s,
            "cached_s_per_clip": cached_s,
            "extract_s_per_video": fill_s,
            "cache_mib_per_video": size / 2**20,
            "online_over_cached": online_s / cached_s,
        }
        unet = self.unet(use_checkpoint=False).train()
        step_s = self._train_step(unet, torch.optim.AdamW(self.trainable(unet), lr=1e-5), args.frames)
        result.update(step_s=step_s, step_online_over_cached=(step_s + online_s) / (step_s + cached_s))
        print("data", result, flush=True)
        return result

    def compile(self) -> dict[str, Any]:
        unet = self.unet(use_checkpoint=False).eval().requires_grad_(False)
        x, cond = self.inputs(self.args.frames)
        t = torch.full((1,), 500, device=self.device)
        compiled = torch.compile(unet)
        with torch.no_grad():
            unet(x, t, **cond)
            compile_s = self.timed(lambda: compiled(x, t, **cond))
            repeats = self.args.compile_repeats
            eager = min(self.timed(lambda: unet(x, t, **cond)) for _ in range(repeats))
            fast = min(self.timed(lambda: compiled(x, t, **cond)) for _ in range(repeats))
        result = {"eager_s": eager, "compiled_s": fast, "first_call_s": compile_s, "speedup": eager / fast}
        print("compile", result, flush=True)
        return result

    def ddp(self) -> dict[str, Any]:
        if self.device.type == "cuda" and torch.cuda.device_count() < 2:
            return {"skipped": "one GPU: DDP 1 vs 2 processes needs two"}
        out = {}
        for procs in (1, 2):
            env = {**os.environ, "OMP_NUM_THREADS": "1"}  # one core per process: 2 processes use twice the cores
            forwarded = [a for a in sys.argv[1:] if a not in ("--dry-run",)]
            command = [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--standalone",
                "--nproc_per_node",
                str(procs),
                __file__,
                *forwarded,
                *(["--dry-run"] if self.args.dry_run else []),
                "--worker",
                "ddp",
            ]
            result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if result.returncode != 0:
                return {"error": result.stderr[-1500:]}
            out[procs] = json.loads(result.stdout.strip().splitlines()[-1])
        ratio = out[2]["samples_per_s"] / out[1]["samples_per_s"]
        result = {"one_process": out[1], "two_processes": out[2], "two_over_one": ratio}
        print("ddp", result, flush=True)
        return result

    def ddp_worker(self) -> None:
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        if self.device.type == "cuda":
            self.device = torch.device("cuda", rank)
        unet = self.unet(use_checkpoint=False).train()
        model = DistributedDataParallel(unet) if world > 1 else unet
        seconds = self._train_step(model, torch.optim.AdamW(self.trainable(unet), lr=1e-5), self.args.frames)
        if rank == 0:
            print(
                json.dumps(
                    {"processes": world, "s_per_step": seconds, "samples_per_s": world * self.args.batch / seconds}
                ),
                flush=True,
            )
        dist.barrier()
        dist.destroy_process_group()
        sys.stdout.flush()
        os._exit(0)  # torchrun + gloo may abort a rank in interpreter teardown (docs/README.md)


def write_test_video(path: Path, frames: int, size: int = 320) -> Path:
    """A moving blurred-noise H.264 clip (it has motion vectors), written with PyAV."""
    import av
    import cv2
    import numpy as np

    rng = np.random.default_rng(0)
    texture = cv2.GaussianBlur(
        rng.integers(0, 255, (size + 2 * frames, size + 2 * frames, 3), dtype=np.uint8), (9, 9), 3
    )
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=8)
        stream.width = stream.height = size
        stream.pix_fmt = "yuv420p"
        for i in range(frames):
            image = np.ascontiguousarray(texture[i : i + size, 2 * i : 2 * i + size])
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return path


def machine(device: torch.device) -> dict[str, Any]:
    info = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info.update(gpu=props.name, gpu_memory_gb=props.total_memory / 2**30)
    return info


def fmt(value: Any) -> str:
    return "–" if value is None else format(value, ".2f" if isinstance(value, float) else "")


def table(header: str, rows: list[dict[str, Any]], keys: tuple[str, ...], name: Callable[[dict], str]) -> list[str]:
    """A markdown table: one row per result, an error in place of the figures where the variant failed."""
    lines = [header, "|---" * (len(keys) + 1) + "|"]
    for r in rows:
        figures = [r["error"][:80]] + [""] * (len(keys) - 1) if "error" in r else [fmt(r.get(k)) for k in keys]
        lines.append(f"| {name(r)} | " + " | ".join(figures) + " |")
    return lines


def markdown(results: dict[str, Any]) -> str:
    """Rows for BENCHMARKS.md."""
    m = results["machine"]
    where = m.get("gpu", f"CPU ({m['cpu_count']} cores)")
    s = results["settings"]
    lines = [
        f"Measured on {where}, torch {m['torch']}; size {s['size']}, {s['frames']} frames × {s['resolution']}², "
        f"`python benchmarks/gpu_suite.py {' '.join(sys.argv[1:])}`.",
        "",
    ]
    if "inference" in results:
        lines += table(
            f"| inference ({s['steps']} DDIM steps + CFG + VAE decode) | s/sample | peak GB | warm-up s |",
            results["inference"],
            ("s_per_sample", "peak_memory_gb", "warmup_s"),
            lambda r: (
                f"{r['precision']}, batched CFG {'on' if r['batched_cfg'] else 'off'}"
                f"{', compiled' if r['compile'] else ''}"
            ),
        )
        lines.append(f"| MindSpore port ({PORT_FIGURES['hardware']}) | {PORT_FIGURES['s_per_sample']} | | |")
        if "compute_bound_s_per_sample" in results:
            lines.append(
                f"| compute bound (499 TFLOP ÷ {s['peak_tflops']} TFLOP/s) | "
                f"{results['compute_bound_s_per_sample']:.2f} | | |"
            )
        lines.append("")
    if "train" in results:
        lines += table(
            f"| training step ({s['train_precision']}, batch {s['batch']}) | s/step | peak GB | most frames that fit |",
            results["train"],
            ("s_per_step", "peak_memory_gb", "max_frames_fit"),
            lambda r: (
                f"activation checkpointing {'on' if r['activation_checkpointing'] else 'off'}, {r['frames']} frames"
            ),
        )
        lines.append(f"| MindSpore port ({PORT_FIGURES['hardware']}) | {PORT_FIGURES['s_per_step']} | | |")
        mem = results["train_memory"]
        lines += [
            "",
            f"Model state (fp32 weights + gradients + AdamW, {mem['parameters'] / 1e9:.2f} B parameters): "
            f"DDP {mem['ddp_per_gpu_state_gb']:.1f} GB per GPU; FSDP2 "
            + ", ".join(f"{v:.1f} GB on {n} GPUs" for n, v in mem["fsdp2_per_gpu_state_gb"].items())
            + " (projected: state ÷ N; activations as measured above)",
            "",
        ]
    if "data" in results:
        d = results["data"]
        lines += [
            "| data per clip | online s | cached s | online / cached | step s | step+data online / cached |",
            "|---|---|---|---|---|---|",
            f"| exp02 + style | {d['online_s_per_clip']:.3f} | {d['cached_s_per_clip']:.4f} | "
            f"{d['online_over_cached']:.0f}× | {d['step_s']:.3f} | {d['step_online_over_cached']:.2f}× |",
            "",
            f"Cache: {d['cache_mib_per_video']:.1f} MiB per video (every candidate start), "
            f"extraction {d['extract_s_per_video']:.2f} s per video.",
            "",
        ]
    if "compile" in results:
        c = results["compile"]
        lines += [
            f"UNet forward: eager {c['eager_s']:.3f} s, torch.compile {c['compiled_s']:.3f} s "
            f"(**{c['speedup']:.2f}×** eager speed; first call incl. compilation {c['first_call_s']:.0f} s).",
            "",
        ]
    if "ddp" in results and "two_over_one" in results["ddp"]:
        d = results["ddp"]
        lines += [
            f"DDP training throughput: 1 process {d['one_process']['samples_per_s']:.3f} samples/s, "
            f"2 processes {d['two_processes']['samples_per_s']:.3f} samples/s (**{d['two_over_one']:.2f}×**).",
            "",
        ]
    return "\n".join(lines)


SECTIONS = ("inference", "train", "data", "compile", "ddp")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true", help="tiny sizes on the CPU, two steps: checks the script")
    parser.add_argument("--size", choices=("official", "mid", "tiny"), default="official")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated from {','.join(SECTIONS)}")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50, help="DDIM steps per sample")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--train-precision", choices=sorted(DTYPES), default="bf16")
    parser.add_argument("--train-steps", type=int, default=3, help="timed training steps (fastest kept)")
    parser.add_argument("--max-frames-probe", type=int, default=256, help="largest clip length tried for 'fits'")
    parser.add_argument("--compile-repeats", type=int, default=5)
    parser.add_argument(
        "--peak-tflops",
        type=float,
        default=None,
        help="the GPU's dense bf16 TFLOP/s for the compute bound (H100/H200 SXM datasheet: 989; "
        "a large bf16 matmul reached 790 on the H200 of BENCHMARKS.md)",
    )
    parser.add_argument("--out", default="benchmarks/results", help="folder for gpu_suite.json and gpu_suite.md")
    parser.add_argument("--worker", choices=("ddp",), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.dry_run:
        args.size, args.device, args.frames, args.resolution, args.steps = "tiny", "cpu", 4, 64, 2
        args.train_steps, args.max_frames_probe, args.compile_repeats, args.train_precision = 1, 4, 1, "fp32"
    suite = Suite(args)
    if args.worker:
        suite.ddp_worker()
    for name in args.sections.split(","):
        if name not in SECTIONS:
            parser.error(f"--sections: unknown section {name!r}; choose from {', '.join(SECTIONS)}")
        if name == "compile" and args.dry_run:
            continue  # inductor needs a C compiler and minutes on a CPU; the dry run checks the rest
        began = time.perf_counter()
        try:
            suite.results[name] = getattr(suite, name)()
        except Exception:
            suite.results[name] = {"error": traceback.format_exc()[-2000:]}
            print(suite.results[name]["error"], file=sys.stderr)
        suite.results.setdefault("section_seconds", {})[name] = time.perf_counter() - began
        save(Path(args.out), suite.results)  # after every section: a run stopped at a time limit keeps what it measured
    print(markdown(suite.results))
    return suite.results


def save(out: Path, results: dict[str, Any]) -> None:
    """``gpu_suite.json`` (every figure) and ``gpu_suite.md`` (rows for BENCHMARKS.md), each written atomically."""
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "gpu_suite.json", json.dumps(results, indent=2, default=str))
    write_text(out / "gpu_suite.md", markdown(results))


if __name__ == "__main__":
    main()
