"""Pin every input of a set of images: Image chains -> Lock.

Resolution is incremental. Each resolving step has a fingerprint (its definition on top of
every resolving step below it); a step whose fingerprint is in the previous lock keeps its
pins without any index download. When a step must be resolved again, it is resolved against
the index snapshot the image was locked with (read from the cache, or fetched again by hash),
so the unchanged steps below it stay exactly as they were. ``update=True`` starts from the
mirror's current index instead.

:func:`verify_pins` checks a lock read from disk against the signed index snapshot it records
(every build and ``lock --check`` run it): each pinned .deb must be in the snapshot with that
version, sha256, size and pool path, and each unchanged step's pins must be exactly what
resolving the step against the snapshot gives, so a package added to, removed from or swapped
in the lock is named (exit 5). When the snapshot is neither cached nor downloadable, that is
one warning and the build goes on from the pins' own hashes (a locked app builds offline).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from nixbuild import seed
from nixbuild.conda import base as conda_base
from nixbuild.conda.pin import CondaPin
from nixbuild.conda.steps import request_of as conda_request
from nixbuild.debian import slim as debian_slim
from nixbuild.python import git_source, index_login, resolve as python_resolve, standalone
from nixbuild.python.git_source import GitPin
from nixbuild.python.standalone import StandalonePin
from nixbuild.api.image import Image
from nixbuild.api.steps import PipInstallPrivateRepos
from nixbuild.api.secret import resolve_all
from nixbuild.debian.index import PackageIndex, load_index, load_snapshot
from nixbuild.debian.resolver import minbase, resolve
from nixbuild.errors import LockError, MirrorError, NixbuildError
from nixbuild.warn import warn
from nixbuild.lock import BootstrapLock, DebPin, ImageLock, Lock, StepLock, fingerprint, write_atomic
from nixbuild.settings import Settings
from nixbuild.chain import NOT_DEBIAN, base_step, distribution_of, python_series_of, resolving_requests, step_where
from nixbuild.python.inputs import requirement_lines, step_identity, venv_of
from nixbuild.python.resolve import FilePin, WheelPin
from nixbuild.python.pip_options import resolver_options
from nixbuild.python.sdist import SdistPin, build_requirements, pin_sdist
from nixbuild.registry import installed as registry_installed, pin as registry_pin, ubuntu
from nixbuild.registry.pin import RegistryPin

# Installs every wheel, run by the image's own Python (pure Python, no dependencies).
INSTALLER = "installer==1.1.0"
# What compresses layers with --compression zstd: Debian's zstd, run in the sandbox (nix/builders/zstdtool.py).
ZSTD_PACKAGES = ["zstd"]

Progress = Callable[[str], None]


@dataclass
class _Indexes:
    """Indexes loaded during one lock run, shared between images of one distribution."""

    settings: Settings
    progress: Progress
    loaded: dict[str, PackageIndex] = field(default_factory=dict)

    def current(self, distribution: str) -> PackageIndex:
        if distribution not in self.loaded:
            self.progress(f"fetching the {distribution} package index")
            self.loaded[distribution] = load_index(distribution, mirrors=self.settings.mirrors,
                                                   cache_dir=self.settings.cache_dir / "debian")
        return self.loaded[distribution]

    def ubuntu(self, step, pinned: RegistryPin, where: str) -> PackageIndex:
        """The index of an Ubuntu base's own apt sources (see nixbuild.registry.ubuntu)."""
        key = f"ubuntu {pinned.manifest}"
        if key not in self.loaded:
            self.progress(f"fetching the package indexes {pinned.reference}'s apt sources name")
            self.loaded[key] = ubuntu.load_index(step, pinned, mirrors=self.settings.mirrors,
                                                 cache_dir=self.settings.cache_dir, where=where)
        return self.loaded[key]

    def snapshot(self, image_lock: ImageLock) -> PackageIndex:
        key = "|".join(s.packages_sha256 for s in image_lock.snapshots)
        if key not in self.loaded:
            self.loaded[key] = load_snapshot(image_lock.snapshots, mirrors=self.settings.mirrors,
                                             cache_dir=self.settings.cache_dir / "debian")
        return self.loaded[key]


