"""Command lines as one line of text that runs when pasted into a shell: every word quoted as it needs."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def shell_quote(word: str) -> str:
    """``word`` as a shell reads it back: :func:`shlex.quote`, or ANSI-C quoting (``$'a\\nb'``: bash, zsh, ksh and
    POSIX sh) when it holds a control character such as a newline, which keeps the command on one line."""
    if not _CONTROL.search(word):
        return shlex.quote(word)
    escaped = "".join(_ESCAPES.get(char, f"\\x{ord(char):02x}" if _CONTROL.match(char) else char) for char in word)
    return f"$'{escaped}'"


def shell_join(words: Iterable[str]) -> str:
    """The command line of ``words`` (argv), each quoted by :func:`shell_quote`."""
    return " ".join(shell_quote(word) for word in words)
