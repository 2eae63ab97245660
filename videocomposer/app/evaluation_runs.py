"""What a ``generate`` run recorded in its folder, read back for ``evaluate``: its inputs, prompt and seed.

A run folder holds ``settings.txt`` (``command: videocomposer generate ...``, the run's command line, shell-quoted)
and ``config.yaml`` (the resolved settings: ``prompt``, ``seed``; its header comment repeats the command). The
command's ``--input_video``, ``--image_path`` and ``--trajectory`` are the run's inputs (a relative path is read
from the current folder).
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .generation_request import FLAGS, GenerateRequest

SETTINGS_FILE = "settings.txt"
CONFIG_FILE = "config.yaml"
COMMAND_PREFIX = {SETTINGS_FILE: "command: ", CONFIG_FILE: "# resolved settings of: "}
#: The recorded inputs ``evaluate`` reads, by :class:`GenerateRequest` field.
RECORDED_INPUTS = {"video": "source", "image": "image", "motion": "trajectory"}


@dataclass
class RecordedRun:
    """A run folder's record: its inputs (``source`` video, first-frame ``image``, ``trajectory``; None where it had
    none or the file is not there), ``caption`` and ``seed``; ``missing``: the recorded inputs that are not there,
    by attribute, each with a note; ``notes``: what could not be read."""

    folder: Path
    source: Path | None = None
    image: Path | None = None
    trajectory: Path | None = None
    caption: str | None = None
    seed: int | None = None
    missing: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _value_flags() -> dict[str, str]:
    """Each ``generate`` flag that takes a value → its request field (the switches take none)."""
    switches = {f.name for f in fields(GenerateRequest) if isinstance(f.default, bool)}
    return {flag: name for name, flag in FLAGS.items() if flag.startswith("--") and name not in switches}


def command_values(words: list[str]) -> dict[str, str]:
    """The request fields a recorded ``generate`` command line (its words) gives, by field (``--flag value`` and
    ``--flag=value``; switches and the task are left out)."""
    flags, values = _value_flags(), {}
    index = 0
    while index < len(words):
        flag, has_value, value = words[index].partition("=")
        if flag in flags and has_value:
            values[flags[flag]] = value
        elif flag in flags and index + 1 < len(words):
            values[flags[flag]] = words[index + 1]
            index += 1
        index += 1
    return values


def recorded_command(folder: Path) -> list[str] | None:
    """The words of the command a run folder recorded (``settings.txt``, else ``config.yaml``'s header), or None."""
    for name, prefix in COMMAND_PREFIX.items():
        path = folder / name
        if not path.is_file():
            continue
        line = next((ln for ln in _lines(path) if ln.startswith(prefix)), None)
        if line is not None:
            try:
                return shlex.split(line[len(prefix) :])
            except ValueError:
                continue
    return None


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return []


def _resolved_settings(folder: Path, notes: list[str]) -> dict[str, Any]:
    """``config.yaml``'s mapping, or ``{}`` (with a note) when it cannot be read."""
    import yaml

    path = folder / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:  # ValueError: e.g. a bad date
        notes.append(f"{path} could not be read ({type(exc).__name__}); its prompt and seed are not used")
        return {}
    return data if isinstance(data, dict) else {}


def _seed(*candidates: Any) -> int | None:
    for value in candidates:
        try:
            seed = int(value)
        except (TypeError, ValueError, OverflowError):
            continue
        if seed >= 0:
            return seed
    return None


def read_run_record(folder: str | Path) -> RecordedRun | None:
    """The record of the ``generate`` run in ``folder``; None when the folder holds neither ``settings.txt`` nor
    ``config.yaml``."""
    folder = Path(folder)
    if not any((folder / name).is_file() for name in COMMAND_PREFIX):
        return None
    run = RecordedRun(folder)
    words = recorded_command(folder)
    if words is None:
        run.notes.append(
            f"{folder} is not a generate run's folder: no 'command:' line in its {SETTINGS_FILE}, nor one in the "
            f"header of its {CONFIG_FILE}"
        )
    values = command_values(words or [])
    settings = _resolved_settings(folder, run.notes)
    for name, attribute in RECORDED_INPUTS.items():
        if name in values:
            path = Path(values[name])
            if path.is_file():
                setattr(run, attribute, path)
            else:
                where = "" if path.is_absolute() else f", read from the current folder {Path.cwd()}"
                run.missing[attribute] = f"its recorded {FLAGS[name]} {path} is not there{where}"
    prompt = settings.get("prompt", values.get("prompt"))
    run.caption = prompt if isinstance(prompt, str) and prompt.strip() else None
    run.seed = _seed(settings.get("seed"), values.get("seed"))
    return run
