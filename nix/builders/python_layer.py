"""Builder: the layer of a python-build-standalone Python (debian_slim of a series Debian
does not ship; Modal's add_python).

The archive is an ``install_only`` build: one top folder ``python/`` holding ``bin``,
``include``, ``lib`` and ``share``. As Modal's ``COPY /python/. /usr/local``, its contents
become ``/usr/local/...``. Left out: the pip the archive bundles (``lib/pythonX.Y/site-packages/
pip*``, ``bin/pip*``), because the next layer installs the pinned current pip, as
``pip install --upgrade pip`` would replace it; the installer would refuse to write over it.

Every member keeps its type, permission bits and link target; owners become root, times the
epoch (layertar's rules). Directories below the top level are entries of their own, so empty
ones survive; /usr/local and its first-level folders are not, so they keep the base's owner and
mode. Regular files are copied out of the archive once (into the build's temporary folder) and streamed into the layer from there.

Input: ``$layerSpecPath`` (JSON: archive (the .tar.gz), createdBy, epoch). Output in
``$out``: ``layer.tar.gz`` and ``layer.json``.
"""

from __future__ import annotations

import os
import re
import tarfile

from layertar import Entry, run_builder, write_layer_dir

TOP = "python/"
PREFIX = "usr/local/"
BUNDLED_PIP = re.compile(r"^(lib/python[^/]+/site-packages/pip(-[^/]*\.dist-info)?(/|$)|bin/pip[0-9.]*$)")


def _member_path(name: str) -> str | None:
    """The image path of an archive member (None: not part of the layer)."""
    name = name.removeprefix("./")
    if not name.startswith(TOP):
        return None
    rest = name[len(TOP):].rstrip("/")
    if not rest or BUNDLED_PIP.match(rest):
        return None
    if "/" not in rest and not rest.startswith(("bin", "include", "lib", "share")):
        return None
    return PREFIX + rest


def build(spec: dict, out: str) -> None:
    archive = spec["archive"]
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), "standalone")
    entries: dict[str, Entry] = {}
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar:
            path = _member_path(member.name)
            if path is None or (member.isdir() and path.count("/") < 3):
                continue  # usr/local/<top>: the base's own folders keep their owner and mode
            info = tarfile.TarInfo(path)
            info.mode, info.uid, info.gid = member.mode & 0o7777, 0, 0
            if member.isdir():
                info.type = tarfile.DIRTYPE
                entries[path] = Entry(info)
            elif member.issym():
                info.type, info.linkname = tarfile.SYMTYPE, member.linkname
                entries[path] = Entry(info)
            elif member.islnk():
                target = _member_path(member.linkname)
                if target is None:
                    raise SystemExit(f"nixbuild: {member.name} links to {member.linkname}, outside the layer")
                info.type, info.linkname = tarfile.LNKTYPE, target
                entries[path] = Entry(info)
            elif member.isfile():
                source = os.path.join(work, path)
                os.makedirs(os.path.dirname(source), exist_ok=True)
                with tar.extractfile(member) as data, open(source, "wb") as f:
                    while chunk := data.read(1 << 20):
                        f.write(chunk)
                info.type, info.size = tarfile.REGTYPE, member.size
                entries[path] = Entry(info, source=source)
            else:
                raise SystemExit(f"nixbuild: {member.name} is neither a file, a folder nor a link")
    write_layer_dir(entries, out, spec)


if __name__ == "__main__":
    run_builder(build)
