"""Snapshot mirror URLs from the lock's index dates, and the flat fixed-output path nixbuild
adds a recovered .deb under (checked against nix-store itself)."""

from __future__ import annotations

import hashlib
import subprocess

import pytest

from nixbuild.debian.index import SuiteSnapshot
from nixbuild.debian.snapshot import snapshot_urls
from nixbuild.errors import MirrorError
from nixbuild.store.pinned_debs import flat_path
from nixbuild.tools.nixcmd import store_name


def _snapshot(archive: str, date: str) -> SuiteSnapshot:
    return SuiteSnapshot(archive=archive, suite="bookworm", component="main", architecture="amd64",
                         inrelease_sha256="0" * 64, packages_sha256="0" * 64,
                         packages_path="dists/bookworm/main/binary-amd64/Packages.xz", date=date)


def test_the_newest_index_of_the_archive_and_a_day_later(monkeypatch):
    monkeypatch.setenv("NIXBUILD_DEBIAN_SNAPSHOT", "http://snap.test/archive/{archive}/{timestamp}/")
    snaps = [_snapshot("debian", "Sat, 09 Nov 2024 10:22:15 UTC"),
             _snapshot("debian", "Sun, 10 Nov 2024 08:00:00 UTC"),
             _snapshot("debian-security", "Mon, 11 Nov 2024 01:00:00 UTC")]
    assert snapshot_urls("debian", "pool/main/h/hello/hello.deb", snaps) == [
        "http://snap.test/archive/debian/20241110T080000Z/pool/main/h/hello/hello.deb",
        "http://snap.test/archive/debian/20241111T080000Z/pool/main/h/hello/hello.deb"]


def test_an_ubuntu_pin_gets_no_debian_snapshot_urls(monkeypatch):
    monkeypatch.setenv("NIXBUILD_DEBIAN_SNAPSHOT", "http://snap.test/archive/{archive}/{timestamp}/")
    snaps = [_snapshot("ubuntu", "Sat, 09 Nov 2024 10:22:15 UTC")]
    assert snapshot_urls("ubuntu", "pool/main/h/hello/hello.deb", snaps) == []


def test_no_template_no_urls_and_a_bad_one_is_refused(monkeypatch):
    snaps = [_snapshot("debian", "Sat, 09 Nov 2024 10:22:15 UTC")]
    monkeypatch.delenv("NIXBUILD_DEBIAN_SNAPSHOT", raising=False)
    assert snapshot_urls("debian", "pool/x.deb", snaps) == []
    monkeypatch.setenv("NIXBUILD_DEBIAN_SNAPSHOT", "snap.test/archive")
    with pytest.raises(MirrorError, match="NIXBUILD_DEBIAN_SNAPSHOT"):
        snapshot_urls("debian", "pool/x.deb", snaps)


def test_flat_path_is_what_nix_store_add_fixed_prints(tmp_path):
    data = b"not really a deb\n"
    name = store_name("libssl3_3.0.22-1~deb12u2_amd64.deb")
    file = tmp_path / name
    file.write_bytes(data)
    added = subprocess.run(["nix-store", "--add-fixed", "sha256", str(file)], capture_output=True, text=True,
                           check=True).stdout.strip()
    try:
        assert flat_path(name, hashlib.sha256(data).hexdigest()) == added
    finally:
        subprocess.run(["nix-store", "--delete", added], capture_output=True)
