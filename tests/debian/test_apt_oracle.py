"""The resolver against apt itself, on the real bookworm and trixie indexes.

For every case, apt-get (private state, see apt_oracle.py) simulates the install from the
same Packages files, and the resolver must name exactly the packages and versions apt would
install -- or fail where apt refuses. Installed bases: the minbase closure (what a
debian_slim base holds), nothing, or the minbase closure of the distribution's main suite
alone (an image made before the latest point release: apt must upgrade what it needs).

The apt simulations (about a second each) run in parallel, once per session.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from nixbuild.debian import Package, PackageIndex, load_snapshot, minbase, resolve
from nixbuild.errors import ResolveError

from .apt_oracle import AptAnswer

pytestmark = pytest.mark.network

Base = str  # "minbase" | "empty" | "point-release"


@dataclass(frozen=True)
class Case:
    distribution: str
    requested: tuple[str, ...]
    recommends: bool = True
    base: Base = "minbase"

    def __str__(self) -> str:
        return (
            f"{self.distribution}:{'+'.join(self.requested)}"
            f"{'' if self.recommends else ':no-recommends'}"
            f"{'' if self.base == 'minbase' else ':' + self.base}"
        )


BOOKWORM_SETS = [
    ("curl",),
    ("git",),
    ("python3-pip",),
    ("build-essential",),
    ("vim",),
    ("openssh-client",),
    ("imagemagick",),
    ("libpq-dev", "postgresql-client"),
    ("mailutils",),  # default-mta | mail-transport-agent
    ("default-jre-headless",),  # java alternatives and virtuals
    ("python3", "python3-venv"),  # python3:any relations
    ("gcc", "g++", "gfortran", "make"),
    ("bsd-mailx",),
    ("ffmpeg",),
]
TRIXIE_SETS = [("curl",), ("python3-pip",), ("build-essential",), ("mailutils",)]

CASES = (
    [Case("bookworm", s, recommends) for s in BOOKWORM_SETS for recommends in (True, False)]
    + [Case("trixie", s, recommends) for s in TRIXIE_SETS for recommends in (True, False)]
    + [
        Case("bookworm", ("python3-pip",), True, "point-release"),
        Case("bookworm", ("libssl-dev",), True, "point-release"),  # upgrades openssl by source
        Case("bookworm", ("openssh-server",), False, "point-release"),
        Case("bookworm", ("curl",), False, "empty"),
        Case("trixie", ("ca-certificates",), True, "empty"),
    ]
)
# apt refuses these; so must we.
REFUSALS = [
    Case("bookworm", ("mail-transport-agent",)),  # a virtual with many providers
    Case("bookworm", ("awk",)),
    Case("trixie", ("libcurl4-openssl-dev", "libcurl4-gnutls-dev")),  # they conflict
]


@pytest.fixture(scope="session")
def installed_bases(
    indexes, minbase_installed, mirrors, cache_dir
) -> dict[tuple[str, Base], list[Package]]:
    bases: dict[tuple[str, Base], list[Package]] = {}
    for distribution in sorted({case.distribution for case in CASES + REFUSALS}):
        index = indexes[distribution]
        bases[distribution, "minbase"] = minbase_installed[distribution]
        bases[distribution, "empty"] = []
        main_suite_only = load_snapshot(index.snapshots[:1], mirrors=mirrors, cache_dir=cache_dir)
        bases[distribution, "point-release"] = resolve(
            main_suite_only, minbase(main_suite_only), recommends=False
        )
    return bases


@pytest.fixture(scope="session")
def apt_answers(oracles, installed_bases) -> dict[Case, AptAnswer]:
    statuses: dict[tuple[str, Base], Path] = {}
    for (distribution, base), installed in installed_bases.items():
        statuses[distribution, base] = oracles[distribution].write_status(
            f"status-{base}", installed
        )
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {
            case: pool.submit(
                oracles[case.distribution].install,
                list(case.requested),
                status=statuses[case.distribution, case.base],
                recommends=case.recommends,
            )
            for case in CASES + REFUSALS
        }
        return {case: future.result() for case, future in futures.items()}


def ours(case: Case, index: PackageIndex, installed: list[Package]) -> dict[str, str]:
    result = resolve(index, list(case.requested), installed=installed, recommends=case.recommends)
    return {package.name: package.version for package in result}


@pytest.mark.parametrize("case", CASES, ids=str)
def test_same_packages_as_apt(case: Case, indexes, installed_bases, apt_answers) -> None:
    answer = apt_answers[case]
    assert answer.error is None, f"apt refused {case}:\n{answer.error}"
    assert not answer.removals
    got = ours(case, indexes[case.distribution], installed_bases[case.distribution, case.base])
    missing = sorted(set(answer.installs.items()) - set(got.items()))
    extra = sorted(set(got.items()) - set(answer.installs.items()))
    assert not missing and not extra, (
        f"{case}: apt also installs {missing}; only we install {extra}"
    )
    assert len(got) > 0


@pytest.mark.parametrize("case", REFUSALS, ids=str)
def test_refused_like_apt(case: Case, indexes, installed_bases, apt_answers) -> None:
    assert apt_answers[case].error is not None, f"apt accepts {case}: {apt_answers[case].installs}"
    with pytest.raises(ResolveError):
        ours(case, indexes[case.distribution], installed_bases[case.distribution, case.base])


@pytest.mark.parametrize("distribution", ["bookworm", "trixie"])
def test_minbase_closure_matches_apt(distribution: str, indexes, oracles) -> None:
    """minbase() resolved without Recommends (how debootstrap and mmdebstrap install the
    base) equals what apt installs for those names on an empty system."""
    index = indexes[distribution]
    names = minbase(index)
    assert {"apt", "base-files", "bash", "dpkg", "libc-bin", "coreutils"} <= set(names)
    answer = oracles[distribution].install(names, recommends=False)
    assert answer.error is None, answer.error
    got = {p.name: p.version for p in resolve(index, names, recommends=False)}
    assert got == answer.installs
    # the closure adds what the required set needs, e.g. the C library
    assert "libc6" in got and len(got) > len(names)
