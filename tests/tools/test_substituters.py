"""Binary caches are probed once per run: an unreachable one is dropped within the probe's
timeout instead of costing Nix seconds per call, and what answers reaches every Nix call."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from nixbuild.tools import nixcmd, substituters
from tests.servers import serve_folder

OFF = "http://127.0.0.1:1"  # nothing listens on port 1


@pytest.fixture
def http_cache(tmp_path):
    """A binary cache folder served by python's http.server on 127.0.0.1."""
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "nix-cache-info").write_text("StoreDir: /nix/store\n")
    with serve_folder(folder, "nix-cache-info") as url:
        yield url


@pytest.fixture
def silent():
    """A port that accepts connections and never answers (a firewall that drops would cost the same)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def _fresh(monkeypatch, extra: str, keys: str = "") -> substituters.Caches:
    substituters._decide.cache_clear()
    monkeypatch.setenv(substituters.SUBSTITUTERS_ENV, extra)
    monkeypatch.setenv(substituters.KEYS_ENV, keys)
    return substituters.caches()


def test_only_caches_that_answer_reach_nix(monkeypatch, tmp_path, http_cache, silent):
    file_cache = tmp_path / "filecache"
    file_cache.mkdir()
    (file_cache / "nix-cache-info").write_text("StoreDir: /nix/store\n")
    missing = tmp_path / "nothing-here"
    found = _fresh(monkeypatch, f"file://{file_cache} {http_cache} {OFF} {silent} file://{missing}",
                   "test-1:AAAA")
    assert found.substituters == [f"file://{file_cache}", http_cache]
    assert {OFF, silent, f"file://{missing}"} <= set(found.unreachable)
    # The machine's own configuration comes first and is kept as well (its keys too).
    machine_subs, machine_keys = substituters.configured()
    assert set(found.trusted_public_keys) == {*machine_keys, "test-1:AAAA"}
    assert set(found.unreachable) | set(found.substituters) == {*machine_subs, *found.substituters,
                                                                  OFF, silent, f"file://{missing}"}
    # Decided once per run: later Nix calls reuse the probe's answer.
    hits = substituters._decide.cache_info().hits
    options = nixcmd.common_options()
    assert substituters._decide.cache_info().hits == hits + 1
    value = options[options.index("substituters") + 1]
    assert value.split() == [f"file://{file_cache}", http_cache]
    assert "test-1:AAAA" in options[options.index("trusted-public-keys") + 1].split()
    # A rebuild that must not be served from a cache gets none.
    bare = nixcmd.common_options(substitute=False)
    assert bare[bare.index("substituters") + 1] == "" and "trusted-public-keys" not in bare
    substituters._decide.cache_clear()


def test_a_refusing_cache_never_reaches_nix(monkeypatch):
    """What the probe saves: Nix asked for a path with a refusing cache among its substituters
    retries it for seconds on every call (bench figure: about 4 s here, against 0.2 s probed);
    probed, the refusing cache is dropped, so Nix never asks it."""
    _fresh(monkeypatch, OFF)
    options = nixcmd.common_options()
    assert OFF not in options[options.index("substituters") + 1].split()
    path = nixcmd.fixed_path("nothing", "0" * 52)
    assert not nixcmd.substitute(path)  # only the machine's caches that answered (none here)
    substituters._decide.cache_clear()


def test_nix_configuration_is_kept_until_a_file_it_depends_on_changes(monkeypatch, tmp_path):
    """The answer of `nix show-config` (the oracle) is kept in the cache folder and used while
    the files Nix reads are unchanged; an edit of an included file is a change."""
    conf_dir, cache = tmp_path / "etc-nix", tmp_path / "cache"
    conf_dir.mkdir()
    (conf_dir / "nix.conf").write_text("include extra.conf\n")
    (conf_dir / "extra.conf").write_text("substituters = file:///first\n")
    monkeypatch.setenv("NIX_CONF_DIR", str(conf_dir))
    monkeypatch.setenv("NIX_USER_CONF_FILES", str(tmp_path / "none.conf"))
    monkeypatch.setenv("NIXBUILD_CACHE_DIR", str(cache))
    monkeypatch.delenv("NIX_CONFIG", raising=False)
    assert substituters.configured()[0] == ["file:///first"]
    assert (cache / "nix-config.json").is_file()
    assert str(conf_dir / "extra.conf") in substituters._config_files()

    calls = []
    real = substituters._show_config
    monkeypatch.setattr(substituters, "_show_config", lambda: calls.append(1) or real())
    assert substituters.configured()[0] == ["file:///first"]
    assert calls == []  # answered from the cache

    (conf_dir / "extra.conf").write_text("substituters = file:///second\n")
    assert substituters.configured()[0] == ["file:///second"]
    monkeypatch.setenv("NIX_CONFIG", "substituters = file:///third")
    assert substituters.configured()[0] == ["file:///third"]
    assert len(calls) == 2
