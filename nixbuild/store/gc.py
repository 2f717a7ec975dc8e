"""``nixbuild gc``: see and reclaim the space nixbuild's own builds hold.

What nixbuild roots (store/roots.py): the out-links ``.nixbuild/<image>`` beside each app and
one history root per build. An app's *current* images are what its out-links point at, for the
images its lock names. gc removes every other root of nixbuild's: older builds of an app,
out-links of images the lock no longer has, and all roots of an app whose file is gone. It then
deletes exactly the store paths those roots held (their closure, and the derivations and
sources they were built from) that nothing else reaches: candidates are intersected with
``nix-store --gc --print-dead`` after the roots are gone, so a user's own roots and anything
they reach are never touched. The cache entries made for removed builds (their spec, and the
root filesystem ``nixbuild run`` unpacked for them) go too; downloads stay, so building the
current app again downloads nothing and rebuilds nothing.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from nixbuild.errors import LockError
from nixbuild.lock import read_lock
from nixbuild.oci import rootfs
from nixbuild.store.root_records import RootRecord
from nixbuild.store.roots import app_dir, forget, history, roots_dir
from nixbuild.tools import nixcmd


class AppUsage(BaseModel):
    """The df line of one app: its roots and the bytes their closure holds in the store."""

    app: str
    exists: bool
    roots: int
    store_bytes: int


class GcReport(BaseModel):
    dry_run: bool
    freed_bytes: int  # store paths deleted (or, with dry_run, that would be)
    removed_roots: list[str]
    deleted_paths: list[str]
    removed_cache: list[str]
    apps: list[AppUsage]  # before gc
    cache_bytes: int  # nixbuild's cache folder (downloads, indexes, unpacked images), before gc


def _nix_store(*args: str, check: bool = True) -> list[str]:
    proc = subprocess.run([nixcmd.require("nix-store", "nix-bin"), *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise nixcmd.BuildError(f"nix-store {' '.join(args[:2])} failed: {proc.stderr.strip()[-2000:]}")
    return proc.stdout.split()


def _valid(paths: Iterable[str]) -> list[str]:
    return [p for p in sorted(set(paths)) if nixcmd.is_valid(p)]


def closure(paths: Iterable[str]) -> set[str]:
    valid = _valid(paths)
    return set(_nix_store("--query", "--requisites", *valid)) if valid else set()


def size_of(paths: Iterable[str]) -> dict[str, int]:
    """Each valid path's NAR size in bytes."""
    valid = _valid(paths)
    return dict(zip(valid, map(int, _nix_store("--query", "--size", *valid)))) if valid else {}


def sizes(paths: Iterable[str]) -> int:
    return sum(size_of(paths).values())


def _roots_except(links: set[str]) -> set[str]:
    """The targets of every GC root on this machine (``LINK -> TARGET``) but ``links``."""
    proc = subprocess.run([nixcmd.require("nix-store", "nix-bin"), "--gc", "--print-roots"],
                          capture_output=True, text=True, check=True)
    pairs = [line.split(" -> ", 1) for line in proc.stdout.splitlines() if " -> " in line]
    return {target for link, target in pairs if link not in links and target.startswith("/nix/store/")}


def _delete(paths: list[str]) -> list[str]:
    """``nix-store --delete``; a path some build took up meanwhile stays. Returns those deleted."""
    if paths and subprocess.run([nixcmd.require("nix-store", "nix-bin"), "--delete", *paths],
                                capture_output=True).returncode != 0:
        for path in paths:  # one at a time, so one path still in use keeps only itself
            subprocess.run([nixcmd.require("nix-store", "nix-bin"), "--delete", path], capture_output=True)
    return [p for p in paths if not nixcmd.is_valid(p)]


def _derivers(paths: Iterable[str]) -> list[str]:
    valid = _valid(paths)
    found = _nix_store("--query", "--deriver", *valid) if valid else []
    return [p for p in found if p != "unknown-deriver"]


def _target(link: Path) -> str | None:
    try:
        return str(link.readlink()) if link.is_symlink() else None
    except OSError:
        return None


