"""A conda channel the tests make themselves, served from 127.0.0.1.

No conda channel is reachable from these machines, so the tests write a real one: per subdir
(``linux-64``, ``noarch``) a ``repodata.json`` in conda's format (``packages`` for
``.tar.bz2`` files, ``packages.conda`` for ``.conda`` files, with sha256, md5 and size) and
packages built here in both formats, laid out as conda-build writes them:

- ``.tar.bz2``: one bzip2 tar holding ``info/`` and the payload;
- ``.conda``: an uncompressed zip holding ``metadata.json``, ``info-<stem>.tar.zst`` and
  ``pkg-<stem>.tar.zst`` (compressed with this machine's ``zstd``).

``info/paths.json`` lists every file with its sha256, and for files that hold the build
prefix, the placeholder and whether it is a text or a binary file; ``info/link.json`` carries
a noarch:python package's entry points.

:func:`channel_packages` is the set the tests use: ``mylib`` 1.0 and 2.0 (linux-64, a text and a
binary file holding the placeholder; 2.0 needs ``mydep``), ``mydep``, ``mypkg`` (noarch:python,
an entry point, needs ``mylib >=2`` and ``python``) and a stand-in ``pip``.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# What conda-build writes for the build prefix: long, so that the binary replacement (same
# length, NUL-padded) has room for any install prefix.
PLACEHOLDER = "/opt/conda-build/_h_env_" + "placehold_" * 12
TIMESTAMP = 1_700_000_000_000


@dataclass
class Package:
    name: str
    version: str
    build: str = "0"
    subdir: str = "linux-64"
    depends: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)  # permission bits (default 0644)
    links: dict[str, str] = field(default_factory=dict)  # symlinks: path -> target
    placeholders: dict[str, str] = field(default_factory=dict)  # path -> "text" | "binary"
    noarch: str | None = None
    entry_points: list[str] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return f"{self.name}-{self.version}-{self.build}"

    def index(self) -> dict:
        index = {"name": self.name, "version": self.version, "build": self.build, "build_number": 0,
                 "depends": self.depends, "subdir": self.subdir, "license": "MIT", "timestamp": TIMESTAMP}
        if self.noarch:
            index.update(noarch=self.noarch, arch=None, platform=None)
        else:
            index.update(arch="x86_64", platform="linux")
        return index

    def info(self) -> dict[str, bytes]:
        paths = []
        for path in sorted([*self.files, *self.links]):
            entry: dict = {"_path": path, "path_type": "softlink" if path in self.links else "hardlink"}
            if path in self.files:
                entry.update(sha256=hashlib.sha256(self.files[path]).hexdigest(), size_in_bytes=len(self.files[path]))
            if path in self.placeholders:
                entry.update(prefix_placeholder=PLACEHOLDER, file_mode=self.placeholders[path])
            paths.append(entry)
        info = {"info/index.json": json.dumps(self.index()).encode(),
                "info/paths.json": json.dumps({"paths": paths, "paths_version": 1}).encode(),
                "info/files": "".join(f"{p['_path']}\n" for p in paths).encode()}
        if self.noarch == "python":
            info["info/link.json"] = json.dumps({"noarch": {"type": "python", "entry_points": self.entry_points},
                                                 "package_metadata_version": 1}).encode()
        return info


def _tar(members: dict[str, bytes], modes: dict[str, int], links: dict[str, str], mode: str = "w") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(members[name]), modes.get(name, 0o644)
            tar.addfile(info, io.BytesIO(members[name]))
        for name, target in sorted(links.items()):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)
    return buf.getvalue()


def _zstd(data: bytes) -> bytes:
    return subprocess.run(["zstd", "-q", "-3", "-c"], input=data, capture_output=True, check=True).stdout


def write_package(package: Package, folder: Path, fmt: str) -> Path:
    """``package`` as a ``.tar.bz2`` or ``.conda`` file in ``folder/<subdir>/``."""
    dest = folder / package.subdir / f"{package.stem}{fmt}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    if fmt == ".tar.bz2":
        dest.write_bytes(_tar({**package.info(), **package.files}, package.modes, package.links, "w:bz2"))
    else:
        with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as z:
            z.writestr("metadata.json", json.dumps({"conda_pkg_format_version": 2}))
            z.writestr(f"info-{package.stem}.tar.zst", _zstd(_tar(package.info(), {}, {})))
            z.writestr(f"pkg-{package.stem}.tar.zst", _zstd(_tar(package.files, package.modes, package.links)))
    return dest


def write_channel(folder: Path, packages: list[tuple[Package, str]]) -> None:
    """Write each (package, format) and the ``repodata.json`` of both subdirs."""
    repodata = {subdir: {"info": {"subdir": subdir}, "packages": {}, "packages.conda": {}, "repodata_version": 1}
                for subdir in ("linux-64", "noarch")}
    for package, fmt in packages:
        blob = write_package(package, folder, fmt).read_bytes()
        key = "packages.conda" if fmt == ".conda" else "packages"
        repodata[package.subdir][key][f"{package.stem}{fmt}"] = {
            **package.index(), "sha256": hashlib.sha256(blob).hexdigest(), "md5": hashlib.md5(blob).hexdigest(),
            "size": len(blob)}
    for subdir, data in repodata.items():
        (folder / subdir).mkdir(parents=True, exist_ok=True)
        (folder / subdir / "repodata.json").write_text(json.dumps(data, indent=1, sort_keys=True))


# An ELF-like binary: the prefix sits in a NUL-terminated C string with text after it.
BINARY = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 8 + PLACEHOLDER.encode() + b"/share/mylib\x00tail\x00"


def channel_packages(python: Package | None = None) -> list[tuple[Package, str]]:
    """The channel's packages and formats (``python``: the interpreter package, when a test
    needs one)."""
    mylib = {"etc/mylib.conf": f"prefix={PLACEHOLDER}\ndata={PLACEHOLDER}/share/mylib\n".encode(),
             "lib/mylib.bin": BINARY, "share/mylib/VERSION": b""}
    mylib_placeholders = {"etc/mylib.conf": "text", "lib/mylib.bin": "binary"}
    packages = [
        (Package("mydep", "1.0", files={"share/mydep/README": b"mydep\n"}), ".tar.bz2"),
        (Package("mylib", "1.0", files={**mylib, "share/mylib/VERSION": b"1.0\n"},
                 placeholders=mylib_placeholders), ".tar.bz2"),
        (Package("mylib", "2.0", depends=["mydep >=1.0"], files={**mylib, "share/mylib/VERSION": b"2.0\n"},
                 placeholders=mylib_placeholders, links={"lib/mylib.so": "mylib.bin"}), ".tar.bz2"),
        (Package("mylib", "2.0", depends=["mydep >=1.0"], files={**mylib, "share/mylib/VERSION": b"2.0\n"},
                 placeholders=mylib_placeholders, links={"lib/mylib.so": "mylib.bin"}), ".conda"),
        (Package("mypkg", "0.3", build="pyh0", subdir="noarch", noarch="python",
                 depends=["mylib >=2", "python >=3.8"], entry_points=["mypkg-hello = mypkg:main"],
                 files={"site-packages/mypkg/__init__.py":
                        b"import sys\n\ndef main():\n    print('hello from mypkg on', sys.prefix)\n",
                        "site-packages/mypkg-0.3.dist-info/METADATA": b"Metadata-Version: 2.1\nName: mypkg\n"
                                                                       b"Version: 0.3\n"}), ".conda"),
        (Package("pip", "0.0.1", build="pyh0", subdir="noarch", noarch="python", depends=["python >=3.8"],
                 entry_points=["pip = pip:main"],
                 files={"site-packages/pip/__init__.py":
                        b"__version__ = '0.0.1'\n\ndef main():\n    print('pip', __version__, '(stand-in)')\n"}),
         ".tar.bz2"),
    ]
    return packages + ([(python, ".conda")] if python is not None else [])
