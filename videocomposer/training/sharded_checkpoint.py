"""The optimizer state of a checkpoint in ``torch.distributed.checkpoint`` (DCP) form, for any world size.

Every process writes its own shard of the optimizer state (the whole state when it is replicated: DDP
or one process; DCP stores replicated tensors once) into ``<checkpoint>/sharded/``, keyed by parameter
name. Reading it back reshards to the processes of the new run, so a checkpoint written by 2 FSDP2
processes resumes in 1 process and one from 1 process resumes in 2. The weights themselves are read
from the consolidated ``unet.safetensors`` of the checkpoint (official key names; what the pipeline
loads) and placed or sharded by ``set_model_state_dict``.

Atomicity: the shards are written to ``<root>/.tmp-sharded-step_<N>`` and moved into the checkpoint's
temporary folder, which :func:`~videocomposer.training.checkpoint.save_checkpoint` renames into place
only when complete. DCP promises no compatibility across PyTorch versions; the consolidated
safetensors do not depend on it.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)

SHARDED_DIR = "sharded"


@contextmanager
def _single_process_quiet() -> Iterator[None]:
    """DCP warns that it assumes one process when there is no process group: that is the intent here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        yield


def staging_dir(root: Path, step: int) -> Path:
    """Where the processes write the shards of ``step`` before rank 0 moves them into the checkpoint."""
    return root / f".tmp-sharded-step_{step:08d}"


def save_optimizer_shards(root: Path, step: int, model: nn.Module, optimizer: torch.optim.Optimizer) -> Path:
    """Every process writes its optimizer shards to :func:`staging_dir` (a collective); returns it."""
    target = staging_dir(root, step)
    if not dist.is_initialized() or dist.get_rank() == 0:
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
    if dist.is_initialized():
        dist.barrier()
    with _single_process_quiet():
        dcp.save(
            {"optimizer": get_optimizer_state_dict(model, optimizer)},
            checkpoint_id=target,
            no_dist=not dist.is_initialized(),
        )
    return target


def full_model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The whole state dict on the CPU (a collective with FSDP2; on rank 0 only then, empty elsewhere)."""
    return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))


def load_model_weights(model: nn.Module, weights: Mapping[str, torch.Tensor]) -> None:
    """Load a whole (consolidated) state dict into ``model`` — plain, DDP's module or FSDP2-sharded.

    Raises:
        ValueError: keys missing or unexpected (names both).
    """
    result = set_model_state_dict(model, dict(weights), options=StateDictOptions(full_state_dict=True, strict=False))
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"missing keys {sorted(result.missing_keys)[:5]}, unexpected keys {sorted(result.unexpected_keys)[:5]}"
        )


def load_optimizer_shards(checkpoint: Path, model: nn.Module, optimizer: torch.optim.Optimizer) -> None:
    """Read ``checkpoint/sharded`` into ``optimizer`` (resharded to this run's processes).

    Raises:
        ValueError: the saved state does not fit the optimizer's parameters.
    """
    state = {"optimizer": get_optimizer_state_dict(model, optimizer)}  # the layout to fill (state initialised)
    try:
        with _single_process_quiet():
            dcp.load(state, checkpoint_id=checkpoint / SHARDED_DIR, no_dist=not dist.is_initialized())
    except Exception as exc:  # DCP reports a missing key as a CheckpointException listing every rank's error
        raise ValueError(
            f"{checkpoint / SHARDED_DIR}: the optimizer state does not fit the trainable parameters "
            f"({type(exc).__name__}: {str(exc)[:500]})"
        ) from exc
    set_optimizer_state_dict(model, optimizer, state["optimizer"])


def has_shards(checkpoint: Path) -> bool:
    return (checkpoint / SHARDED_DIR / ".metadata").is_file()
