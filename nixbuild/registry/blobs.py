"""Build time: every blob of a pinned registry base in the Nix store.

The Nix library names each layer blob as a flat sha256 fixed-output path (``fetch.fetchFile``
with the blob's digest as its hash and :func:`store_name` as its name), so a store that has
the path needs nothing else, and a path made here with ``nix-store --add-fixed sha256`` is
the same one. Where a missing blob comes from, in order: nixbuild's cache (the lock run pulled
it there), then the registry, by digest (``NAME@manifest``, never the tag), with the step's
credentials. An unchanged lock therefore builds without the registry while the cache holds
the blobs, and pulls exactly the pinned bytes when it does not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from nixbuild.api.steps import FromRegistry
from nixbuild.errors import BuildError
from nixbuild.registry import credentials as creds
from nixbuild.registry.pin import RegistryPin, cache_folder, pull
from nixbuild.store.pinned_debs import flat_path
from nixbuild.tools import nixcmd


def store_name(digest: str) -> str:
    return f"oci-blob-{digest.removeprefix('sha256:')}"


def store_path(digest: str) -> str:
    return flat_path(store_name(digest), digest.removeprefix("sha256:"))


def cached(step: FromRegistry, pinned: RegistryPin, digests: list[str], cache_dir: Path, where: str) -> dict[str, Path]:
    """The blobs ``digests`` of ``pinned`` in nixbuild's cache, pulled by digest if missing."""
    folder = cache_folder(cache_dir)
    have = {d: folder / d.removeprefix("sha256:") for d in digests}
    if not all(path.exists() for path in have.values()):
        ref = pinned.ref
        with creds.skopeo_options(creds.of_step(step, where), ref.host) as auth:
            pull(ref, pinned.manifest, digests, auth, cache_dir)
    return have


def ensure(step: FromRegistry, pinned: RegistryPin, cache_dir: Path, where: str, store: str | None = None) -> None:
    """Put every layer blob of ``pinned`` into the store (``store``: a chroot store, or None)."""
    missing = [layer.digest for layer in pinned.layers
               if not nixcmd.substitute(store_path(layer.digest), store)]
    for digest, blob in (cached(step, pinned, missing, cache_dir, where) if missing else {}).items():
        _add(blob, digest, store)


def _add(blob: Path, digest: str, store: str | None) -> None:
    """``nix-store --add-fixed sha256`` of the blob under its store name (a hard link when the
    cache and the temporary folder share a file system, else a copy)."""
    with tempfile.TemporaryDirectory(prefix="blob-", dir=blob.parent.parent) as tmp:
        named = Path(tmp) / store_name(digest)
        try:
            os.link(blob, named)
        except OSError:
            shutil.copyfile(blob, named)
        path = nixcmd.add_fixed(named, store)
    if path != store_path(digest):
        raise BuildError(f"the registry blob {digest} went into the store as {path}, not {store_path(digest)}",
                         fix="delete it from nixbuild's cache (registry/blobs) and build again")
