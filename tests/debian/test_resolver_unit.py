"""The resolver on small hand-written indexes (tests/fixtures/debian/*.Packages).

Each behaviour has its own fixture; the last test replays every case through apt itself
(offline: the fixture becomes a local repository) to show the expectations are apt's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nixbuild.debian import minbase, resolve
from nixbuild.errors import ResolveError

from .apt_oracle import AptOracle
from .synthetic import fixture_index, two_suite_index


def names(packages) -> dict[str, str]:
    return {package.name: package.version for package in packages}


# --- alternatives ---------------------------------------------------------------------------


def test_first_installable_alternative() -> None:
    index = fixture_index("alternatives")
    assert names(resolve(index, ["app-first"])) == {"app-first": "1.0", "liba": "1.0"}


def test_uninstallable_alternative_is_skipped() -> None:
    # libbroken depends on a package that does not exist
    index = fixture_index("alternatives")
    assert names(resolve(index, ["app-second"])) == {"app-second": "1.0", "libb": "2.0-1"}


def test_alternative_met_by_installed_or_requested_package() -> None:
    index = fixture_index("alternatives")
    libb = index.candidate("libb")
    assert names(resolve(index, ["app-first"], installed=[libb])) == {"app-first": "1.0"}
    assert names(resolve(index, ["app-first", "libb"])) == {"app-first": "1.0", "libb": "2.0-1"}


# --- virtual packages -----------------------------------------------------------------------


def test_dependency_on_virtual_prefers_higher_priority_provider() -> None:
    index = fixture_index("virtual")
    assert names(resolve(index, ["client"])) == {"client": "1.0", "mailer-standard": "1.0"}


def test_real_alternative_before_virtual() -> None:
    index = fixture_index("virtual")
    assert names(resolve(index, ["client-prefers"])) == {
        "client-prefers": "1.0",
        "mailer-optional": "1.0",
    }


def test_requested_virtual_with_one_provider_selects_it() -> None:
    index = fixture_index("virtual")
    assert names(resolve(index, ["lonely-virtual"])) == {"solo": "1.0"}


def test_requested_virtual_with_several_providers_is_refused() -> None:
    index = fixture_index("virtual")
    with pytest.raises(ResolveError) as error:
        resolve(index, ["mta"])
    assert "mailer-optional" in str(error.value) and "mailer-standard" in str(error.value)
    assert "virtual" in str(error.value)


def test_requested_provider_satisfies_virtual_dependency() -> None:
    index = fixture_index("virtual")
    # The providers conflict with "mta" (like real MTAs); a requested one is used, not a second.
    result = names(resolve(index, ["client", "mailer-optional"]))
    assert result == {"client": "1.0", "mailer-optional": "1.0"}


def test_provider_tie_broken_by_apt_package_order() -> None:
    # Equal providers: apt takes the one its cache created last. zz-prov is created early
    # (mentioned by a Suggests before its stanza), so aa-prov wins; mm-prov comes after
    # bb-prov in the file, so mm-prov wins (neither alphabetical nor file order alone).
    index = fixture_index("provider_order")
    assert names(resolve(index, ["wants-thing"])) == {"wants-thing": "1.0", "aa-prov": "1.0"}
    assert names(resolve(index, ["wants-other-thing"])) == {
        "wants-other-thing": "1.0",
        "mm-prov": "1.0",
    }


# --- versioned provides ---------------------------------------------------------------------


def test_versioned_dependency_needs_versioned_provides() -> None:
    index = fixture_index("versioned_provides")
    assert names(resolve(index, ["needs-v2"])) == {"needs-v2": "1.0", "prov-v2": "1.0"}


def test_versioned_dependency_nobody_provides() -> None:
    index = fixture_index("versioned_provides")
    with pytest.raises(ResolveError) as error:
        resolve(index, ["needs-v3"])
    assert "virt (>= 3)" in str(error.value)


def test_unversioned_dependency_any_provider() -> None:
    index = fixture_index("versioned_provides")
    result = names(resolve(index, ["needs-any"]))
    assert result == {"needs-any": "1.0", "prov-unversioned": "1.0"}


# --- pre-depends, conflicts -----------------------------------------------------------------


def test_pre_depends_are_installed() -> None:
    index = fixture_index("predepends")
    assert names(resolve(index, ["tool"])) == {"tool": "1.0", "tool-data": "1.0", "libpre": "1.5"}


def test_unmet_pre_depends() -> None:
    index = fixture_index("predepends")
    with pytest.raises(ResolveError) as error:
        resolve(index, ["tool-next"])
    assert "Pre-Depends: libpre (>= 2.0)" in str(error.value)


def test_conflicting_requests_are_an_error() -> None:
    index = fixture_index("conflicts")
    with pytest.raises(ResolveError) as error:
        resolve(index, ["alpha", "beta"])
    assert "Conflicts" in str(error.value)


def test_breaks_is_an_error() -> None:
    index = fixture_index("conflicts")
    with pytest.raises(ResolveError) as error:
        resolve(index, ["gamma", "alpha"])
    assert "Breaks: alpha (<< 2.0)" in str(error.value)


def test_conflict_steers_alternative() -> None:
    # delta: Depends: beta | epsilon; a requested alpha conflicts with beta.
    index = fixture_index("conflicts")
    expected = {"alpha": "1.0", "delta": "1.0", "epsilon": "1.0"}
    assert names(resolve(index, ["alpha", "delta"])) == expected
    assert names(resolve(index, ["delta", "alpha"])) == expected


def test_conflict_with_installed_package_is_an_error() -> None:
    index = fixture_index("conflicts")
    with pytest.raises(ResolveError) as error:
        resolve(index, ["alpha"], installed=[index.candidate("beta")])
    assert "remove" in str(error.value) and "beta" in str(error.value)


# --- recommends, multi-arch -----------------------------------------------------------------


def test_recommends_follow_the_flag() -> None:
    index = fixture_index("recommends")
    with_recommends = names(resolve(index, ["editor"]))
    assert with_recommends == {"editor": "2:8.2-1", "editor-runtime": "2:8.2-1", "spell": "1.0"}
    assert names(resolve(index, ["editor"], recommends=False)) == {
        "editor": "2:8.2-1",
        "editor-runtime": "2:8.2-1",
    }


def test_any_qualifier_needs_multi_arch_allowed() -> None:
    index = fixture_index("multiarch")
    assert names(resolve(index, ["script"])) == {"script": "1.0", "interp": "3.11-1"}
    with pytest.raises(ResolveError):
        resolve(index, ["script-native"])


def test_architecture_qualifiers_in_requests() -> None:
    index = fixture_index("alternatives")
    assert "liba" in names(resolve(index, ["liba:amd64"]))
    with pytest.raises(ResolveError) as error:
        resolve(index, ["liba:i386"])
    assert "i386" in str(error.value)


# --- suites, versions, names ----------------------------------------------------------------


def test_candidate_is_highest_version_across_suites() -> None:
    index = two_suite_index()
    libfoo = index.candidate("libfoo")
    assert libfoo is not None
    assert (libfoo.version, libfoo.archive, libfoo.suite) == (
        "1.0-1+deb12u1",
        "debian-security",
        "bookworm-security",
    )
    assert libfoo.filename.startswith("pool/updates/") and libfoo.size == 2222
    assert [p.version for p in index.versions("libfoo")] == ["1.0-1+deb12u1", "1.0-1"]
    assert names(resolve(index, ["app"])) == {"app": "1.0", "libfoo": "1.0-1+deb12u1"}


def test_version_pin() -> None:
    index = two_suite_index()
    result = resolve(index, ["app", "libfoo=1.0-1"])
    assert names(result) == {"app": "1.0", "libfoo": "1.0-1"}
    assert {p.name: p.archive for p in result}["libfoo"] == "debian"


def test_impossible_version() -> None:
    index = two_suite_index()
    with pytest.raises(ResolveError) as error:
        resolve(index, ["libfoo=9.9"])
    message = str(error.value)
    assert "9.9" in message and "1.0-1+deb12u1" in message


def test_unknown_package_suggests_close_names() -> None:
    index = fixture_index("alternatives")
    with pytest.raises(ResolveError) as error:
        resolve(index, ["app-frist"])
    assert "app-frist" in str(error.value)
    assert "app-first" in str(error.value)


def test_unknown_package_without_close_names() -> None:
    index = fixture_index("alternatives")
    with pytest.raises(ResolveError) as error:
        resolve(index, ["zzzzzzzz"])
    assert "unknown package 'zzzzzzzz'" in str(error.value)


def test_result_is_sorted_and_carries_pins() -> None:
    index = fixture_index("predepends")
    result = resolve(index, ["tool"])
    assert [p.name for p in result] == sorted(p.name for p in result)
    tool = next(p for p in result if p.name == "tool")
    assert tool.filename == "pool/main/t/tool/tool_1.0_amd64.deb"
    assert tool.sha256 == "0" * 64 and tool.size == 1000 and tool.archive == "debian"
    assert [str(group[0]) for group in tool.pre_depends] == ["libpre (>= 1.0)"]


def test_minbase() -> None:
    index = fixture_index("minbase")
    assert minbase(index) == ["apt", "essential-tool", "req-lib"]
    base = names(resolve(index, minbase(index), recommends=False))
    assert base == {"apt": "2.6.1", "essential-tool": "1.0", "req-lib": "1.2"}
    # an installed base is not reinstalled, and its unmet Recommends stay unmet
    installed = resolve(index, minbase(index), recommends=False)
    assert names(resolve(index, ["optional-tool"], installed=installed)) == {"optional-tool": "1.0"}


# --- the same cases, asked of apt -----------------------------------------------------------

APT_CASES = {
    "alternatives": [["app-first"], ["app-second"], ["app-first", "libb"], ["app-frist"]],
    "virtual": [
        ["client"],
        ["client-prefers"],
        ["mta"],
        ["lonely-virtual"],
        ["client", "mailer-optional"],
    ],
    "provider_order": [["wants-thing"], ["wants-other-thing"]],
    "versioned_provides": [["needs-any"], ["needs-v2"], ["needs-v3"], ["virt"]],
    "predepends": [["tool"], ["tool-next"]],
    "conflicts": [["alpha", "beta"], ["gamma", "alpha"], ["alpha", "delta"], ["delta", "alpha"]],
    "recommends": [["editor"]],
    "multiarch": [["script"], ["script-native"]],
    "minbase": [["apt", "essential-tool", "req-lib"], ["optional-tool"]],
    "suite-main": [["app"]],
}


@pytest.mark.skipif(
    shutil.which("apt-get") is None, reason="apt is the oracle and is not installed"
)
@pytest.mark.parametrize("fixture", sorted(APT_CASES))
def test_fixture_cases_agree_with_apt(fixture: str, tmp_path: Path) -> None:
    index = fixture_index(fixture)
    oracle = AptOracle(index, tmp_path)
    for requested in APT_CASES[fixture]:
        for recommends in (True, False):
            answer = oracle.install(requested, recommends=recommends)
            try:
                ours = names(resolve(index, requested, recommends=recommends))
            except ResolveError as error:
                assert answer.error is not None, (
                    f"{requested}: apt installs {answer.installs}, we fail: {error}"
                )
                continue
            assert answer.error is None, (
                f"{requested}: we install {ours}, apt fails:\n{answer.error}"
            )
            assert ours == answer.installs, requested
