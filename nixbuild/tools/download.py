"""Downloads of locked files: verified against the lock's hash, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from nixbuild.debian.fetch import DEBIAN_FIX, fetch
from nixbuild.errors import MirrorError


def fetch_verified(url: str, sha256: str, dest: Path, *, fix: str = DEBIAN_FIX) -> Path:
    """Download ``url`` to ``dest`` unless it is already there with the right hash. ``fix``
    says how to reach the mirror when it cannot be reached."""
    if dest.exists() and hashlib.sha256(dest.read_bytes()).hexdigest() == sha256:
        return dest
    data = fetch(url, fix=fix)
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise MirrorError(f"{url} does not match the lock (sha256 {got}, locked {sha256})",
                          fix="the mirror serves a different file: use a snapshot mirror that has the "
                              "locked one, or re-lock with `nixbuild lock --update`")
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)
    return dest
