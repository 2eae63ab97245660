"""Writing files safely: a checked output folder, atomic writes (temp name, then rename), no silent overwrite.

Used by every module that writes (videos, weights, configs, logs), so it lives apart from the video writers.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def ensure_writable_dir(directory: str | os.PathLike) -> Path:
    """Create ``directory`` (with parents) and prove a file can be written in it.

    Call this before any compute so that a bad ``--output-dir`` fails in a second, not after a
    ten-minute generation. Raises ``PermissionError``/``NotADirectoryError`` naming the path.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise NotADirectoryError(
            f"output path {directory.absolute()} exists and is not a folder; choose another --output-dir"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=directory)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise PermissionError(
            f"cannot write to output folder {directory.resolve()}: {exc.strerror or exc}; "
            f"choose a writable --output-dir"
        ) from exc
    return directory


def claim_output_dir(directory: str | os.PathLike, overwrite: bool = False, flag: str = "--overwrite") -> Path:
    """:func:`ensure_writable_dir` for a run's own folder, refusing one that already holds files unless
    ``overwrite`` (an earlier result is never replaced silently). Raises ``FileExistsError`` naming it."""
    directory = Path(directory)
    if not overwrite and holds_files(directory):
        raise FileExistsError(
            f"{directory.absolute()} already holds an earlier result; pass {flag} to replace it, or choose "
            "another --output-dir or --seed"
        )
    return ensure_writable_dir(directory)


def holds_files(directory: str | os.PathLike) -> bool:
    """``directory`` is a folder holding something other than hidden entries (an earlier result)."""
    directory = Path(directory)
    return directory.is_dir() and any(p.name[:1] != "." for p in directory.iterdir())


def new_numbered_dir(parent: str | os.PathLike, stem: str) -> Path:
    """Create and return ``parent/stem``, or ``stem-2``, ``stem-3``, ... when taken (an exclusive ``mkdir``, so two
    processes never get the same folder): never an existing folder. Errors name the parent and ``--output-dir``."""
    parent = ensure_writable_dir(parent)
    for n in itertools.count(1):
        folder = parent / (stem if n == 1 else f"{stem}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise AssertionError("unreachable")


def unused_output_dir(directory: str | os.PathLike, overwrite: bool = False) -> Path:
    """``directory``, created, unless it holds an earlier result: then a new sibling ``<name>-2``, ``<name>-3``, ...
    (:func:`new_numbered_dir`); with ``overwrite``, ``directory`` itself (files of the same names are replaced)."""
    directory = Path(directory)
    if overwrite or not holds_files(directory):
        return ensure_writable_dir(directory)
    if directory.name in ("", ".", ".."):
        directory = directory.resolve()
    return new_numbered_dir(directory.parent, directory.name)


def tree_size(directory: str | os.PathLike) -> int:
    """Bytes held by the files under ``directory`` (links not followed); 0 when it does not exist."""
    total = 0
    for root, _, names in os.walk(directory):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


def missing_folders(directory: str | os.PathLike) -> list[Path]:
    """``directory`` and those of its parents that do not exist yet, deepest first (what creating it would add)."""
    directory = Path(directory).absolute()
    return [folder for folder in (directory, *directory.parents) if not folder.exists()]


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove ``folders`` (deepest first, as :func:`missing_folders` lists them) while they are empty: a failed action
    leaves no empty output folder behind, and never touches one that holds anything."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path``, on error it is removed.

    The temporary name keeps the suffix of ``path`` so format detection by extension still works.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=f"{path.suffix}.part", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a UTF-8 text file atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
