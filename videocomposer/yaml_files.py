"""YAML files read with the line of each top-level key, so that an error can name the file and the line.

:func:`read_yaml_source` turns any file into a mapping or a :class:`ConfigError` that names the file: text
that is not UTF-8, not YAML, not a mapping, a key given twice (YAML itself would keep the last), a key that is
not text, or aliases that expand without bound. :mod:`videocomposer.config` builds the typed configs on it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A configuration key is unknown, mistyped, out of range or inconsistent (the message names it; ``key``,
    when known, is the key, so that a caller can add the file and line that set it)."""

    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


#: Most values one YAML file may hold, each use of an alias (``*name``) counted again: a bound on files whose
#: aliases would expand to more values than any config has.
MAX_YAML_VALUES = 100_000


@dataclass(frozen=True)
class YamlSource:
    """A YAML file that was read, and the line (1-based) of each of its top-level keys."""

    path: Path
    lines: Mapping[str, int] = field(default_factory=dict)

    def at(self, key: str) -> str:
        """``FILE, line N`` of a top-level key (``FILE`` alone for a key the file does not hold)."""
        line = self.lines.get(key)
        return f"{self.path}, line {line}" if line else str(self.path)


def is_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is an existing file; False (never an error) for a name no file can have (too long, NUL)."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def read_yaml(path: str | os.PathLike) -> dict[str, Any]:
    """A YAML (or JSON) file holding a mapping."""
    return read_yaml_source(path)[0]


def read_yaml_source(path: str | os.PathLike) -> tuple[dict[str, Any], YamlSource]:
    """A YAML (or JSON) file holding a mapping, and where its keys are (for errors naming a line).

    Any text gives the mapping or a :class:`ConfigError` naming the file (and the line where YAML can tell):
    not UTF-8 text, not valid YAML, more than one document, no mapping at the top, a key that is not text or
    appears twice, or more than :data:`MAX_YAML_VALUES` values.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (expected UTF-8 YAML or JSON)") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        loader = yaml.SafeLoader(text)
        try:
            node = loader.get_single_node()
            lines = _key_lines(node, path)
            data = None if node is None else loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML/JSON: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: values nested too deeply to read") from None
    if data is None:
        return {}, YamlSource(path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: expected a mapping of keys to values at the top level, found {type(data).__name__}")
    named = [k for k in data if not isinstance(k, str)]
    if named:
        raise ConfigError(f"{path}: key {named[0]!r} is not a name (keys are text, e.g. num_frames)")
    return dict(data), YamlSource(path, lines)


def _key_lines(node: yaml.Node | None, path: Path) -> dict[str, int]:
    """``{key: line}`` of a top-level mapping node; a key given twice is an error (YAML would keep the last)."""
    _count_values(node, path)
    lines: dict[str, int] = {}
    if not isinstance(node, yaml.MappingNode):
        return lines
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
            continue
        line = key.start_mark.line + 1
        if key.value in lines:
            raise ConfigError(
                f"{path}, line {line}: key {key.value!r} is given twice (first on line {lines[key.value]})"
            )
        lines[key.value] = line
    return lines


def _count_values(node: yaml.Node | None, path: Path) -> None:
    """A :class:`ConfigError` when the document holds more than :data:`MAX_YAML_VALUES` values (aliases expanded)."""
    stack, count = ([node] if node is not None else []), 0
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_YAML_VALUES:
            raise ConfigError(
                f"{path}: more than {MAX_YAML_VALUES} values (counting each use of an alias); not a config"
            )
        if isinstance(item, yaml.SequenceNode):
            stack.extend(item.value)
        elif isinstance(item, yaml.MappingNode):
            stack.extend(part for pair in item.value for part in pair)
