"""Local files of an image (add_local_*), as trees in the Nix store.

Each local-files step becomes one tree, laid out as the files sit in the image
(``app/main.py`` for ``/app/main.py``), named in the spec only by its NAR hash: the Nix
library reads it as a recursive fixed-output path that the CLI seeds with
``nix-store --add-fixed``, so the expression stays pure and a consumer flake names the same
path. The NAR hash comes from a stat-keyed cache, so a build of an unchanged tree reads no
file, and the tree is only copied when its path is not in the store yet.

For a flake (``nixbuild plan --flake-root``), :func:`relative_sources` also names each file
of the tree by its path relative to the flake's root: Nix then lays the same tree out from
the flake's own source when the path is not in the store (nix/local-tree.nix), checked
against the same NAR hash.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nixbuild import noop
from nixbuild.tools import nixcmd
from nixbuild.errors import BuildError, InvalidError
from nixbuild.local.files import LocalFile, files_for_step
from nixbuild.local.nar import cached_nar_hash, fixed_output_path, lost_modes, materialise

TREE_NAME = "local-files"  # identical trees of two steps or images share one store path


@dataclass(frozen=True)
class LocalTree:
    name: str
    nar_hash: str
    files: tuple[LocalFile, ...]
    # Permission bits a NAR cannot carry (only "executable" survives), by path in the tree.
    modes: dict[str, int] = field(default_factory=dict)

    @property
    def store_path(self) -> str:
        return fixed_output_path(self.name, self.nar_hash)


def tree_of(step, *, cwd: Path, where: str, cache_dir: Path) -> LocalTree:
    files = tuple(files_for_step(step, cwd=cwd, where=where))
    modes = lost_modes((f.remote.lstrip("/"), f.mode) for f in files)
    with noop.unwatched():  # read to be hashed, not to define the image: see noop.unwatched
        nar_hash = cached_nar_hash(list(files), cache_dir)
    return LocalTree(name=TREE_NAME, nar_hash=nar_hash, files=files, modes=modes)


def ensure(tree: LocalTree, cache_dir: Path, store: str | None = None) -> None:
    """Put ``tree`` into the store unless its path is there already."""
    if nixcmd.is_valid(tree.store_path, store):
        return
    staging = Path(tempfile.mkdtemp(prefix="local-", dir=cache_dir))
    try:
        with noop.unwatched():  # copied, as hashed: see noop.unwatched
            materialise(list(tree.files), staging / tree.name)
        path = nixcmd.add_fixed_recursive(staging / tree.name, store)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if path != tree.store_path:
        # A file changed between hashing and copying: the spec would name the wrong tree.
        raise BuildError(f"local files changed while they were being imported ({path} != {tree.store_path})",
                         fix="run the build again")


@dataclass(frozen=True)
class RelativeSource:
    """One file of a tree named for a flake: ``src`` relative to the flake's root, ``dest``
    its path inside the tree, ``executable`` the only permission bit a NAR keeps."""

    src: str
    dest: str
    executable: bool


def relative_sources(tree: LocalTree, root: Path) -> list[RelativeSource]:
    """Every file of ``tree`` named relative to ``root`` (sources are symlink-resolved, so a
    followed link names its target). A file outside ``root`` cannot be part of the flake."""
    base = root.resolve()
    sources = []
    for file in tree.files:
        if not file.source.is_relative_to(base):
            raise InvalidError(f"local file {file.source} (for {file.remote}) is outside the flake root {base}",
                               fix="move it into the flake's folder or pass a --flake-root that holds it")
        sources.append(RelativeSource(src=file.source.relative_to(base).as_posix(), dest=file.remote.lstrip("/"),
                                      executable=bool(file.mode & 0o111)))
    return sources
