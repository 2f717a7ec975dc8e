"""The pinned files a build needs, downloaded by the CLI in parallel and added to the store in one call.

Nix fetches every pinned file itself (nix/fetch.nix ``fetchFile``: ``builtin:fetchurl``), one
derivation each. Each fetch takes one of ``max-jobs`` build slots, about as many as the
cores (nixcmd.max_jobs), so on a 2-core machine the ~200 .debs and wheels of a cold debian_slim build
were fetched two at a time, ~10 s of a build whose bytes come from a nearby mirror in ~2 s.

Before nix-build, :func:`prefetch` puts into the store every file the spec names
(``{url, sha256, name}``, fetchFile's arguments) that is not there yet: downloaded
:data:`PARALLEL` at a time over kept-alive connections, checked against the sha256, and added with one ``nix-store
--add-fixed sha256 FILE...``, which yields the very path the fixed-output derivation names
(its output is named by its hash), so Nix has nothing left to fetch. The derivations stay the
definition: a flake user's ``nix build`` fetches them as before.

Best effort: a file that cannot be downloaded here is left to Nix, whose failure is explained
as it was (nixbuild/store/pinned_debs.py fetches what the mirror dropped from elsewhere). When
a binary cache is configured nothing is prefetched: the cache may hold the layers themselves,
which need none of these files, and Nix asks it first for the files too.
"""

from __future__ import annotations

import hashlib
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pydantic import BaseModel

from nixbuild.debian.fetch import Connections
from nixbuild.errors import BuildError, MirrorError
from nixbuild.sizes import human_size
from nixbuild.store import validity
from nixbuild.store.pinned_debs import flat_path
from nixbuild.tools import nixcmd, substituters

# Downloads at a time, each thread over its own kept-alive connections (debian/fetch.py).
PARALLEL = 4


class PinnedFile(BaseModel, frozen=True):
    """A file nix/fetch.nix ``fetchFile`` fetches: its URL, sha256 (hex) and store name."""

    url: str
    sha256: str
    name: str

    @property
    def store_path(self) -> str:
        return flat_path(nixcmd.store_name(self.name), self.sha256)


def pinned_files(spec: dict | list) -> Iterator[PinnedFile]:
    """Every ``{url, sha256, name}`` in a spec (nix/default.nix's inline spec names the pinned
    files so wherever they are: .debs, wheels, sdists, archives, conda packages, tools)."""
    if isinstance(spec, dict):
        if {"url", "sha256", "name"} <= spec.keys() and all(
                isinstance(spec[k], str) for k in ("url", "sha256", "name")):
            yield PinnedFile(url=spec["url"], sha256=spec["sha256"], name=spec["name"])
            return
        values = spec.values()
    elif isinstance(spec, list):
        values = spec
    else:
        return
    for value in values:
        yield from pinned_files(value)


def missing(paths: list[str], store: str | None = None) -> set[str]:
    """Which of ``paths`` are not valid in the store (one ``nix-store --check-validity``; none
    at all when Nix's database, read in-process, has them all: every rebuild after the first)."""
    if store is None and validity.valid(paths, nixcmd.require("nix-store", "nix-bin")):
        return set()
    invalid: set[str] = set()
    for start in range(0, len(paths), nixcmd.ARGS_AT_ONCE):
        cmd = [nixcmd.require("nix-store", "nix-bin"), "--check-validity", "--print-invalid",
               *paths[start:start + nixcmd.ARGS_AT_ONCE], *(["--store", store] if store else [])]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise BuildError(f"nix-store --check-validity failed: {proc.stderr.strip()}")
        invalid.update(proc.stdout.split())
    return invalid


def prefetch(specs: list[dict], cache_dir: Path, store: str | None = None,
             sizes: dict[str, int] | None = None, progress: Callable[[str], None] = lambda _m: None) -> int:
    """Put the pinned files of ``specs`` that are not in the store there (see the module
    docstring); returns how many were added. ``sizes`` (by store name, the lock's) make the
    progress line say how much is downloaded."""
    files = {f.store_path: f for spec in specs for f in pinned_files(spec)}
    wanted = [files[path] for path in sorted(missing(sorted(files), store))]
    if not wanted or substituters.caches().substituters:
        return 0
    total = sum((sizes or {}).get(nixcmd.store_name(f.name), 0) for f in wanted)
    progress(f"downloading {len(wanted)} pinned file{'s' if len(wanted) != 1 else ''}"
             + (f" ({human_size(total)})" if total else ""))
    scratch = cache_dir / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="prefetch-", dir=scratch) as tmp:
        connections = threading.local()
        opened: list[Connections] = []

        def download(pinned: PinnedFile) -> Path | None:
            if not hasattr(connections, "here"):
                connections.here = Connections()
                opened.append(connections.here)
            try:
                data = connections.here.get(pinned.url)
            except MirrorError:
                return None  # Nix tries it, and its failure is explained as before
            if hashlib.sha256(data).hexdigest() != pinned.sha256:
                return None  # the same: Nix reports the mismatch against the lock
            # A folder per store path: two pins may share a file name or its bytes.
            dest = Path(tmp) / Path(pinned.store_path).name[:32] / nixcmd.store_name(pinned.name)
            dest.parent.mkdir()
            dest.write_bytes(data)
            return dest

        with ThreadPoolExecutor(PARALLEL) as pool:
            got = [path for path in pool.map(download, wanted) if path is not None]
        for each in opened:
            each.close()
        nixcmd.add_fixed_files(got, store)
    return len(got)
