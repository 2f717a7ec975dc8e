"""Pinned .debs the mirror no longer serves: fetched from elsewhere and added to the store by hash.

Every pinned .deb is fetched from one URL, the configured mirror: by the CLI before nix-build
(store/prefetch.py), else by Nix itself (nix/fetch.nix, ``builtin:fetchurl``; Nix's binary
caches are asked first when configured). When that download fails -- a point release or a security update removed the version from the mirror --
:func:`recover` puts each pinned .deb whose download Nix reports as failed into the store
itself: from the mirror, else from the snapshot mirror (:mod:`nixbuild.debian.snapshot`),
checked against the lock's sha256 and added with ``nix-store --add-fixed sha256``, which
yields the very fixed-output path the derivation names. The build is then tried again and
fetches nothing. When no place has a .deb, the error names it and every URL tried.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from nixbuild.debian.index import SuiteSnapshot
from nixbuild.debian.snapshot import SNAPSHOT_ENV, snapshot_urls
from nixbuild.local.nar import compress_hash, nix_base32
from nixbuild.lock import DebPin, Lock
from nixbuild.settings import Settings
from nixbuild.tools import nixcmd
from nixbuild.tools.download import fetch_first

STORE_DIR = "/nix/store"
_PARALLEL = 8
# What Nix prints when builtin:fetchurl cannot get a file (2.8 and current Nix).
_DOWNLOAD_FAILED = re.compile(r"unable to download '[^']+'|error: (?:unable to|cannot) download")


def flat_path(name: str, sha256_hex: str, store_dir: str = STORE_DIR) -> str:
    """The store path of a flat sha256 fixed-output file (Nix's ``makeFixedOutputPath``),
    what ``nix-store --add-fixed sha256 FILE`` prints for a FILE called ``name``."""
    inner = hashlib.sha256(f"fixed:out:sha256:{sha256_hex}:".encode()).hexdigest()
    fingerprint = f"output:out:sha256:{inner}:{store_dir}:{name}"
    return f"{store_dir}/{nix_base32(compress_hash(hashlib.sha256(fingerprint.encode()).digest()))}-{name}"


def image_pins(lock: Lock, image: str) -> list[tuple[DebPin, list[SuiteSnapshot]]]:
    """Every .deb Nix fetches for an image (the toolchain's Python and the image's steps'; the
    busybox .deb is seeded, not fetched), each with the index snapshots it was resolved against."""
    toolchain = lock.bootstrap.snapshots
    pins = [(pin, toolchain) for pin in lock.bootstrap.python]
    locked = lock.images[image]
    for step in locked.steps:
        pins += [(pin, locked.snapshots) for pin in step.packages]
    return pins


def failed_pins(message: str, lock: Lock, image: str) -> list[tuple[DebPin, list[SuiteSnapshot]]]:
    """The pins whose download Nix reports as failed in ``message`` (by fetch derivation)."""
    if not _DOWNLOAD_FAILED.search(message):
        return []
    return [(pin, snapshots) for pin, snapshots in image_pins(lock, image)
            if f"-{nixcmd.store_name(pin.filename)}.drv'" in message]


def _fix() -> str:
    return (f"set {SNAPSHOT_ENV} to a snapshot mirror's URL template (with {{archive}} and {{timestamp}}), "
            "or configure a Nix binary cache that holds it (NIXBUILD_SUBSTITUTERS), "
            "or re-lock with `nixbuild lock --update` to take the versions the mirror serves now")


def _add(pin: DebPin, snapshots: list[SuiteSnapshot], settings: Settings, store: str | None) -> None:
    urls = [settings.deb_url(pin.archive, pin.path), *snapshot_urls(pin.archive, pin.path, snapshots)]
    scratch = settings.cache_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deb-", dir=scratch) as tmp:
        dest = Path(tmp) / nixcmd.store_name(pin.filename)
        fetch_first(urls, pin.sha256, dest, what=f"the pinned {pin.name} {pin.version} ({pin.filename})",
                    fix=_fix())
        nixcmd.add_fixed(dest, store)


def recover(message: str, lock: Lock, image: str, settings: Settings, store: str | None = None) -> list[DebPin]:
    """Add to the store each pinned .deb of ``image`` that Nix failed to download, per its
    error ``message`` (see the module docstring); returns those added (none: the failure was
    not a pinned .deb's download). Raises the first
    :class:`~nixbuild.tools.download.NotAvailable`."""
    wanted = failed_pins(message, lock, image)
    with ThreadPoolExecutor(_PARALLEL) as pool:
        for done in [pool.submit(_add, pin, snapshots, settings, store) for pin, snapshots in wanted]:
            done.result()
    return [pin for pin, _ in wanted]
