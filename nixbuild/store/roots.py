"""The GC roots nixbuild makes, recorded so that ``nixbuild gc`` can tell them from anyone else's.

Each build of an image is held by two roots: the out-link ``.nixbuild/<image>`` beside the
app (the latest build; nix-build makes it) and a history root under
``<cache>/roots/<app key>/`` made here, which keeps that build (as Docker keeps old images)
until ``nixbuild gc`` finds that no current lock's image needs it. The app's path is written
beside its roots, so gc can tell when the app's folder is gone. Nothing outside this folder
and the ``.nixbuild`` out-links is ever treated as nixbuild's.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from pydantic import BaseModel

from nixbuild.lock import write_atomic
from nixbuild.tools import nixcmd


class RootRecord(BaseModel):
    """One history root: which app and image it was built for, and what it holds."""

    app: str
    image: str
    store_path: str
    manifest_digest: str
    spec: str  # the spec file in the cache that it was built from


class AppRecord(BaseModel):
    app: str


def roots_dir(cache_dir: Path) -> Path:
    return cache_dir / "roots"


def app_dir(cache_dir: Path, app: Path) -> Path:
    """The folder of one app's roots, named by the app's absolute path."""
    key = hashlib.sha256(str(app).encode()).hexdigest()[:16]
    return roots_dir(cache_dir) / key


def record(cache_dir: Path, app: Path, image: str, store_path: Path, manifest_digest: str, spec: Path) -> Path:
    """Keep ``store_path`` by a history root of ``app``'s image ``image``; returns the root link."""
    folder = app_dir(cache_dir, app)
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / "app.json"
    if not meta.exists():
        write_atomic(meta, AppRecord(app=str(app)).model_dump_json())
    link = folder / f"{image}-{Path(store_path).name[:32]}"
    if not link.is_symlink():
        # An indirect root: Nix keeps store_path while the link exists and points at it.
        subprocess.run([nixcmd.require("nix-store", "nix-bin"), "--realise", str(store_path),
                        "--add-root", str(link), "--indirect"], capture_output=True, text=True, check=True)
    entry = RootRecord(app=str(app), image=image, store_path=str(store_path),
                       manifest_digest=manifest_digest, spec=str(spec))
    write_atomic(link.with_name(link.name + ".json"), entry.model_dump_json())
    return link


def history(cache_dir: Path) -> dict[Path, list[tuple[Path, RootRecord]]]:
    """Every recorded app file and its history roots (link, record)."""
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
