"""Reading weight files safely and loading them strictly, with errors a user can act on.

Official files are pickles: they are only ever opened with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import pickle
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from .registry import OFFICIAL_FILES, OFFICIAL_WEIGHTS_URL

_PREFIXES = ("module.", "_orig_mod.")

ModuleT = TypeVar("ModuleT", bound=nn.Module)


class WeightFileError(RuntimeError):
    """A weight file is missing, unreadable, or does not match the model it is loaded into."""


def missing_file_error(path: str | os.PathLike, component: str | None = None) -> WeightFileError:
    """Build the error for a weight file that does not exist: which file, where looked, where to get it."""
    path = Path(path)
    official = OFFICIAL_FILES.get(component) if component else None
    what = f" ({official.description})" if official else ""
    url = official.url if official else OFFICIAL_WEIGHTS_URL
    return WeightFileError(
        f"weight file not found: {path.name}{what}\n"
        f"  looked for: {path.resolve()}\n"
        f"  get it from: {url}\n"
        f"  then pass the folder that contains it (or the file itself)."
    )


def _safetensors_problem(path: Path) -> str | None:
    """What keeps ``path`` from being a complete safetensors file (its size against its header), or None."""
    size = path.stat().st_size
    if size < 8:
        return f"it has {size} bytes, fewer than the 8 that give its header's length"
    with open(path, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        if 8 + length > size:
            return f"its header declares {length:,} bytes, but only {size - 8:,} follow: the file is truncated"
        try:
            header = json.loads(handle.read(length))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            return "its header is not the JSON a safetensors file starts with"
    try:
        end = max((int(entry["data_offsets"][1]) for key, entry in header.items() if key != "__metadata__"), default=0)
    except (AttributeError, KeyError, IndexError, TypeError, ValueError):
        return "its header does not list tensors as a safetensors file does"
    if 8 + length + end > size:
        return f"its header declares {8 + length + end:,} bytes in all, the file has {size:,}: it is truncated"
    return None


def _checkpoint_problem(path: Path) -> str | None:
    """What keeps ``path`` from being a complete PyTorch checkpoint that its size and ends show, or None: an empty
    file, or a zip-format checkpoint (``torch.save``'s) without the directory a zip archive ends with."""
    size = path.stat().st_size
    if size == 0:
        return "it is empty"
    with open(path, "rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            return None  # a legacy pickle: only reading it tells
        handle.seek(max(0, size - (1 << 16) - 22))  # the end record: 22 bytes and a comment of up to 64 KiB
        if b"PK\x05\x06" not in handle.read():
            return f"it is a zip-format checkpoint of {size:,} bytes without the directory a zip archive ends with"
    return None


def _weight_file_problem(path: Path, component: str | None, problem: str) -> WeightFileError:
    official = OFFICIAL_FILES.get(component) if component is not None else None
    published = f" (the published {official.filename} has {official.approx_size})" if official else ""
    return WeightFileError(
        f"{path} is not a complete weights file: {problem}; it may be truncated or corrupt: copy or download it "
        f"again{published}"
    )


def check_safetensors(path: str | os.PathLike) -> None:
    """Raise a :class:`WeightFileError` naming ``path`` when it is not a complete safetensors file (a truncated copy,
    another format), before any library reads it."""
    path = Path(path)
    problem = _safetensors_problem(path)
    if problem is not None:
        raise WeightFileError(
            f"{path} is not a complete safetensors file: {problem}; copy or download it again (compare its size "
            "with the original's)"
        )


def read_state_dict(path: str | os.PathLike, component: str | None = None) -> dict[str, torch.Tensor]:
    """Read a state dict from ``.safetensors`` or a pickled ``.pth/.bin/.ckpt`` file.

    Pickles are read with ``weights_only=True`` (no code execution) and ``mmap=True`` where the
    file is in the zip format, so a 5.7 GB checkpoint is not copied into memory twice.
    A ``{'state_dict': ...}`` wrapper is unwrapped. Keys are returned as stored.
    """
    path = Path(path)
    if not path.is_file():
        raise missing_file_error(path, component)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            check_safetensors(path)
            obj = load_file(str(path))
        else:
            problem = _checkpoint_problem(path)
            if problem is not None:
                raise _weight_file_problem(path, component, problem)
            try:
                obj = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            except RuntimeError as exc:  # legacy (non-zip) pickles cannot be memory-mapped
                if "mmap" not in str(exc):
                    raise
                obj = torch.load(path, map_location="cpu", weights_only=True)
    except WeightFileError:
        raise
    except pickle.UnpicklingError as exc:  # weights_only refused a global: the file references code
        found = re.search(r"GLOBAL ([\w.]+)", str(exc)) or re.search(r"global[: ]+([\w.]+)", str(exc), re.IGNORECASE)
        name = found.group(1) if found else "an object that is not a tensor"
        raise WeightFileError(
            f"{path} references code ({name}), which no weights file needs; nothing was executed (it was read with "
            f"weights_only=True, which refuses code). It is not a weights file we will load: delete it and download "
            f"the published file again"
            + (f" ({OFFICIAL_FILES[component].filename})" if component in OFFICIAL_FILES else "")
        ) from None
    except Exception as exc:  # truncated, corrupt or not a weight file at all
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else "no reason given"
        raise _weight_file_problem(path, component, f"reading it failed ({type(exc).__name__}: {reason})") from exc
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightFileError(f"{path} does not hold a state dict of tensors (found {type(obj).__name__})")
    return dict(obj)


def strip_prefixes(
    state_dict: Mapping[str, torch.Tensor], prefixes: tuple[str, ...] = _PREFIXES
) -> dict[str, torch.Tensor]:
    """Remove wrapper prefixes (``module.`` from DataParallel, ``_orig_mod.`` from torch.compile)."""
    out = {}
    for key, value in state_dict.items():
        for prefix in prefixes:
            while key.startswith(prefix):
                key = key[len(prefix) :]
        out[key] = value
    return out


def check_state_dict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Require every key and shape of ``module`` (which may live on the meta device) in ``state_dict``.

    Raises one :class:`WeightFileError` naming ``source`` and listing missing, unexpected and
    shape-mismatched keys (first few of each) instead of torch's long traceback.
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = sorted(
        f"{k}: file {tuple(state_dict[k].shape)} vs model {tuple(own[k].shape)}"
        for k in set(own) & set(state_dict)
        if tuple(own[k].shape) != tuple(state_dict[k].shape)
    )
    if missing or unexpected or mismatched:

        def show(name: str, items: list[str]) -> str:
            if not items:
                return ""
            head = "\n    ".join(items[:8])
            more = f"\n    ... and {len(items) - 8} more" if len(items) > 8 else ""
            return f"\n  {len(items)} {name}:\n    {head}{more}"

        raise WeightFileError(
            f"weights in {source} do not match {type(module).__name__}"
            + show("missing keys", missing)
            + show("unexpected keys", unexpected)
            + show("shape mismatches", mismatched)
            + "\n  check that the file is the right one for this component and that the model config matches it."
        )


def load_strict(module: nn.Module, state_dict: Mapping[str, torch.Tensor], source: str | os.PathLike) -> None:
    """Load ``state_dict`` into ``module`` requiring every key and shape to match (:func:`check_state_dict`)."""
    check_state_dict(module, state_dict, source)
    module.load_state_dict(state_dict, strict=True)


def official_file(path: str | os.PathLike, component: str) -> Path:
    """``path`` itself, or the official file name of ``component`` inside ``path`` when it is a folder."""
    path = Path(path)
    return path / OFFICIAL_FILES[component].filename if path.is_dir() else path


def load_official(
    build: Callable[[], ModuleT],
    path: str | os.PathLike,
    component: str,
    *,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
    convert: Callable[[dict[str, torch.Tensor], Path], Mapping[str, torch.Tensor]] | None = None,
    frozen: bool = True,
) -> ModuleT:
    """Build a module with ``build()`` and load an official weight file into it strictly.

    ``path`` is the weight file or the folder holding it under its official name
    (``OFFICIAL_FILES[component].filename``). Wrapper prefixes (``module.``, ``_orig_mod.``) are
    stripped, then ``convert(state_dict, file)`` rewrites or filters the state dict when the file's
    form differs from the module's. The module is built on the meta device (no random initialisation
    of large networks), materialised on ``device`` in ``dtype``, filled from the file, and returned in
    eval mode; ``frozen`` also turns its gradients off (the encoders and annotators are never trained).
    Non-persistent buffers are left uninitialised: the caller sets them.
    """
    file = official_file(path, component)
    state = strip_prefixes(read_state_dict(file, component))
    if convert is not None:
        state = dict(convert(state, file))
    with torch.device("meta"):
        module = build()
    module.to_empty(device=device).to(dtype=dtype)
    load_strict(module, state, file)
    return module.eval().requires_grad_(not frozen)
