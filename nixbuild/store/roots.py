"""The GC roots nixbuild makes, recorded so that ``nixbuild gc`` can tell them from anyone else's.

Each build of an image is held by two roots: the out-link ``.nixbuild/<image>`` beside the
app (the latest build; nix-build makes it, or the one-file edit) and a history root under
``<cache>/roots/<app key>/`` made here, which keeps that build (as Docker keeps old images)
until ``nixbuild gc`` finds that no current lock's image needs it. The app's path is written
beside its roots, so gc can tell when the app's folder is gone. Nothing outside this folder
and the ``.nixbuild`` out-links is ever treated as nixbuild's.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from nixbuild.local.nar import nix_base32
from nixbuild.store import validity

if TYPE_CHECKING:
    from nixbuild.store.root_records import RootRecord


GC_ROOTS_AUTO = Path(validity.STATE_DIR) / "gcroots" / "auto"


def roots_dir(cache_dir: Path) -> Path:
    return cache_dir / "roots"


def app_dir(cache_dir: Path, app: Path) -> Path:
    """The folder of one app's roots, named by the app's absolute path."""
    key = hashlib.sha256(str(app).encode()).hexdigest()[:16]
    return roots_dir(cache_dir) / key


def record(cache_dir: Path, app: Path, image: str, store_path: Path | str, manifest_digest: str, spec: Path | str,
           nix_store: str = "nix-store") -> Path:
    """Keep ``store_path`` by a history root of ``app``'s image ``image``; returns the root link.
    Standard library only (the one-file edit, nixbuild/local/edit.py, records its images too):
    the records are written as plain JSON and read back through root_records' models."""
    folder = app_dir(cache_dir, app)
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "app.json"
    if not meta.exists():
        _write(meta, {"app": str(app)})
    link = folder / f"{image}-{Path(store_path).name[:32]}"
    if not link.is_symlink():
        add_indirect_root(link, str(store_path), nix_store)
    _write(link.with_name(link.name + ".json"),
           {"app": str(app), "image": image, "store_path": str(store_path), "manifest_digest": manifest_digest,
            "spec": str(spec)})
    return link


def forget(link: Path) -> None:
    """Remove a history root that ``record`` made, and its record."""
    link.unlink(missing_ok=True)
    link.with_name(link.name + ".json").unlink(missing_ok=True)


def direct_roots() -> bool:
    """Whether roots can be written here, without nix-store (see add_indirect_root)."""
    return validity.default_store() and os.access(GC_ROOTS_AUTO, os.W_OK)


def add_indirect_root(link: Path, store_path: str, nix_store: str = "nix-store") -> None:
    """``link`` -> ``store_path``, an indirect root: Nix keeps the path while the link exists
    and points at it. What ``nix-store --realise PATH --add-root LINK --indirect`` does (Nix's
    ``addPermRoot``): the link, then one in gcroots/auto to it, named by the SHA-1 of its path
    as Nix names it, so Nix's own add-root of that link finds it. Written here when that folder
    is writable (the default store of a single-user or root install), which takes no process
    and needs no valid path yet (the one-file edit roots an image before importing it); else
    by nix-store."""
    if not direct_roots():
        subprocess.run([nix_store, "--realise", store_path, "--add-root", str(link), "--indirect"],
                       capture_output=True, text=True, check=True)
        return
    link = Path(os.path.abspath(link))
    _symlink(link, store_path)
    _symlink(GC_ROOTS_AUTO / nix_base32(hashlib.sha1(str(link).encode()).digest()), str(link))


def _symlink(link: Path, target: str) -> None:
    """``link`` -> ``target``, replacing what was there in one rename."""
    partial = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    partial.unlink(missing_ok=True)
    os.symlink(target, partial)
    os.replace(partial, link)


def _write(path: Path, fields: dict[str, str]) -> None:
    """One record, replaced in one rename."""
    fd, partial = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    with os.fdopen(fd, "w") as stream:
        json.dump(fields, stream, separators=(",", ":"))
    os.chmod(partial, 0o644)
    os.replace(partial, path)


def history(cache_dir: Path) -> dict[Path, list[tuple[Path, RootRecord]]]:
    """Every recorded app file and its history roots (link, record)."""
    from nixbuild.store.root_records import AppRecord, RootRecord

    found: dict[Path, list[tuple[Path, RootRecord]]] = {}
    base = roots_dir(cache_dir)
    if not base.is_dir():
        return found
    for folder in sorted(base.iterdir()):
        meta = folder / "app.json"
        if not meta.exists():
            continue
        app = Path(AppRecord.model_validate_json(meta.read_text()).app)
        entries = found.setdefault(app, [])
        for info in sorted(folder.glob("*.json")):
            if info.name != "app.json":
                entries.append((info.with_suffix(""), RootRecord.model_validate_json(info.read_text())))
    return found
