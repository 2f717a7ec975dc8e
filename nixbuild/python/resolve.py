"""Resolve Python requirements for an image with uv, into pinned wheels.

uv comes from PyPI as a dependency of nixbuild (``uv.find_uv_bin``), never from PATH, so the
resolver is the same everywhere. It resolves for the image, not the host: the image's Python
version and its glibc (``x86_64-manylinux_2_36`` for bookworm), writing a PEP 751
``pylock.toml`` whose every file has a URL, a size and a sha256. Of the wheels listed for a
package, the one the image's Python would pick is kept (``wheel_rank``); a package with no
such wheel is pinned by its sdist, which the build compiles in the sandbox
(``sdist`` pins what that needs).

Indexes come from configuration: the step's ``index_url``/``extra_index_url``/``find_links``
when given, else uv's own configuration (``UV_INDEX_URL``, ``uv.toml``, ...). When uv names a
package no index has, the error suggests the close names those indexes list (``suggest``).
"""

from __future__ import annotations

import os
import functools
import re
import subprocess
import tempfile
import tomllib
from collections.abc import Collection
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from nixbuild.errors import MirrorError, ResolveError
from nixbuild.python.names import normalize
from nixbuild.python.suggest import suggest

# The glibc of each distribution nixbuild builds on: the manylinux tags its Python accepts.
GLIBC = {"bookworm": (2, 36), "trixie": (2, 41)}
_LEGACY_MANYLINUX = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}