def fingerprints(image: Image, cwd: Path | None = None) -> list[tuple[int, str]]:
    """(step index, fingerprint) of every resolving step, bottom up. A Python step's
    fingerprint covers the contents of its requirements files, not only their names."""
    distribution = distribution_of(image)
    cwd = cwd or Path.cwd()
    out, parent = [], ""
    for index, step in enumerate(image.steps):
        wanted = step_identity(step, cwd)
        conda = conda_request(step, cwd)
        if resolving_requests(step) is not None or wanted is not None or conda is not None:
            definition = step.model_dump(mode="json")
            if wanted is not None:
                definition = {**definition, "inputs": wanted}
            if conda is not None:  # a spec file's contents; micromamba's base packages
                definition = {**definition, "conda": conda.model_dump(mode="json"),
                              "base": conda_base.DEBIAN_PACKAGES if step.kind == "micromamba" else []}
            if step.kind == "debian_slim":  # what the base is made of is part of its definition
                definition = {**definition, "base": [debian_slim.base_packages(python_series_of(step)),
                                                     debian_slim.BASE_PYTHON_TOOLS]}
            parent = fingerprint(parent, definition, distribution)
            out.append((index, parent))
    return out


def _debian_packages(step, index: PackageIndex | None, installed: list, where: str) -> list:
    """The Debian packages a step adds to ``installed`` (none for a Python step or a registry base)."""
    requests = resolving_requests(step)
    if requests is None or step.kind in ("from_registry", "from_scratch"):
        return []
    try:
        if step.kind in ("debian_slim", "micromamba"):
            base = resolve(index, minbase(index), installed=(), recommends=False)
            wanted = conda_base.DEBIAN_PACKAGES if step.kind == "micromamba" else \
                debian_slim.base_packages(python_series_of(step))
            return base + resolve(index, wanted, installed=base, recommends=False)
        return resolve(index, requests, installed=installed, recommends=True)
    except NixbuildError as exc:
        raise exc.at(where)


def _python_pins(step, where: str, python: "_Python", below: list[FilePin],
                 cache_dir: Path) -> tuple[list[WheelPin], list[SdistPin], list[GitPin], str | None]:
    """What a step installs from the Python package index (a pip/uv step's requirements,
    debian_slim's and add_python's pip, wheel and uv) and from git repositories
    (pip_install_private_repos), resolved with uv on top of what earlier steps installed: kept
    at their versions and not installed again. Each sdist and git checkout gets its build
    requirements pinned. Also the platform tag uv resolved for (None: nothing to resolve)."""
    if step.kind == "debian_slim" or (step.kind == "from_registry" and step.add_python):
        lines = debian_slim.BASE_PYTHON_TOOLS
    elif step.kind == "from_registry" or (lines := requirement_lines(step, Path.cwd())) is None:
        return [], [], [], None
    series, glibc = python.require(where)
    pinned = {pin.name for pin in below}
    index_options = {key: getattr(step, key, None) for key in ("index_url", "extra_index_url", "find_links")}
    login = resolve_all(step.secrets) if getattr(step, "secrets", ()) else {}
    with tempfile.TemporaryDirectory(prefix="nixbuild-git-") as work:
        checkouts = []
        if isinstance(step, PipInstallPrivateRepos):
            try:
                refs = [git_source.parse_ref(ref) for ref in step.repositories]
            except NixbuildError as exc:
                raise exc.at(where)
            tokens = git_source.login_of(refs, login, where, repr(list(step.secrets)))
            checkouts = git_source.check_out(refs, step.git_user, tokens, cache_dir, Path(work), where)
            login = git_source.without_tokens(login)  # the rest are index settings, as for any pip step
            lines = [*lines, *(checkout.requirement for checkout in checkouts)]
        resolved = python_resolve.resolve(lines, python=series, glibc=glibc,
                                          env=index_login.uv_env(login, where) if login else None,
                                          constraints=[f"{p.name}=={p.version}" for p in below],
                                          pre=getattr(step, "pre", False), where=where,
                                          extra=resolver_options(getattr(step, "extra_options", "")),
                                          local=[checkout.path for checkout in checkouts], **index_options)
        git = []
        for checkout in checkouts:  # each built like an sdist: its build requirements pinned
            system = git_source.build_system(checkout)
            build = build_requirements(system, str(checkout.ref), python=series, glibc=glibc, where=where,
                                       **index_options)
            git.append(git_source.pin(checkout, resolved.local[str(checkout.path.resolve())], system, build))
    if login and resolved.sdists:
        raise LockError(f"{resolved.sdists[0].name} {resolved.sdists[0].version} has only an sdist for this image, and "
                        "nixbuild builds sdists of a step with index secrets not yet", where=where,
                        fix="publish a wheel for it to the index, or install it in a step without secrets")
    sdists = [pin_sdist(pin, cache_dir=cache_dir, python=series, glibc=glibc, where=where,
                        **index_options)
              for pin in resolved.sdists if pin.name not in pinned]
    wheels = [w for w in resolved.wheels if w.name not in pinned]
    return (index_login.stored(wheels, login, where) if login else wheels), sdists, git, resolved.platform


