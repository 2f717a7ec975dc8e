"""Errors that reach the user.

Every error the CLI prints is a :class:`NixbuildError`: one message that names where it
happened (the image and step, when known) and how to fix it. Anything else escaping to the CLI
is a bug and is shown with its traceback.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple


class NixbuildError(Exception):
    """An error with a user-facing message, the place it happened and a suggested fix."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.fix = fix
        # Set where the images are at hand but no Project yet (nixbuild.build.Project.load).
        self.place: Place | None = None

    def at(self, where: str) -> "NixbuildError":
        """Attach a location (e.g. ``image 'web', step 2 apt_install``) unless one is set."""
        if self.where is None:
            self.where = where
        return self

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class InvalidError(NixbuildError):
    """Bad input in an image definition (Modal's ``InvalidError``)."""

    exit_code = 2


class AppLoadError(NixbuildError):
    """The app file could not be imported, or defines no image."""

    exit_code = 2


class ResolveError(NixbuildError):
    """A package could not be resolved (unknown name, impossible version)."""

    exit_code = 3


class MirrorError(NixbuildError):
    """A package mirror could not be reached or served something unexpected."""

    exit_code = 4


class LockError(NixbuildError):
    """The lock file is missing, stale, or does not match the app."""

    exit_code = 5


class BuildError(NixbuildError):
    """``nix-build`` failed, or what it built cannot be read back (a corrupt OCI layout)."""

    exit_code = 6


class CheckError(NixbuildError):
    """A rebuild did not reproduce the image bit for bit."""

    exit_code = 7


class ToolMissing(NixbuildError):
    """An external program (nix-build, skopeo, bwrap) is not installed."""

    exit_code = 8


class RegistryError(NixbuildError):
    """A container registry could not be reached, refused the credentials or the upload."""

    exit_code = 9


# Where an error happened, as the ``where`` texts name it: ``image 'NAME', step N kind`` (the
# one form every stage uses, nixbuild.chain.step_where) or ``FILE:LINE`` (the app's import).
_STEP_WHERE = re.compile(r"^image '(?P<image>[^']+)'(?:, step (?P<step>\d+) [a-z_]+)?")
_FILE_WHERE = re.compile(r"^(?P<file>.+):(?P<line>\d+)$")


class Place(NamedTuple):
    """Where an error happened: image and step, and the app file and line that made the step.
    (A named tuple, not a dataclass: the no-op and the one-file edit import this module, and
    dataclasses costs them inspect's import.)"""

    image: str | None = None
    step: int | None = None
    file: str | None = None
    line: int | None = None

    def fields(self) -> dict:
        return {"image": self.image, "step": self.step, "file": self.file, "line": self.line}

    def text(self, exc: NixbuildError) -> str:
        """The error as printed: ``FILE:LINE: `` first when the step's line is known, as compilers do."""
        if self.file is None or exc.where is None or _FILE_WHERE.match(exc.where):
            return str(exc)
        return f"{shown_path(self.file)}:{self.line}: {exc}"


def locate(exc: NixbuildError, images: Mapping[str, Any] | None = None) -> Place:
    """The :class:`Place` of ``exc``; the step's file and line come from the image that made it
    (``Image.origin``), when ``images`` (by name) has it."""
    if exc.place is not None:
        return exc.place
    where = exc.where or ""
    if match := _FILE_WHERE.match(where):
        return Place(file=match["file"], line=int(match["line"]))
    match = _STEP_WHERE.match(where)
    if match is None:
        return Place()
    image, step = match["image"], int(match["step"]) if match["step"] else None
    origin = None
    images = images or {}
    if image in images and step is not None:
        origin = images[image].origin(step)
    return Place(image=image, step=step, file=origin.file if origin else None, line=origin.line if origin else None)


def shown_path(file: str | Path) -> str:
    """A path as a user would write it: relative to the current folder when inside it."""
    path = Path(file)
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(file)
