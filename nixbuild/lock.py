"""The lock file: every input of every image, pinned by hash.

``nixbuild.lock`` sits beside the app file. It is JSON (sorted keys, two-space indent) so that
a diff of a re-lock reads well in review. It holds no mirror host: Debian packages are pinned
by archive name + pool path + sha256, and the mirror list is configuration, so a snapshot
mirror can serve an old lock.

Written atomically (temp file + rename): a failed lock leaves the old file untouched, and the
file keeps its mode (0644 when new). The shape of every pin is checked when the lock is read
(hex digests of the right length, relative pool paths), so a hand-edited lock fails with a
message rather than a traceback or a download from an unexpected place; whether the pins are
the ones the signed index lists is :mod:`nixbuild.locking`'s check. Commands that read and
write a lock hold :func:`exclusive` (a flock on its folder), so two runs on one app never lose each other's pins.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from nixbuild.conda.pin import CondaPin
from nixbuild.debian.index import Package, SuiteSnapshot
from nixbuild.debian.package import Archive
from nixbuild.errors import LockError
from nixbuild.python.git_source import GitPin
from nixbuild.python.resolve import WheelPin
from nixbuild.python.standalone import StandalonePin
from nixbuild.python.sdist import SdistPin
from nixbuild.registry.pin import RegistryPin

LOCK_VERSION = 1
LOCK_NAME = "nixbuild.lock"
NEW_FILE_MODE = 0o644

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_NIX_BASE32_SHA256 = re.compile(r"^[0-9a-df-np-sv-z]{52}$")
# A pool path as Packages files give it: pool/<component>/<prefix>/<source>/<file>.deb, no
# "..", no empty component, nothing absolute (it is appended to a mirror URL).
_POOL_PATH = re.compile(r"^pool/(?:[A-Za-z0-9][A-Za-z0-9.+~_-]*/)+[A-Za-z0-9][A-Za-z0-9.+~_:%-]*\.deb$")
_PACKAGE_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")


def hex_sha256(value: str) -> str:
    if not _SHA256.match(value):
        raise ValueError(f"{value!r} is not a SHA256 digest (64 lowercase hex digits)")
    return value


def _check_snapshots(snapshots: list[SuiteSnapshot]) -> list[SuiteSnapshot]:
    for snapshot in snapshots:
        hex_sha256(snapshot.inrelease_sha256)
        hex_sha256(snapshot.packages_sha256)
        if not snapshot.packages_path.startswith("dists/") or ".." in snapshot.packages_path.split("/"):
            raise ValueError(f"{snapshot.packages_path!r} is not an index path below dists/")
    return snapshots


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DebPin(Model):
    """One .deb, exactly: what apt would download and its hash."""

    name: str
    version: str
    architecture: str
    archive: Archive
    path: str = Field(description="pool path, relative to the archive root")
    size: int
    sha256: str

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        return hex_sha256(value)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not _POOL_PATH.match(value) or ".." in value.split("/"):
            raise ValueError(f"{value!r} is not a relative pool path (pool/.../NAME.deb)")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _PACKAGE_NAME.match(value):
            raise ValueError(f"{value!r} is not a Debian package name")
        return value

    @field_validator("size")
    @classmethod
    def _size(cls, value: int) -> int:
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value

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
    zstd: list[DebPin] = Field([], description="Debian's zstd and what it links, which compresses the layers of "
                                               "an image built with --compression zstd (pinned when first needed)")

    @field_validator("snapshots")
    @classmethod
    def _snapshots(cls, value: list[SuiteSnapshot]) -> list[SuiteSnapshot]:
        return _check_snapshots(value)

    @field_validator("busybox_nar_hash")
    @classmethod
    def _nar_hash(cls, value: str) -> str:
        if not _NIX_BASE32_SHA256.match(value):
            raise ValueError(f"{value!r} is not a sha256 in Nix's base32 (52 characters)")
        return value


class StepLock(Model):
    """What a resolving step pinned: Debian packages (debian_slim, apt_install), wheels and
    sdists (the Python steps; debian_slim's pip, wheel and uv), packages from git repositories
    (pip_install_private_repos), a registry base (from_registry)."""

    index: int = Field(description="position of the step in the image chain")
    kind: str
    fingerprint: str = Field(description="hash of this step and every resolving step before it")
    packages: list[DebPin]
    wheels: list[WheelPin] = []
    sdists: list[SdistPin] = []
    git: list[GitPin] = Field([], description="pip_install_private_repos: each repository's package, pinned to "
                                              "a commit and the NAR hash of its checkout")
    conda: list[CondaPin] = Field([], description="micromamba / micromamba_install: the conda packages linked "
                                                  "into /opt/conda, in dependency order")
    conda_tools: list[DebPin] = Field([], description="micromamba: Debian's zstd and what it links, which "
                                                      "unpacks .conda packages at build time (not in the image)")
    # Recorded for the reader, not part of the fingerprint: it follows from the distribution
    # (already fingerprinted) and the pinned uv, and the wheels pinned with an older tag still
    # run, so a nixbuild with a newer uv must not call existing locks stale.
    standalone: StandalonePin | None = Field(
        None, description="debian_slim of a series Debian does not ship: the python-build-standalone "
                          "archive unpacked into /usr/local")
    registry: RegistryPin | None = Field(
        None, description="from_registry: the base image, pinned by manifest, config and layer digests")
    python_platform: str | None = Field(
        None, description="the manylinux tag uv resolved this step's Python packages for (the newest it "
                          "knows up to the image's glibc); null for a step with no Python packages or "
                          "one locked before nixbuild recorded it")

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

    @field_validator("snapshots")
    @classmethod
    def _snapshots(cls, value: list[SuiteSnapshot]) -> list[SuiteSnapshot]:
        return _check_snapshots(value)

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
    if not isinstance(data, dict):
        raise LockError(f"{path} is not a lock: it holds a JSON {type(data).__name__}, not an object",
                        fix=f"delete {path} and run `nixbuild lock`")
    if data.get("version") != LOCK_VERSION:
        raise LockError(f"{path} has lock version {data.get('version')!r}, this nixbuild writes {LOCK_VERSION}",
                        fix="run `nixbuild lock --update` to rewrite it")
    try:
        return Lock.model_validate(data)
    except ValueError as exc:
        raise LockError(f"{path} is not a valid lock: {_first_error(exc)}",
                        fix=f"restore {path} from version control, or delete it and run `nixbuild lock`") from None


def _first_error(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    first = errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    count = len(errors())
    return f"{where}: {first['msg']}" + (f" (and {count - 1} more problems)" if count > 1 else "")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, so readers never see half a file. The
    file keeps its mode; a new one gets 0644 (mkstemp's own 0600 would hide it from others)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = NEW_FILE_MODE
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, mode)
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


@contextlib.contextmanager
def exclusive(lock_path: Path, waiting: Callable[[str], None] = lambda _msg: None) -> Iterator[None]:
    """Hold an exclusive ``flock`` for ``lock_path`` (re-entrant within one process): a second
    ``nixbuild build``/``lock`` of the same app waits until the first is done, then reads the
    lock the first one wrote.

    The lock file itself cannot carry the flock (every write replaces it with a new inode),
    and a separate lock file beside it would land in an ``add_local_dir(".")`` tree and in a
    failed run's leftovers, so the flock is taken on the folder that holds the lock: nothing
    is created, and apps in one folder share their lock file anyway."""
    folder = lock_path.parent.resolve()
    if folder in _held:
        yield
        return
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            waiting(f"waiting for another nixbuild run on {lock_path}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        _held.add(folder)
        try:
            yield
        finally:
            _held.discard(folder)
    finally:
        os.close(fd)  # closing releases the flock


_held: set[Path] = set()