@dataclass
class _Python:
    """The image's Python series and glibc, as far as known: a registry base's come from its
    layers once it is pinned (add_python's series wins over the base's own)."""

    series: str | None
    glibc: tuple[int, int] | None

    def from_base(self, pinned: RegistryPin) -> None:
        self.series = self.series or pinned.facts.python
        self.glibc = pinned.facts.glibc_version

    def require(self, where: str) -> tuple[str, tuple[int, int]]:
        if self.series is None:
            raise LockError("the base has no python3.X in /usr/local/bin or /usr/bin to install into",
                            where=where, fix="pass add_python=\"3.12\" (or another series) to the registry step")
        if self.glibc is None:
            raise LockError("the base has no glibc (libc.so.6): Python wheels for Linux need one",
                            where=where, fix="use a glibc-based image (Debian, Ubuntu, ...) as the base")
        return self.series, self.glibc


def lock_image(name: str, image: Image, previous: ImageLock | None, indexes: _Indexes, *,
               update: bool) -> ImageLock:
    distribution = distribution_of(image, name)
    wanted = fingerprints(image)
    if previous is not None and previous.distribution != distribution:
        previous = None
    if previous is not None and not update and [(s.index, s.fingerprint) for s in previous.steps] == wanted:
        return previous  # nothing to resolve: no index needed at all
    reuse = {s.fingerprint: s for s in previous.steps} if previous is not None and not update else {}
    debian = distribution not in NOT_DEBIAN  # else the index is the registry base's release, if apt needs one
    index = (indexes.snapshot(previous) if reuse else indexes.current(distribution)) if debian else None
    base: RegistryPin | None = None
    python = _Python(python_series_of(base_step(image)), python_resolve.GLIBC[distribution] if debian else None)
    cache_dir = indexes.settings.cache_dir / "python"
    installed, below, below_conda, steps = [], [], [], []
    for index_pos, fp in wanted:
        step = image.steps[index_pos]
        where = step_where(name, index_pos, step)
        if index is None and step.kind == "apt_install" and base is not None:
            # apt on a registry base: its Debian release's index (an Ubuntu base: its own apt
            # sources' suites), its dpkg status installed.
            release = registry_installed.release_of(base, where)
            if fp in reuse and previous.snapshots:
                index = indexes.snapshot(previous)
            else:
                index = indexes.current(release) if release is not None else indexes.ubuntu(image.steps[0], base, where)
            installed = registry_installed.installed(image.steps[0], base, index, indexes.settings.cache_dir, where)
        if fp in reuse:
            locked = reuse[fp]
            packages = [_locked_package(index, pin, where) for pin in locked.packages]
        else:
            indexes.progress(f"resolving {where}")
            packages = _debian_packages(step, index, installed, where)
            pinned_base = _registry_pin(step, indexes, where)
            if pinned_base is not None:
                python.from_base(pinned_base)
            # A uv project goes into its own virtual environment: nothing below constrains it.
            wheels, sdists, git, platform = _python_pins(step, where, python, [] if venv_of(step) else below,
                                                         cache_dir)
            conda = _conda_pins(step, where, python, below_conda, indexes)
            tools = resolve(index, conda_base.TOOL_PACKAGES, installed=(), recommends=False) \
                if step.kind == "micromamba" else []
            locked = StepLock(index=index_pos, kind=step.kind, fingerprint=fp, conda=conda,
                              conda_tools=[DebPin.of(p) for p in sorted(tools, key=lambda p: p.name)],
                              packages=[DebPin.of(p) for p in sorted(packages, key=lambda p: p.name)],
                              wheels=wheels, sdists=sdists, git=git, python_platform=platform, registry=pinned_base,
                              standalone=_standalone_pin(step, python.series, indexes, where))
        if locked.registry is not None:
            base = locked.registry
            python.from_base(base)
        installed = [*installed, *packages]
        below = below if venv_of(step) else [*below, *locked.python]
        below_conda = [*below_conda, *locked.conda]
        steps.append(locked)
    return ImageLock(distribution=distribution, snapshots=[] if index is None else index.snapshots, steps=steps)