def _out_links(app: Path) -> dict[str, Path]:
    """The app's out-links ``.nixbuild/<image>`` (symlinks into the store), by image name."""
    folder = app.parent / ".nixbuild"
    if not folder.is_dir():
        return {}
    return {link.name: link for link in folder.iterdir()
            if (target := _target(link)) is not None and target.startswith("/nix/store/")}


def _lock_images(app: Path) -> set[str] | None:
    """The images the app's lock names (None: no readable lock, so every out-link is kept)."""
    try:
        lock = read_lock(app.parent / "nixbuild.lock")
    except (LockError, OSError, ValueError):
        return None
    return None if lock is None else set(lock.images)


def _tree_bytes(folder: Path) -> int:
    if not folder.exists():
        return 0
    return sum(f.lstat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def collect(cache_dir: Path, app: Path | None = None, *, dry_run: bool = False) -> GcReport:
    """Remove nixbuild's roots that no current image needs (only ``app``'s, when given), then
    the store paths and cache entries only they held."""
    recorded = history(cache_dir)
    if app is not None:
        recorded = {app: recorded.get(app, [])}
    apps: list[AppUsage] = []
    removed_links: list[Path] = []
    removed_targets: set[str] = set()
    kept: list[RootRecord] = []
    for path, roots in recorded.items():
        exists = path.is_file()
        links = _out_links(path) if exists else {}
        images = _lock_images(path) if exists else set()
        current = {name: link for name, link in links.items() if images is None or name in images}
        removed_links += [link for name, link in links.items() if name not in current]
        current_targets = {_target(link) for link in current.values()}
        for link, entry in roots:
            if entry.store_path in current_targets:
                kept.append(entry)
            else:
                removed_links.append(link)
                removed_targets.add(entry.store_path)
        removed_targets |= {t for name, link in links.items() if name not in current if (t := _target(link))}
        targets = {entry.store_path for _link, entry in roots} | {t for t in current_targets if t}
        apps.append(AppUsage(app=str(path), exists=exists, roots=len(roots) + len(links),
                             store_bytes=sizes(closure(targets))))
    kept_targets = {entry.store_path for entry in kept}
    removed_targets -= kept_targets
    candidates = closure(removed_targets) | closure(_derivers(removed_targets))
    cache_bytes = _tree_bytes(cache_dir) - _tree_bytes(roots_dir(cache_dir))

    removed_cache = _stale_cache(cache_dir, recorded, kept)
    if dry_run:
        reached = closure(_roots_except({str(link) for link in removed_links}))
        doomed = sorted(candidates - reached - kept_targets)
    else:
        for link in removed_links:
            forget(link)
        for path in recorded:
            if not path.is_file():
                rootfs.discard(app_dir(cache_dir, path))
        for entry in removed_cache:
            rootfs.discard(Path(entry)) if Path(entry).is_dir() else Path(entry).unlink(missing_ok=True)
        dead = set(_nix_store("--gc", "--print-dead"))
        doomed = sorted(candidates & dead)
    bytes_of = size_of(doomed)
    if not dry_run:
        doomed = _delete(doomed)
    freed = sum(bytes_of.get(p, 0) for p in doomed)
    return GcReport(dry_run=dry_run, freed_bytes=freed, removed_roots=sorted(map(str, removed_links)),
                    deleted_paths=doomed, removed_cache=removed_cache, apps=apps, cache_bytes=cache_bytes)


def _stale_cache(cache_dir: Path, recorded: dict[Path, list[tuple[Path, RootRecord]]],
                 kept: list[RootRecord]) -> list[str]:
    """Cache entries made for removed builds only: their spec and their unpacked root fs."""
    keep_specs = {entry.spec for entry in kept}
    keep_digests = {entry.manifest_digest for entry in kept}
    stale = set()
    for roots in recorded.values():
        for _link, entry in roots:
            if entry.spec not in keep_specs and Path(entry.spec).exists():
                stale.add(entry.spec)
            unpacked = cache_dir / "rootfs" / entry.manifest_digest.replace(":", "-")
            if entry.manifest_digest not in keep_digests and unpacked.exists():
                stale.add(str(unpacked))
    return sorted(stale)
