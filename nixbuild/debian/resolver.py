"""What ``apt-get install`` would add: requests parsed, apt's marking run, problems reported.

The marking itself is :mod:`.depcache` (a port of apt's). This module turns user requests
(``curl``, ``python3:any``, ``libssl3=3.0.15-1~deb12u1``, a virtual name such as
``mail-transport-agent``) into package versions the way apt's command line does, and turns
anything apt would need its problem resolver for into a :class:`ResolveError` that names the
package and what to do.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from nixbuild.errors import ResolveError

from .depcache import Dep, DepCache
from .index import PackageIndex
from .package import Package
from .relations import format_group

# Priority: required packages plus apt: what debootstrap and mmdebstrap install for
# --variant=minbase (Essential: yes packages are all Priority: required in Debian; both are
# taken in case one is not).
MINBASE_EXTRA = ("apt",)


def minbase(index: PackageIndex) -> list[str]:
    """The package names ``debootstrap --variant=minbase`` / ``mmdebstrap --variant=minbase``
    start from: every Priority: required and every Essential: yes package, plus apt.

    Their closure is ``resolve(index, minbase(index), recommends=False)``: both tools install
    the base without Recommends.
    """
    names = set(index.find(priority="required", essential=True))
    names.update(name for name in MINBASE_EXTRA if index.candidate(name) is not None)
    return sorted(names)


def resolve(
    index: PackageIndex,
    requested: list[str],
    *,
    installed: Iterable[Package] = (),
    recommends: bool = True,
) -> list[Package]:
    """The packages ``apt-get install <requested>`` would install or upgrade on a system where
    ``installed`` is installed, sorted by name.

    ``requested`` entries are package names, optionally ``name:arch`` (the index's
    architecture, ``any`` or ``native``) or ``name=version``; a virtual name provided by
    exactly one package selects that package. ``recommends`` is APT::Install-Recommends
    (on by default, as in apt). Raises :class:`ResolveError` for unknown names (with close
    matches), unknown versions, virtual names with several providers, and whenever apt would
    leave a dependency unmet or remove an installed package.
    """
    installed_by_name = {package.name: package for package in installed}
    cache = DepCache(index, installed_by_name, recommends=recommends)
    requests = [_parse_request(index, cache, text) for text in requested]
    with _recursion_limit(20_000):  # apt's own limit is a depth of 3000 packages
        cache.install(requests)
    _raise_for_problems(cache, [name for name, _ in requests])
    return cache.planned()


def _parse_request(index: PackageIndex, cache: DepCache, text: str) -> tuple[str, Package]:
    """apt's command-line selection: ``name[:arch][=version]`` -> (package name, version)."""
    name, _, version = text.strip().partition("=")
    name, _, arch = name.partition(":")
    if arch and arch not in (index.architecture, "any", "native", "all"):
        raise ResolveError(
            f"package {text!r} asks for architecture {arch!r}, "
            f"but the image is {index.architecture}",
            fix=f"drop ':{arch}' from the package name",
        )
    if not cache.is_real(name):
        name = _select_provider(index, name)
    state = cache.state(name)
    if version:
        pinned = index.get(name, version)
        if pinned is None and state.current is not None and state.current.version == version:
            pinned = state.current
        if pinned is None:
            available = ", ".join(p.version for p in index.versions(name)) or "none"
            raise ResolveError(
                f"version {version!r} of package {name!r} is not in the index "
                f"(available: {available})",
                fix=f"use one of the available versions, or drop '={version}' to get the newest",
            )
        return name, pinned
    if state.candidate is None:
        raise ResolveError(
            f"package {name!r} has no installation candidate: it is only referred to by "
            "other packages, or no longer in the distribution",
            fix="pick another package that provides what you need",
        )
    return name, state.candidate


def _select_provider(index: PackageIndex, name: str) -> str:
    """A virtual name with exactly one providing candidate means that package (apt: "Note,
    selecting X instead of Y"); with several, apt asks to choose; with none, it is unknown."""
    providers = sorted({provider.package.name for provider in index.providers(name)})
    if len(providers) == 1:
        return providers[0]
    if providers:
        raise ResolveError(
            f"package {name!r} is a virtual package provided by: {', '.join(providers)}",
            fix="name one of them explicitly",
        )
    close = difflib.get_close_matches(name, index.names(), n=5, cutoff=0.7)
    hint = f"; did you mean: {', '.join(close)}?" if close else ""
    raise ResolveError(
        f"unknown package {name!r}: no package of that name in "
        f"{', '.join(s.suite for s in index.snapshots)}{hint}",
        fix=f"use {close[0]!r} if that is what you meant"
        if close
        else "check the spelling ('apt-cache search' on a Debian system finds package names)",
    )


def _raise_for_problems(cache: DepCache, requested: list[str]) -> None:
    broken = cache.broken()
    if broken:
        lines = []
        for state, deps in broken:
            for dep in deps:
                lines.append(
                    f"{state.name} {state.install.version if state.install else ''}: "
                    f"{dep.kind}: {format_group(dep.group)} {_why_unmet(cache, dep)}"
                )
        raise ResolveError(
            "apt cannot install "
            + ", ".join(repr(name) for name in requested)
            + ": unmet dependencies:\n    "
            + "\n    ".join(lines),
            fix="install a compatible set: pin versions that fit together (name=version), "
            "or choose another alternative explicitly",
        )
    removals = cache.removals()
    if removals:
        raise ResolveError(
            "installing "
            + ", ".join(repr(name) for name in requested)
            + " would remove installed packages: "
            + ", ".join(state.name for state in removals)
            + " (they conflict with what is being installed)",
            fix="build the image from a base without those packages, or pick packages that "
            "do not conflict with them",
        )


def _why_unmet(cache: DepCache, dep: Dep) -> str:
    """apt's wording for why an alternative is not met."""
    if dep.negative:
        relation = dep.group[0]
        culprits = cache.satisfying(relation, "install", parent=dep.owner.name, negative=True)
        return "but " + ", ".join(f"{p.name} {p.version}" for p in culprits) + " is to be installed"
    reasons = []
    for relation in dep.group:
        state = cache.state(relation.name) if cache.is_real(relation.name) else None
        if state is None:
            reasons.append(f"{relation.name} is a virtual package no installable package provides")
        elif state.candidate is None:
            reasons.append(f"{relation.name} is not installable")
        elif state.install is not None and not relation.allows(state.install.version):
            reasons.append(f"{relation.name} {state.install.version} is to be installed")
        else:
            reasons.append(f"{relation.name} is not going to be installed")
    return "but " + "; ".join(reasons)


@contextmanager
def _recursion_limit(limit: int) -> Iterator[None]:
    """apt's marking recurses along dependency chains; Python's default limit is too low
    for deep closures."""
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)
