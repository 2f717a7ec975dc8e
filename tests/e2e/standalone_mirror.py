"""A stand-in python-build-standalone mirror on 127.0.0.1, for debian_slim of a series Debian
does not ship (nixbuild.python.standalone).

python-build-standalone's release host is not reachable from these machines, so the tests
serve archives of the same ``install_only`` layout that they make themselves: a top folder
``python/`` with ``bin/`` (``python3`` and ``python`` links to the interpreter), ``lib/``
(the standard library and ``site-packages`` with a bundled pip, as the real archives have) and
``include/``. The interpreter in it is this machine's own Debian CPython 3.11 with its standard
library, relocated, with Debian's two install-layout patches undone (sysconfig's default
scheme, and site's folders through a ``.pth`` file, since 3.11 runs a frozen ``site``), so that
it installs into ``lib/python3.11/site-packages`` and ``bin`` as upstream CPython, and so
python-build-standalone, does. The real 3.12 build is
not to be had here, so what a test proves is the
mechanics -- pinning by release, file and sha256, the download through uv's mirror setting,
the placement under /usr/local, pip and uv working with that interpreter -- not CPython 3.12.

Where the archive goes on the mirror is uv's answer, not ours: ``uv python list
--only-downloads`` with ``UV_PYTHON_INSTALL_MIRROR`` set names the URL it would fetch.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.parse
from pathlib import Path

from uv import find_uv_bin

HOST_PYTHON = Path("/usr/bin/python3.11")
HOST_STDLIB = Path("/usr/lib/python3.11")
# Not needed to run pip's installer or a program: left out to keep the archive small.
SKIPPED = {"test", "idlelib", "tkinter", "turtledemo", "lib2to3", "pydoc_data", "ensurepip", "dist-packages",
           "site-packages", "__pycache__", "config-3.11-x86_64-linux-gnu"}
BUNDLED_PIP_VERSION = "0.0.0+bundled"


def uv_download_url(series: str, mirror: str) -> str:
    """The URL uv would download the newest CPython ``series`` build from, with ``mirror``."""
    proc = subprocess.run([find_uv_bin(), "python", "list", "--only-downloads", "--all-versions",
                           "--output-format", "json"], capture_output=True, text=True, check=True,
                          env={**os.environ, "UV_PYTHON_INSTALL_MIRROR": mirror})
    entries = [d for d in json.loads(proc.stdout)
               if (d["os"], d["arch"], d["libc"], d["implementation"], d["variant"]) ==
               ("linux", "x86_64", "gnu", "cpython", "default")
               and d["version"].startswith(series + ".") and d["version"][len(series) + 1:].isdigit()]
    return max(entries, key=lambda d: d["version_parts"]["patch"])["url"]


# Debian's layout patches, undone: (file, Debian's text, upstream CPython's behaviour).
UPSTREAM_LAYOUT = [
    ("sysconfig.py", "            prefix_scheme = 'posix_local'", "            prefix_scheme = 'posix_prefix'"),
]
# Debian's (frozen) site reads lib/python3.11/dist-packages: a .pth there adds site-packages.
SITE_PACKAGES_PTH = ("python/lib/python3.11/dist-packages/upstream-site-packages.pth", b"../site-packages\n")


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _link(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    tar.addfile(info)


def make_archive(dest: Path) -> None:
    """An install_only-layout archive holding this machine's CPython 3.11 (module docstring)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(dest, "w:gz", compresslevel=1) as tar:
        tar.add(HOST_PYTHON, "python/bin/python3.11")
        _link(tar, "python/bin/python3", "python3.11")
        _link(tar, "python/bin/python", "python3.11")
        _add(tar, "python/bin/pip3", b"#!/bin/sh\nexec python3 -m pip \"$@\"\n", 0o755)
        patched = {name for name, _, _ in UPSTREAM_LAYOUT}
        tar.add(HOST_STDLIB, "python/lib/python3.11",
                filter=lambda info: None if Path(info.name).name in SKIPPED | patched else info)
        for name, debian, upstream in UPSTREAM_LAYOUT:
            text = (HOST_STDLIB / name).read_text()
            assert debian in text, f"{HOST_STDLIB / name} has no {debian!r}: the stand-in needs a new patch"
            _add(tar, f"python/lib/python3.11/{name}", text.replace(debian, upstream, 1).encode())
        _add(tar, *SITE_PACKAGES_PTH)
        site = "python/lib/python3.11/site-packages"
        _add(tar, f"{site}/README.txt", b"This directory exists so that 3rd party packages can be installed here.\n")
        _add(tar, f"{site}/pip/__init__.py", f'__version__ = "{BUNDLED_PIP_VERSION}"\n'.encode())
        _add(tar, f"{site}/pip-{BUNDLED_PIP_VERSION}.dist-info/METADATA",
             f"Metadata-Version: 2.1\nName: pip\nVersion: {BUNDLED_PIP_VERSION}\n".encode())
        include = Path(f"/usr/include/python3.11/Python.h")
        if include.exists():
            tar.add(include, "python/include/python3.11/Python.h")


def place(folder: Path, url: str, served_at: str) -> Path:
    """Write the stand-in archive where ``url`` points in ``folder``, served at ``served_at``."""
    relative = urllib.parse.unquote(url.removeprefix(served_at).lstrip("/"))
    dest = folder / relative
    make_archive(dest)
    return dest


def host_version() -> str:
    return subprocess.run([str(HOST_PYTHON), "--version"], capture_output=True, text=True, check=True).stdout.strip()


if __name__ == "__main__":  # make one: python standalone_mirror.py DEST
    make_archive(Path(sys.argv[1]))
