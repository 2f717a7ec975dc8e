"""The package index of a Debian distribution: its suites' Packages files, verified and merged.

apt on a Debian system reads ``X``, ``X-updates`` and ``X-security`` together, all at the
default pin (500), so a package's candidate is its highest version in any of them.
:func:`load_index` fetches the current indexes (InRelease verified with gpgv, Packages.xz
checked against it); :func:`load_snapshot` rebuilds the index a lock recorded, from the cache
or -- by hash -- from a mirror that still has it.
"""

from __future__ import annotations

import hashlib
import lzma
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from functools import cmp_to_key
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from nixbuild.errors import InvalidError, MirrorError

from .cache import IndexCache, write_atomic
from .fetch import NotFound, fetch
from .package import Archive, Package, parse_package
from .packages_file import Entry, PackagesFile
from .release import check_release, parse_release, verify_signed
from .sources import Mirrors
from .version import compare_versions

COMPONENT = "main"
_version_key = cmp_to_key(compare_versions)


class Suite(BaseModel):
    """A suite, the archive that serves it and the components read from it (in apt's order)."""

    model_config = ConfigDict(frozen=True)

    archive: Archive
    name: str
    components: tuple[str, ...] = (COMPONENT,)


def _suites(codename: str) -> tuple[Suite, ...]:
    # The order is apt's reading order on a default Debian system (sources.list lists the
    # release, its updates, then security); apt's tie-breaks depend on it.
    return (
        Suite(archive="debian", name=codename),
        Suite(archive="debian", name=f"{codename}-updates"),
        Suite(archive="debian-security", name=f"{codename}-security"),
    )


DISTRIBUTIONS: dict[str, tuple[Suite, ...]] = {
    codename: _suites(codename) for codename in ("bookworm", "trixie")
}


class SuiteSnapshot(BaseModel):
    """What a lock records about one suite index a resolution used: enough to fetch the very
    same Packages file again (by hash) and to show where and when it came from."""

    model_config = ConfigDict(frozen=True)

    archive: Archive
    suite: str
    component: str
    architecture: str
    inrelease_sha256: str
    packages_sha256: str
    packages_path: str  # relative to the archive root: dists/<suite>/main/binary-<arch>/Packages.xz
    date: str  # the InRelease Date field

    @property
    def by_hash_path(self) -> str:
        """Where an Acquire-By-Hash archive (and snapshot mirrors) keep this exact file."""
        folder = self.packages_path.rsplit("/", 1)[0]
        return f"{folder}/by-hash/SHA256/{self.packages_sha256}"


class Provider(BaseModel):
    """A package providing a virtual name, and the version it provides (None: unversioned)."""

    model_config = ConfigDict(frozen=True)

    package: Package
    version: str | None


_Ref = tuple[int, int]  # (part number, row in that part's PackagesFile)


