"""Whether a ``nix-build`` started here can hand a step its secrets.

Secrets (``secrets=`` and a step's ``env=``, which is one) reach their step as an impure
environment variable of a fixed-output derivation (``impureEnvVars``): Nix copies it from the
environment of the process that *runs the builder*. That is the ``nix-build`` nixbuild starts
only when it builds in a local store itself. A Nix daemon (``NIX_REMOTE=daemon``, a
``store`` setting naming one, or ``store = auto`` when the store is not writable and the
daemon's socket exists) and a remote builder (the ``builders`` setting) read their own
environment instead, where the variable is unset or empty: the step would run without its
secrets. So a build with secrets asks Nix for its settings first and refuses, naming the
setting and the fix, before anything is built.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from nixbuild.errors import BuildError

DAEMON_SOCKET = Path("/nix/var/nix/daemon-socket/socket")
STATE_DIR = Path("/nix/var/nix")


def nix_settings(env: dict[str, str] | None = None) -> dict[str, str]:
    """``store`` and ``builders`` as Nix sees them (nix.conf, ``NIX_CONFIG``, ``NIX_REMOTE``)."""
    environ = dict(os.environ if env is None else env)
    settings = {"store": environ.get("NIX_REMOTE") or "auto", "builders": ""}
    nix = shutil.which("nix")
    if nix is None:
        return settings
    proc = subprocess.run([nix, "--extra-experimental-features", "nix-command", "show-config", "--json"],
                          capture_output=True, text=True, env=environ)
    if proc.returncode != 0:
        return settings
    shown = json.loads(proc.stdout)
    for name in settings:
        value = shown.get(name, {})
        settings[name] = str(value.get("value", "") if isinstance(value, dict) else value)
    return settings


def store_is_local(store: str, *, state_dir: Path = STATE_DIR, socket: Path = DAEMON_SOCKET) -> bool:
    """Whether Nix builds in ``store`` (a ``store`` setting or ``--store`` value) itself."""
    store = store.strip()
    if store in ("", "auto"):
        # Nix's own choice: the local store when it can write it, else the daemon if one listens.
        return os.access(state_dir, os.W_OK) or not socket.exists()
    return store == "local" or store.startswith(("local?", "/", "file://"))


def remote_builders(builders: str) -> list[str]:
    """The machines a ``builders`` setting lists (``@FILE`` entries read, comments dropped)."""
    machines: list[str] = []
    for entry in builders.replace("\n", ";").split(";"):
        entry = entry.strip()
        if entry.startswith("@"):
            try:
                text = Path(entry[1:]).read_text()
            except OSError:
                continue  # Nix ignores a missing machines file too
            machines += remote_builders(text)
        elif entry and not entry.startswith("#"):
            machines.append(entry.split()[0])
    return machines


def require_local_builds(where: str, store: str | None = None) -> None:
    """Refuse a build whose secrets would not reach their step (module docstring)."""
    settings = nix_settings()
    if not store_is_local(settings["store"] if store is None else store):
        raise BuildError(
            f"this build uses secrets (secrets= or env=), and Nix builds through a daemon (store = "
            f"{settings['store']!r}{', NIX_REMOTE is set' if os.environ.get('NIX_REMOTE') else ''}): the daemon "
            "runs the step with its own environment, so the secrets would not reach it",
            where=where,
            fix="build as a user that can write the Nix store with NIX_REMOTE unset (e.g. root on a "
                "single-user install: NIX_REMOTE=local), or drop secrets=/env= from the step")
    machines = remote_builders(settings["builders"])
    if machines:
        raise BuildError(
            f"this build uses secrets (secrets= or env=), and Nix may send its steps to the remote "
            f"builders {', '.join(machines)}, which would run them without the secrets",
            where=where,
            fix="build this image here: NIX_CONFIG='builders =' nixbuild build ..., or drop secrets=/env= "
                "from the step")
