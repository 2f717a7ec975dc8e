"""apt's package marking, ported: what ``apt-get install`` decides, step by step.

The result of ``apt-get install`` is not a mathematical "closure": it is whatever apt's
greedy marking (``pkgDepCache::MarkInstall`` in apt-pkg/depcache.cc, apt 2.x) arrives at,
then trimmed by its auto-remover. Which alternative of ``a | b`` wins, which provider of a
virtual package is picked, whether a Recommends that cannot be met is dropped -- all depend
on the order apt visits things and on tie-breaks such as package IDs. To give exactly apt's
answer this module follows that code closely; method names match apt's functions so the
two can be read side by side:

- ``mark_install``: pkgDepCache::MarkInstall, with MarkInstall_CollectDependencies,
  _RemoveConflictsIfNotUpgradeable, _CollectReverseDepends, _UpgradeOrRemoveConflicts,
  _InstallDependencies and getAllPossibleSolutions (ordered by CompareProviders), plus the
  upgrade of installed binaries of the same source (APT::Get::Upgrade-By-Source-Package);
- ``is_install_ok``: IsInstallOkDependenciesSatisfiableByCandidates;
- ``check_dep``: pkgDepCache::CheckDep, for the "now", "install" and "candidate" states;
- ``remove_garbage``: MarkAndSweep plus the part of apt-get's DoAutomaticRemove that drops
  new installs nothing needs (leftovers of an alternative apt tried and abandoned).

One architecture only (the index's; ``Architecture: all`` counts as native), so Multi-Arch
matters only for ``name:any`` relations (met by packages marked ``Multi-Arch: allowed``).
Not ported, because nixbuild never asks for it: removals requested by the user, holds,
pins other than ``name=version``, the problem resolver (pkgProblemResolver). When apt would
need that resolver -- something is left broken -- the caller reports an error instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from .index import PackageIndex
from .package import Package
from .relations import Alternatives, Relation
from .version import compare_versions

Mode = Literal["keep", "install", "delete"]
Selector = Literal["now", "install", "candidate"]

_CRITICAL = frozenset({"Pre-Depends", "Depends", "Conflicts", "Breaks"})
_NEGATIVE = frozenset({"Conflicts", "Breaks"})
_FOLLOWED_BY_AUTOREMOVER = frozenset({"Pre-Depends", "Depends", "Recommends", "Suggests"})
# pkgCache::State::VerPriority; a stanza without Priority has 0 (sorts first, as in apt).
_PRIORITY_RANK = {"": 0, "required": 1, "important": 2, "standard": 3, "optional": 4, "extra": 5}
_MAX_DEPTH = 3000  # apt: "we are not trying too hard…"


@dataclass(frozen=True, eq=False)
class Dep:
    """One dependency of a package version: a group of alternatives of one kind.

    Conflicts and Breaks have no alternatives; each of their relations is its own Dep.
    """

    kind: str
    group: Alternatives
    owner: Package

    @property
    def critical(self) -> bool:
        return self.kind in _CRITICAL

    @property
    def negative(self) -> bool:
        return self.kind in _NEGATIVE

    def __str__(self) -> str:
        return f"{self.kind}: {' | '.join(str(r) for r in self.group)}"


def dependencies(package: Package) -> list[Dep]:
    """A version's dependencies in apt's DependsList order (the order fields are parsed)."""
    deps = [Dep("Pre-Depends", group, package) for group in package.pre_depends]
    deps += [Dep("Depends", group, package) for group in package.depends]
    deps += [Dep("Conflicts", (relation,), package) for relation in package.conflicts]
    deps += [Dep("Breaks", (relation,), package) for relation in package.breaks]
    deps += [Dep("Recommends", group, package) for group in package.recommends]
    deps += [Dep("Suggests", group, package) for group in package.suggests]
    return deps


def _same(a: Package | None, b: Package | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.key == b.key


@dataclass(eq=False)
class PkgState:
    """pkgDepCache::StateCache for one package name."""

    name: str
    current: Package | None  # installed version (dpkg status)
    candidate: Package | None  # what would be installed
    install: Package | None  # InstallVer: the version in the planned state
    mode: Mode = "keep"
    protected: bool = False
    auto: bool = False  # installed as a dependency (the autoremover may drop it)

    @property
    def new_install_or_no_candidate(self) -> bool:
        """apt's ``Status == 2``."""
        return self.current is None or self.candidate is None


