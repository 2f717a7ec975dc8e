"""Write an image layer as a deterministic tar, gzip it, and record its digests.

Determinism rules (the same for every layer kind):
- entries sorted by path components, so a parent directory always precedes its children;
- every mtime is SOURCE_DATE_EPOCH; owners are numeric (uname/gname empty) and come from
  the package or step metadata, never from the sandbox user;
- PAX format; gzip with an empty file name and mtime 0, deflated in parallel (pgzip.py: the
  bytes depend on the tar and the level, never on the number of threads) by the pinned zlib
  of the bootstrap Python, so the same inputs give the same bytes on every machine;
- a hard link always follows its target: if sorting would put the link first, the link is
  written as the regular file and the later target becomes the link.

The uncompressed tar is never stored: it is hashed (diff_id) while it streams into gzip.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import tarfile

from pgzip import GzipWriter


# A layer's tree: each path's tar header (layer_tree.py writes it, overlay.py reads it), and
# the record of the tar it was unpacked from (deb_layer.py, tree_layer.py).
INDEX = "index.json"
PACKED = "packed.json"


class Entry:
    """A tar entry; a regular file's bytes are ``data``, or the file at ``source`` (streamed,
    so a layer of large files never sits in memory). A plain class, not a dataclass: the CLI
    runs a builder for each edit (nixbuild/local/edit.py), and dataclasses' import of inspect
    would be most of its start."""

    def __init__(self, info: tarfile.TarInfo, data: bytes | None = None, source: str | None = None):
        self.info, self.data, self.source = info, data, source

    def open(self):
        if self.source is not None:
            return open(self.source, "rb")
        return io.BytesIO(self.data) if self.data is not None else None


def sort_key(path: str) -> tuple[str, ...]:
    return tuple(path.split("/"))


class HashingWriter(io.RawIOBase):
    """A write-only file that hashes and counts what passes through to ``sink`` (None: what
    is written is only hashed)."""

    def __init__(self, sink):
        self.sink = sink
        self.sha256 = hashlib.sha256()
        self.size = 0

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.sha256.update(b)
        self.size += len(b)
        if self.sink is not None:
            self.sink.write(b)
        return len(b)


def directory(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.uid, info.gid = tarfile.DIRTYPE, mode, uid, gid
    return Entry(info)


def regular(path: str, data: bytes, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Entry:
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.uid, info.gid, info.size = tarfile.REGTYPE, mode, uid, gid, len(data)
    return Entry(info, data)


def from_file(path: str, source: str, mode: int, uid: int = 0, gid: int = 0) -> Entry:
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.uid, info.gid = tarfile.REGTYPE, mode, uid, gid
    info.size = os.stat(source).st_size
    return Entry(info, source=source)


def symlink(path: str, target: str) -> Entry:
    info = tarfile.TarInfo(path)
    info.type, info.mode, info.linkname = tarfile.SYMTYPE, 0o777, target
    return Entry(info)


def _normalise(info: tarfile.TarInfo, path: str, epoch: int) -> tarfile.TarInfo:
    info = copy.copy(info)
    info.name = path
    info.mtime = epoch
    info.uname = info.gname = ""
    info.pax_headers = {}
    if info.isdir():
        info.size = 0
    return info


def members(entries: dict[str, Entry], epoch: int):
    """The deterministic tar's members in order: (header, the entry whose bytes follow it, or
    None). ``entries``: a path, relative with no leading slash, to its entry; hard links name
    their target by path in ``info.linkname``. run_layer.place unpacks the same members."""
    order = sorted(entries, key=sort_key)
    # Hard links whose target sorts later: swap which of the two carries the data.
    written: set[str] = set()
    swapped: dict[str, str] = {}  # target path -> path now holding the data
    for path in order:
        entry = entries[path]
        info = _normalise(entry.info, path, epoch)
        content = entry
        if info.islnk():
            target = info.linkname
            if target in swapped:
                target = swapped[target]
            if target not in written:
                source = entries.get(target)
                if source is None or not source.info.isfile():
                    raise ValueError(f"hard link {path} -> {target}: target missing")
                info = _normalise(source.info, path, epoch)
                content = source
                swapped[target] = path
            else:
                info.linkname = target
                info.size = 0
                content = None
        elif path in swapped:
            # This is the target of an earlier link that already carries the data.
            info.type, info.linkname, info.size, content = tarfile.LNKTYPE, swapped[path], 0, None
        written.add(path)
        yield info, content if info.isfile() else None


def write_tar(entries: dict[str, Entry], sink, *, epoch: int) -> None:
    """Write ``entries`` (as :func:`members` takes them) as the deterministic tar, to the file
    ``sink``."""
    with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for info, content in members(entries, epoch):
            fileobj = content.open() if content is not None else None
            try:
                tar.addfile(info, fileobj)
            finally:
                if fileobj is not None:
                    fileobj.close()


# gzip's level: 1 (BestSpeed), go-containerregistry's default (crane, ko). On debian_slim's
# 497 MiB base layer, 2 threads (pgzip.py): level 1 took 3.8 s for 184.3 MiB, 4 took 5.4 s for
# 171.4 MiB, 5 (containers/image's default, buildah's) 7.2 s for 167.7 MiB, 6 10.5 s for 166.1
# MiB. The base's compression runs beside the steps above it, on the same cores: at level 5 it
# was the last thing a cold build waited for (36.5 s against 41.3 s here). zstd
# (--compression zstd) is both smaller and faster where clients read it.
GZIP_LEVEL = 1


def write_layer(entries: dict[str, Entry], out_dir: str, *, epoch: int, level: int = GZIP_LEVEL) -> dict:
    """Write ``layer.tar.gz`` (see :func:`write_tar`) into ``out_dir``; return its descriptor
    fields."""
    with open(os.path.join(out_dir, "layer.tar.gz"), "wb") as raw:
        compressed = HashingWriter(raw)
        with GzipWriter(compressed, level) as gz:
            tar_stream = HashingWriter(gz)
            write_tar(entries, tar_stream, epoch=epoch)
    return {
        "digest": "sha256:" + compressed.sha256.hexdigest(),
        "size": compressed.size,
        "diffId": "sha256:" + tar_stream.sha256.hexdigest(),
        "uncompressedSize": tar_stream.size,
        "entries": len(entries),
    }


def write_json(path: str, value) -> None:
    with open(path, "w") as f:
        json.dump(value, f, sort_keys=True, separators=(",", ":"))


def write_layer_dir(entries: dict[str, Entry], out: str, spec: dict) -> dict:
    """Create ``out`` with ``layer.tar.gz`` and ``layer.json`` (digests, sizes, history line)."""
    os.makedirs(out)
    meta = write_layer(entries, out, epoch=spec["epoch"])
    meta["createdBy"] = spec["createdBy"]
    write_json(os.path.join(out, "layer.json"), meta)
    return meta


def run_builder(build) -> None:
    """The entry point of a layer builder: ``build(spec, out)`` from Nix's environment."""
    with open(os.environ["layerSpecPath"]) as f:
        build(json.load(f), os.environ["out"])
