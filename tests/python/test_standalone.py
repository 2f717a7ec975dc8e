"""Which python-build-standalone build serves a series: uv's knowledge (its offline download
list), read by nixbuild.python.standalone. No network: uv lists its downloads from the data
it ships with."""

from __future__ import annotations

import pytest

from nixbuild.debian.slim import STANDALONE_SERIES
from nixbuild.errors import InvalidError
from nixbuild.python import standalone


@pytest.mark.parametrize("series", STANDALONE_SERIES)
def test_uv_knows_a_build_of_every_standalone_series(series):
    entry = standalone.choose(series, series)
    assert entry["version"].startswith(series + ".") and "install_only" in entry["url"]
    assert entry["variant"] == "default"


def test_a_micro_version_picks_that_build_and_the_newest_is_the_default(monkeypatch):
    newest = standalone.choose("3.12", "3.12")
    older = f"3.12.{newest['version_parts']['patch'] - 1}"
    assert standalone.choose(older, "3.12")["version"] == older
    with pytest.raises(InvalidError, match="knows no python-build-standalone build of Python 3.12.999"):
        standalone.choose("3.12.999", "3.12")


def test_free_threaded_builds_are_their_own_variant():
    assert standalone.choose("3.14t", "3.14t")["variant"] == "freethreaded"


def test_the_mirror_setting_moves_every_url_and_the_lock_keeps_no_host(monkeypatch):
    monkeypatch.setenv(standalone.MIRROR_ENV, "http://127.0.0.1:9/pbs/")
    entry = standalone.choose("3.12", "3.12")
    assert entry["url"].startswith("http://127.0.0.1:9/pbs/")
    release, filename = entry["url"].rsplit("/", 2)[-2:]
    pin = standalone.StandalonePin(version=entry["version"], release=release, filename=filename.replace("%2B", "+"),
                                   size=1, sha256="0" * 64)
    assert pin.url() == entry["url"]
    assert "127.0.0.1" not in pin.model_dump_json()