class FilePin(BaseModel):
    """One distribution file, exactly (pylock.toml's package + file entries)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    url: str
    filename: str
    size: int | None = Field(None, description="null when the index does not say (a plain HTML simple index)")
    sha256: str


class WheelPin(FilePin):
    """A wheel, installed as it is."""


class Resolved(BaseModel):
    """What uv pinned: the wheels to install, and the packages only an sdist can provide."""

    wheels: list[WheelPin]
    sdists: list[FilePin]
    platform: str  # the --python-platform uv resolved for (``resolver_platform``)
    # The project name uv read from each of ``resolve``'s ``local`` directories (the caller pins those).
    local: dict[str, str] = {}


def _platform_ok(platform: str, glibc: tuple[int, int]) -> bool:
    if platform == "any":
        return True
    for legacy, version in _LEGACY_MANYLINUX.items():
        if platform == f"{legacy}_x86_64":
            return version <= glibc
    match = re.fullmatch(r"manylinux_(\d+)_(\d+)_x86_64", platform)
    return bool(match) and (int(match[1]), int(match[2])) <= glibc


def wheel_rank(filename: str, python: str, glibc: tuple[int, int]) -> int | None:
    """How well a wheel fits the image (higher is better), or None when it does not install.

    ``python`` is the series, e.g. "3.11". Order, as pip's tag priority: the exact CPython ABI,
    then the stable ABI of an older or equal CPython, then pure Python wheels.
    """
    parts = filename[:-4].split("-")
    if len(parts) < 5:
        return None
    interpreters, abis, platforms = (p.split(".") for p in parts[-3:])
    major, minor = (int(x) for x in python.split("."))
    if not any(_platform_ok(p, glibc) for p in platforms):
        return None
    best = None
    for interpreter in interpreters:
        for abi in abis:
            rank = None
            if interpreter == f"cp{major}{minor}" and abi == f"cp{major}{minor}":
                rank = 3
            elif abi == "abi3" and (m := re.fullmatch(r"cp3(\d+)", interpreter)) and int(m[1]) <= minor:
                rank = 2
            elif abi == "none" and interpreter in (f"py{major}", f"py{major}{minor}", f"cp{major}{minor}"):
                rank = 1
            if rank is not None:
                best = max(best or 0, rank)
    return best


def uv_bin() -> str:
    from uv import find_uv_bin  # the pinned uv of nixbuild's own environment

    return find_uv_bin()


_UV_MANYLINUX = re.compile(r"\bx86_64-manylinux(?:_(\d+)_(\d+)|(2014))\b")
_UV_DEFAULT_INDEX = re.compile(r"default package index\s+\(by\s+default:\s+<([^>\s]+)>")


@functools.cache
def _uv_compile_help() -> subprocess.CompletedProcess:
    """``uv pip compile --help`` of the pinned uv (about 10 ms, once per process): facts read
    from uv itself rather than kept as constants beside the uv pin."""
    return subprocess.run([uv_bin(), "pip", "compile", "--help"], capture_output=True, text=True)


def uv_default_index() -> str | None:
    """The index uv uses when nothing names one, as its help states it."""
    match = _UV_DEFAULT_INDEX.search(_uv_compile_help().stdout)
    return match[1] if match else None


@functools.cache
def uv_manylinux_tags() -> dict[tuple[int, int], str]:
    """The x86_64 manylinux platforms the pinned uv accepts for ``--python-platform``, by glibc.

    Read from uv's help, which lists every accepted value, so that upgrading uv to a release
    that knows newer tags takes effect with no other edit."""
    proc = _uv_compile_help()
    tags = {}
    for match in _UV_MANYLINUX.finditer(proc.stdout):
        if match[3]:  # manylinux2014 is manylinux_2_17: keep uv's PEP 600 spelling when it lists both
            tags.setdefault((2, 17), match[0])
        else:
            tags[(int(match[1]), int(match[2]))] = match[0]
    if proc.returncode != 0 or not tags:
        raise ResolveError("cannot read which manylinux platforms the pinned uv accepts from "
                           f"`uv pip compile --help` (exit {proc.returncode}):\n{proc.stderr.strip()}",
                           fix="reinstall nixbuild's environment so that its pinned uv runs")
    return tags


def resolver_platform(glibc: tuple[int, int], known: dict[tuple[int, int], str]) -> str:
    """The ``--python-platform`` to resolve an image with this glibc: the newest manylinux tag
    uv knows (``known``, by glibc) that is not newer than the image's glibc. A glibc newer than
    any tag uv knows still runs every wheel of an older tag (manylinux is backward compatible);
    the wheels are then chosen by the real glibc (``wheel_rank``)."""
    usable = [version for version in known if version <= glibc]
    if not usable:
        raise ResolveError(f"the pinned uv knows no manylinux platform for glibc {glibc[0]}.{glibc[1]} "
                           f"(its oldest: {known[min(known)] if known else 'none'})",
                           fix="use a debian_slim Python series of a newer Debian release")
    return known[max(usable)]


_HASH = re.compile(r"\s*--hash[=\s]+sha256:([0-9a-fA-F]{64})")


def split_hashes(lines: list[str]) -> tuple[list[str], dict[str, set[str]]]:
    """Requirement lines without their ``--hash`` options, and those hashes by package."""
    plain, hashes = [], {}
    for line in lines:
        found = {h.lower() for h in _HASH.findall(line)}
        line = _HASH.sub("", line).strip()
        plain.append(line)
        if found and (name := re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", line)):
            hashes.setdefault(normalize(name.group(0)), set()).update(found)
    return plain, hashes


def resolve(requirements: list[str], *, python: str, glibc: tuple[int, int], constraints: list[str],
            index_url: str | None = None, extra_index_url: str | None = None, find_links: str | None = None,
            pre: bool = False, only_binary: bool = False, extra: list[str] = (), where: str = "",
            env: dict[str, str] | None = None, local: Collection[Path] = ()) -> Resolved:
    """Pinned files of the closure of ``requirements`` (``constraints`` pin what earlier
    steps installed). With ``only_binary`` (build requirements) every package must have a
    wheel for the image. ``extra``: more ``uv pip compile`` arguments (a step's extra_options).
    ``glibc``: the image's C library (``GLIBC[distribution]`` for a Debian base). ``env``: more
    environment for uv (a step's index settings from its secrets, nixbuild.python.index_login).
    ``local``: directories the requirements name (``name @ file:///...``, git checkouts); uv
    resolves their dependencies, and their names are returned in ``Resolved.local``."""
    platform = resolver_platform(glibc, uv_manylinux_tags())
    requirements, hashes = split_hashes(requirements)
    with tempfile.TemporaryDirectory(prefix="nixbuild-uv-") as tmp:
        req_in = Path(tmp) / "requirements.in"
        req_in.write_text("\n".join(requirements) + "\n")
        cmd = [uv_bin(), "pip", "compile", str(req_in), "--python-version", python,
               "--python-platform", platform, "--format", "pylock.toml",
               "-o", str(Path(tmp) / "pylock.toml"), "--no-header", "--quiet"]
        if only_binary:
            cmd += ["--only-binary", ":all:"]
        if constraints:
            (Path(tmp) / "constraints.txt").write_text("\n".join(constraints) + "\n")
            cmd += ["--constraint", str(Path(tmp) / "constraints.txt")]
        if index_url:
            cmd += ["--index-url", index_url]
        if extra_index_url:
            cmd += ["--extra-index-url", extra_index_url]
        if find_links:
            cmd += ["--find-links", find_links]
        if pre:
            cmd += ["--prerelease", "allow"]
        cmd += extra
        proc = subprocess.run(cmd, capture_output=True, text=True,
                              env={**os.environ, **(env or {}), "UV_NO_PROGRESS": "1"})
        if proc.returncode != 0:
            raise _resolve_error(proc.stderr, where, cmd)
        locked = tomllib.loads((Path(tmp) / "pylock.toml").read_text())
    wheels, sdists, local_names = [], [], {}
    local_paths = {str(Path(path).resolve()) for path in local}
    for package in locked.get("packages", []):
        directory = package.get("directory", {}).get("path")
        if directory is not None and str(Path(directory).resolve()) in local_paths:
            local_names[str(Path(directory).resolve())] = package["name"]
            continue
        ranked = [(wheel_rank(w["url"].rsplit("/", 1)[-1], python, glibc), w) for w in package.get("wheels", [])]
        ranked = [(rank, w) for rank, w in ranked if rank is not None]
        sdist = None if only_binary else package.get("sdist")
        allowed = hashes.get(normalize(package["name"]))
        if allowed is not None:
            # A requirements file with hashes: only the files it names may be installed.
            ranked = [(rank, w) for rank, w in ranked if w["hashes"]["sha256"].lower() in allowed]
            if sdist is not None and sdist["hashes"]["sha256"].lower() not in allowed:
                sdist = None
            if not ranked and sdist is None:
                raise ResolveError(f"no file of {package['name']} {package['version']} for this image has one "
                                   "of the hashes the requirements list", where=where,
                                   fix="add the hash of the matching wheel, or pin the version the hashes are for")
        if ranked:
            wheels.append(_pin(WheelPin, package, max(ranked, key=lambda item: item[0])[1]))
        elif sdist is not None:
            sdists.append(_pin(FilePin, package, sdist))
        else:
            raise ResolveError(f"{package['name']} {package['version']} has no wheel for Python {python} on "
                               f"x86_64 glibc {glibc[0]}.{glibc[1]}"
                               + ("" if only_binary else " and no sdist to build one from"), where=where,
                               fix="pin a version that publishes such a wheel")
    return Resolved(wheels=sorted(wheels, key=lambda p: p.name), sdists=sorted(sdists, key=lambda p: p.name),
                    platform=platform, local=local_names)


def _pin(model, package: dict, file: dict):
    return model(name=package["name"], version=package["version"], url=file["url"],
                 filename=file["url"].rsplit("/", 1)[-1], size=file.get("size"), sha256=file["hashes"]["sha256"])


def _resolve_error(stderr: str, where: str, cmd: list[str]) -> Exception:
    text = stderr.strip()
    if re.search(r"(?i)failed to fetch|connection|dns error|timed out|tcp connect", text):
        return MirrorError(f"the Python package index is unreachable:\n{text}", where=where,
                           fix="check the network, or point index_url / UV_INDEX_URL at a reachable index")
    message = f"uv cannot resolve the requirements:\n{text}"
    if (suggestion := suggest(text, cmd, default_index=uv_default_index)) is not None:
        message += f"\n{suggestion}"
    return ResolveError(message, where=where, fix="check the package names and version constraints above")