def _conda_pins(step, where: str, python: _Python, below: list[CondaPin],
                indexes: _Indexes) -> list[CondaPin]:
    """The conda packages a micromamba step links into the prefix, solved on top of those
    earlier steps linked (kept as they are)."""
    request = conda_request(step, Path.cwd())
    if request is None:
        return []
    from nixbuild.conda import solve as conda_solve  # rattler: loaded only when a conda step is locked

    indexes.progress(f"solving {' '.join(request.specs)} from conda channels")
    try:
        return conda_solve.solve(request.specs, request.channels, glibc=python.require(where)[1],
                                 cache_dir=indexes.settings.cache_dir, installed=below)
    except NixbuildError as exc:
        raise exc.at(where)


def _registry_pin(step, indexes: _Indexes, where: str) -> RegistryPin | None:
    """A registry base, pinned by digest (its blobs pulled into the cache)."""
    if step.kind != "from_registry":
        return None
    indexes.progress(f"pinning {step.tag} by digest")
    return registry_pin.pin(step, indexes.settings.cache_dir, where)


def _standalone_pin(step, series: str | None, indexes: _Indexes, where: str) -> StandalonePin | None:
    """debian_slim of a series Debian does not ship, or add_python: its python-build-standalone
    archive."""
    if step.kind == "debian_slim" and debian_slim.is_standalone(series):
        requested = step.python_version_resolved
    elif step.kind == "from_registry" and step.add_python:
        requested = step.add_python
    else:
        return None
    indexes.progress(f"pinning python-build-standalone's Python {requested}")
    try:
        return standalone.pin(requested, series)
    except NixbuildError as exc:
        raise exc.at(where)


def _locked_package(index: PackageIndex, pin: DebPin, where: str):
    """The index entry of a pinned package (the resolver needs its relations)."""
    for package in index.versions(pin.name):
        if package.version == pin.version and package.architecture == pin.architecture:
            return package
    raise LockError(f"{pin.name} {pin.version} is pinned but not in the locked index snapshot", where=where,
                    fix="run `nixbuild lock --update` to re-resolve against the current index")


_TAMPERED_FIX = ("restore the lock from version control if it was edited; to pin what the mirror has "
                 "now, run `nixbuild lock --update`")


