"""Channel names -> channel URLs, as conda and micromamba map them.

A channel given as a URL (``https://...``, ``file://...``) is used as it is. A bare name
(``conda-forge``) is ``<channel_alias>/<name>``, conda's rule. conda's built-in alias is a
public host that is not reachable from every machine, so nixbuild has no built-in alias at
all: it comes from ``NIXBUILD_CONDA_CHANNEL_ALIAS``, else from ``channel_alias`` in the
``.condarc`` conda itself would read (``$CONDARC``, else ``~/.condarc``), and a name with no
alias configured is one error naming both settings.

The lock keeps channels as the user named them, so moving to another mirror of the same
channels (a new alias) changes no pin and rebuilds nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from nixbuild.errors import MirrorError

ALIAS_ENV = "NIXBUILD_CONDA_CHANNEL_ALIAS"
# micromamba's default channel in Modal's base image (mambaorg/micromamba's .mambarc), and
# the channel Modal installs python and pip from.
DEFAULT_CHANNELS = ("conda-forge",)
SETTING = f"{ALIAS_ENV} (or channel_alias in $CONDARC / ~/.condarc)"
FIX = (f"set {ALIAS_ENV} to a conda channel host this machine reaches (a mirror of the channels), "
       "or channel_alias in $CONDARC / ~/.condarc, or name the channels by URL")


def _condarc() -> Path:
    return Path(os.environ.get("CONDARC") or Path.home() / ".condarc")


def channel_alias() -> str | None:
    """The configured channel alias (None: none configured)."""
    if alias := os.environ.get(ALIAS_ENV):
        return alias.rstrip("/")
    path = _condarc()
    if not path.is_file():
        return None
    import yaml  # here, not at the top: reading a lock (every build) loads this module

    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise MirrorError(f"cannot read {path}: {exc}", fix=f"fix {path}, or set {ALIAS_ENV}") from exc
    alias = config.get("channel_alias") if isinstance(config, dict) else None
    return str(alias).rstrip("/") if alias else None


def is_url(channel: str) -> bool:
    return "://" in channel


def channel_url(channel: str) -> str:
    """The base URL of ``channel`` (a name or a URL), without a trailing slash."""
    if is_url(channel):
        return channel.rstrip("/")
    alias = channel_alias()
    if alias is None:
        raise MirrorError(f"conda channel {channel!r} is a name, and no channel alias is configured ({SETTING})",
                          fix=FIX)
    return f"{alias}/{channel}"
