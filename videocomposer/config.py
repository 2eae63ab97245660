"""The one config loader: YAML/JSON files into typed dataclasses, for presets, training and model configs.

* :func:`read_layers` reads a file (:mod:`videocomposer.yaml_files`: with the line of each key) over the one
  it names under ``base:`` (recursively; a base is a path relative to the file, or a name a ``find``
  function resolves); mappings merge key by key, and each key's file and line are kept for errors.
* :func:`build` turns a mapping into a dataclass: every key must be a field (an unknown key is a
  :class:`ConfigError` with a did-you-mean), every value is checked against the field's type and
  converted where the conversion is lossless (``"1e-5"`` → ``1e-5``, ``"true"`` → ``True``, a list
  → a tuple); the dataclass's own ``__post_init__`` checks ranges.
* :func:`save_resolved` writes the resolved config beside an output.

Written here rather than with OmegaConf/pydantic: the needs are small (flat typed fields, one
inheritance key, readable errors naming the file and key) and neither gives did-you-mean errors for
our dataclasses without a second schema.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import os
import reprlib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .files import write_text
from .yaml_files import ConfigError, YamlSource, is_file, read_yaml, read_yaml_source

T = TypeVar("T")

#: The package's YAML presets: generation tasks (``kind: generate``) and training tasks (``train_*.yaml``).
CONFIG_DIR = Path(__file__).resolve().parent / "configs"


def read_json_file(path: str | os.PathLike, expected: str, fix: str = "") -> dict[str, Any]:
    """The JSON object in ``path``; a :class:`ConfigError` naming the file, ``expected`` (what it should hold) and
    ``fix`` (what to do) when it is missing, empty, unreadable, truncated or not an object."""
    path = Path(path)
    then = f": {fix}" if fix else ""
    if not path.is_file():
        raise ConfigError(f"{path} not found; expected {expected}{then}")
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if text.strip() else None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(
            f"{path} is not valid JSON ({exc}); expected {expected}{then} (it may be truncated)"
        ) from None
    if data is None:
        raise ConfigError(f"{path} is empty; expected {expected}{then}")
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a JSON {type(data).__name__}; expected {expected} (a JSON object){then}")
    return data


def merge(target: dict[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Overlay ``values`` onto ``target`` in place; mapping values merge key by key. Returns ``target``."""
    for key, value in values.items():
        if isinstance(value, Mapping) and isinstance(target.get(key), Mapping):
            target[key] = merge(dict(target[key]), value)
        else:
            target[key] = value
    return target


def read_layers(
    path: str | os.PathLike,
    find: Callable[[str], Path],
    default_base: str | None = None,
    transform: Callable[[dict[str, Any], YamlSource], dict[str, Any]] | None = None,
    deep: bool = True,
    origins: dict[str, str] | None = None,
    _seen: tuple[Path, ...] = (),
) -> dict[str, Any]:
    """``path`` merged over its ``base:`` chain (``base`` is removed from the result).

    A base is a file relative to ``path``, else whatever ``find(name)`` returns (a preset by name).
    ``default_base`` is used when a file names none (None: no implicit base). ``transform(values, source)``
    sees each file's own values first (to map foreign keys, or check them naming the file and line). With
    ``deep=False`` a file's value replaces its base's outright (no key-by-key merge of mappings).
    ``origins``, when given, receives ``{key: "FILE, line N"}``: where each top-level key of the result was set.
    """
    path = Path(path).resolve()
    if path in _seen:
        raise ConfigError(f"base: circular inheritance {' -> '.join(str(p) for p in _seen + (path,))}")
    origins = {} if origins is None else origins
    values, source = read_yaml_source(path)
    if transform is not None:
        values = transform(values, source)
    base = values.pop("base", default_base)
    base_values: dict[str, Any] = {}
    if base is not None:
        base_path = _base_path(path, str(base), find, source)
        if base_path.resolve() != path:  # a default base names the base file itself
            base_values = read_layers(base_path, find, default_base, transform, deep, origins, _seen + (path,))
    origins.update({key: source.at(key) for key in values})
    return merge(base_values, values) if deep else {**base_values, **values}


def _base_path(path: Path, base: str, find: Callable[[str], Path], source: YamlSource) -> Path:
    """The file a ``base:`` names: relative to the file, else what ``find`` makes of the name."""
    if is_file(path.parent / base):
        return path.parent / base
    try:
        return find(base)
    except (FileNotFoundError, ValueError) as exc:
        raise ConfigError(f"base ({source.at('base')}): {exc}") from None