class PackageIndex:
    """The union of a distribution's suites for one architecture.

    Stanzas become :class:`Package` objects only when asked for (see packages_file).
    """

    def __init__(self, parts: list[tuple[SuiteSnapshot, PackagesFile]]):
        if not parts:
            raise ValueError("a package index needs at least one suite")
        self.snapshots = [snapshot for snapshot, _ in parts]
        self.architecture = self.snapshots[0].architecture
        self._files = [packages for _, packages in parts]
        self._packages: dict[_Ref, Package] = {}
        self._candidates: dict[str, _Ref | None] = {}
        self._virtuals: dict[str, list[tuple[_Ref, str | None]]] = {}
        for part, packages in enumerate(self._files):
            for row, provides in packages.provides.items():
                for virtual, version in provides:
                    self._virtuals.setdefault(virtual, []).append(((part, row), version))
        self._names: frozenset[str] | None = None
        self._ordinals: dict[str, int] | None = None

    # --- lookups -------------------------------------------------------------------------

    def _refs(self, name: str) -> list[_Ref]:
        return [(part, row) for part, f in enumerate(self._files) for row in f.rows.get(name, ())]

    def _entry(self, ref: _Ref) -> Entry:
        return self._files[ref[0]].entry(ref[1])

    def _package(self, ref: _Ref) -> Package:
        package = self._packages.get(ref)
        if package is None:
            part, row = ref
            snapshot = self.snapshots[part]
            package = parse_package(
                self._files[part].stanza(row), archive=snapshot.archive, suite=snapshot.suite
            )
            self._packages[ref] = package
        return package

    def _candidate_ref(self, name: str) -> _Ref | None:
        if name not in self._candidates:
            best: _Ref | None = None
            for ref in self._refs(name):
                # Strictly greater: on equal versions the earlier suite (the main archive) wins.
                if (
                    best is None
                    or compare_versions(
                        self._files[ref[0]].versions[ref[1]], self._files[best[0]].versions[best[1]]
                    )
                    > 0
                ):
                    best = ref
            self._candidates[name] = best
        return self._candidates[name]

    def candidate(self, name: str) -> Package | None:
        """apt's candidate: the highest version of ``name`` across the suites (all pinned 500)."""
        ref = self._candidate_ref(name)
        return None if ref is None else self._package(ref)

    def versions(self, name: str) -> list[Package]:
        """Every version of ``name`` the suites offer, highest first."""
        packages = [self._package(ref) for ref in self._refs(name)]
        packages.sort(key=lambda p: _version_key(p.version), reverse=True)
        return packages

    def get(self, name: str, version: str) -> Package | None:
        """The given version of ``name`` (e.g. to rebuild an installed set from a lock)."""
        for ref in self._refs(name):
            if self._files[ref[0]].versions[ref[1]] == version:
                return self._package(ref)
        return None

    def providers(self, virtual: str) -> list[Provider]:
        """Candidates whose Provides names ``virtual``, with the version they provide."""
        found = []
        for ref, version in self._virtuals.get(virtual, ()):
            if self._candidate_ref(self._files[ref[0]].names[ref[1]]) == ref:
                found.append(Provider(package=self._package(ref), version=version))
        return found

    def provider_names(self, virtual: str) -> set[str]:
        """Names of packages that provide ``virtual`` in any of their versions."""
        return {self._files[part].names[row] for (part, row), _ in self._virtuals.get(virtual, ())}

    def names(self) -> frozenset[str]:
        """Every real package name (for close-name suggestions and scans)."""
        if self._names is None:
            self._names = frozenset(name for f in self._files for name in f.rows)
        return self._names

    def is_virtual(self, name: str) -> bool:
        return name in self._virtuals

    def find(self, *, priority: str | None = None, essential: bool | None = None) -> list[str]:
        """Names whose candidate has the given Priority, or the given Essential flag (either
        matching is enough), without building a Package for every stanza."""
        found = []
        for name in sorted(self.names()):
            ref = self._candidate_ref(name)
            if ref is None:
                continue
            entry = self._entry(ref)
            if (priority is not None and entry.priority == priority) or (
                essential is not None and entry.essential == essential
            ):
                found.append(name)
        return found

    def ordinal(self, name: str) -> int:
        """The position at which apt's cache creates package ``name`` (first mention across the
        suites in order); apt breaks ties between otherwise equal choices with it."""
        if self._ordinals is None:
            ordinals: dict[str, int] = {}
            for packages in self._files:
                for mentioned in packages.mentions():
                    ordinals.setdefault(mentioned, len(ordinals))
            self._ordinals = ordinals
        return self._ordinals.get(name, len(self._ordinals))

    def control(self, package: Package) -> str:
        """The stanza of ``package`` exactly as its index has it (e.g. for a dpkg status file)."""
        for ref in self._refs(package.name):
            if self._package(ref).key == package.key:
                return self._files[ref[0]].stanza(ref[1])
        raise KeyError(f"{package} is not in this index")

    def index_text(self, snapshot: SuiteSnapshot) -> bytes:
        """The uncompressed Packages file ``snapshot`` stands for, byte for byte."""
        return bytes(self._files[self.snapshots.index(snapshot)].text)

    @classmethod
    def from_texts(
        cls, suites: Iterable[tuple[Suite, str]], *, architecture: str = "amd64"
    ) -> PackageIndex:
        """An index from Packages texts at hand (tests, fixtures); snapshot hashes are those
        of the texts, and no signature is involved."""
        parts = []
        for suite, text in suites:
            data = text.encode()
            digest = hashlib.sha256(data).hexdigest()
            snapshot = SuiteSnapshot(
                archive=suite.archive,
                suite=suite.name,
                component=COMPONENT,
                architecture=architecture,
                inrelease_sha256=digest,
                packages_sha256=digest,
                packages_path=f"dists/{suite.name}/{COMPONENT}/binary-{architecture}/Packages",
                date="",
            )
            parts.append((snapshot, PackagesFile.scan(data)))
        return cls(parts)


# --- loading ---------------------------------------------------------------------------------


def load_index(
    distribution: str, *, mirrors: Mirrors, architecture: str = "amd64", cache_dir: Path
) -> PackageIndex:
    """The current index of ``distribution`` (``bookworm``, ``trixie``) from the mirrors.

    Each suite's InRelease is fetched and verified with gpgv against the Debian archive
    keyring; the SHA256 it lists for ``main/binary-<arch>/Packages.xz`` is the only thing the
    Packages download is trusted by. Verified indexes are cached by that hash, so only the
    InRelease files are downloaded when nothing changed.
    """
    suites = DISTRIBUTIONS.get(distribution)
    if suites is None:
        raise InvalidError(
            f"unknown Debian distribution {distribution!r}",
            fix=f"use one of: {', '.join(DISTRIBUTIONS)}",
        )
    return load_suites(suites, mirrors=mirrors, architecture=architecture, cache_dir=cache_dir)


