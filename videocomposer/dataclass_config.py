"""Building config dataclasses from plain dicts (JSON, YAML) with unknown keys rejected by name."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping, TypeVar

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
    """``cls(**values)``, raising ``ValueError`` that names any key ``cls`` does not have."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{cls.__name__} must be built from a dict, got {type(values).__name__}: {values!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; known keys are {sorted(known)}")
    return cls(**values)
