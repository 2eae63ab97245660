"""How much memory a device has free, and refusing work that cannot fit before it allocates anything.

:func:`available_memory` reads the free memory of a device: for the CPU the RAM the system can still give
(``psutil`` when installed, else ``MemAvailable`` of ``/proc/meminfo``, else ``os.sysconf``); for a CUDA device
the free memory ``torch.cuda.mem_get_info`` reports. :func:`require_memory` compares an estimate with it and
raises :class:`InsufficientMemoryError` with both numbers and what to change.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

#: Byte units for messages, largest first.
_UNITS = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


class InsufficientMemoryError(ValueError):
    """A piece of work needs more memory than the device has free; ``needed`` and ``available`` in bytes."""

    def __init__(self, message: str, needed: int, available: int):
        super().__init__(message)
        self.needed = needed
        self.available = available


@dataclass(frozen=True)
class FreeMemory:
    """``bytes`` free on a device, and ``what`` they are (for messages, e.g. ``available RAM``)."""

    bytes: int
    what: str


def format_bytes(count: float) -> str:
    """``count`` bytes in the largest binary unit that keeps it at least 1 (``"1.5 GiB"``, ``"312 B"``)."""
    for unit, size in _UNITS:
        if count >= size:
            return f"{count / size:.3g} {unit}" if count / size < 1000 else f"{count / size:,.0f} {unit}"
    return f"{int(count)} B"


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def available_ram() -> FreeMemory:
    """The RAM the system can still give a process: ``psutil.virtual_memory().available`` when psutil is
    installed, else ``MemAvailable`` of ``/proc/meminfo``, else the free pages of ``os.sysconf``."""
    try:
        import psutil  # optional: not a dependency

        return FreeMemory(int(psutil.virtual_memory().available), "available RAM")
    except ImportError:
        pass
    available = _meminfo_available()
    if available is None:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return FreeMemory(available, "available RAM")


def available_memory(device: Any = None) -> FreeMemory:
    """The free memory of ``device`` (a ``torch.device`` or its name; None: the CPU): a CUDA device's free memory
    (``torch.cuda.mem_get_info``), else :func:`available_ram`."""
    name = str(device) if device is not None else "cpu"
    if name.startswith("cuda"):
        import torch

        free, _total = torch.cuda.mem_get_info(torch.device(name))
        return FreeMemory(int(free), f"free memory on {name}")
    return available_ram()


def require_memory(needed: int, what: str, fix: str, device: Any = None) -> None:
    """Raise :class:`InsufficientMemoryError` when ``needed`` bytes exceed the free memory of ``device``.

    The message reads ``"{what} needs about N GiB of memory, more than the M GiB of available RAM: {fix}"``."""
    free = available_memory(device)
    if needed > free.bytes:
        raise InsufficientMemoryError(
            f"{what} needs about {format_bytes(needed)} of memory, more than the {format_bytes(free.bytes)} of "
            f"{free.what}: {fix}",
            needed,
            free.bytes,
        )


__all__ = [
    "FreeMemory",
    "InsufficientMemoryError",
    "available_memory",
    "available_ram",
    "format_bytes",
    "require_memory",
]
