"""The lock file: every input of every image, pinned by hash.

``nixbuild.lock`` sits beside the app file. It is JSON (sorted keys, two-space indent) so that
a diff of a re-lock reads well in review. It holds no mirror host: Debian packages are pinned
by archive name + pool path + sha256, and the mirror list is configuration, so a snapshot
mirror can serve an old lock.

Written atomically (temp file + rename): a failed lock leaves the old file untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from nixbuild.debian.index import Package, SuiteSnapshot
from nixbuild.errors import LockError
from nixbuild.python.resolve import WheelPin
from nixbuild.python.sdist import SdistPin

LOCK_VERSION = 1
LOCK_NAME = "nixbuild.lock"


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DebPin(Model):
    """One .deb, exactly: what apt would download and its hash."""

    name: str
    version: str
    architecture: str
    archive: Literal["debian", "debian-security"]
    path: str = Field(description="pool path, relative to the archive root")
    size: int
    sha256: str

    @classmethod
    def of(cls, pkg: Package) -> "DebPin":
        return cls(name=pkg.name, version=pkg.version, architecture=pkg.architecture,
                   archive=pkg.archive, path=pkg.filename, size=pkg.size, sha256=pkg.sha256)

    @property
    def filename(self) -> str:
        return self.path.rsplit("/", 1)[-1]


class BootstrapLock(Model):
    """The build toolchain: a static busybox and a Python, both from Debian packages."""

    distribution: str
    snapshots: list[SuiteSnapshot]
    busybox: DebPin
    busybox_nar_hash: str = Field(description="NAR sha256 (nix base32) of the seeded busybox directory")
    python: list[DebPin]
    installer: WheelPin | None = Field(None, description="pypa installer, which installs every wheel")


class StepLock(Model):
    """What a resolving step pinned: Debian packages (debian_slim, apt_install), wheels and
    sdists (the Python steps; debian_slim's pip, wheel and uv)."""

    index: int = Field(description="position of the step in the image chain")
    kind: str
    fingerprint: str = Field(description="hash of this step and every resolving step before it")
    packages: list[DebPin]
    wheels: list[WheelPin] = []
    sdists: list[SdistPin] = []

    @property
    def python(self) -> list[WheelPin | SdistPin]:
        """Every Python distribution the step installs."""
        return [*self.wheels, *self.sdists]


class OutputLock(Model):
    """The pinned output of a step that ran with the network (or with secrets): recorded on
    its first build, verified on every later one."""

    index: int = Field(description="position of the step in the image chain")
    kind: str
    inputs: str = Field(description="hash of the step's layer spec and every layer below it")
    output_hash: str = Field(description="NAR sha256 of the step's layer output, as Nix reported it")


class ImageLock(Model):
    distribution: str
    snapshots: list[SuiteSnapshot]
    steps: list[StepLock]
    outputs: list[OutputLock] = []

    def output(self, index: int) -> OutputLock | None:
        return next((o for o in self.outputs if o.index == index), None)

    def with_output(self, record: OutputLock | None, index: int) -> "ImageLock":
        """This lock with step ``index``'s output record replaced (or dropped when None)."""
        kept = [o for o in self.outputs if o.index != index]
        return self.model_copy(update={"outputs": sorted(kept + ([record] if record else []),
                                                         key=lambda o: o.index)})


class Lock(Model):
    version: int = LOCK_VERSION
    bootstrap: BootstrapLock
    images: dict[str, ImageLock]

    def dumps(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n"


def fingerprint(parent: str, step_json: object, distribution: str) -> str:
    """Identity of a resolving step: its definition on top of everything resolved below it."""
    blob = json.dumps([parent, distribution, step_json], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()


def read_lock(path: Path) -> Lock | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise LockError(f"cannot read {path}: {exc}", fix=f"delete {path} and run `nixbuild lock`") from exc
    if data.get("version") != LOCK_VERSION:
        raise LockError(f"{path} has lock version {data.get('version')!r}, this nixbuild writes {LOCK_VERSION}",
                        fix="run `nixbuild lock --update` to rewrite it")
    try:
        return Lock.model_validate(data)
    except ValueError as exc:
        raise LockError(f"{path} is not a valid lock: {exc}", fix="run `nixbuild lock --update`") from exc


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_lock(path: Path, lock: Lock) -> None:
    write_atomic(path, lock.dumps())
