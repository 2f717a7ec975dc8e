"""Whether store paths are valid in the default Nix store, answered from Nix's own database
(read-only, a millisecond) rather than by starting ``nix-store --check-validity`` (tens of
milliseconds), else by it. Standard library only: the no-op build (nixbuild/noop.py) asks
before anything else is loaded. A valid path's whole closure is valid (Nix's invariant)."""

from __future__ import annotations

import os
import subprocess

STATE_DIR = "/nix/var/nix"
NIX_DB = f"{STATE_DIR}/db/db.sqlite"
# A store set elsewhere (a daemon, another state folder) is asked through nix-store.
_ELSEWHERE = ("NIX_REMOTE", "NIX_STATE_DIR", "NIX_STORE_DIR", "NIX_STORE")
# ``store`` values that mean this store, read directly.
_HERE = ("", "auto", "local")


def default_store() -> bool:
    """Whether Nix uses the default store in /nix, not one set elsewhere by the environment or
    by a ``store`` setting (``NIX_CONFIG='store = /tmp/s'`` makes every Nix command use a
    chroot store, and this database would answer for the wrong one)."""
    return not any(os.environ.get(name) for name in _ELSEWHERE) and configured_store() in _HERE


def chroot_store() -> str | None:
    """The folder of a chroot store that the ``store`` setting names (``/DIR`` or
    ``local?root=/DIR``), as ``--store DIR`` would: None for any other store."""
    store = configured_store()
    if store.startswith("/"):
        return store
    if store.startswith("local?"):
        for param in store.partition("?")[2].split("&"):
            name, _, value = param.partition("=")
            if name == "root" and value:
                return value
    return None


def configured_store() -> str:
    """The ``store`` setting as Nix reads it (the last one wins): the system nix.conf, the
    user's (``NIX_USER_CONF_FILES``, else the XDG folders), then ``NIX_CONFIG``. Includes are
    not followed: a ``store`` set only there goes unseen (nix-store still uses it)."""
    env = os.environ
    files = [os.path.join(env.get("NIX_CONF_DIR", "/etc/nix"), "nix.conf")]
    if "NIX_USER_CONF_FILES" in env:
        files += env["NIX_USER_CONF_FILES"].split(":")
    else:
        home = env.get("XDG_CONFIG_HOME") or os.path.join(env.get("HOME", "/"), ".config")
        dirs = [home, *env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")]
        files += [os.path.join(d, "nix", "nix.conf") for d in reversed(dirs) if d]
    texts = []
    for name in files:
        try:
            with open(name) as f:
                texts.append(f.read())
        except OSError:
            pass
    texts.append(env.get("NIX_CONFIG", ""))
    store = ""
    for line in "\n".join(texts).splitlines():
        name, equals, value = line.split("#", 1)[0].partition("=")
        if equals and name.strip() == "store":
            store = value.strip()
    return store


def valid(paths: list[str], nix_store: str = "nix-store") -> bool:
    """True when every path is valid in the default store."""
    if default_store():
        import sqlite3  # loaded only here: the one-file edit starts its builders before it asks

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
