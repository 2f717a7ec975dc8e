"""Where in the user's code an Image step was made, so that errors can name a file and line.

Every Image method records, beside the step it adds, the innermost stack frame that is not
nixbuild's own code: the line of the app file (or of a helper module the app imports, or of
a ``pipe`` recipe) that called the method. Python reports the line of the method's name, so
each call of a chain written across lines gets its own line.

Origins are kept beside the steps, never in them: the step models are hashed into the lock,
and moving a line of the app file must not change a digest.

The walk uses ``sys._getframe`` and a cache per file name, because it runs once per step
while the app file is imported; ``inspect.stack()`` would read the source of every frame.
"""

from __future__ import annotations

import functools
import os
import sys
from typing import NamedTuple

# The nixbuild package (the Modal shim included): frames in it are never the user's.
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))


class Origin(NamedTuple):
    """An absolute file path (or a pseudo-file such as ``<string>``) and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@functools.cache
def _is_user_file(filename: str) -> bool:
    # Frozen modules are importlib's (an Image made while nixbuild itself is being imported).
    if filename.startswith("<frozen "):
        return False
    return os.path.commonpath([_PACKAGE_DIR, os.path.realpath(filename)]) != _PACKAGE_DIR


def caller_origin() -> Origin | None:
    """The innermost frame of the current stack outside nixbuild, or None when there is none."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if _is_user_file(filename):
            absolute = filename if filename.startswith("<") else os.path.abspath(filename)
            return Origin(absolute, frame.f_lineno or 0)  # None only for synthetic instructions
        frame = frame.f_back
    return None
