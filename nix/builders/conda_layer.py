"""Builder: a layer of conda packages linked into a prefix, as micromamba links them.

For each pinned package, in dependency order (what ``micromamba install`` does after the
solve, less the download, which Nix did as fixed-output derivations):

1. Extract it. A ``.tar.bz2`` is one bzip2 tar; a ``.conda`` is a zip holding
   ``info-<stem>.tar.zst`` and ``pkg-<stem>.tar.zst``, decompressed by Debian's ``zstd`` from
   its pinned .debs (the lock's ``tools``; zstdtool.py).
2. Place every file ``info/paths.json`` lists (older packages: ``info/files`` and
   ``info/has_prefix``) under the prefix. A file recorded with a ``prefix_placeholder`` has it
   replaced by the prefix: in ``text`` mode everywhere; in ``binary`` mode inside each
   NUL-terminated string, padded with NULs to the same length (conda's ``binary_replace``; a
   prefix longer than the placeholder is an error, as in conda).
3. noarch:python packages: ``site-packages/`` goes to ``lib/pythonX.Y/site-packages/`` (X.Y:
   the environment's Python), ``python-scripts/`` to ``bin/``, and each entry point of
   ``info/link.json`` becomes a ``bin/`` script with conda's template and a ``#!PREFIX/bin/python``
   line. (micromamba also byte-compiles them; here Python compiles on first import.)
4. Record it in ``conda-meta/<name>-<version>-<build>.json``: its ``index.json`` fields, where
   it came from (the channel as named in the lock, ``<channel>/<subdir>/<file>`` as its url,
   sha256, size), the files and ``paths_data`` as linked.

Input: ``$layerSpecPath`` (JSON: prefix, pythonSeries (or null), tools (the zstd .debs),
packages = [ { path, channel, subdir, filename, sha256, size, requested } ], createdBy, epoch).
Output in ``$out``: ``layer.tar.gz`` and ``layer.json``.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile
import zipfile

from layertar import Entry, directory, regular, run_builder, symlink, write_layer_dir
from zstdtool import Zstd

ENTRY_POINT = """\
# -*- coding: utf-8 -*-
import re
import sys

from {module} import {func}

if __name__ == '__main__':
    sys.argv[0] = re.sub(r'(-script\\.pyw?|\\.exe)?$', '', sys.argv[0])
    sys.exit({call}())
"""


def read_package(path: str, filename: str, zstd: Zstd) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    """Every member of a package: path -> (tar header, bytes of a regular file)."""
    if filename.endswith(".tar.bz2"):
        tars = [tarfile.open(path, "r:bz2")]
    elif filename.endswith(".conda"):
        with zipfile.ZipFile(path) as z:
            parts = [n for n in z.namelist() if n.endswith(".tar.zst") and n.startswith(("info-", "pkg-"))]
            tars = [tarfile.open(fileobj=io.BytesIO(zstd.decompress(z.read(n)))) for n in sorted(parts)]
    else:
        raise SystemExit(f"nixbuild: {filename} is neither a .conda nor a .tar.bz2 package")
    members = {}
    for tar in tars:
        with tar:
            for info in tar:
                name = info.name.removeprefix("./")
                # A hard link inside the package becomes a copy of its target's bytes.
                members[name] = (info, tar.extractfile(info).read() if info.isfile() or info.islnk() else None)
    return members


def paths_of(members: dict) -> list[dict]:
    """``info/paths.json``'s entries (older packages: built from info/files and info/has_prefix)."""
    if "info/paths.json" in members:
        return json.loads(members["info/paths.json"][1])["paths"]
    has_prefix = {}
    for line in (members.get("info/has_prefix", (None, b""))[1] or b"").decode().splitlines():
        parts = line.split()  # "placeholder mode path" (a lone path: the default placeholder, text)
        if len(parts) == 3:
            has_prefix[parts[2]] = (parts[0], parts[1])
        elif len(parts) == 1:
            has_prefix[parts[0]] = ("/opt/anaconda1anaconda2anaconda3", "text")
    paths = []
    for path in (members.get("info/files", (None, b""))[1] or b"").decode().splitlines():
        entry = {"_path": path, "path_type": "softlink" if members[path][0].issym() else "hardlink"}
        if path in has_prefix:
            entry["prefix_placeholder"], entry["file_mode"] = has_prefix[path]
        paths.append(entry)
    return paths


