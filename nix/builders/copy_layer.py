"""Builder: ``COPY --from``: paths out of another chain's filesystem as a layer.

Passes:
1. Unpack that chain's layers (``lower``) in order, honouring whiteouts, into a scratch folder
   (run_layer.scratch) with run_layer's unpacker, which keeps each path's tar header (mode, type, link target).
2. For each source (an absolute image path; a symlink on the way, or the source itself, is
   followed inside the root, as Docker resolves it): a file goes to ``dest`` (or into it with
   ``intoDir``); a directory's contents go into ``dest``, each entry keeping its type, permission
   bits and link target; a hard link inside a copied tree stays one.
3. Owners are root (uid/gid 0), as Docker's COPY without ``--chown``; mtimes the epoch. Like
   file_layer.py, no entry is written for ``dest``'s parents that exist below: only the copied
   paths (with a directory entry for a copied directory itself and what it holds).

Input: ``$layerSpecPath`` (JSON: lower, sources, dest, intoDir, createdBy, epoch). Output in
``$out``: ``layer.tar.gz`` and ``layer.json``.
"""

from __future__ import annotations

import os
import posixpath
import sys
import tarfile

from layertar import Entry, directory, from_file, run_builder, symlink, write_layer_dir
from run_layer import unpacked

if os.environ.get("sharedModules"):
    sys.path.insert(0, os.environ["sharedModules"])
import rootfs  # noqa: E402

PERMISSIONS = 0o7777


def _entry(path: str, source: str, info: tarfile.TarInfo | None, seen: dict[tuple[int, int], str]) -> Entry:
    """The entry for image path ``path`` of the copied file at ``source`` (host path)."""
    st = os.lstat(source)
    mode = (info.mode if info is not None else st.st_mode) & PERMISSIONS
    if os.path.islink(source):
        return symlink(path, os.readlink(source))
    if os.path.isdir(source):
        return directory(path, mode)
    key = (st.st_dev, st.st_ino)
    if st.st_nlink > 1 and key in seen:  # a hard link of a file copied already
        entry = Entry(tarfile.TarInfo(path))
        entry.info.type, entry.info.linkname = tarfile.LNKTYPE, seen[key]
        return entry
    seen[key] = path
    return from_file(path, source, mode)


def build(spec: dict, out: str) -> None:
    root, headers = unpacked(spec["lower"], spec["epoch"])
    dest = spec["dest"].lstrip("/")
    entries: dict[str, Entry] = {}
    seen: dict[tuple[int, int], str] = {}
    for source in spec["sources"]:
        found = rootfs.resolve_in_root(root, source)
        if not os.path.lexists(found):
            sys.exit(f"nixbuild: COPY --from: {source} does not exist in the image it copies from")
        name = rootfs.relative(root, found)
        if not os.path.isdir(found):
            target = posixpath.join(dest, posixpath.basename(source)) if spec["intoDir"] else dest
            entries[target] = _entry(target, found, headers.get(name), seen)
            continue
        for top, dirs, files in os.walk(found):
            dirs.sort()
            rel = os.path.relpath(top, found)
            here = dest if rel == "." else posixpath.join(dest, rel)
            if here:
                entries[here] = _entry(here, top, headers.get(rootfs.relative(root, top)), seen)
            for item in sorted(files) + [d for d in dirs if os.path.islink(os.path.join(top, d))]:
                path = posixpath.join(here, item)
                host = os.path.join(top, item)
                entries[path] = _entry(path, host, headers.get(rootfs.relative(root, host)), seen)
    write_layer_dir(entries, out, spec)


if __name__ == "__main__":
    run_builder(build)
