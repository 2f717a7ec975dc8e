"""Warnings that reach the user: one line on stderr naming the parameter and the step.

A parameter nixbuild accepts but cannot honour (``gpu=`` on a step that runs no command, a
micro Python version Debian does not ship, a Dockerfile ``HEALTHCHECK``) is never silently
dropped: :func:`warn` says so. It goes through :mod:`warnings` (category
:class:`NixbuildWarning`), so tests can catch it and callers can filter it; the CLI prints it
as ``warning: <message>`` on one line (:func:`one_line`).
"""

from __future__ import annotations

import warnings


class NixbuildWarning(UserWarning):
    """A parameter or input nixbuild accepts without its full effect."""


def warn(message: str) -> None:
    warnings.warn(message, NixbuildWarning, stacklevel=3)


def one_line(message, category, filename, lineno, line=None) -> str:  # noqa: ANN001 (warnings' signature)
    """``warnings.formatwarning`` for the CLI: nixbuild's own warnings as one line."""
    if issubclass(category, NixbuildWarning):
        return f"warning: {' '.join(str(message).split())}\n"
    return _default(message, category, filename, lineno, line)


_default = warnings.formatwarning