def _pin_problem(index: PackageIndex, pin: DebPin) -> str | None:
    """Why ``pin`` is not an entry of ``index`` (None: it is, field for field)."""
    same_version = [p for p in index.versions(pin.name) if p.version == pin.version]
    if any(DebPin.of(p) == pin for p in same_version):
        return None
    if not same_version:
        return f"pinned package {pin.name} {pin.version} is not in the locked index snapshot"
    entry = DebPin.of(same_version[0])
    fields = [f"{key} {getattr(pin, key)} in the lock, {getattr(entry, key)} in the signed index"
              for key in ("sha256", "size", "path", "architecture", "archive")
              if getattr(pin, key) != getattr(entry, key)]
    return f"pinned package {pin.name} {pin.version} does not match the signed index: {'; '.join(fields)}"


def _set_problem(pinned: list[DebPin], resolved: list, what: str) -> str | None:
    """How ``pinned`` differs from the packages resolution gives (None: not at all)."""
    have = {p.name: p.version for p in pinned}
    want = {p.name: p.version for p in resolved}
    added = sorted(n for n in have.keys() - want.keys())
    removed = sorted(n for n in want.keys() - have.keys())
    swapped = sorted(f"{n} {have[n]} (resolves to {want[n]})" for n in have.keys() & want.keys()
                     if have[n] != want[n])
    parts = ([f"added {', '.join(added)}"] if added else []) + \
            ([f"removed {', '.join(removed)}"] if removed else []) + \
            ([f"swapped {', '.join(swapped)}"] if swapped else [])
    if not parts:
        return None
    return f"the pinned packages are not what {what} resolves to against the locked index snapshot: " + \
        "; ".join(parts)


def _snapshot_or_warn(indexes: _Indexes, locked: BootstrapLock | ImageLock, what: str) -> PackageIndex | None:
    try:
        return indexes.snapshot(locked)
    except MirrorError as exc:
        reason = exc.message.splitlines()[0]
        warn(f"{what}: the index snapshot the lock records is neither cached nor reachable ({reason}); "
             "building from the pins' own hashes without checking them against it")
        return None


def verify_pins(images: dict[str, Image], current: Lock, settings: Settings,
                on_bootstrap: Callable[[BootstrapLock], None] = lambda _b: None) -> None:
    """Check ``current``'s Debian pins against the signed index snapshots it records (see the
    module docstring). Raises LockError naming the first package that does not match.
    ``on_bootstrap`` is told the toolchain's pins once they are checked (or known good).

    A lock verified once (same lock text, same app fingerprints) is remembered in the cache
    by hash, so an unchanged app's next builds skip the re-resolution (about 2 s)."""
    key = hashlib.sha256(json.dumps([current.dumps(), {n: fingerprints(i) for n, i in images.items()}],
                                    sort_keys=True).encode()).hexdigest()
    marker = settings.cache_dir / "verified-locks" / key
    if marker.exists():
        on_bootstrap(current.bootstrap)
        return
    indexes = _Indexes(settings, lambda _msg: None)
    checked = [_verify_bootstrap(current.bootstrap, indexes)]
    on_bootstrap(current.bootstrap)
    for name, image in images.items():
        locked = current.images.get(name)
        if locked is not None and locked.distribution == distribution_of(image, name):
            checked.append(_verify_image(name, image, locked, indexes))
    if all(checked):  # an unreachable snapshot is checked again next time
        write_atomic(marker, "")


