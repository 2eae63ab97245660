"""Who may reach the app and how much it accepts: a login whenever it serves beyond this machine, and the limits
on uploads, form text and each job's disk use. Imports no gradio, so the command line checks all of it before
anything loads."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

#: A login: (user, password).
Login = tuple[str, str]
MB = 2**20


@dataclass(frozen=True)
class Limits:
    """What one request to the app may hold, and what one job may write.

    ``upload_mb``: each uploaded file (the server refuses a larger one before storing it); ``job_mb``: a job's folder
    (its copied inputs and its outputs; a job over it is removed and reported); ``trajectory_chars`` and
    ``prompt_chars``: the trajectory JSON text and each prompt."""

    upload_mb: int = 100
    job_mb: int = 1000
    trajectory_chars: int = 1_000_000
    prompt_chars: int = 10_000

    def __post_init__(self) -> None:
        for name in ("upload_mb", "job_mb", "trajectory_chars", "prompt_chars"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")


def is_loopback(host: str) -> bool:
    """``host`` reaches this machine only: ``localhost`` or a loopback address (127.0.0.0/8, ::1). Any other name
    or address (``0.0.0.0``, a network address, a host name) may be reached from other machines."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_login(text: str, source: str = "--auth") -> Login:
    """``USER:PASSWORD`` → ``(user, password)`` (the password may hold ``:``); errors name ``source``, never the
    password."""
    user, sep, password = text.strip().partition(":")
    if not sep or not user or not password:
        raise ValueError(f"{source} must be USER:PASSWORD (both non-empty)")
    return user, password


def read_auth_file(path: str | os.PathLike) -> list[Login]:
    """The logins of ``--auth-file``: one ``USER:PASSWORD`` per line (blank lines and ``#`` comments skipped);
    errors name the file and line."""
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--auth-file {file.absolute()}: cannot read it ({exc})") from None
    logins = [
        parse_login(line, f"--auth-file {file.absolute()} line {number}")
        for number, line in enumerate(lines, 1)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not logins:
        raise ValueError(f"--auth-file {file.absolute()}: no login in it; write one USER:PASSWORD per line")
    return logins


def check_access(host: str, logins: Sequence[Login], allow_unauthenticated: bool = False) -> None:
    """Refuse to serve beyond this machine without a login, unless ``allow_unauthenticated`` says so."""
    if logins or allow_unauthenticated or is_loopback(host):
        return
    raise ValueError(
        f"--host {host} lets other machines reach the app, and whoever reaches it can run jobs and download "
        "their files: give a login with --auth USER:PASSWORD or --auth-file FILE (one USER:PASSWORD per line), "
        "or pass --allow-unauthenticated to serve without one"
    )


def exposure_warning(host: str, logins: Sequence[Login]) -> str | None:
    """The warning to print when the app serves beyond this machine without a login (None otherwise)."""
    if logins or is_loopback(host):
        return None
    return (
        f"WARNING: serving on {host} without a login (--allow-unauthenticated): anyone who can reach this port "
        "can run jobs and download their files"
    )