class DepCache:
    """The planned state of every package touched, and apt's rules to change it."""

    def __init__(self, index: PackageIndex, installed: Mapping[str, Package], *, recommends: bool):
        self.index = index
        self.installed = dict(installed)
        self.recommends = recommends
        self.states: dict[str, PkgState] = {}
        self._deps: dict[tuple[str, str, str], list[Dep]] = {}
        self._siblings: dict[str, list[str]] | None = None
        # Installed versions may be older than anything the index offers: their Provides
        # count too.
        self._installed_providers: dict[str, set[str]] = {}
        for package in self.installed.values():
            for virtual in package.provided:
                self._installed_providers.setdefault(virtual, set()).add(package.name)

    # --- states and relations ----------------------------------------------------------

    def state(self, name: str) -> PkgState:
        state = self.states.get(name)
        if state is None:
            current = self.installed.get(name)
            candidate = self.index.candidate(name)
            # apt never picks a candidate below the installed version (all pins are < 1000).
            if current is not None and (
                candidate is None or compare_versions(current.version, candidate.version) >= 0
            ):
                candidate = current
            state = self.states[name] = PkgState(name, current, candidate, install=current)
        return state

    def deps_of(self, package: Package) -> list[Dep]:
        deps = self._deps.get(package.key)
        if deps is None:
            deps = self._deps[package.key] = dependencies(package)
        return deps

    def _version(self, name: str, selector: Selector) -> Package | None:
        if selector == "now":
            return self.installed.get(name)
        if selector == "install":
            state = self.states.get(name)
            return state.install if state is not None else self.installed.get(name)
        return self.state(name).candidate

    def _provider_names(self, virtual: str) -> set[str]:
        return self.index.provider_names(virtual) | self._installed_providers.get(virtual, set())

    def is_real(self, name: str) -> bool:
        """apt's ``Pkg->VersionList != 0``: the name has versions (is not purely virtual)."""
        return name in self.installed or name in self.index.names()

    def satisfying(
        self, relation: Relation, selector: Selector, *, parent: str, negative: bool
    ) -> list[Package]:
        """The versions (in the ``selector`` state) that meet ``relation``: the package itself
        or providers. A Conflicts/Breaks never matches its own package (IsIgnorable)."""
        arch = relation.arch
        if arch == "any":
            # apt gives "name:any" its own pseudo-package, provided only by "name" when
            # that version is Multi-Arch: allowed.
            version = self._version(relation.name, selector)
            if (
                version is not None
                and version.multi_arch == "allowed"
                and not (negative and relation.name == parent)
                and relation.allows(version.version)
            ):
                return [version]
            return []
        if arch is not None and arch not in (self.index.architecture, "native"):
            return []  # another architecture: not configured
        found = []
        if not (negative and relation.name == parent):
            version = self._version(relation.name, selector)
            if version is not None and relation.allows(version.version):
                found.append(version)
        for provider in sorted(self._provider_names(relation.name)):
            if negative and provider == parent:
                continue
            version = self._version(provider, selector)
            if version is None or relation.name not in version.provided:
                continue
            provided = version.provided[relation.name]
            # An unversioned Provides meets only unversioned relations.
            if relation.op is None or (provided is not None and relation.allows(provided)):
                found.append(version)
        return found

    def check_dep(self, dep: Dep, relation: Relation, selector: Selector) -> bool:
        """CheckDep for one alternative, inverted for Conflicts/Breaks as apt's DepState is:
        True means "this relation is fine in that state"."""
        hit = bool(
            self.satisfying(relation, selector, parent=dep.owner.name, negative=dep.negative)
        )
        return not hit if dep.negative else hit

    def group_ok(self, dep: Dep, selector: Selector) -> bool:
        return any(self.check_dep(dep, relation, selector) for relation in dep.group)

    def is_important(self, dep: Dep) -> bool:
        """Policy::IsImportantDep (Suggests are never installed: APT::Install-Suggests=0)."""
        return dep.critical or (dep.kind == "Recommends" and self.recommends)

    def inst_broken(self, state: PkgState) -> bool:
        """A critical dependency of the planned version is not met by the planned state."""
        return state.install is not None and any(
            dep.critical and not self.group_ok(dep, "install")
            for dep in self.deps_of(state.install)
        )

    def inst_policy_broken(self, state: PkgState) -> bool:
        """Like inst_broken, counting Recommends too when they are installed."""
        return state.install is not None and any(
            self.is_important(dep) and not self.group_ok(dep, "install")
            for dep in self.deps_of(state.install)
        )

    def _essential(self, state: PkgState) -> bool:
        return any(v is not None and v.essential for v in (state.current, state.candidate))

    def _important_flag(self, state: PkgState) -> bool:
        return any(v is not None and v.important for v in (state.current, state.candidate))

    # --- small state changes -----------------------------------------------------------

    def mode_change_ok(self, mode: Mode, state: PkgState, depth: int, from_user: bool) -> bool:
        """IsModeChangeOk: user requests always pass; protected states and essential
        removals do not."""
        if depth > _MAX_DEPTH or not self.is_real(state.name):
            return False
        if from_user or state.mode == mode:
            return True
        if state.protected:
            return False
        # The solver never removes essential or important packages on its own.
        return not (mode == "delete" and (self._essential(state) or self._important_flag(state)))

    def set_candidate(self, state: PkgState, version: Package | None) -> None:
        if _same(state.candidate, version):
            return
        if _same(state.candidate, state.install) and state.mode == "install":
            state.install = version
        state.candidate = version

    def _state_change(self, state: PkgState, from_user: bool) -> None:
        """MarkInstall_StateChange: plan the candidate; dependencies are auto-installed."""
        if state.protected and _same(state.install, state.candidate):
            return
        state.mode = "install"
        state.install = state.candidate
        if from_user:
            state.auto = False  # asked for: the autoremover keeps it
        elif state.new_install_or_no_candidate:
            state.auto = True
        if _same(state.candidate, state.current):
            state.mode = "keep"

    def _discard_candidate(self, state: PkgState) -> None:
        state.candidate = state.install

    def _discard_install(self, state: PkgState) -> None:
        if (
            state.mode == "keep"
            and _same(state.install, state.candidate)
            and _same(state.candidate, state.current)
        ):
            return
        state.install = state.current
        state.mode = "keep"
        self._discard_candidate(state)

    def mark_keep(self, state: PkgState, depth: int, from_user: bool = False) -> bool:
        if not self.mode_change_ok("keep", state, depth, from_user):
            return False
        if state.mode != "keep":
            state.mode = "keep"
            state.install = state.current
        return True

    def _is_delete_ok(self, state: PkgState, from_user: bool) -> bool:
        """IsDeleteOkProtectInstallRequests: never drop what the user asked to install."""
        return not (
            not from_user
            and state.current is None
            and state.install is not None
            and state.new_install_or_no_candidate
            and not state.auto
        )

    def mark_delete(self, state: PkgState, depth: int, from_user: bool = False) -> bool:
        if not self.mode_change_ok("delete", state, depth, from_user):
            return False
        if state.mode == "delete" or state.install is None:
            return True
        if not self._is_delete_ok(state, from_user):
            return False
        state.mode = "keep" if state.current is None else "delete"
        state.install = None
        return True

    # --- choosing among alternatives ---------------------------------------------------

    def _provider_order(self, relation: Relation) -> Callable[[Package], tuple]:
        """CompareProviders as a sort key: protected first, then installed, the package
        named by the relation, essential, important, higher Priority, and finally the
        package apt's cache created last (higher package ID)."""

        def key(version: Package) -> tuple:
            state = self.state(version.name)
            installed = self.installed.get(version.name) is not None
            return (
                not state.protected,
                not (version.multi_arch == "same" and installed),
                not installed,
                version.name != relation.name,
                not self._essential(state),
                not self._important_flag(state),
                _PRIORITY_RANK.get(version.priority, 5),
                -self.index.ordinal(version.name),
            )

        return key

    def possible_solutions(
        self, dep: Dep, selector: Literal["candidate", "candidate+install", "now"], *, ordered: bool
    ) -> list[Package]:
        """getAllPossibleSolutions: the versions that could satisfy ``dep``; when ordered,
        installed packages of any alternative first, each alternative in provider order."""
        upgrades: list[Package] = []
        new: list[Package] = []
        for relation in dep.group:
            if selector == "candidate+install":
                found = self.satisfying(
                    relation, "install", parent=dep.owner.name, negative=dep.negative
                )
                found += self.satisfying(
                    relation, "candidate", parent=dep.owner.name, negative=dep.negative
                )
            else:
                found = self.satisfying(
                    relation, selector, parent=dep.owner.name, negative=dep.negative
                )
            found = list({version.key: version for version in found}.values())
            if not ordered:
                upgrades += found
                continue
            found.sort(key=self._provider_order(relation))
            for version in found:
                (upgrades if self.installed.get(version.name) is not None else new).append(version)
        solutions = list({version.key: version for version in upgrades + new}.values())
        if not dep.negative:
            solutions = [
                version
                for version in solutions
                if not (
                    (state := self.state(version.name)).protected
                    and (state.mode == "delete" or (state.mode == "keep" and state.current is None))
                )
            ]
        return solutions

    # --- MarkInstall ---------------------------------------------------------------------

    def is_install_ok(self, state: PkgState, auto_install: bool) -> bool:
        """Refuse (and forget the candidate of) a package one of whose critical dependencies
        no planned or candidate version can meet, so nothing tries it again."""
        candidate = state.candidate
        if not auto_install or candidate is None or _same(candidate, state.current):
            return True
        for dep in self.deps_of(candidate):
            if not dep.critical or dep.negative:
                continue
            if any(
                self.check_dep(dep, relation, "install")
                or self.check_dep(dep, relation, "candidate")
                for relation in dep.group
            ):
                continue
            if not state.protected:
                if state.current is not None:
                    self.set_candidate(state, state.current)
                else:
                    state.candidate = None
                if state.mode != "delete":
                    state.mode = "keep"
            return False
        return True

    def mark_install(
        self, name: str, auto_install: bool = True, depth: int = 0, from_user: bool = True
    ) -> bool:
        state = self.state(name)
        if (
            state.protected
            and state.mode == "keep"
            and state.candidate is not None
            and _same(state.candidate, state.current)
        ):
            pass  # only here to propagate protection to the dependencies
        elif not self.mode_change_ok("install", state, depth, from_user):
            return False
        if state.candidate is None:
            return False
        if (
            not state.protected
            and not self.inst_policy_broken(state)
            and not self.inst_broken(state)
        ):
            if _same(state.candidate, state.current):
                return (
                    True
                    if state.install is not None
                    else self.mark_keep(state, depth + 1, from_user)
                )
            if state.mode == "install":
                return True
        if not self.is_install_ok(state, auto_install):
            return False
        if from_user:
            self._state_change(state, from_user)

        fail_early = not state.protected and not from_user
        has_failed = False
        to_install: list[Dep] = []
        to_upgrade: list[PkgState] = []
        delayed_remove: list[PkgState] = []
        if auto_install:
            candidate = state.candidate
            to_remove = self._collect_dependencies(candidate, to_install)
            if not self._remove_conflicts_if_not_upgradeable(
                candidate, depth, to_remove, to_upgrade, delayed_remove, state.protected, from_user
            ):
                if fail_early:
                    return False
                has_failed = True
            self._collect_reverse_depends(candidate, to_upgrade)
        if not from_user:
            self._state_change(state, from_user)
        if not auto_install:
            return not has_failed

        # ScopedProtected: while its dependencies are handled, nothing may undo this
        # package; whether it was protected before decides if protection propagates.
        propagate = state.protected
        state.protected = True
        try:
            self._upgrade_other_binaries(state, depth)
            if not self._upgrade_or_remove_conflicts(depth, to_upgrade, propagate, from_user):
                if fail_early:
                    self._discard_install(state)
                    return False
                has_failed = True
            if not self._install_dependencies(state, depth, to_install, propagate, from_user):
                if fail_early:
                    self._discard_install(state)
                    return False
                has_failed = True
            for removed in delayed_remove:
                if not self.mark_delete(removed, depth):
                    if fail_early:
                        self._discard_install(state)
                        return False
                    has_failed = True
        finally:
            if not propagate:
                state.protected = False
        return not has_failed

    def _collect_dependencies(self, version: Package, to_install: list[Dep]) -> list[Dep]:
        """Split the important, not yet met dependencies into those to install and the
        conflicts to remove (a protected package revisits met ones too)."""
        propagate = self.state(version.name).protected
        to_remove: list[Dep] = []
        for dep in self.deps_of(version):
            if self.group_ok(dep, "install") and not propagate:
                continue
            if not self.is_important(dep):
                continue
            (to_remove if dep.negative else to_install).append(dep)
        return to_remove

    def _mark_delete_for_not_upgradeable(
        self, state: PkgState, depth: int, propagate: bool, delayed_remove: list[PkgState]
    ) -> bool:
        if not propagate:
            if state.mode == "delete":
                return True
            if not self.mode_change_ok("delete", state, depth, False) or not self._is_delete_ok(
                state, False
            ):
                return False
            delayed_remove.append(state)
            return True
        if state.mode != "delete" and not self.mark_delete(state, depth + 1):
            return False
        self._discard_candidate(state)
        state.protected = True
        return True

    def _remove_conflicts_if_not_upgradeable(
        self,
        version: Package,
        depth: int,
        to_remove: list[Dep],
        to_upgrade: list[PkgState],
        delayed_remove: list[PkgState],
        propagate: bool,
        from_user: bool,
    ) -> bool:
        """A candidate that would conflict is un-planned (or, for a protected package,
        dropped as a candidate for good); an installed one is upgraded or removed."""
        failed = False
        bad_candidates: set[str] = set()
        stop_on_failure = not propagate and not from_user
        for dep in to_remove:
            for other in self.possible_solutions(dep, "candidate", ordered=True):
                state = self.state(other.name)
                if not _same(state.candidate, other):
                    continue
                if not _same(state.current, other):
                    if state.mode == "install" and not self.mark_keep(state, depth):
                        failed = True
                        if stop_on_failure:
                            break
                    elif propagate:
                        self._discard_candidate(state)
                        if state.current is None:
                            state.protected = True
                    else:
                        bad_candidates.add(state.name)
                elif not self._mark_delete_for_not_upgradeable(
                    state, depth, propagate, delayed_remove
                ):
                    failed = True
                    if stop_on_failure:
                        break
            if failed and stop_on_failure:
                break
            for other in self.possible_solutions(dep, "now", ordered=True):
                state = self.state(other.name)
                if (
                    not _same(state.candidate, other)
                    and state.candidate is not None
                    and state.name not in bad_candidates
                ):
                    to_upgrade.append(state)
                elif _same(state.candidate, state.current):
                    pass  # handled by the first loop
                elif not self._mark_delete_for_not_upgradeable(
                    state, depth, propagate, delayed_remove
                ):
                    failed = True
                    if stop_on_failure:
                        break
            if failed and stop_on_failure:
                break
        return not failed

    def _collect_reverse_depends(self, version: Package, to_upgrade: list[PkgState]) -> None:
        """Upgrading an installed package: installed packages whose dependency only its old
        version met are upgraded too."""
        current = self.installed.get(version.name)
        if current is None:
            return
        for owner in self.installed.values():
            owner_state = self.state(owner.name)
            if owner_state.mode == "install" or owner_state in to_upgrade:
                continue
            for dep in self.deps_of(owner):
                if dep.negative or not self.is_important(dep):
                    continue
                if any(
                    relation.name == version.name
                    and relation.arch != "any"
                    and relation.allows(current.version)
                    and not relation.allows(version.version)
                    for relation in dep.group
                ):
                    to_upgrade.append(owner_state)
                    break

    def _upgrade_other_binaries(self, state: PkgState, depth: int) -> None:
        """APT::Get::Upgrade-By-Source-Package (apt >= 2.3, on by default): installed binaries
        whose candidate comes from the same source version as this package's are upgraded
        with it -- marked only (apt's AutoInst=false), their dependencies are not visited."""
        candidate = state.candidate
        if candidate is None:
            return
        for name in self._installed_by_source().get(candidate.source, ()):
            sibling = self.state(name)
            if name == state.name or sibling.mode == "install":
                continue
            version = sibling.candidate
            if (
                version is None
                or _same(version, sibling.current)
                or version.source != candidate.source
                or version.source_version != candidate.source_version
            ):
                continue
            self.mark_install(name, False, depth + 1, False)

    def _installed_by_source(self) -> dict[str, list[str]]:
        """Installed package names grouped by the source package of their candidate."""
        if self._siblings is None:
            self._siblings = {}
            for name in sorted(self.installed):
                candidate = self.state(name).candidate
                if candidate is not None:
                    self._siblings.setdefault(candidate.source, []).append(name)
        return self._siblings

    def _upgrade_or_remove_conflicts(
        self, depth: int, to_upgrade: list[PkgState], propagate: bool, from_user: bool
    ) -> bool:
        failed = False
        for state in to_upgrade:
            if state.mode != "install" and not self.mark_install(
                state.name, True, depth + 1, False
            ):
                if not self.mark_delete(state, depth + 1):
                    failed = True
                    if not propagate and not from_user:
                        break
                elif propagate:
                    state.protected = True
        return not failed

    def _previously_satisfied_or_new(self, state: PkgState, dep: Dep) -> bool:
        """For an upgrade: install a Recommends only if it is new, or was met before."""
        assert state.current is not None
        target = (dep.group[0].name, dep.group[0].arch == "any")
        is_new = True
        for old in self.deps_of(state.current):
            if old.critical or not self.is_important(old):
                continue
            if all((relation.name, relation.arch == "any") != target for relation in old.group):
                continue
            is_new = False
            if self.group_ok(old, "now"):
                return True
        return is_new

    def _install_dependencies(
        self, state: PkgState, depth: int, to_install: list[Dep], propagate: bool, from_user: bool
    ) -> bool:
        failed = False
        for dep in to_install:
            found = self.group_ok(dep, "install")
            if found and not propagate:
                continue
            if found:
                # Met already: pass protection on to the one package that can meet it.
                if not dep.critical:
                    continue
                solutions = self.possible_solutions(dep, "candidate+install", ordered=False)
                if len(solutions) != 1:
                    continue
                only = self.state(solutions[0].name)
                if only.protected:
                    continue
                only.protected = True
                if not self.mark_install(only.name, True, depth + 1, False):
                    failed = True
                continue
            if (
                state.current is not None
                and not dep.critical
                and not self._previously_satisfied_or_new(state, dep)
            ):
                continue  # an old Recommends the installed version did without
            solutions = self.possible_solutions(dep, "candidate", ordered=True)
            for solution in solutions:
                target = self.state(solution.name)
                if not _same(target.candidate, solution):
                    continue
                if propagate and dep.critical and len(solutions) == 1:
                    if not self.mark_install(target.name, False, depth + 1, False):
                        continue
                    target.protected = True
                if not self.mark_install(target.name, True, depth + 1, False):
                    continue
                found = True
                break
            if not found and dep.critical:
                failed = True
                if not propagate and not from_user:
                    break
        return not failed

    # --- apt-get install -------------------------------------------------------------------

    def install(self, requests: Iterable[tuple[str, Package]]) -> None:
        """TryToInstall each request (planned and protected, dependencies not yet), then
        doAutoInstall them in package-ID order, then the autoremover's cleanup."""
        names = []
        for name, version in requests:
            state = self.state(name)
            self.set_candidate(state, version)
            state.protected = True  # pkgProblemResolver::Protect
            self.mark_install(name, False, 0, True)
            names.append(name)
        for name in sorted(set(names), key=self.index.ordinal):
            self.mark_install(name, True, 0, True)
        self.remove_garbage()

    def _boring(self, state: PkgState) -> bool:
        """IsPkgInBoringState: neither installed nor planned, or planned for removal."""
        return state.mode == "keep" if state.current is None else state.mode == "delete"

    def relevant(self) -> list[PkgState]:
        """Every package installed or planned, in package-ID order."""
        names = set(self.installed) | {
            name for name, s in self.states.items() if s.mode == "install"
        }
        return [self.state(name) for name in sorted(names, key=self.index.ordinal)]

    def remove_garbage(self) -> None:
        """MarkAndSweep, then DoAutomaticRemove's "tooMuch" pass: planned new packages that
        nothing installed or requested needs (through Depends, Pre-Depends, Recommends or
        Suggests) are not installed after all -- unless that breaks something."""
        marked: set[str] = set()

        def mark(version: Package) -> None:
            if version.name in marked:
                return
            marked.add(version.name)
            for dep in self.deps_of(version):
                if dep.kind not in _FOLLOWED_BY_AUTOREMOVER:
                    continue
                for relation in dep.group:
                    met = [
                        v
                        for v in self.satisfying(
                            relation, "install", parent=version.name, negative=False
                        )
                        if not self._boring(self.state(v.name))
                    ]
                    for v in _latest_per_source(met):
                        mark(v)

        relevant = self.relevant()
        for state in relevant:
            if state.name in marked or self._boring(state):
                continue
            current_required = state.current is not None and state.current.priority == "required"
            if (
                not state.auto
                or self._essential(state)
                or self._important_flag(state)
                or current_required
            ):
                version = state.install if state.mode == "install" else state.current
                if version is not None:
                    mark(version)
        too_much = [
            state
            for state in relevant
            if state.mode == "install"
            and state.current is None
            and state.name not in marked
            and self.mark_delete(state, 0)
        ]
        if too_much and any(
            self.inst_broken(s) or self.inst_policy_broken(s) for s in self.relevant()
        ):
            self._save_needed(too_much)

    def _save_needed(self, too_much: list[PkgState]) -> None:
        """Reinstate dropped packages that a kept or newly planned package depends on."""
        changed = True
        while changed:
            changed = False
            for state in too_much:
                names = {state.name} | (set(state.candidate.provided) if state.candidate else set())
                if any(self._wanted_by_planned(name) for name in names):
                    self.mark_install(state.name, False, 0, False)
                    too_much.remove(state)
                    changed = True
                    break

    def _wanted_by_planned(self, name: str) -> bool:
        for other in self.relevant():
            version: Package | None
            if other.mode == "keep" and other.current is not None:
                version = other.current
            elif other.mode == "install":
                version = other.candidate
            else:
                continue
            if version is None:
                continue
            for dep in self.deps_of(version):
                if (
                    not dep.negative
                    and self.is_important(dep)
                    and any(r.name == name and r.arch != "any" for r in dep.group)
                ):
                    return True
        return False

    # --- results ---------------------------------------------------------------------------

    def planned(self) -> list[Package]:
        """Packages to install or upgrade, by name."""
        return sorted(
            (
                s.install
                for s in self.states.values()
                if s.mode == "install" and s.install is not None
            ),
            key=lambda package: package.name,
        )

    def removals(self) -> list[PkgState]:
        return [s for s in self.states.values() if s.mode == "delete"]

    def broken(self) -> list[tuple[PkgState, list[Dep]]]:
        """Installed or planned packages with unmet critical dependencies."""
        found = []
        for state in self.relevant():
            if state.install is None:
                continue
            unmet = [
                dep
                for dep in self.deps_of(state.install)
                if dep.critical and not self.group_ok(dep, "install")
            ]
            if unmet:
                found.append((state, unmet))
        return found


def _latest_per_source(versions: list[Package]) -> list[Package]:
    """MarkPackage follows, of the providers built from one source package, only those of
    its highest source version."""
    by_source: dict[str, list[Package]] = {}
    for version in versions:
        by_source.setdefault(version.source, []).append(version)
    kept = []
    for group in by_source.values():
        latest = group[0].source_version
        for version in group[1:]:
            if compare_versions(version.source_version, latest) > 0:
                latest = version.source_version
        kept += [v for v in group if v.source_version == latest]
    return kept
