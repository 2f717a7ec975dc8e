"""Channel configuration (conda's channel_alias rule) and the lock-time solve against a
channel the test writes (tests/conda_channel.py), served on 127.0.0.1. The oracle is conda's
match-spec semantics, checked on the chosen records: every dependency of every chosen package
is met by another chosen one, and the requested constraints hold."""

from __future__ import annotations

import pytest
import rattler

from conda_channel import Package, channel_packages, write_channel
from nixbuild.conda import channels, solve
from nixbuild.errors import MirrorError, ResolveError
from servers import serve_folder

GLIBC = (2, 36)


@pytest.fixture
def no_condarc(monkeypatch, tmp_path):
    monkeypatch.delenv(channels.ALIAS_ENV, raising=False)
    monkeypatch.setenv("CONDARC", str(tmp_path / "absent-condarc"))


def test_a_name_needs_a_configured_alias_and_the_error_names_the_setting(no_condarc):
    with pytest.raises(MirrorError) as err:
        channels.channel_url("conda-forge")
    assert channels.ALIAS_ENV in str(err.value) and "channel_alias" in str(err.value)
    assert channels.channel_url("http://127.0.0.1:1/x/") == "http://127.0.0.1:1/x"  # a URL needs none


def test_the_alias_comes_from_the_env_else_the_condarc(no_condarc, monkeypatch, tmp_path):
    condarc = tmp_path / "condarc"
    condarc.write_text("channels: [defaults]\nchannel_alias: http://127.0.0.1:2/mirror/\n")
    monkeypatch.setenv("CONDARC", str(condarc))
    assert channels.channel_url("conda-forge") == "http://127.0.0.1:2/mirror/conda-forge"
    monkeypatch.setenv(channels.ALIAS_ENV, "http://127.0.0.1:3")
    assert channels.channel_url("conda-forge") == "http://127.0.0.1:3/conda-forge"


def _python(version: str) -> tuple[Package, str]:
    return Package("python", version, files={"bin/python3": b"#!/bin/sh\n"}), ".tar.bz2"


@pytest.fixture(scope="module")
def channel(tmp_path_factory):
    root = tmp_path_factory.mktemp("conda-channel")
    write_channel(root / "chan", channel_packages() + [_python("3.11.9"), _python("3.12.1")])
    with serve_folder(root, "chan/noarch/repodata.json") as url:
        yield url


def _check_consistent(pins, repodata_specs):
    """conda's rule, independently: each chosen record's depends is met by a chosen record."""
    chosen = {p.name: p for p in pins}
    for pin in pins:
        for dep in repodata_specs[(pin.name, pin.version, pin.build)]:
            spec = rattler.MatchSpec(dep)
            other = chosen[spec.name.normalized]
            wanted = rattler.VersionSpec(spec.version) if spec.version else None
            assert wanted is None or wanted.matches(rattler.Version(other.version)), (pin, dep, other)


def test_the_solve_obeys_the_constraints_and_pins_by_hash(channel, monkeypatch, tmp_path):
    monkeypatch.setenv(channels.ALIAS_ENV, channel)
    pins = solve.solve(["python=3.11", "mypkg"], ["chan"], glibc=GLIBC, cache_dir=tmp_path)
    by_name = {p.name: p for p in pins}
    assert set(by_name) == {"python", "mypkg", "mylib", "mydep"}
    assert by_name["python"].version == "3.11.9"  # python=3.11 is 3.11.*, not the newer 3.12.1
    assert by_name["mylib"].version == "2.0"  # mypkg needs mylib >=2
    assert by_name["mylib"].filename.endswith(".conda")  # both formats served: micromamba prefers .conda
    assert by_name["mypkg"].noarch == "python" and by_name["mypkg"].subdir == "noarch"
    assert [p.name for p in pins].index("mydep") < [p.name for p in pins].index("mylib")  # dependency order
    specs = {(p.name, p.version, p.build): p.depends for p, _ in channel_packages()}
    specs.update({("python", v, "0"): [] for v in ("3.11.9", "3.12.1")})
    _check_consistent(pins, specs)
    assert all(p.channel == "chan" and "127.0.0.1" not in p.model_dump_json() for p in pins)  # no host pinned
    assert by_name["mylib"].url() == f"{channel}/chan/linux-64/{by_name['mylib'].filename}"


def test_installed_packages_are_kept(channel, monkeypatch, tmp_path):
    monkeypatch.setenv(channels.ALIAS_ENV, channel)
    (python,) = [p for p in solve.solve(["python=3.11"], ["chan"], glibc=GLIBC, cache_dir=tmp_path)]
    pins = solve.solve(["python", "mylib<2"], ["chan"], glibc=GLIBC, cache_dir=tmp_path, installed=[python])
    assert [(p.name, p.version) for p in pins] == [("mylib", "1.0")]  # python stays 3.11.9, not in the result


def test_an_unsolvable_request_and_an_unreachable_channel(channel, monkeypatch, tmp_path):
    monkeypatch.setenv(channels.ALIAS_ENV, channel)
    with pytest.raises(ResolveError, match="mylib"):
        solve.solve(["mylib>=3"], ["chan"], glibc=GLIBC, cache_dir=tmp_path)
    monkeypatch.setenv(channels.ALIAS_ENV, "http://127.0.0.1:9")
    with pytest.raises(MirrorError) as err:
        solve.solve(["mylib"], ["chan"], glibc=GLIBC, cache_dir=tmp_path)
    assert channels.ALIAS_ENV in str(err.value) and "127.0.0.1:9/chan" in str(err.value)


def test_a_malformed_spec_is_named(channel, monkeypatch, tmp_path):
    monkeypatch.setenv(channels.ALIAS_ENV, channel)
    with pytest.raises(ResolveError, match="not a conda match spec"):
        solve.solve(["mylib >>=2"], ["chan"], glibc=GLIBC, cache_dir=tmp_path)
