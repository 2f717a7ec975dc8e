"""What a registry base holds that later steps need, read from its layer tars at lock time.

- ``glibc``: the C library's version (``GNU C Library ... version 2.35`` in ``libc.so.6``):
  Python packages are resolved for the manylinux tags it accepts.
- ``python``: the series of ``python3.X`` in /usr/local/bin or /usr/bin (the newest when
  several): the Python that pip steps use when the step has no ``add_python``.
- ``dpkg``: whether ``var/lib/dpkg/status`` exists, ``dpkg_layer`` the layer that holds the
  one in effect (:func:`dpkg_status` reads it), and ``os_id``/``os_version`` from os-release:
  what an apt step resolves against.

Layers are read in order and whiteouts honoured, so a file a later layer deletes does not count.
"""

from __future__ import annotations

import gzip
import posixpath
import re
import tarfile
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

_LIBC = re.compile(r"^(?:usr/)?lib(?:64)?/(?:x86_64-linux-gnu/)?libc\.so\.6$")
# What libc.so.6 links to in older releases (libc-2.31.so): read too, to follow the link.
_LIBC_FILE = re.compile(r"^(?:usr/)?lib(?:64)?/(?:x86_64-linux-gnu/)?libc(?:\.so\.6|-[\d.]+\.so)$")
_PYTHON = re.compile(r"^(?:usr/local/bin|usr/bin)/python(3\.\d{1,2}t?)$")
_OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
_DPKG_STATUS = "var/lib/dpkg/status"
_GLIBC_VERSION = re.compile(rb"GNU C Library [^\n]*?version (\d+)\.(\d+)")


class BaseFacts(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    glibc: str | None = Field(None, description="the C library's major.minor (null: no glibc found)")
    python: str | None = Field(None, description="the series of the base's own python3.X (null: none)")
    dpkg: bool = Field(False, description="whether the base has a dpkg status database")
    dpkg_layer: int | None = Field(None, description="the layer whose var/lib/dpkg/status is the base's")
    os_id: str | None = Field(None, description="ID from os-release (debian, ubuntu, ...)")
    os_version: str | None = Field(None, description="VERSION_CODENAME (else VERSION_ID) from os-release")

    @property
    def glibc_version(self) -> tuple[int, int] | None:
        return None if self.glibc is None else tuple(int(p) for p in self.glibc.split("."))  # type: ignore[return-value]


def _name(member: str) -> str:
    return posixpath.normpath("/" + member).lstrip("/")


def layered_files(layers: Iterable[Path], content: Callable[[str], bool],
                  present: Callable[[str], bool] = lambda _name: False) -> dict[str, tuple[int, bytes | None]]:
    """The files of the image whose layer tars (gzip) are ``layers``, bottom first, as the
    image has them (later layers win, whiteouts honoured): path -> (the layer that holds it,
    its bytes). ``content``: paths whose bytes are read (a symlink's are ``b"->" + target``);
    ``present``: paths only noted (their bytes are None)."""
    found: dict[str, tuple[int, bytes | None]] = {}
    for number, layer in enumerate(layers):
        with gzip.open(layer, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in tar:
                name = _name(info.name)
                folder, base = posixpath.split(name)
                if base == ".wh..wh..opq":
                    found = {k: v for k, v in found.items() if not k.startswith(folder + "/")}
                    continue
                if base.startswith(".wh."):
                    gone = posixpath.join(folder, base[4:])
                    found = {k: v for k, v in found.items() if k != gone and not k.startswith(gone + "/")}
                    continue
                wanted = content(name)
                if info.isreg() and wanted:
                    found[name] = (number, tar.extractfile(info).read())
                elif info.issym() and wanted:
                    found[name] = (number, ("->" + info.linkname).encode())
                elif present(name):
                    found[name] = (number, None)
    return found


def read(layers: Iterable[Path]) -> BaseFacts:
    """The facts of the image whose layer tars (gzip) are ``layers``, bottom first."""
    files = layered_files(layers, content=lambda name: bool(_LIBC_FILE.match(name)) or name in _OS_RELEASE,
                          present=lambda name: bool(_PYTHON.match(name)) or name == _DPKG_STATUS)
    present = {name: data for name, (_, data) in files.items()}
    dpkg = _DPKG_STATUS in files
    return BaseFacts(glibc=_glibc(present), python=_python(present), dpkg=dpkg,
                     dpkg_layer=files[_DPKG_STATUS][0] if dpkg else None, **_os_release(present))


def dpkg_status(layer: Path) -> str:
    """The text of ``var/lib/dpkg/status`` in one layer tar (gzip)."""
    with gzip.open(layer, "rb") as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
        for info in tar:
            if _name(info.name) == _DPKG_STATUS and info.isreg():
                return tar.extractfile(info).read().decode("utf-8", "replace")
    raise ValueError(f"{layer} holds no {_DPKG_STATUS}")


def _glibc(present: dict[str, bytes | None]) -> str | None:
    for name, data in present.items():
        if not _LIBC.match(name) or data is None:
            continue
        if data.startswith(b"->"):  # a link: follow it once, within the image
            target = posixpath.normpath(posixpath.join(posixpath.dirname(name), data[2:].decode()))
            data = present.get(target.lstrip("/")) or b""
        if match := _GLIBC_VERSION.search(data):
            return f"{int(match[1])}.{int(match[2])}"
    return None


def _python(present: dict[str, bytes | None]) -> str | None:
    series = {m[1] for name in present if (m := _PYTHON.match(name))}
    # The newest series; of 3.X and 3.Xt, the default build (python3 is that one).
    return max(series, key=lambda s: (tuple(int(p) for p in s.rstrip("t").split(".")), not s.endswith("t")),
               default=None)


def _os_release(present: dict[str, bytes | None]) -> dict[str, str | None]:
    data = next((present[n] for n in _OS_RELEASE if present.get(n) and not present[n].startswith(b"->")), None)
    if data is None:
        return {"os_id": None, "os_version": None}
    fields = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip().strip('"')
    return {"os_id": fields.get("ID"), "os_version": fields.get("VERSION_CODENAME") or fields.get("VERSION_ID")}
