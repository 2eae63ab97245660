"""Errors of a request, named by the caller's own field, and the errors every front end shows as a message."""

from __future__ import annotations

import re
from collections.abc import Mapping

_MENTION = re.compile("\x00([A-Za-z_][A-Za-z0-9_]*)\x00")


def mention(field: str) -> str:
    """A request field named inside a :class:`RequestError` message; each front end spells it its own way
    (``mention("video")`` reads ``--input_video`` on the command line, ``Source video`` in the app)."""
    return f"\x00{field}\x00"


class RequestError(ValueError):
    """A request's ``field`` holds a value the action cannot use; ``message`` says what was expected.

    ``str(error)`` names fields by their Python keyword; :meth:`render` by a front end's own spelling.
    The field is named first unless the message mentions it already (:func:`mention`).
    """

    def __init__(self, field: str, message: str):
        self.field = field
        self.message = message
        super().__init__(self.render())

    def render(self, spelling: Mapping[str, str] | None = None) -> str:
        """The message with every field spelled as ``spelling`` says (a field it lacks: its keyword)."""
        spelling = spelling or {}
        text = _MENTION.sub(lambda m: spelling.get(m.group(1), m.group(1)), self.message)
        if mention(self.field) in self.message:
            return text
        return f"{spelling.get(self.field, self.field)}: {text}"


def user_errors() -> tuple[type[Exception], ...]:
    """The exceptions that report a user's mistake (a request, a file, a folder, weights, a video): front
    ends show them as a message, not as a traceback."""
    from ..checkpoints import WeightFileError
    from ..video.reader import VideoReadError

    return (
        RequestError,
        FileNotFoundError,
        FileExistsError,
        WeightFileError,
        PermissionError,
        NotADirectoryError,
        VideoReadError,
        ValueError,
    )
