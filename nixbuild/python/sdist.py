"""Pin what building an sdist in the sandbox needs: its PEP 517 backend and build requirements.

At lock time (the network is allowed) the sdist is downloaded once, checked against the hash
uv pinned, and its ``pyproject.toml`` read for ``[build-system]``; the build requirements are
resolved with uv for the image, wheels only, and pinned beside the sdist. The build itself
(nix/builders/python_install.py) then needs nothing from the network: it makes an isolated
environment of exactly those wheels, as pip's build isolation does, and calls the backend.

An sdist without ``[build-system]`` gets pip's defaults for such projects (PEP 517): the
``setuptools`` legacy backend.
"""

from __future__ import annotations

import tarfile
import tomllib
import zipfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from nixbuild.tools.download import fetch_verified
from nixbuild.errors import InvalidError, MirrorError, NixbuildError
from nixbuild.python.resolve import FilePin, WheelPin, resolve

LEGACY_REQUIRES = ["setuptools>=40.8.0"]
LEGACY_BACKEND = "setuptools.build_meta:__legacy__"


class SdistPin(FilePin):
    """An sdist, built into a wheel in the sandbox."""

    backend: str = Field(description="the PEP 517 build-backend object reference")
    backend_path: list[str] = Field([], description="in-tree backend directories (PEP 517 backend-path)")
    build: list[WheelPin] = Field(description="the build environment: build requirements, pinned")


class BuildSystem(BaseModel):
    """An sdist's ``[build-system]`` table."""

    model_config = ConfigDict(frozen=True)

    requires: list[str]
    backend: str
    backend_path: list[str] = []


def fetch(pin: FilePin, cache_dir: Path) -> Path:
    """The sdist's bytes, downloaded once and kept by hash."""
    try:
        return fetch_verified(pin.url, pin.sha256, cache_dir / "sdists" / pin.sha256 / pin.filename,
                              fix="check the network, or point index_url / UV_INDEX_URL at a reachable index")
    except MirrorError as exc:
        exc.message = f"cannot download the sdist of {pin.name} {pin.version}: {exc.message}"
        raise


def _pyproject_text(archive: Path) -> str | None:
    """The top-level pyproject.toml of an sdist (``<name>-<version>/pyproject.toml``)."""
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and n.endswith("/pyproject.toml")]
            return zf.read(names[0]).decode() if names else None
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.strip("./").split("/")
            if len(parts) == 2 and parts[1] == "pyproject.toml" and member.isfile():
                return tar.extractfile(member).read().decode()
    return None


def build_system(archive: Path, pin: FilePin) -> BuildSystem:
    try:
        text = _pyproject_text(archive)
    except (tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
        raise InvalidError(f"cannot read the build system of {pin.filename}: {exc}",
                           fix=f"pin a version of {pin.name} that publishes a wheel") from exc
    return build_system_of(text, pin.filename, fix=f"pin a version of {pin.name} that publishes a wheel")


def build_system_of(pyproject: str | None, source: str, *, fix: str) -> BuildSystem:
    """The ``[build-system]`` of a pyproject.toml's text (None: the source has none, so
    setuptools' legacy backend); ``source`` and ``fix`` for an error."""
    try:
        table = tomllib.loads(pyproject).get("build-system") if pyproject is not None else None
    except tomllib.TOMLDecodeError as exc:
        raise InvalidError(f"cannot read the build system of {source}: {exc}", fix=fix) from exc
    if not table:
        return BuildSystem(requires=LEGACY_REQUIRES, backend=LEGACY_BACKEND)
    return BuildSystem(requires=list(table.get("requires", LEGACY_REQUIRES)),
                       backend=table.get("build-backend", LEGACY_BACKEND),
                       backend_path=list(table.get("backend-path", [])))


def build_requirements(system: BuildSystem, label: str, *, python: str, glibc: tuple[int, int], where: str,
                       **index_options) -> list[WheelPin]:
    """The build environment of ``system``, pinned as wheels for the image."""
    try:
        return resolve(system.requires, python=python, glibc=glibc, constraints=[],
                       only_binary=True, where=where, **index_options).wheels if system.requires else []
    except NixbuildError as exc:
        exc.message = f"cannot pin the build requirements of {label}: {exc.message}"
        raise


def pin_sdist(pin: FilePin, *, cache_dir: Path, python: str, glibc: tuple[int, int], where: str,
              **index_options) -> SdistPin:
    """``pin`` with its backend and its build requirements resolved for the image."""
    system = build_system(fetch(pin, cache_dir), pin)
    build = build_requirements(system, f"{pin.name} {pin.version} (an sdist)", python=python, glibc=glibc,
                               where=where, **index_options)
    return SdistPin(**pin.model_dump(), backend=system.backend, backend_path=system.backend_path, build=build)