def _verify_bootstrap(bootstrap: BootstrapLock, indexes: _Indexes) -> bool:
    index = _snapshot_or_warn(indexes, bootstrap, "the build toolchain (lock bootstrap)")
    if index is not None:
        where = "lock bootstrap"
        for pin in [bootstrap.busybox, *bootstrap.python, *bootstrap.zstd]:
            if (problem := _pin_problem(index, pin)) is not None:
                raise LockError(problem, where=where, fix=_TAMPERED_FIX)
        candidate = index.candidate(debian_slim.TOOL_BUSYBOX_PACKAGE)
        if candidate is None or DebPin.of(candidate) != bootstrap.busybox:
            raise LockError(f"the pinned busybox {bootstrap.busybox.name} {bootstrap.busybox.version} is not the "
                            "snapshot's candidate", where=where, fix=_TAMPERED_FIX)
        python = resolve(index, debian_slim.TOOL_PYTHON_PACKAGES, installed=(), recommends=False)
        if (problem := _set_problem(bootstrap.python, python, "the toolchain Python")) is not None:
            raise LockError(problem, where=where, fix=_TAMPERED_FIX)
        if bootstrap.zstd:
            zstd = resolve(index, ZSTD_PACKAGES, installed=(), recommends=False)
            if (problem := _set_problem(bootstrap.zstd, zstd, "the layer compressor zstd")) is not None:
                raise LockError(problem, where=where, fix=_TAMPERED_FIX)
    return index is not None


def _verify_image(name: str, image: Image, locked: ImageLock, indexes: _Indexes) -> bool:
    """True when checked, False when the snapshot could not be had."""
    if not any(step.packages for step in locked.steps):
        return True
    index = _snapshot_or_warn(indexes, locked, f"image {name!r}")
    if index is None:
        return False
    wanted = dict(fingerprints(image))
    installed: list = []
    unchanged = True  # fingerprints chain: once one step changed, every later one did too
    for step_lock in locked.steps:
        in_app = step_lock.index < len(image.steps) and image.steps[step_lock.index].kind == step_lock.kind
        where = (step_where(name, step_lock.index, image.steps[step_lock.index]) if in_app
                 else f"image {name!r}, step {step_lock.index} {step_lock.kind}")
        for pin in step_lock.packages:
            if (problem := _pin_problem(index, pin)) is not None:
                raise LockError(problem, where=where, fix=_TAMPERED_FIX)
        unchanged = unchanged and in_app and wanted.get(step_lock.index) == step_lock.fingerprint
        if not unchanged or locked.distribution in NOT_DEBIAN:
            # A registry base's installed set is in its layers, not the lock: its apt steps'
            # pins are checked against the snapshot one by one (above), not re-resolved.
            continue  # the app changed here: the step is re-resolved when locked
        step = image.steps[step_lock.index]
        resolved = _debian_packages(step, index, installed, where)
        if (problem := _set_problem(step_lock.packages, resolved, f"step {step_lock.index}")) is not None:
            raise LockError(problem, where=where, fix=_TAMPERED_FIX)
        installed = [*installed, *resolved]
    return True


def warn_python_micro(images: dict[str, Image], current: Lock) -> None:
    """A micro ``python_version`` ("3.11.9") is taken as given by Modal; nixbuild's Python is
    Debian's, whose micro is the release's: say so when they differ."""
    for name, image in images.items():
        step, locked = base_step(image), current.images.get(name)
        if step.kind != "debian_slim":
            continue
        requested = step.python_version
        if locked is None or not requested or requested.count(".") != 2 or not locked.steps:
            continue
        series = python_series_of(step)
        shipped = next((p.version for p in locked.steps[0].packages if p.name == f"python{series}"), None)
        upstream = shipped.split(":")[-1].split("-")[0] if shipped else None
        if upstream is not None and upstream != requested:
            warn(f"{step_where(name, 0, step)}: python_version={requested!r} is not available: Debian "
                 f"{locked.distribution} ships Python {upstream}, which the image has (nixbuild takes "
                 f"Python from Debian; pass python_version={series!r} to say so)")


