"""Seed the Nix store with the bootstrap busybox.

Nix cannot build anything without a first executable, and nixbuild uses no nixpkgs. The
busybox binary of Debian's busybox-static .deb (pinned in the lock) is extracted here in
Python and added with ``nix-store --add-fixed --recursive``; the Nix library names the same
path as a recursive fixed-output derivation (nix/fetch.nix ``seeded``), so the expression is
pure and the path is identical on every machine. It lives in a directory ``busybox/bin/``
because Nix runs a builder with argv[0] set to its store name, which busybox would read
as an applet name.

The path is named by the NAR hash in the lock alone, so a store that has it (or a binary cache
that serves it) needs neither the .deb nor a marker in nixbuild's cache: :func:`ensure` looks
there first and downloads only when neither has it.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from nixbuild.tools import nixcmd
from nixbuild.tools.download import fetch_verified
from nixbuild.errors import BuildError
from nixbuild.lock import DebPin

BUSYBOX_MEMBER = "./bin/busybox"


def busybox_tree(deb: Path, into: Path) -> Path:
    """Write ``into/busybox/bin/busybox`` from the .deb; returns ``into/busybox``."""
    data = subprocess.run([nixcmd.require("dpkg-deb", "dpkg"), "--fsys-tarfile", str(deb)],
                          capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
        binary = tar.extractfile(BUSYBOX_MEMBER).read()
    root = into / "busybox"
    (root / "bin").mkdir(parents=True)
    exe = root / "bin" / "busybox"
    exe.write_bytes(binary)
    exe.chmod(0o555)
    return root


def prepare(pin: DebPin, url: str, cache: Path) -> tuple[Path, str]:
    """Download the pinned .deb and extract busybox; returns (tree, NAR hash) for the lock."""
    deb = fetch_verified(url, pin.sha256, cache / "debs" / pin.filename)
    tmp = Path(tempfile.mkdtemp(prefix="busybox-", dir=cache))
    tree = busybox_tree(deb, tmp)
    return tree, nixcmd.nar_hash(tree)


def ensure(pin: DebPin, nar_hash: str, url: str, cache: Path, store: str | None = None) -> None:
    """Make sure the seeded busybox (named by ``nar_hash``) is in the store: there already,
    substituted from a binary cache, or extracted from the pinned .deb (downloaded if needed)."""
    marker = cache / "seeded" / (nar_hash + (store or "").replace("/", "_"))
    if marker.exists() and nixcmd.is_valid(marker.read_text(), store):
        return
    if nixcmd.substitute(nixcmd.fixed_path("busybox", nar_hash), store):
        return
    tree, got = prepare(pin, url, cache)
    if got != nar_hash:
        raise BuildError(f"busybox extracted from {pin.filename} has NAR hash {got}, the lock says {nar_hash}",
                         fix="re-lock with `nixbuild lock --update`")
    try:
        path = nixcmd.add_fixed_recursive(tree, store)
    finally:
        discard(tree)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(path)


def discard(tree: Path) -> None:
    """Remove a tree made by :func:`prepare` (its files are read-only)."""
    for path in [tree, *tree.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    shutil.rmtree(tree.parent)
