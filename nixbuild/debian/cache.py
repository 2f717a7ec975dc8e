"""Where verified Debian indexes are cached, and how cache files are written.

Everything cached is named by the SHA256 of the verified ``Packages.xz`` it came from, so an
entry never goes stale: a new index is a new name. Files are replaced atomically, so an
interrupted run or a concurrent one never leaves a half-written file under a valid name.
"""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "NIXBUILD_CACHE_DIR"


def default_cache_dir() -> Path:
    """``$NIXBUILD_CACHE_DIR``, else ``$XDG_CACHE_HOME/nixbuild``, else ``~/.cache/nixbuild``."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nixbuild"


class IndexCache:
    """The files kept for one verified ``Packages.xz``, under ``<cache_dir>/debian/``."""

    def __init__(self, cache_dir: Path, sha256: str):
        folder = cache_dir / "debian" / "packages"
        self.xz = folder / f"{sha256}.xz"  # the verified download, as the archive serves it
        self.text = folder / f"{sha256}.txt"  # decompressed, mapped at load
        self.table = folder / f"{sha256}.table"  # the scanned table (marshal)
        self.order = folder / f"{sha256}.order"  # apt's package creation order (marshal)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file renamed into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(data)
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)
