"""Downloads from package mirrors: verified by hash, written atomically, failing clearly."""

from __future__ import annotations

import hashlib
import os
import ssl
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .errors import MirrorError

TIMEOUT_S = 60


def _context() -> ssl.SSLContext:
    # The host bundle, so a TLS-intercepting proxy the host trusts is trusted here too.
    cafile = os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt"
    return ssl.create_default_context(cafile=cafile if os.path.exists(cafile) else None)


def fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S, context=_context()) as resp:
            return resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise MirrorError(f"cannot download {url}: {getattr(exc, 'reason', exc)}",
                          fix="check the network, or point NIXBUILD_DEBIAN_MIRROR / "
                              "NIXBUILD_DEBIAN_SECURITY_MIRROR at a reachable mirror") from exc


def fetch_verified(url: str, sha256: str, dest: Path) -> Path:
    """Download ``url`` to ``dest`` unless it is already there with the right hash."""
    if dest.exists() and hashlib.sha256(dest.read_bytes()).hexdigest() == sha256:
        return dest
    data = fetch(url)
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
