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
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

from pydantic import BaseModel

SUBSTITUTERS_ENV = "NIXBUILD_SUBSTITUTERS"
KEYS_ENV = "NIXBUILD_TRUSTED_PUBLIC_KEYS"
PROBE_TIMEOUT = 1.5  # seconds, for all caches together (they are probed in parallel)


class Caches(BaseModel):
    """The substituters Nix gets (reachable ones only) and the keys it trusts."""

    substituters: list[str]
    trusted_public_keys: list[str]
    unreachable: list[str] = []


def configured() -> tuple[list[str], list[str]]:
    """The machine's Nix configuration: (substituters, trusted-public-keys)."""
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
