"""Whether store paths are valid in the default Nix store, answered from Nix's own database
(read-only, a millisecond) rather than by starting ``nix-store --check-validity`` (tens of
milliseconds), else by it. Standard library only: the no-op build (nixbuild/noop.py) asks
before anything else is loaded. A valid path's whole closure is valid (Nix's invariant)."""

from __future__ import annotations

import os
import sqlite3
import subprocess

STATE_DIR = "/nix/var/nix"
NIX_DB = f"{STATE_DIR}/db/db.sqlite"
# A store set elsewhere (a daemon, another state folder) is asked through nix-store.
_ELSEWHERE = ("NIX_REMOTE", "NIX_STATE_DIR", "NIX_STORE_DIR", "NIX_STORE")


def default_store() -> bool:
    """Whether Nix uses the default store in /nix, not one set elsewhere by the environment."""
    return not any(os.environ.get(name) for name in _ELSEWHERE)


def valid(paths: list[str], nix_store: str = "nix-store") -> bool:
    """True when every path is valid in the default store."""
    if default_store():
        try:
            with sqlite3.connect(f"file:{NIX_DB}?mode=ro", uri=True, timeout=1) as db:
                return all(db.execute("SELECT 1 FROM ValidPaths WHERE path = ?", (path,)).fetchone()
                           for path in paths)
        except sqlite3.Error:
            pass
    try:
        return subprocess.run([nix_store, "--check-validity", *paths], capture_output=True).returncode == 0
    except OSError:
        return False
