"""Reading what was built in a chroot store (``nix-build --store DIR``).

Such a store keeps ``/nix/store/X`` at ``DIR/nix/store/X``, and the links inside its outputs
(an OCI layout's blobs are links to the layer paths) still name ``/nix/store/...``. An image
built there is read through a copy of its layout whose blob links point inside ``DIR``: a
few small files and links, no layer bytes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from nixbuild.oci.layout import OciLayout


def physical(store_dir: str | Path, store_path: str | Path) -> Path:
    """Where ``/nix/store/X`` of the chroot store ``store_dir`` is on this machine."""
    return Path(store_dir) / str(store_path).lstrip("/")


def rebased_layout(layout_path: str | Path, store_dir: str | Path, into: Path) -> OciLayout:
    """A copy at ``into`` (replaced) of the layout ``layout_path`` built in ``store_dir``,
    whose blob links point inside that store."""
    if into.exists():
        shutil.rmtree(into)
    into.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(physical(store_dir, layout_path), into, symlinks=True)
    into.chmod(0o755)
    for folder in [p for p in into.rglob("*") if p.is_dir() and not p.is_symlink()]:
        folder.chmod(0o755)
    blobs = into / "blobs" / "sha256"
    for blob in blobs.iterdir():
        if blob.is_symlink():
            target = blob.readlink()
            blob.unlink()
            blob.symlink_to(physical(store_dir, target))
    return OciLayout(into)
