"""Shared fixtures: the configured mirrors and the real indexes, loaded once per session.

Tests that need the mirror fail -- they do not skip -- when it cannot be reached, with the
MirrorError that names the URL. Indexes are cached under ``$NIXBUILD_CACHE_DIR`` (default
``~/.cache/nixbuild``), so only the InRelease files are fetched after the first run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nixbuild.debian import Mirrors, PackageIndex, configured_mirrors, load_index, minbase, resolve
from nixbuild.debian.cache import default_cache_dir
from nixbuild.errors import MirrorError

from .apt_oracle import AptOracle


@pytest.fixture(scope="session")
def mirrors() -> Mirrors:
    return configured_mirrors()


@pytest.fixture(scope="session")
def cache_dir() -> Path:
    return default_cache_dir()


def _load(distribution: str, mirrors: Mirrors, cache_dir: Path) -> PackageIndex:
    try:
        return load_index(distribution, mirrors=mirrors, cache_dir=cache_dir)
    except MirrorError as error:
        pytest.fail(
            f"this test needs the configured Debian mirror ({mirrors.debian}, "
            f"{mirrors.security}), which failed: {error}",
            pytrace=False,
        )


@pytest.fixture(scope="session")
def bookworm(mirrors: Mirrors, cache_dir: Path) -> PackageIndex:
    return _load("bookworm", mirrors, cache_dir)


@pytest.fixture(scope="session")
def trixie(mirrors: Mirrors, cache_dir: Path) -> PackageIndex:
    return _load("trixie", mirrors, cache_dir)


@pytest.fixture(scope="session")
def indexes(request: pytest.FixtureRequest) -> dict[str, PackageIndex]:
    """Indexes by distribution name, loaded on first use."""

    class Lazy(dict):
        def __missing__(self, name: str) -> PackageIndex:
            self[name] = request.getfixturevalue(name)
            return self[name]

    return Lazy()


@pytest.fixture(scope="session")
def oracles(indexes, tmp_path_factory: pytest.TempPathFactory) -> dict[str, AptOracle]:
    """A private apt per distribution, reading the same Packages files as the index."""

    class Lazy(dict):
        def __missing__(self, name: str) -> AptOracle:
            self[name] = AptOracle(indexes[name], tmp_path_factory.mktemp(f"apt-{name}"))
            return self[name]

    return Lazy()


@pytest.fixture(scope="session")
def minbase_installed(indexes) -> dict[str, list]:
    """The minbase closure of each distribution (what a debian_slim base holds)."""

    class Lazy(dict):
        def __missing__(self, name: str) -> list:
            index = indexes[name]
            self[name] = resolve(index, minbase(index), recommends=False)
            return self[name]

    return Lazy()
