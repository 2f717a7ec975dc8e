"""Licences from Debian's machine-readable copyright files, and the .deb's place in the store."""

import io
import subprocess
import tarfile

from nixbuild.lock import DebPin
from nixbuild.sbom.licenses import copyright_text, deb_license, deb_store_path, dep5_license, spdx_id

DEP5 = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: demo

Files: *
Copyright: 2020 Someone
License: GPL-2+

Files: lib/*
Copyright: 2021 Other
License: Expat or LGPL-2.1
 Text of the licence.

Files: data/*
License: public-domain

License: GPL-2+
 The GPL text.
"""


def test_dep5_licences_map_to_spdx():
    assert dep5_license(DEP5) == "GPL-2.0-or-later AND (MIT OR LGPL-2.1-only) AND LicenseRef-Debian-public-domain"
    assert dep5_license("This package was debianized by someone.\nLicense: GPL\n") is None
    assert spdx_id("BSD-3-clause") == "BSD-3-Clause"
    assert spdx_id("LGPL-3+") == "LGPL-3.0-or-later"
    assert spdx_id("weird licence!") == "LicenseRef-Debian-weird-licence"


def _deb(tmp_path, name: str, copyright: str):
    """A real .deb made by dpkg-deb (the format's own tool) holding a copyright file."""
    root = tmp_path / "pkg"
    (root / "DEBIAN").mkdir(parents=True)
    (root / "DEBIAN" / "control").write_text(
        f"Package: {name}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\nDescription: t\n")
    doc = root / "usr" / "share" / "doc" / name
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(copyright)
    (root / "usr" / "bin").mkdir()
    (root / "usr" / "bin" / "tool").write_bytes(b"x" * 1000)
    out = tmp_path / f"{name}_1.0_all.deb"
    subprocess.run(["dpkg-deb", "-Zxz", "--build", "--root-owner-group", str(root), str(out)], check=True,
                   capture_output=True)
    return out


def test_the_copyright_file_is_read_from_the_deb_and_cached_by_its_hash(tmp_path):
    import hashlib
    deb = _deb(tmp_path, "demo", DEP5)
    assert copyright_text(deb, "demo") == DEP5
    assert copyright_text(deb, "other") is None
    pin = DebPin(name="demo", version="1.0", architecture="all", archive="debian",
                 path="pool/main/d/demo/demo_1.0_all.deb", size=deb.stat().st_size,
                 sha256=hashlib.sha256(deb.read_bytes()).hexdigest())
    cache = tmp_path / "cache"
    expected = "GPL-2.0-or-later AND (MIT OR LGPL-2.1-only) AND LicenseRef-Debian-public-domain"
    assert deb_license(pin, cache, deb) == expected
    deb.unlink()
    assert deb_license(pin, cache, None) == expected  # from the cache, by sha256


def test_the_store_path_of_a_deb_is_the_one_nix_computes(tmp_path):
    """nix-store --add-fixed sha256 (flat) is the oracle for nix/fetch.nix's fetchFile path."""
    deb = _deb(tmp_path, "demo", DEP5)
    import hashlib
    pin = DebPin(name="demo", version="1.0", architecture="all", archive="debian",
                 path=f"pool/main/d/demo/{deb.name}", size=deb.stat().st_size,
                 sha256=hashlib.sha256(deb.read_bytes()).hexdigest())
    added = subprocess.run(["nix-store", "--add-fixed", "sha256", str(deb)], check=True, capture_output=True,
                           text=True).stdout.strip()
    assert deb_store_path(pin) == added