def load_suites(
    suites: tuple[Suite, ...],
    *,
    mirrors: Mirrors,
    architecture: str = "amd64",
    cache_dir: Path,
    keyring: Path | None = None,
) -> PackageIndex:
    """The current index of ``suites`` (one part per suite and component, in that order),
    verified as :func:`load_index` does; ``keyring``: the one their InRelease files are signed
    by (None: the Debian archive keyring)."""

    def load_suite(suite: Suite) -> list[tuple[SuiteSnapshot, PackagesFile]]:
        snapshots, by_hash = _current_snapshots(
            suite, mirrors=mirrors, architecture=architecture, keyring=keyring
        )
        return [
            (snapshot, _packages_file(snapshot, mirrors=mirrors, cache_dir=cache_dir, by_hash=by_hash))
            for snapshot in snapshots
        ]

    with ThreadPoolExecutor(max_workers=len(suites)) as pool:
        return PackageIndex([part for parts in pool.map(load_suite, suites) for part in parts])


def load_snapshot(
    snapshots: list[SuiteSnapshot], *, mirrors: Mirrors, cache_dir: Path
) -> PackageIndex:
    """The index a lock recorded: from the cache without any network when it is there, else
    downloaded again (by hash first: the archive and snapshot mirrors keep old indexes under
    ``by-hash/``) and checked against the recorded SHA256."""
    if not snapshots:
        raise ValueError("no suite snapshots given")

    def load_suite(snapshot: SuiteSnapshot) -> tuple[SuiteSnapshot, PackagesFile]:
        return snapshot, _packages_file(
            snapshot, mirrors=mirrors, cache_dir=cache_dir, by_hash=True
        )

    with ThreadPoolExecutor(max_workers=len(snapshots)) as pool:
        return PackageIndex(list(pool.map(load_suite, snapshots)))


def _current_snapshots(
    suite: Suite, *, mirrors: Mirrors, architecture: str, keyring: Path | None
) -> tuple[list[SuiteSnapshot], bool]:
    """Fetch and verify a suite's InRelease; returns a snapshot per component and whether the
    archive serves indexes by hash."""
    url = f"{mirrors.base_url(suite.archive)}/dists/{suite.name}/InRelease"
    signed = fetch(url)
    release = parse_release(verify_signed(signed, url=url, keyring=keyring), url=url)
    check_release(release, suite=suite.name, url=url)
    snapshots = []
    for component in suite.components:
        relative = f"{component}/binary-{architecture}/Packages.xz"
        listed = release.files.get(relative)
        if listed is None:
            raise MirrorError(
                f"{url} lists no {relative}: the suite has no {architecture} packages on this mirror",
                fix="check the architecture, or use a complete mirror of the archive",
            )
        snapshots.append(
            SuiteSnapshot(
                archive=suite.archive,
                suite=suite.name,
                component=component,
                architecture=architecture,
                inrelease_sha256=hashlib.sha256(signed).hexdigest(),
                packages_sha256=listed.sha256,
                packages_path=f"dists/{suite.name}/{relative}",
                date=release.date,
            )
        )
    return snapshots, release.acquire_by_hash


def _packages_file(
    snapshot: SuiteSnapshot, *, mirrors: Mirrors, cache_dir: Path, by_hash: bool
) -> PackagesFile:
    """The scanned Packages file of ``snapshot``: cached table, cached .xz, or download."""
    cache = IndexCache(cache_dir, snapshot.packages_sha256)
    cached = PackagesFile.load(cache.text, cache.table, order_path=cache.order)
    if cached is not None:
        return cached
    compressed = _cached_xz(cache, snapshot.packages_sha256)
    if compressed is None:
        compressed = _download_packages(snapshot, mirrors=mirrors, by_hash=by_hash)
        write_atomic(cache.xz, compressed)
    packages = PackagesFile.scan(lzma.decompress(compressed), order_path=cache.order)
    packages.save(cache.text, cache.table)
    return packages


def _cached_xz(cache: IndexCache, sha256: str) -> bytes | None:
    try:
        data = cache.xz.read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == sha256 else None


def _download_packages(snapshot: SuiteSnapshot, *, mirrors: Mirrors, by_hash: bool) -> bytes:
    """Download the Packages.xz of ``snapshot`` (by hash first when the archive keeps old
    indexes there) and return it only if its SHA256 is the expected one."""
    base = mirrors.base_url(snapshot.archive)
    paths = [snapshot.by_hash_path, snapshot.packages_path] if by_hash else [snapshot.packages_path]
    attempts = []
    for path in paths:
        url = f"{base}/{path}"
        try:
            data = fetch(url)
        except NotFound:
            attempts.append(f"{url}: not found")
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest == snapshot.packages_sha256:
            return data
        attempts.append(f"{url}: SHA256 {digest}")
    raise MirrorError(
        f"no download of the {snapshot.suite} package index has the expected SHA256 "
        f"{snapshot.packages_sha256} ({'; '.join(attempts)})",
        fix="retry (the mirror may be mid-update); for an index recorded earlier, point "
        "NIXBUILD_DEBIAN_MIRROR / NIXBUILD_DEBIAN_SECURITY_MIRROR at a mirror that still "
        "serves it (e.g. a snapshot mirror)",
    )
