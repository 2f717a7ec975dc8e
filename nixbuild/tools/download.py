"""Downloads of locked files: verified against the lock's hash, written atomically.

:func:`fetch_verified` takes one URL; :func:`fetch_first` tries several places in order (the
mirror, then fallbacks such as a snapshot mirror) and, when none serves the locked bytes,
raises one error listing every place it looked and what each answered.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from nixbuild.debian.fetch import DEBIAN_FIX, fetch
from nixbuild.errors import MirrorError

_WRONG_FILE_FIX = ("the mirror serves a different file: use a snapshot mirror that has the "
                   "locked one, or re-lock with `nixbuild lock --update`")


class NotAvailable(MirrorError):
    """No place tried serves the locked file."""

    def __init__(self, what: str, sha256: str, tried: list[tuple[str, str]], *, fix: str):
        self.tried = tried
        lines = "\n".join(f"  {url}: {outcome}" for url, outcome in tried)
        super().__init__(f"{what} (sha256 {sha256}) is not available; looked at:\n{lines}", fix=fix)


def _have(dest: Path, sha256: str) -> bool:
    return dest.exists() and hashlib.sha256(dest.read_bytes()).hexdigest() == sha256


def _write(dest: Path, data: bytes) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, dest)
    return dest


def fetch_verified(url: str, sha256: str, dest: Path, *, fix: str = DEBIAN_FIX,
                   headers: dict[str, str] | None = None) -> Path:
    """Download ``url`` to ``dest`` unless it is already there with the right hash. ``fix``
    says how to reach the mirror when it cannot be reached; ``headers`` go with the request."""
    if _have(dest, sha256):
        return dest
    data = fetch(url, fix=fix, headers=headers)
    got = hashlib.sha256(data).hexdigest()
    if got != sha256:
        raise MirrorError(f"{url} does not match the lock (sha256 {got}, locked {sha256})", fix=_WRONG_FILE_FIX)
    return _write(dest, data)


def fetch_first(urls: list[str], sha256: str, dest: Path, *, what: str, fix: str) -> Path:
    """Download the first of ``urls`` that serves the bytes ``sha256`` names to ``dest``
    (unless already there). A place that is unreachable, lacks the file or serves other bytes
    is passed over; when all are, :class:`NotAvailable` names ``what`` and each place."""
    if _have(dest, sha256):
        return dest
    tried: list[tuple[str, str]] = []
    for url in urls:
        try:
            data = fetch(url)
        except MirrorError as error:
            tried.append((url, error.message.removeprefix(f"{url}: ").removeprefix(f"cannot download {url}: ")))
            continue
        got = hashlib.sha256(data).hexdigest()
        if got == sha256:
            return _write(dest, data)
        tried.append((url, f"serves other bytes (sha256 {got})"))
    raise NotAvailable(what, sha256, tried, fix=fix)