def lock_bootstrap(previous: BootstrapLock | None, indexes: _Indexes, *, update: bool) -> BootstrapLock:
    if previous is not None and not update:
        return previous
    index = indexes.current(debian_slim.TOOL_DISTRIBUTION)
    python = resolve(index, debian_slim.TOOL_PYTHON_PACKAGES, installed=(), recommends=False)
    busybox = DebPin.of(index.candidate(debian_slim.TOOL_BUSYBOX_PACKAGE))
    settings = indexes.settings
    tree, nar_hash = seed.prepare(busybox, settings.deb_url(busybox.archive, busybox.path), settings.cache_dir)
    seed.discard(tree)
    return BootstrapLock(distribution=debian_slim.TOOL_DISTRIBUTION, snapshots=index.snapshots,
                         busybox=busybox, busybox_nar_hash=nar_hash,
                         python=[DebPin.of(p) for p in sorted(python, key=lambda p: p.name)])


def lock(images: dict[str, Image], previous: Lock | None, settings: Settings, *,
         update: bool = False, zstd: bool = False, progress: Progress = lambda _msg: None,
         on_bootstrap: Callable[[BootstrapLock], None] = lambda _b: None) -> Lock:
    """The lock of ``images``, re-using ``previous`` pins where nothing changed (all of them
    re-resolved with ``update``); ``zstd``: the build compresses layers with zstd, which the
    bootstrap must then pin. ``on_bootstrap`` is told the toolchain's pins as soon as they
    are known, before the images are resolved."""
    for name, image in images.items():
        distribution_of(image, name)  # refuse unsupported Python versions before any download
    indexes = _Indexes(settings, progress)
    bootstrap = lock_bootstrap(previous.bootstrap if previous else None, indexes, update=update)
    on_bootstrap(bootstrap)
    old = previous.images if previous else {}
    locked = {name: lock_image(name, image, old.get(name), indexes, update=update)
              for name, image in images.items()}
    if bootstrap.installer is None and any(step.python for image in locked.values() for step in image.steps):
        progress("resolving pypa installer")
        installer = python_resolve.resolve([INSTALLER], python="3.11", glibc=python_resolve.GLIBC["bookworm"],
                                           constraints=[],
                                           only_binary=True)
        bootstrap = bootstrap.model_copy(update={"installer": installer.wheels[0]})
    if zstd and not bootstrap.zstd:
        progress("resolving zstd, the layer compressor")
        index = indexes.current(debian_slim.TOOL_DISTRIBUTION)
        tools = resolve(index, ZSTD_PACKAGES, installed=(), recommends=False)
        bootstrap = bootstrap.model_copy(update={"zstd": [DebPin.of(p) for p in sorted(tools, key=lambda p: p.name)]})
    return Lock(bootstrap=bootstrap, images=locked)


def stale(images: dict[str, Image], current: Lock | None, defined: Collection[str] = (),
          zstd: bool = False) -> list[str]:
    """Why ``current`` does not pin ``images`` (empty when it does). Never touches the network.
    ``defined``: every image the app defines, when ``images`` is only some of them (--image);
    the lock may hold those others. ``zstd``: the build needs zstd pinned (--compression zstd)."""
    if current is None:
        return ["there is no lock file"]
    problems = [] if current.bootstrap.zstd or not zstd else ["the lock pins no zstd, which --compression zstd needs"]
    for name, image in images.items():
        locked = current.images.get(name)
        if locked is None:
            problems.append(f"image {name!r} is not in the lock")
            continue
        wanted = fingerprints(image)
        have = [(s.index, s.fingerprint) for s in locked.steps]
        if wanted != have:
            changed = [step_where(name, i, image.steps[i]) for (i, fp) in wanted if (i, fp) not in have]
            problems.append(f"image {name!r} changed since it was locked: " + (", ".join(changed) or "steps removed"))
    for name in current.images.keys() - images.keys() - set(defined):
        problems.append(f"the lock has image {name!r}, which the app no longer defines")
    return problems


def require_fresh(images: dict[str, Image], current: Lock | None, lock_path, defined: Collection[str] = (),
                  zstd: bool = False) -> None:
    problems = stale(images, current, defined, zstd)
    if problems:
        raise LockError("the lock does not match the app:\n  " + "\n  ".join(problems),
                        where=str(lock_path), fix="run `nixbuild lock` to pin the changed steps")

