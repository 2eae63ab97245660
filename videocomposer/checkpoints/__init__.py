"""Official weight layouts, safe loading and conversion."""

from .loading import (
    WeightFileError,
    check_safetensors,
    check_state_dict,
    load_official,
    load_strict,
    missing_file_error,
    official_file,
    read_state_dict,
    strip_prefixes,
)
from .registry import OFFICIAL_FILES, OFFICIAL_WEIGHTS_URL, OfficialFile

__all__ = [
    "OFFICIAL_FILES",
    "OFFICIAL_WEIGHTS_URL",
    "OfficialFile",
    "WeightFileError",
    "check_safetensors",
    "check_state_dict",
    "load_official",
    "load_strict",
    "missing_file_error",
    "official_file",
    "read_state_dict",
    "strip_prefixes",
]
