"""Training checkpoints: written atomically, found again by step, pruned to the newest K.

Layout of one checkpoint (``<output_dir>/checkpoints/step_00001000/``)::

    unet.safetensors       raw UNet weights, official key names (loads in the pipeline like non_ema_228000.pth)
    unet_ema.safetensors   EMA weights in the same layout (only with use_ema)
    training_state.pt      step, data position, loss scaler, EMA counter, RNG states, counters
    sharded/               the optimizer state in torch.distributed.checkpoint form (any world size can
                           read it; see sharded_checkpoint.py). Older checkpoints hold it in training_state.pt
    config.yaml            the resolved training config

Everything is written into a hidden ``.tmp-step_…`` folder which is renamed into place only when complete, so
a folder named ``step_<N>`` is always whole; a save killed midway leaves a ``.tmp-`` folder that no lookup
matches and the next run removes.
"""

from __future__ import annotations

import logging
import os
import random
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)

UNET_FILE = "unet.safetensors"
EMA_FILE = "unet_ema.safetensors"
STATE_FILE = "training_state.pt"
CONFIG_FILE = "config.yaml"
_STEP_DIR = re.compile(r"^step_(\d+)$")
_TMP_PREFIX = ".tmp-"


@dataclass
class Checkpoint:
    """A checkpoint read back: weights on CPU, the training state and the config it was written with."""

    path: Path
    unet: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor] | None
    state: dict[str, Any]
    config: dict[str, Any]

    @property
    def step(self) -> int:
        return int(self.state["step"])


def checkpoint_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(root: Path) -> list[tuple[int, Path]]:
    """Complete checkpoints under ``root`` as ``(step, path)``, oldest first."""
    if not root.is_dir():
        return []
    found = []
    for child in root.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _contiguous_cpu(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu").contiguous() for k, v in state.items()}


def save_checkpoint(
    root: Path,
    step: int,
    unet_state: Mapping[str, torch.Tensor],
    ema_state: Mapping[str, torch.Tensor] | None,
    training_state: Mapping[str, Any],
    config: Mapping[str, Any],
    move_in: Mapping[str, Path] | None = None,
) -> Path:
    """Write a complete checkpoint for ``step`` under ``root`` and return its folder.

    The files go into ``root/.tmp-step_<N>-<pid>`` first; the folder is renamed to ``step_<N>`` only after
    every file is written and flushed; ``move_in`` folders (already written and flushed, e.g. the optimizer
    shards) are moved in under their given names first. On any exception the temporary folder is removed and the exception
    re-raised; an existing checkpoint of the same step is replaced only by a complete one.
    """
    root.mkdir(parents=True, exist_ok=True)
    final = root / checkpoint_name(step)
    tmp = root / f"{_TMP_PREFIX}{final.name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    try:
        save_file(_contiguous_cpu(unet_state), str(tmp / UNET_FILE), metadata={"format": "pt", "step": str(step)})
        if ema_state is not None:
            save_file(_contiguous_cpu(ema_state), str(tmp / EMA_FILE), metadata={"format": "pt", "step": str(step)})
        torch.save(dict(training_state), tmp / STATE_FILE)
        (tmp / CONFIG_FILE).write_text(yaml.safe_dump(dict(config), sort_keys=False))
        for child in tmp.iterdir():
            _fsync_file(child)
        for name, folder in (move_in or {}).items():
            os.rename(folder, tmp / name)
        if final.exists():  # re-saving a step (e.g. after a resume): swap in the complete new one
            old = root / f"{_TMP_PREFIX}old-{final.name}-{os.getpid()}"
            os.rename(final, old)
            os.rename(tmp, final)
            shutil.rmtree(old)
        else:
            os.rename(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def prune_checkpoints(root: Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` checkpoints (0 keeps all); return the removed folders."""
    if keep_last <= 0:
        return []
    removed = []
    for _, path in list_checkpoints(root)[:-keep_last]:
        shutil.rmtree(path)
        removed.append(path)
    return removed


def remove_partial_saves(root: Path) -> list[Path]:
    """Remove ``.tmp-*`` folders left by saves that were killed midway; return them."""
    if not root.is_dir():
        return []
    stale = [p for p in root.iterdir() if p.name.startswith(_TMP_PREFIX) and p.is_dir()]
    for path in stale:
        log.warning("removing incomplete checkpoint %s (a save was interrupted)", path)
        shutil.rmtree(path)
    return stale


def find_checkpoint(spec: str | os.PathLike, root: Path) -> Path:
    """``latest`` → the newest complete checkpoint under ``root``; otherwise the given folder.

    Raises:
        FileNotFoundError: nothing to resume from, or the folder is not a complete checkpoint.
    """
    if str(spec) == "latest":
        found = list_checkpoints(root)
        if not found:
            raise FileNotFoundError(f"resume=latest: no checkpoint under {root} (folders named step_<N>)")
        return found[-1][1]
    path = Path(spec)
    if path.is_file() and path.name in (UNET_FILE, EMA_FILE, STATE_FILE, CONFIG_FILE):
        path = path.parent
    missing = [name for name in (UNET_FILE, STATE_FILE, CONFIG_FILE) if not (path / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"resume={spec}: {path} is not a complete training checkpoint (missing {missing}); "
            f"pass a step_<N> folder under <output_dir>/checkpoints or 'latest'"
        )
    return path


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint folder (the training state with ``weights_only=True``)."""
    state = torch.load(path / STATE_FILE, map_location="cpu", weights_only=True)
    ema = load_file(str(path / EMA_FILE)) if (path / EMA_FILE).is_file() else None
    config = yaml.safe_load((path / CONFIG_FILE).read_text()) or {}
    return Checkpoint(path=path, unet=load_file(str(path / UNET_FILE)), ema=ema, state=state, config=config)


def capture_rng_state() -> dict[str, Any]:
    """Every global RNG that training draws from: torch CPU and CUDA, numpy, Python ``random``."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": _python_state_to_tensor(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()  # the current device's (one device per process)
    return state


def restore_rng_state(state: Mapping[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
    npst = state["numpy"]
    np.random.set_state(
        ("MT19937", npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    random.setstate(_python_state_from_tensor(state["python"]))


def _python_state_to_tensor(state: tuple) -> dict[str, Any]:
    version, internal, gauss = state
    return {"version": version, "internal": torch.tensor(internal, dtype=torch.int64), "gauss": gauss}


def _python_state_from_tensor(state: Mapping[str, Any]) -> tuple:
    return (state["version"], tuple(int(x) for x in state["internal"].tolist()), state["gauss"])
