"""Which binary caches nixbuild's Nix calls may substitute from, decided once per run.

The caches are the machine's own Nix configuration (``substituters`` and
``trusted-public-keys`` as ``nix show-config`` reports them: nix.conf, ``NIX_CONFIG``, ...)
plus nixbuild's own, ``NIXBUILD_SUBSTITUTERS`` and ``NIXBUILD_TRUSTED_PUBLIC_KEYS``
(space-separated, as Nix's options). Nix tries a configured cache for every path it needs and
waits for each that does not answer, which costs seconds per call on a machine that cannot
reach it (Debian's default configuration names the NixOS binary cache). So every cache is probed
once per run, all in parallel, with a short connect timeout (``PROBE_TIMEOUT``): an http(s)
cache must answer ``GET /nix-cache-info``, a ``file://`` cache must hold that file, other
kinds (``s3://``, ``ssh://``, a local store) are kept as they are. Only the caches that
answered are passed on to Nix.

``nix show-config`` costs ~0.1 s, a tenth of a one-file rebuild, so its answer is kept in
``<cache>/nix-config.json`` under a key of everything it depends on: the configuration files
Nix reads (nix.conf(5): ``$NIX_CONF_DIR/nix.conf``, the user files, and what they
``include``), by inode, size and times; the variables that name or add configuration; and the
``nix`` binary itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from pydantic import BaseModel

from nixbuild.debian.cache import default_cache_dir, write_atomic

SUBSTITUTERS_ENV = "NIXBUILD_SUBSTITUTERS"
KEYS_ENV = "NIXBUILD_TRUSTED_PUBLIC_KEYS"
PROBE_TIMEOUT = 1.5  # seconds, for all caches together (they are probed in parallel)


class Caches(BaseModel):
    """The substituters Nix gets (reachable ones only) and the keys it trusts."""

    substituters: list[str]
    trusted_public_keys: list[str]
    unreachable: list[str] = []


# Variables that change what `nix show-config` answers (besides the files they point to).
CONFIG_ENV = ("NIX_CONFIG", "NIX_CONF_DIR", "NIX_USER_CONF_FILES", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS",
              "HOME", "NIX_REMOTE", "NIX_STATE_DIR")


def _config_files() -> list[str]:
    """The files Nix reads its configuration from, in its order, with their includes."""
    files = [os.path.join(os.environ.get("NIX_CONF_DIR", "/etc/nix"), "nix.conf")]
    if "NIX_USER_CONF_FILES" in os.environ:
        files += [p for p in os.environ["NIX_USER_CONF_FILES"].split(":") if p]
    else:
        homes = [os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config"),
                 *(os.environ.get("XDG_CONFIG_DIRS") or "/etc/xdg").split(":")]
        files += [os.path.join(home, "nix", "nix.conf") for home in homes if home]
    found: list[str] = []
    while files:
        path = files.pop(0)
        if path in found:
            continue
        found.append(path)
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError:
            continue
        for line in lines:
            words = line.split("#", 1)[0].split()
            if len(words) == 2 and words[0] in ("include", "!include"):
                files.append(os.path.join(os.path.dirname(path), words[1]))
    return found


def _stat(path: str | None) -> list[int] | None:
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return st and [st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _config_key() -> str:
    nix = shutil.which("nix")
    nix = os.path.realpath(nix) if nix else None
    return json.dumps({"files": [[path, _stat(path)] for path in _config_files()],
                       "env": {name: os.environ.get(name) for name in CONFIG_ENV},
                       "nix": [nix, _stat(nix)]}, sort_keys=True)


def configured() -> tuple[list[str], list[str]]:
    """The machine's Nix configuration: (substituters, trusted-public-keys), kept while nothing
    it depends on changes (see the module docstring)."""
    key, kept = _config_key(), default_cache_dir() / "nix-config.json"
    try:
        remembered = json.loads(kept.read_text())
        if remembered["key"] == key:
            return remembered["substituters"], remembered["trusted-public-keys"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    substituters, keys = _show_config()
    if _config_key() == key:  # unchanged while Nix read it
        write_atomic(kept, json.dumps({"key": key, "substituters": substituters,
                                       "trusted-public-keys": keys}).encode())
    return substituters, keys


def _show_config() -> tuple[list[str], list[str]]:
    try:
        proc = subprocess.run(["nix", "--extra-experimental-features", "nix-command", "show-config", "--json"],
                              capture_output=True, text=True, timeout=30)
        config = json.loads(proc.stdout) if proc.returncode == 0 else {}
    except (OSError, subprocess.TimeoutExpired, json.JSONDecodeError):
        config = {}

    def value(name: str) -> list[str]:
        item = config.get(name, {})
        return list(item.get("value", [])) if isinstance(item, dict) else []

    return value("substituters"), value("trusted-public-keys")


def reachable(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether a binary cache answers now (see the module docstring)."""
    import urllib.error  # here, not at the top: ~15 ms of start-up, and most runs probe nothing
    import urllib.request

    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file":
        return os.path.isfile(os.path.join(parsed.path, "nix-cache-info"))
    if parsed.scheme in ("http", "https"):
        try:
            with urllib.request.urlopen(url.rstrip("/") + "/nix-cache-info", timeout=timeout) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError, ValueError):
            return False
    return True


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


@lru_cache(maxsize=8)
def _decide(extra: str, extra_keys: str) -> Caches:
    substituters, keys = configured()
    wanted = _unique(substituters + extra.split())
    if not wanted:
        return Caches(substituters=[], trusted_public_keys=_unique(keys + extra_keys.split()))
    with ThreadPoolExecutor(max_workers=len(wanted)) as pool:
        answers = list(pool.map(reachable, wanted))
    return Caches(substituters=[u for u, ok in zip(wanted, answers) if ok],
                  trusted_public_keys=_unique(keys + extra_keys.split()),
                  unreachable=[u for u, ok in zip(wanted, answers) if not ok])


def caches() -> Caches:
    """The caches for this run (probed on the first call; the environment is read every time)."""
    return _decide(os.environ.get(SUBSTITUTERS_ENV, ""), os.environ.get(KEYS_ENV, ""))