def did_you_mean(unknown: Iterable[str], known: Iterable[str]) -> str:
    """``'lerning_rate' (did you mean 'learning_rate'?); 'x'``."""
    known = list(known)
    parts = []
    for key in unknown:
        close = difflib.get_close_matches(key, known, n=2)
        parts.append(f"{key!r}" + (f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""))
    return "; ".join(parts)


def check_keys(
    cls: type,
    values: Mapping[str, Any],
    source: str,
    suggest: Iterable[str] = (),
    origins: Mapping[str, str] | None = None,
) -> None:
    """A :class:`ConfigError` naming every key of ``values`` that is not a field of ``cls``, each with the
    closest field (or name in ``suggest``, e.g. the keys a foreign config format maps) as a did-you-mean,
    and where it was set (``origins``: ``{key: "FILE, line N"}``, see :func:`read_layers`)."""
    if not isinstance(values, Mapping):
        raise ConfigError(
            f"{source}: {cls.__name__} must be built from a mapping, got {type(values).__name__}: {shown(values)}"
        )
    known = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(k for k in values if k not in known)
    if unknown:
        located = [f"{k}: {origins[k]}" for k in unknown if origins and k in origins]
        raise ConfigError(
            f"unknown {cls.__name__} keys {unknown} in {source}"
            + (f" ({'; '.join(located)})" if located else "")
            + f": {did_you_mean(unknown, known + sorted(suggest))}; valid keys are {sorted(known)}"
        )


def build(
    cls: type[T],
    values: Mapping[str, Any],
    source: str | None = None,
    suggest: Iterable[str] = (),
    origins: Mapping[str, str] | None = None,
) -> T:
    """``cls(**values)`` with unknown keys rejected (see :func:`check_keys`) and every value checked and
    converted to its field's type; an error names the key and where it was set (``origins``, else ``source``)."""
    source = source or cls.__name__
    check_keys(cls, values, source, suggest, origins)
    hints = typing.get_type_hints(cls)
    where = {k: f"{k} ({(origins or {}).get(k, source)})" for k in values}
    return cls(**{k: coerce(v, hints[k], where[k]) for k, v in values.items()})


def coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` (from YAML or a command line) as type ``hint``; a :class:`ConfigError` naming ``where``."""
    if hint is Any:
        return value
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _to_union(value, hint, where)
    if value is None:
        raise ConfigError(f"{where}: may not be null")
    return _converter(hint)(value, hint, where)


def coerce_file_value(value: Any, hint: Any, where: str) -> Any:
    """A value read from a YAML file as type ``hint`` (see :func:`coerce`), except that a list must be a YAML
    list (``[a, b]``, or one ``- item`` per line): a single value where a list belongs is an error, never a list
    made by splitting text at commas (which :func:`coerce` does for a command line's ``a,b``)."""
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) else (hint,)
    wants_list = any(typing.get_origin(o) in (list, tuple) for o in options) and str not in options
    if wants_list and isinstance(value, str):
        raise _mismatch(value, hint, where)
    return coerce(value, hint, where)


def _converter(hint: Any) -> Callable[[Any, Any, str], Any]:
    """The function that converts a (non-null) value to ``hint``."""
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        return _to_sequence
    if origin is dict or hint is dict:
        return _to_mapping
    return _SCALAR_CONVERTERS.get(hint, _to_instance)


def _mismatch(value: Any, hint: Any, where: str) -> ConfigError:
    return ConfigError(f"{where}: expected {_describe(hint)}, got {shown(value)}")


_SHORT = reprlib.Repr()
_SHORT.maxstring, _SHORT.maxother, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxlevel = 200, 200, 8, 8, 3


def shown(value: Any) -> str:
    """``repr(value)`` cut to a readable length (for error messages about values read from a file)."""
    return _SHORT.repr(value)


_NULL_WORDS = ("null", "none", "~")
_BOOL_WORDS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}


def _to_union(value: Any, hint: Any, where: str) -> Any:
    """``None`` (or a null word) where the union allows it, else the first option that takes ``value``."""
    args = typing.get_args(hint)
    if type(None) in args and (value is None or (isinstance(value, str) and value.lower() in _NULL_WORDS)):
        return None
    errors = []
    for option in (a for a in args if a is not type(None)):
        try:
            return coerce(value, option, where)
        except ConfigError as exc:
            errors.append(exc)
    raise errors[0] if len(errors) == 1 else _mismatch(value, hint, where)


def _to_bool(value: Any, hint: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _BOOL_WORDS:
        return _BOOL_WORDS[value.lower()]
    raise _mismatch(value, hint, where)


def _to_int(value: Any, hint: Any, where: str) -> int:
    """An int, an integral float or a decimal string (never a bool)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, (int, str)) and not isinstance(value, bool):
        try:
            return int(value)
        except ValueError:
            raise _mismatch(value, hint, where) from None
    raise _mismatch(value, hint, where)


def _to_float(value: Any, hint: Any, where: str) -> float:
    if isinstance(value, bool):
        raise _mismatch(value, hint, where)
    try:
        return float(value)  # also takes YAML-1.1 strings such as "1e-5"
    except (TypeError, ValueError):
        raise _mismatch(value, hint, where) from None


def _to_str(value: Any, hint: Any, where: str) -> str:
    """A string, a number's text or a path (never a bool)."""
    if isinstance(value, (str, int, float, os.PathLike)) and not isinstance(value, bool):
        return os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    raise _mismatch(value, hint, where)


def _to_sequence(value: Any, hint: Any, where: str) -> list | tuple:
    """A list or tuple (or a comma-separated string: ``"[a, b]"``) with every item converted; a fixed-length
    ``tuple[X, Y]`` needs exactly that many items."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(value, str):
        value = [v.strip() for v in value.strip("[]()").split(",") if v.strip()]
    if not isinstance(value, (list, tuple)):
        raise _mismatch(value, hint, where)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise _mismatch(value, hint, where)
        return tuple(coerce(v, a, where) for v, a in zip(value, args))
    item = args[0] if args else Any
    if item is not Any and any(isinstance(v, (bool, list, dict)) or v is None for v in value) and item is not bool:
        raise _mismatch(value, hint, where)
    items = [coerce(v, item, where) for v in value]
    return items if origin is list else tuple(items)


def _to_mapping(value: Any, hint: Any, where: str) -> Any:
    """A mapping; with ``dict[K, V]`` every key converted to ``K`` and every value to ``V``."""
    if not isinstance(value, Mapping):
        raise _mismatch(value, hint, where)
    args = typing.get_args(hint)
    if not args or args == (str, Any):
        return plain(value)
    key_hint, value_hint = args
    return {
        coerce(k, key_hint, f"{where}, key {shown(k)}"): coerce(v, value_hint, f"{where}[{shown(k)}]")
        for k, v in value.items()
    }


def _to_instance(value: Any, hint: Any, where: str) -> Any:
    """Any other type: a value that already is one."""
    if isinstance(hint, type) and isinstance(value, hint):
        return value
    raise _mismatch(value, hint, where)


_SCALAR_CONVERTERS: dict[Any, Callable[[Any, Any, str], Any]] = {
    bool: _to_bool,
    int: _to_int,
    float: _to_float,
    str: _to_str,
}


class ArchitectureConfig:
    """Base of the dataclasses that describe a network's architecture: the field defaults are the official
    model's (:meth:`official`), and :meth:`from_dict` builds one from a mapping of field names."""

    @classmethod
    def official(cls: type[T]) -> T:
        """The official model's architecture: every field at its default."""
        return cls()

    @classmethod
    def from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
        """Build from a mapping of field names (e.g. JSON): an unknown key or a mistyped value is a
        :class:`ConfigError` naming it (see :func:`build`)."""
        return build(cls, values)


def _describe(hint: Any) -> str:
    names = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join("null" if a is type(None) else _describe(a) for a in args)
    if origin in (list, tuple):
        plural = {bool: "true/false values", int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(args[0], _describe(args[0])) if args else 'values'}"
    if origin is dict:
        return (
            f"a mapping of {_describe(args[0])} to {_describe(args[1])}" if args and args[1] is not Any else "a mapping"
        )
    return getattr(hint, "__name__", str(hint))


def plain(value: Any) -> Any:
    """Nested mappings and sequences as plain dicts and lists (what YAML writes and reads back)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def save_resolved(path: str | os.PathLike, data: Mapping[str, Any], header: str = "") -> Path:
    """Write a resolved config as YAML (atomically), optionally after a comment ``header``."""
    comment = "".join(f"# {line}\n" for line in header.splitlines())
    return write_text(path, comment + yaml.safe_dump(plain(data), sort_keys=False, allow_unicode=True))


def read_model_config(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """``--model-config``: a JSON/YAML file ``{component: {architecture fields}}`` (e.g. tiny test models)."""
    if path is None:
        return None
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"--model-config: file not found: {file.resolve()}")
    try:
        data = read_yaml(file)
    except ConfigError as exc:
        raise ConfigError(f"--model-config {exc}") from None
    bad = [name for name, fields in data.items() if not isinstance(fields, Mapping)]
    if bad:
        raise ConfigError(
            f"--model-config {file}: {bad} must each map field names to values ({{component: {{field: value}}}})"
        )
    return data
