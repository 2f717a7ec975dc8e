"""Small OCI image layouts written by the tests themselves, bit for bit deterministic.

Layers are PAX tars with every header field given explicitly, gzip-compressed with a fixed
header mtime and no file name, so equal arguments give equal digests.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LAYER_TYPES = {
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "none": "application/vnd.oci.image.layer.v1.tar",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
Hook = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class Entry:
    path: str
    data: bytes = b""
    type: bytes = tarfile.REGTYPE
    mode: int = 0o644
    mtime: int = 0
    uid: int = 0
    gid: int = 0
    uname: str = "root"
    gname: str = "root"
    linkname: str = ""
    pax: dict[str, str] = field(default_factory=dict)


def directory(path: str, **fields: Any) -> Entry:
    return Entry(path, type=tarfile.DIRTYPE, **{"mode": 0o755, **fields})


def symlink(path: str, target: str) -> Entry:
    return Entry(path, type=tarfile.SYMTYPE, mode=0o777, linkname=target)


def tar_bytes(entries: Sequence[Entry], tar_format: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.path)
            info.type = entry.type
            info.mode = entry.mode
            info.mtime = entry.mtime
            info.uid, info.gid = entry.uid, entry.gid
            info.uname, info.gname = entry.uname, entry.gname
            info.linkname = entry.linkname
            info.pax_headers = dict(entry.pax)
            info.size = len(entry.data) if entry.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(entry.data) if entry.type == tarfile.REGTYPE else None)
    return buffer.getvalue()


def gzip_bytes(data: bytes, mtime: int = 0) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=mtime, compresslevel=6) as stream:
        stream.write(data)
    return buffer.getvalue()


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


class _Writer:
    def __init__(self, root: Path, blob_store: Path | None):
        self.root = root
        self.blob_store = blob_store
        (root / "blobs" / "sha256").mkdir(parents=True)

    def blob(self, data: bytes, media_type: str) -> dict[str, Any]:
        digest = sha256(data)
        path = self.root / "blobs" / "sha256" / digest.split(":")[1]
        if self.blob_store is None:
            path.write_bytes(data)
        else:  # like a layout whose blobs are symlinks into the Nix store
            self.blob_store.mkdir(parents=True, exist_ok=True)
            target = self.blob_store / digest.split(":")[1]
            target.write_bytes(data)
            path.symlink_to(target)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}


def write_layout(
    root: Path,
    layers: Sequence[Sequence[Entry]],
    *,
    env: Sequence[str] = ("PATH=/usr/bin:/bin",),
    created: str = "1970-01-01T00:00:01Z",
    ref: str = "latest",
    compression: str = "gzip",
    gzip_mtime: int = 0,
    tar_format: int = tarfile.PAX_FORMAT,
    blob_store: Path | None = None,
    config_hook: Hook | None = None,
    manifest_hook: Hook | None = None,
) -> Path:
    """Write an OCI layout with one image; the hooks edit documents before they are written."""
    writer = _Writer(root, blob_store)
    descriptors, diff_ids = [], []
    for entries in layers:
        tar = tar_bytes(entries, tar_format)
        blob = gzip_bytes(tar, gzip_mtime) if compression == "gzip" else tar
        descriptors.append(writer.blob(blob, LAYER_TYPES[compression]))
        diff_ids.append(sha256(tar))
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": list(env), "Cmd": ["/bin/sh"], "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [
            {"created": created, "created_by": f"nixbuild step {i + 1}"} for i in range(len(layers))
        ],
    }
    if config_hook:
        config_hook(config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": writer.blob(_json(config), "application/vnd.oci.image.config.v1+json"),
        "layers": descriptors,
    }
    if manifest_hook:
        manifest_hook(manifest)
    entry = writer.blob(_json(manifest), "application/vnd.oci.image.manifest.v1+json")
    entry["annotations"] = {"org.opencontainers.image.ref.name": ref}
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [entry],
    }
    (root / "index.json").write_bytes(_json(index))
    (root / "oci-layout").write_bytes(_json({"imageLayoutVersion": "1.0.0"}))
    return root


# A small image: a base layer with directories, and an app layer.
BASE = [
    directory("etc"),
    Entry("etc/os-release", b"ID=test\n"),
    directory("usr"),
    directory("usr/bin"),
    Entry("usr/bin/tool", b"#!/bin/sh\necho tool\n", mode=0o755),
    symlink("bin", "usr/bin"),
]
APP = [
    directory("app"),
    Entry("app/main.py", b"print('hello')\n"),
    Entry("app/data.txt", b"some data\n"),
]


def app_with(*changes: Entry, drop: Sequence[str] = ()) -> list[Entry]:
    """APP with entries replaced (same path) or appended, and paths dropped."""
    by_path = {change.path: change for change in changes}
    entries = [by_path.pop(e.path, e) for e in APP if e.path not in drop]
    return entries + list(by_path.values())
