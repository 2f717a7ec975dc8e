"""Errors that reach the user.

Every error the CLI prints is a :class:`NixbuildError`: one message that names where it
happened (the image and step, when known) and how to fix it. Anything else escaping to the CLI
is a bug and is shown with its traceback.
"""

from __future__ import annotations


class NixbuildError(Exception):
    """An error with a user-facing message, the place it happened and a suggested fix."""

    exit_code = 1

    def __init__(self, message: str, *, where: str | None = None, fix: str | None = None):
        super().__init__(message)
        self.message = message
        self.where = where
        self.fix = fix

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
    """``nix-build`` failed."""

    exit_code = 6


class CheckError(NixbuildError):
    """A rebuild did not reproduce the image bit for bit."""

    exit_code = 7


class ToolMissing(NixbuildError):
    """An external program (nix-build, skopeo, bwrap) is not installed."""

    exit_code = 8
