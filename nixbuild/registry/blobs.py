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
from nixbuild.tools import nixcmd


def store_name(digest: str) -> str:
    return f"oci-blob-{digest.removeprefix('sha256:')}"


def store_path(digest: str) -> str:
    return nixcmd.fixed_path(store_name(digest), digest.removeprefix("sha256:"), recursive=False)


def ensure(step: FromRegistry, pinned: RegistryPin, cache_dir: Path, where: str, store: str | None = None) -> None:
    """Put every layer blob of ``pinned`` into the store (``store``: a chroot store, or None)."""
    missing = [layer.digest for layer in pinned.layers
               if not nixcmd.substitute(store_path(layer.digest), store)]
    if not missing:
        return
    folder = cache_folder(cache_dir)
    if not all((folder / d.removeprefix("sha256:")).exists() for d in missing):
        ref = pinned.ref
        with creds.skopeo_options(creds.of_step(step, where), ref.host) as auth:
            pull(ref, pinned.manifest, missing, auth, cache_dir)
    for digest in missing:
        _add(folder / digest.removeprefix("sha256:"), digest, store)


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