def replace_prefix(data: bytes, placeholder: str, prefix: str, mode: str, path: str) -> bytes:
    old, new = placeholder.encode(), prefix.encode()
    if mode == "text":
        return data.replace(old, new)
    if mode != "binary":
        raise SystemExit(f"nixbuild: {path}: unknown file_mode {mode!r} in info/paths.json")
    if len(new) > len(old):
        raise SystemExit(f"nixbuild: {path}: the prefix {prefix} is longer than the package's placeholder")

    def padded(match: re.Match) -> bytes:
        text = match.group()
        return text.replace(old, new) + b"\0" * ((len(old) - len(new)) * text.count(old))
    return re.sub(re.escape(old) + b"([^\0]*?)\0", padded, data)


def target_of(path: str, noarch_python: bool, site_packages: str | None) -> str:
    """Where a package path goes in the prefix (noarch:python: under the environment's Python)."""
    if noarch_python:
        if path.startswith("site-packages/"):
            return f"{site_packages}/{path.removeprefix('site-packages/')}"
        if path.startswith("python-scripts/"):
            return f"bin/{path.removeprefix('python-scripts/')}"
    return path


def entry_point_script(spec: str, prefix: str) -> tuple[str, bytes]:
    """``name = module:func`` as conda writes it: bin/name, run by the environment's Python."""
    name, _, target = (part.strip() for part in spec.partition("="))
    module, _, func = target.partition(":")
    text = f"#!{prefix}/bin/python\n" + ENTRY_POINT.format(module=module, func=func.split(".")[0], call=func)
    return f"bin/{name}", text.encode()


def link(package: dict, members: dict, prefix: str, python_series: str | None,
         entries: dict[str, Entry]) -> None:
    """Place one package's files into ``entries`` (paths relative to /) and write its record."""
    index = json.loads(members["info/index.json"][1])
    link_json = json.loads(members["info/link.json"][1]) if "info/link.json" in members else {}
    noarch_python = index.get("noarch") == "python" or link_json.get("noarch", {}).get("type") == "python"
    if noarch_python and python_series is None:
        raise SystemExit(f"nixbuild: {package['filename']} is a noarch:python package and the environment "
                         "has no python")
    site = f"lib/python{python_series}/site-packages"
    root = prefix.strip("/")
    linked = []
    for item in paths_of(members):
        source = item["_path"]
        info, data = members[source]
        dest = target_of(source, noarch_python, site)
        where = f"{root}/{dest}"
        _parents(where, root, entries)
        if item.get("path_type") == "directory" or info.isdir():
            entries[where] = directory(where)
        elif info.issym():
            entries[where] = symlink(where, info.linkname)
        else:
            if item.get("prefix_placeholder"):
                data = replace_prefix(data, item["prefix_placeholder"], prefix, item.get("file_mode", "text"),
                                      source)
            entries[where] = regular(where, data, mode=info.mode & 0o7777)
        linked.append({**{k: v for k, v in item.items() if k != "_path"}, "_path": dest})
    if noarch_python:
        for spec in link_json.get("noarch", {}).get("entry_points", []):
            dest, script = entry_point_script(spec, prefix)
            _parents(f"{root}/{dest}", root, entries)
            entries[f"{root}/{dest}"] = regular(f"{root}/{dest}", script, mode=0o755)
            linked.append({"_path": dest, "path_type": "unix_python_entry_point"})
    # The channel as the step named it and the file's place in it, not the configured alias's
    # URL: a mirror is configuration and must not change the image.
    url = f"{package['channel']}/{package['subdir']}/{package['filename']}"
    record = {**index, "fn": package["filename"], "url": url, "channel": package["channel"],
              "sha256": package["sha256"], "size": package["size"], "requested_spec": package["requested"],
              "files": [p["_path"] for p in linked], "paths_data": {"paths": linked, "paths_version": 1}}
    meta = f"{root}/conda-meta/{index['name']}-{index['version']}-{index['build']}.json"
    _parents(meta, root, entries)
    entries[meta] = regular(meta, (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())


def _parents(path: str, root: str, entries: dict[str, Entry]) -> None:
    """Directory entries for the folders of ``path`` from the prefix down (the prefix's own
    parents, /opt, are the base's)."""
    parts = path.split("/")
    for i in range(root.count("/") + 1, len(parts)):
        folder = "/".join(parts[:i])
        if folder not in entries:
            entries[folder] = directory(folder)


def build(spec: dict, out: str) -> None:
    zstd = Zstd.from_debs(spec["tools"], os.path.join(os.environ.get("TMPDIR", "/tmp"), "zstd"))
    entries: dict[str, Entry] = {}
    prefix = spec["prefix"]
    # conda-meta/ marks the prefix as an environment, even before a package is in it.
    _parents(f"{prefix.strip('/')}/conda-meta/", prefix.strip("/"), entries)
    for package in spec["packages"]:
        link(package, read_package(package["path"], package["filename"], zstd), prefix, spec["pythonSeries"],
             entries)
    write_layer_dir(entries, out, spec)


if __name__ == "__main__":
    run_builder(build)
