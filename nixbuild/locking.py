"""Pin every input of a set of images: Image chains -> Lock.

Resolution is incremental. Each resolving step has a fingerprint (its definition on top of
every resolving step below it); a step whose fingerprint is in the previous lock keeps its
pins without any index download. When a step must be resolved again, it is resolved against
the index snapshot the image was locked with (read from the cache, or fetched again by hash),
so the unchanged steps below it stay exactly as they were. ``update=True`` starts from the
mirror's current index instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from nixbuild import seed
from nixbuild.debian import slim as debian_slim
from nixbuild.python import resolve as python_resolve
from nixbuild.api.image import Image
from nixbuild.debian.index import PackageIndex, load_index, load_snapshot
from nixbuild.debian.resolver import minbase, resolve
from nixbuild.errors import LockError, NixbuildError
from nixbuild.lock import BootstrapLock, DebPin, ImageLock, Lock, StepLock, fingerprint
from nixbuild.settings import Settings
from nixbuild.chain import base_step, python_series_of, resolving_requests, step_where
from nixbuild.python.inputs import requirement_lines, step_identity, venv_of
from nixbuild.python.resolve import FilePin, WheelPin
from nixbuild.python.pip_options import resolver_options
from nixbuild.python.sdist import SdistPin, pin_sdist

# Installs every wheel, run by the image's own Python (pure Python, no dependencies).
INSTALLER = "installer==1.1.0"

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

    def snapshot(self, image_lock: ImageLock) -> PackageIndex:
        key = "|".join(s.packages_sha256 for s in image_lock.snapshots)
        if key not in self.loaded:
            self.loaded[key] = load_snapshot(image_lock.snapshots, mirrors=self.settings.mirrors,
                                             cache_dir=self.settings.cache_dir / "debian")
        return self.loaded[key]


def distribution_of(image: Image) -> str:
    step = base_step(image)
    return debian_slim.distribution_for(python_series_of(step), requested=step.python_version)


def fingerprints(image: Image, cwd: Path | None = None) -> list[tuple[int, str]]:
    """(step index, fingerprint) of every resolving step, bottom up. A Python step's
    fingerprint covers the contents of its requirements files, not only their names."""
    distribution = distribution_of(image)
    cwd = cwd or Path.cwd()
    out, parent = [], ""
    for index, step in enumerate(image.steps):
        wanted = step_identity(step, cwd)
        if resolving_requests(step) is not None or wanted is not None:
            definition = step.model_dump(mode="json")
            if wanted is not None:
                definition = {**definition, "inputs": wanted}
            if step.kind == "debian_slim":  # what the base is made of is part of its definition
                definition = {**definition, "base": [debian_slim.BASE_PACKAGES, debian_slim.BASE_PYTHON_TOOLS]}
            parent = fingerprint(parent, definition, distribution)
            out.append((index, parent))
    return out


def _debian_packages(step, index: PackageIndex, installed: list, where: str) -> list:
    """The Debian packages a step adds to ``installed`` (none for a Python step)."""
    requests = resolving_requests(step)
    if requests is None:
        return []
    try:
        if step.kind == "debian_slim":
            base = resolve(index, minbase(index), installed=(), recommends=False)
            return base + resolve(index, debian_slim.BASE_PACKAGES, installed=base, recommends=False)
        return resolve(index, requests, installed=installed, recommends=True)
    except NixbuildError as exc:
        raise exc.at(where)


def _python_pins(step, where: str, python: str, distribution: str, below: list[FilePin],
                 cache_dir: Path) -> tuple[list[WheelPin], list[SdistPin]]:
    """What a step installs from the Python package index (a pip/uv step's requirements,
    debian_slim's pip, wheel and uv), resolved with uv on top of what earlier steps
    installed: kept at their versions and not installed again. Each sdist gets its build
    requirements pinned."""
    if step.kind == "debian_slim":
        lines = debian_slim.BASE_PYTHON_TOOLS
    elif (lines := requirement_lines(step, Path.cwd())) is None:
        return [], []
    pinned = {pin.name for pin in below}
    index_options = {key: getattr(step, key, None) for key in ("index_url", "extra_index_url", "find_links")}
    resolved = python_resolve.resolve(lines, python=python, distribution=distribution,
                                      constraints=[f"{p.name}=={p.version}" for p in below],
                                      pre=getattr(step, "pre", False), where=where,
                                      extra=resolver_options(getattr(step, "extra_options", "")), **index_options)
    sdists = [pin_sdist(pin, cache_dir=cache_dir, python=python, distribution=distribution, where=where,
                        **index_options)
              for pin in resolved.sdists if pin.name not in pinned]
    return [w for w in resolved.wheels if w.name not in pinned], sdists


def lock_image(name: str, image: Image, previous: ImageLock | None, indexes: _Indexes, *,
               update: bool) -> ImageLock:
    distribution = distribution_of(image)
    wanted = fingerprints(image)
    if previous is not None and previous.distribution != distribution:
        previous = None
    if previous is not None and not update and [(s.index, s.fingerprint) for s in previous.steps] == wanted:
        return previous  # nothing to resolve: no index needed at all
    reuse = {s.fingerprint: s for s in previous.steps} if previous is not None and not update else {}
    index = indexes.snapshot(previous) if reuse else indexes.current(distribution)
    python = python_series_of(base_step(image))
    cache_dir = indexes.settings.cache_dir / "python"
    installed, below, steps = [], [], []
    for index_pos, fp in wanted:
        step = image.steps[index_pos]
        where = step_where(name, index_pos, step)
        if fp in reuse:
            locked = reuse[fp]
            packages = [_locked_package(index, pin, where) for pin in locked.packages]
        else:
            indexes.progress(f"resolving {where}")
            packages = _debian_packages(step, index, installed, where)
            # A uv project goes into its own virtual environment: nothing below constrains it.
            wheels, sdists = _python_pins(step, where, python, distribution, [] if venv_of(step) else below,
                                          cache_dir)
            locked = StepLock(index=index_pos, kind=step.kind, fingerprint=fp,
                              packages=[DebPin.of(p) for p in sorted(packages, key=lambda p: p.name)],
                              wheels=wheels, sdists=sdists)
        installed = [*installed, *packages]
        below = below if venv_of(step) else [*below, *locked.python]
        steps.append(locked)
    return ImageLock(distribution=distribution, snapshots=index.snapshots, steps=steps)


def _locked_package(index: PackageIndex, pin: DebPin, where: str):
    """The index entry of a pinned package (the resolver needs its relations)."""
    for package in index.versions(pin.name):
        if package.version == pin.version and package.architecture == pin.architecture:
            return package
    raise LockError(f"{pin.name} {pin.version} is pinned but not in the locked index snapshot", where=where,
                    fix="run `nixbuild lock --update` to re-resolve against the current index")


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
         update: bool = False, progress: Progress = lambda _msg: None) -> Lock:
    for image in images.values():
        distribution_of(image)  # refuse unsupported Python versions before any download
    indexes = _Indexes(settings, progress)
    bootstrap = lock_bootstrap(previous.bootstrap if previous else None, indexes, update=update)
    old = previous.images if previous else {}
    locked = {name: lock_image(name, image, old.get(name), indexes, update=update)
              for name, image in images.items()}
    if bootstrap.installer is None and any(step.python for image in locked.values() for step in image.steps):
        progress("resolving pypa installer")
        installer = python_resolve.resolve([INSTALLER], python="3.11", distribution="bookworm", constraints=[],
                                           only_binary=True)
        bootstrap = bootstrap.model_copy(update={"installer": installer.wheels[0]})
    return Lock(bootstrap=bootstrap, images=locked)


def stale(images: dict[str, Image], current: Lock | None) -> list[str]:
    """Why ``current`` does not pin ``images`` (empty when it does). Never touches the network."""
    if current is None:
        return ["there is no lock file"]
    problems = []
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
    for name in current.images.keys() - images.keys():
        problems.append(f"the lock has image {name!r}, which the app no longer defines")
    return problems


def require_fresh(images: dict[str, Image], current: Lock | None, lock_path) -> None:
    problems = stale(images, current)
    if problems:
        raise LockError("the lock does not match the app:\n  " + "\n  ".join(problems),
                        where=str(lock_path), fix="run `nixbuild lock` to pin the changed steps")

