"""Training-step cost of the UNet with and without activation checkpointing, in one run.

One step = the trainer's UNet work: ε-MSE forward at uniform timesteps (condition dropout and dropout
on, train mode), backward, gradient clipping and an AdamW step, on random latents and the exp02
conditions (text context, local_image, motion). The frozen VAE / CLIP / annotators are left out: they
run without gradients and checkpointing does not change them. Each variant runs in a fresh process, so
its peak memory is its own: on CUDA ``max_memory_allocated``, on the CPU the growth of the peak resident
set over the resident set before the first step (model, optimizer state and inputs excluded; gradients
and activations included).

    python benchmarks/bench_train_step.py                      # mid-size model on the CPU (default)
    python benchmarks/bench_train_step.py --size official --frames 16 --device cuda --precision bf16
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import torch

from videocomposer.diffusion import NoiseSchedule, training_loss
from videocomposer.models.unet import UNetConfig, VideoComposerUNet

SIZES = {
    # a quarter of the official width, all four levels, attention and temporal layers as official
    "mid": dict(dim=96, dim_mult=(1, 2, 4, 4), num_res_blocks=2, head_dim=32, num_heads=4, context_dim=1024),
    "official": {},
}


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def run_variant(args: argparse.Namespace, checkpointing: bool) -> dict:
    torch.manual_seed(0)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    config = UNetConfig(**SIZES[args.size], use_checkpoint=checkpointing)
    unet = VideoComposerUNet(config).to(device).train()
    optimizer = torch.optim.AdamW(unet.parameters(), lr=1e-5)
    schedule = NoiseSchedule.linear_sd()
    latent, frames, batch = args.resolution // 8, args.frames, args.batch
    misc = args.resolution * 3 // 2  # the annotator frames: 384 px for 256-px video
    x0 = torch.randn(batch, 4, frames, latent, latent, device=device)
    kwargs = {
        "y": torch.randn(batch, 77, config.context_dim, device=device),
        "local_image": torch.rand(batch, 3, 1, misc, misc, device=device).expand(-1, -1, frames, -1, -1),
        "motion": torch.randn(batch, 2, frames, args.resolution, args.resolution, device=device),
    }
    dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[args.precision]

    def step() -> float:
        t = torch.randint(0, 1000, (batch,), device=device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = training_loss(unet, schedule, x0, t, kwargs, torch.randn_like(x0)).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(unet.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        return float(loss.detach())

    for param in unet.parameters():  # allocate the AdamW state up front: it is not step memory
        param.grad = torch.zeros_like(param)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
    else:
        base = rss_bytes()  # before any step: memory freed by a step may stay in the process
    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    if device.type == "cuda":
        peak, peak_total = torch.cuda.max_memory_allocated(device) - base, torch.cuda.max_memory_allocated(device)
    else:
        peak_total = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak = peak_total - base
    return {
        "checkpointing": checkpointing,
        "s_per_step": sorted(times)[len(times) // 2],
        "step_times": times,
        "peak_step_memory_gb": peak / 2**30,
        "peak_total_memory_gb": peak_total / 2**30,
        "parameters": sum(p.numel() for p in unet.parameters()),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", choices=sorted(SIZES), default="mid")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--resolution", type=int, default=128, help="video side in pixels (latent = resolution / 8)")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant (median reported)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="fresh processes per variant, order alternated; the fastest round is kept (shared CPUs are noisy)",
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default="fp32")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    parser.add_argument("--variant", choices=("off", "on"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.variant:
        print(json.dumps(run_variant(args, args.variant == "on")))
        return
    forwarded = list(argv if argv is not None else sys.argv[1:])
    results: dict[str, dict] = {}
    for round_ in range(args.rounds):  # alternate the order; keep each variant's fastest round
        for variant in ("off", "on") if round_ % 2 == 0 else ("on", "off"):
            out = subprocess.run(
                [sys.executable, __file__, *forwarded, "--variant", variant], capture_output=True, text=True, check=True
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            if variant not in results or result["s_per_step"] < results[variant]["s_per_step"]:
                results[variant] = result
    off, on = results["off"], results["on"]
    print(f"median of {args.steps} steps, best of {args.rounds} rounds per variant")
    print(
        f"UNet {args.size} ({off['parameters'] / 1e6:.1f} M parameters), batch {args.batch}, {args.frames} frames, "
        f"{args.resolution}px ({args.resolution // 8}x{args.resolution // 8} latents), {args.precision}, {args.device}"
    )
    print(f"{'activation checkpointing':26s} {'s/step':>8s} {'peak step memory':>18s} {'peak total':>12s}")
    for name, r in (("off", off), ("on", on)):
        print(
            f"{name:26s} {r['s_per_step']:8.3f} {r['peak_step_memory_gb']:15.3f} GB {r['peak_total_memory_gb']:9.3f} GB"
        )
    mem_ratio = on["peak_step_memory_gb"] / off["peak_step_memory_gb"] if off["peak_step_memory_gb"] > 0 else math.nan
    print(f"{'on / off':26s} {on['s_per_step'] / off['s_per_step']:8.2f}x {mem_ratio:15.2f}x")


if __name__ == "__main__":
    main()
