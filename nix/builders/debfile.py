"""Read Debian binary packages (.deb) with the standard library only.

A .deb is an ``ar`` archive holding ``debian-binary``, ``control.tar.*`` and ``data.tar.*``.
We never unpack to disk: members are read into memory and handed to the layer writer, so
owners and modes come from the package itself, not from the sandbox user that runs us.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from dataclasses import dataclass, field

AR_MAGIC = b"!<arch>\n"
AR_HEADER = 60


def ar_members(blob: bytes) -> dict[str, bytes]:
    """Split an ar archive (as dpkg writes it: no long-name table) into {name: bytes}."""
    if not blob.startswith(AR_MAGIC):
        raise ValueError("not an ar archive")
    members: dict[str, bytes] = {}
    pos = len(AR_MAGIC)
    while pos + AR_HEADER <= len(blob):
        header = blob[pos : pos + AR_HEADER]
        name = header[0:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        start = pos + AR_HEADER
        members[name] = blob[start : start + size]
        pos = start + size + (size % 2)  # members are 2-byte aligned
    return members


def _open_tar(name: str, data: bytes) -> tarfile.TarFile:
    # tarfile's "r:*" sniffs gzip/bz2/xz; zstd (Ubuntu-style debs) is not in Debian's archive.
    if name.endswith(".zst"):
        raise ValueError(f"{name}: zstd-compressed members are not supported")
    return tarfile.open(fileobj=io.BytesIO(data), mode="r:*")


def _member(members: dict[str, bytes], prefix: str) -> tuple[str, bytes]:
    for name, data in members.items():
        if name.startswith(prefix):
            return name, data
    raise ValueError(f"no {prefix}* member")


def normalise(path: str) -> str:
    """``./usr/bin/`` -> ``usr/bin``; the root itself becomes ``""``."""
    path = path[2:] if path.startswith("./") else path.lstrip("/")
    path = path.rstrip("/")
    return "" if path == "." else path


@dataclass
class DataEntry:
    """One member of data.tar, with its content read (regular files only)."""

    info: tarfile.TarInfo
    path: str  # normalised path as shipped by the package
    data: bytes | None = None


@dataclass
class Deb:
    control_text: str
    control_files: dict[str, bytes]  # md5sums, conffiles, postinst, ...
    entries: list[DataEntry] = field(default_factory=list)

    @property
    def fields(self) -> dict[str, str]:
        return parse_stanza(self.control_text)

    @property
    def package(self) -> str:
        return self.fields["Package"]

    @property
    def conffiles(self) -> list[str]:
        text = self.control_files.get("conffiles", b"").decode()
        # "remove-on-upgrade" flags may follow the path on the same line.
        return [line.split()[0] for line in text.splitlines() if line.strip()]


def read_deb(blob: bytes) -> Deb:
    members = ar_members(blob)
    control_name, control_blob = _member(members, "control.tar")
    control_files: dict[str, bytes] = {}
    with _open_tar(control_name, control_blob) as tar:
        for info in tar:
            if info.isfile():
                control_files[normalise(info.name)] = tar.extractfile(info).read()
    deb = Deb(control_text=control_files.pop("control").decode(), control_files=control_files)
    data_name, data_blob = _member(members, "data.tar")
    with _open_tar(data_name, data_blob) as tar:
        for info in tar:
            path = normalise(info.name)
            if not path:
                continue
            data = tar.extractfile(info).read() if info.isfile() else None
            deb.entries.append(DataEntry(info=info, path=path, data=data))
    return deb


def parse_stanza(text: str) -> dict[str, str]:
    """deb822 fields in file order; continuation lines are kept verbatim (with their newline)."""
    fields: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if not line.strip():
            continue
        if line[0] in " \t" and key:
            fields[key] += "\n" + line
        else:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def format_stanza(fields: dict[str, str]) -> str:
    # A value that starts with a newline (Conffiles, Description bodies) has no text after the colon.
    return "".join(f"{k}:{v}\n" if v.startswith("\n") or not v else f"{k}: {v}\n" for k, v in fields.items())


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()
