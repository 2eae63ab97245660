"""Several training processes: the process group, DDP or FSDP2 around the UNet, and rank-named failures.

Launch with ``torchrun`` (one node: ``--standalone --nproc_per_node N``; several: ``--nnodes M
--nproc_per_node N --rdzv_backend c10d --rdzv_endpoint HOST:PORT`` on every node). Each process reads
``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``; the backend follows the device (NCCL on CUDA, gloo on the CPU)
and every collective times out after ``dist_timeout_minutes``.

``parallelism=fsdp2`` applies ``torch.distributed.fsdp.fully_shard`` to every UNet layer that holds
parameters (the layers the UNet calls one by one inside its input, middle and output blocks; the block
lists themselves are never called, so their hooks would never run), then to the root. Parameters,
gradients and optimizer state are then 1/N per process; with bf16 the layers compute in bf16 while the
sharded master weights, the gradient reduction and the optimizer stay fp32.

A failure in one process raises :class:`RankFailure` naming the rank and the clips of the micro-batch;
the launcher (torchrun) stops the other processes when that process exits non-zero.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.tensor import DTensor, distribute_tensor

from .config import ConfigError


@dataclass
class DistInfo:
    """Process placement: rank, world size and the device this process trains on."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class RankFailure(RuntimeError):
    """An error in one training process, with the rank and the samples it was working on."""


def setup_distributed(device: str, timeout_minutes: float = 30.0) -> DistInfo:
    """Read torchrun's ``RANK``/``WORLD_SIZE``/``LOCAL_RANK``; join the process group (NCCL on CUDA,
    gloo on CPU, collectives time out after ``timeout_minutes``) when there is more than one process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device: 'cuda' requested but torch sees no CUDA device (use device=cpu or auto)")
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    target = torch.device("cuda", local) if use_cuda else torch.device("cpu")
    if use_cuda:
        torch.cuda.set_device(target)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(
            "nccl" if use_cuda else "gloo",
            timeout=timedelta(minutes=timeout_minutes),
            device_id=target if use_cuda else None,
        )
    return DistInfo(rank, world, local, target)


def shutdown_distributed() -> None:
    """Leave the process group (after a barrier, so no rank exits while another still talks)."""
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# Wrapping the UNet
# ---------------------------------------------------------------------------------------------

_PARAM_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def shard_unet(unet: nn.Module, mixed_precision: str, cpu_offload: bool) -> nn.Module:
    """``fully_shard`` every parameter-holding layer of the UNet's blocks, then the root (in place).

    ``mixed_precision`` bf16/fp16 casts the unsharded parameters for compute and reduces gradients in fp32.
    """
    from torch.distributed.fsdp import CPUOffloadPolicy, MixedPrecisionPolicy, OffloadPolicy, fully_shard

    policy = MixedPrecisionPolicy(param_dtype=_PARAM_DTYPES.get(mixed_precision), reduce_dtype=torch.float32)
    options = {"mp_policy": policy, "offload_policy": CPUOffloadPolicy() if cpu_offload else OffloadPolicy()}
    for blocks in (unet.input_blocks, [unet.middle_block], unet.output_blocks):
        for block in blocks:
            for layer in block if isinstance(block, nn.ModuleList) else [block]:
                if any(True for _ in layer.parameters()):
                    fully_shard(layer, **options)
    fully_shard(unet, **options)
    return unet


def wrap_model(
    unet: nn.Module, parallelism: str, info: DistInfo, mixed_precision: str = "fp32", cpu_offload: bool = False
) -> nn.Module:
    """The module the training step calls: ``unet`` itself (one process), DDP around it, or the
    FSDP2-sharded ``unet`` (sharded in place; call :func:`refresh_parameters` afterwards)."""
    if info.world_size == 1:
        return unet
    if parallelism == "fsdp2":
        if cpu_offload and info.device.type != "cuda":
            raise ConfigError(
                "fsdp_cpu_offload: only with GPUs (it moves the shards from GPU to CPU memory; "
                "on the CPU they are there already): set fsdp_cpu_offload=false"
            )
        return shard_unet(unet, mixed_precision, cpu_offload)
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(unet, device_ids=[info.device.index] if info.device.type == "cuda" else None)


def refresh_parameters(module: nn.Module, named: Sequence[tuple[str, nn.Parameter]]) -> list[tuple[str, nn.Parameter]]:
    """The same parameter names looked up again (``fully_shard`` replaces parameters by sharded ones)."""
    current = dict(module.named_parameters())
    return [(name, current[name]) for name, _ in named]


@contextmanager
def gradient_sync(model: nn.Module, sync: bool) -> Iterator[None]:
    """Reduce gradients across processes in this backward only when ``sync`` (gradient accumulation)."""
    if sync:
        yield
    elif hasattr(model, "no_sync"):  # DDP
        with model.no_sync():
            yield
    elif hasattr(model, "set_requires_gradient_sync"):  # FSDP2
        model.set_requires_gradient_sync(False)
        try:
            yield
        finally:
            model.set_requires_gradient_sync(True)
    else:
        yield


def clip_grad_norm(parameters: Sequence[nn.Parameter], max_norm: float) -> float:
    """Clip the global gradient norm (over every shard when the parameters are sharded); return it."""
    norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    return float(norm.full_tensor() if isinstance(norm, DTensor) else norm)


def full_tensor(value: torch.Tensor) -> torch.Tensor:
    """A sharded tensor gathered whole (a collective: every rank calls it); others unchanged."""
    return value.full_tensor() if isinstance(value, DTensor) else value


def like(value: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """A whole tensor ``value`` placed and sharded like ``reference``."""
    if isinstance(reference, DTensor):
        return distribute_tensor(
            value.to(reference.device, reference.dtype), reference.device_mesh, reference.placements
        )
    return value.to(reference.device, reference.dtype)


def describe_samples(batch: dict, annotations: Sequence) -> str:
    """``clip0.mp4 (captions.csv:2, epoch 0 index 1), ...`` for the clips of a micro-batch."""
    return ", ".join(
        f"{annotations[i].video} ({annotations[i].source}, epoch {e} index {i})"
        for e, i in zip(batch.get("epoch", []), batch.get("index", []))
    )
