"""Loading indexes: the chain of trust, the cache, snapshots, and errors that name the URL.

Most tests serve a small archive from a ``file:`` mirror signed with a key made for the
test (the keyring is switched with NIXBUILD_DEBIAN_KEYRING); the network tests at the end
check the real archive's signatures.
"""

from __future__ import annotations

import hashlib
import lzma
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nixbuild.debian import Mirrors, PackageIndex, load_index, load_snapshot
from nixbuild.debian.cache import IndexCache
from nixbuild.debian.fetch import fetch
from nixbuild.debian.packages_file import PackagesFile
from nixbuild.debian.release import verify_signed
from nixbuild.errors import InvalidError, MirrorError

from .synthetic import fixture_text

DATE = "Sat, 11 Jul 2026 10:16:37 UTC"


@dataclass
class Archive:
    root: Path  # holds debian/ and debian-security/
    gnupg: Path
    keyring: Path

    @property
    def mirrors(self) -> Mirrors:
        return Mirrors(
            debian=f"file:{self.root}/debian", security=f"file:{self.root}/debian-security"
        )

    def publish(
        self, archive: str, suite: str, packages: str, *, valid_until: str | None = None
    ) -> str:
        """Write a suite (Packages.xz, its by-hash copy, a signed InRelease); returns the
        SHA256 of the Packages.xz."""
        folder = self.root / archive / "dists" / suite
        binary = folder / "main" / "binary-amd64"
        (binary / "by-hash" / "SHA256").mkdir(parents=True, exist_ok=True)
        data = lzma.compress(packages.encode(), format=lzma.FORMAT_XZ)
        digest = hashlib.sha256(data).hexdigest()
        (binary / "Packages.xz").write_bytes(data)
        (binary / "by-hash" / "SHA256" / digest).write_bytes(data)
        release = (
            f"Origin: Debian\nSuite: {suite}\nCodename: {suite}\nDate: {DATE}\n"
            + (f"Valid-Until: {valid_until}\n" if valid_until else "")
            + "Acquire-By-Hash: yes\nArchitectures: amd64\nComponents: main\nSHA256:\n"
            + f" {digest} {len(data)} main/binary-amd64/Packages.xz\n"
        )
        (folder / "Release").write_text(release)
        (folder / "InRelease").unlink(missing_ok=True)
        self.gpg("--clearsign", "--output", str(folder / "InRelease"), str(folder / "Release"))
        return digest

    def gpg(self, *args: str) -> None:
        subprocess.run(
            ["gpg", "--batch", "--quiet", "--homedir", str(self.gnupg), "--passphrase", "", *args],
            check=True,
            capture_output=True,
        )


@pytest.fixture(scope="module")
def signing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """A throw-away signing key (gpg home, exported keyring)."""
    if shutil.which("gpg") is None or shutil.which("gpgv") is None:
        pytest.skip("gpg and gpgv are needed to sign a test archive")
    gnupg = Path(tempfile.mkdtemp(prefix="gpg-", dir="/tmp"))  # short: gpg-agent's socket path
    gnupg.chmod(0o700)
    keyring = tmp_path_factory.mktemp("keyring") / "test-archive.gpg"
    run = ["gpg", "--batch", "--quiet", "--homedir", str(gnupg), "--passphrase", ""]
    subprocess.run(
        [*run, "--quick-gen-key", "nixbuild test <test@example.org>", "ed25519", "sign", "never"],
        check=True,
        capture_output=True,
    )
    with keyring.open("wb") as out:
        subprocess.run([*run, "--export"], check=True, stdout=out)
    yield gnupg, keyring
    subprocess.run(["gpgconf", "--homedir", str(gnupg), "--kill", "gpg-agent"], check=False)
    shutil.rmtree(gnupg, ignore_errors=True)


@pytest.fixture
def archive(signing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Archive:
    gnupg, keyring = signing
    monkeypatch.setenv("NIXBUILD_DEBIAN_KEYRING", str(keyring))
    served = Archive(tmp_path / "mirror", gnupg, keyring)
    served.publish("debian", "bookworm", fixture_text("suite-main"))
    served.publish("debian", "bookworm-updates", "")  # an empty suite is valid
    served.publish("debian-security", "bookworm-security", fixture_text("suite-security"))
    return served


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_load_index_verifies_and_records_snapshots(archive: Archive, tmp_path: Path) -> None:
    index = load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    assert [s.suite for s in index.snapshots] == [
        "bookworm",
        "bookworm-updates",
        "bookworm-security",
    ]
    main = index.snapshots[0]
    assert main.archive == "debian" and index.snapshots[2].archive == "debian-security"
    assert main.packages_path == "dists/bookworm/main/binary-amd64/Packages.xz"
    assert main.date == DATE and main.component == "main" and main.architecture == "amd64"
    served = (archive.root / "debian" / main.packages_path).read_bytes()
    assert main.packages_sha256 == hashlib.sha256(served).hexdigest()
    in_release = (archive.root / "debian/dists/bookworm/InRelease").read_bytes()
    assert main.inrelease_sha256 == hashlib.sha256(in_release).hexdigest()
    libfoo = index.candidate("libfoo")
    assert libfoo is not None and (libfoo.version, libfoo.archive) == (
        "1.0-1+deb12u1",
        "debian-security",
    )
    assert IndexCache(tmp_path / "cache", main.packages_sha256).xz.read_bytes() == served


def test_cached_index_needs_only_inrelease(archive: Archive, tmp_path: Path) -> None:
    load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    for packages in archive.root.glob("*/dists/*/main/binary-amd64"):
        shutil.rmtree(packages)  # the mirror loses every Packages file
    index = load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    assert index.candidate("app") is not None


def test_load_snapshot_offline_from_cache(archive: Archive, tmp_path: Path) -> None:
    index = load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    nowhere = Mirrors(
        debian=f"http://127.0.0.1:{_closed_port()}/debian",
        security=f"http://127.0.0.1:{_closed_port()}/s",
    )
    again = load_snapshot(index.snapshots, mirrors=nowhere, cache_dir=tmp_path / "cache")
    assert again.snapshots == index.snapshots
    assert again.candidate("libfoo") == index.candidate("libfoo")


def test_load_snapshot_fetches_old_index_by_hash(archive: Archive, tmp_path: Path) -> None:
    index = load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "first")
    # The archive moves on: a new bookworm index replaces Packages.xz; by-hash keeps the old.
    archive.publish("debian", "bookworm", fixture_text("alternatives"))
    again = load_snapshot(index.snapshots, mirrors=archive.mirrors, cache_dir=tmp_path / "second")
    assert again.candidate("app") is not None and again.candidate("app-first") is None
    # Once the old index is gone from by-hash too, the error names the URL and the fix.
    for old in archive.root.glob("debian/dists/bookworm/main/binary-amd64/by-hash/SHA256/*"):
        if old.name == index.snapshots[0].packages_sha256:
            old.unlink()
    with pytest.raises(MirrorError) as error:
        load_snapshot(index.snapshots, mirrors=archive.mirrors, cache_dir=tmp_path / "third")
    assert "dists/bookworm/main/binary-amd64/Packages.xz: SHA256" in str(error.value)
    assert "by-hash/SHA256/" in str(error.value) and "not found" in str(error.value)
    assert "snapshot mirror" in (error.value.fix or "")


def test_tampered_index_is_refused(archive: Archive, tmp_path: Path) -> None:
    binary = archive.root / "debian/dists/bookworm/main/binary-amd64"
    evil = lzma.compress(fixture_text("alternatives").encode(), format=lzma.FORMAT_XZ)
    (binary / "Packages.xz").write_bytes(evil)
    for by_hash in (binary / "by-hash" / "SHA256").iterdir():
        by_hash.write_bytes(evil)
    with pytest.raises(MirrorError) as error:
        load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    message = str(error.value)
    assert f"{archive.mirrors.debian}/dists/bookworm/main/binary-amd64/by-hash/SHA256/" in message
    assert (
        f"{archive.mirrors.debian}/dists/bookworm/main/binary-amd64/Packages.xz: SHA256" in message
    )
    assert "expected SHA256" in message


def test_tampered_inrelease_is_refused(archive: Archive, tmp_path: Path) -> None:
    in_release = archive.root / "debian/dists/bookworm-updates/InRelease"
    in_release.write_text(in_release.read_text().replace("Origin: Debian", "Origin: Evil"))
    with pytest.raises(MirrorError) as error:
        load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    assert "dists/bookworm-updates/InRelease" in str(error.value)
    assert "signature" in str(error.value)


def test_unknown_signing_key_is_refused(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NIXBUILD_DEBIAN_KEYRING", "/usr/share/keyrings/debian-archive-keyring.gpg")
    with pytest.raises(MirrorError) as error:
        load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    assert "does not verify" in str(error.value)


def test_expired_release_is_refused(archive: Archive, tmp_path: Path) -> None:
    archive.publish("debian", "bookworm-updates", "", valid_until="Mon, 01 Jan 2024 00:00:00 UTC")
    with pytest.raises(MirrorError) as error:
        load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    assert "expired" in str(error.value)


def test_release_for_another_suite_is_refused(archive: Archive, tmp_path: Path) -> None:
    # A mirror answering bookworm-updates with the (validly signed) bookworm file.
    updates = archive.root / "debian/dists/bookworm-updates/InRelease"
    updates.write_bytes((archive.root / "debian/dists/bookworm/InRelease").read_bytes())
    with pytest.raises(MirrorError) as error:
        load_index("bookworm", mirrors=archive.mirrors, cache_dir=tmp_path / "cache")
    assert "not 'bookworm-updates'" in str(error.value)


def test_unreachable_mirror_names_url_and_fix(tmp_path: Path) -> None:
    port = _closed_port()
    mirrors = Mirrors(
        debian=f"http://127.0.0.1:{port}/debian",
        security=f"http://127.0.0.1:{port}/debian-security",
    )
    with pytest.raises(MirrorError) as error:
        load_index("bookworm", mirrors=mirrors, cache_dir=tmp_path)
    assert f"http://127.0.0.1:{port}/debian" in str(error.value)
    assert "NIXBUILD_DEBIAN_MIRROR" in (error.value.fix or "")


def test_unknown_distribution(tmp_path: Path) -> None:
    with pytest.raises(InvalidError) as error:
        load_index(
            "bullseye", mirrors=Mirrors(debian="file:/x", security="file:/y"), cache_dir=tmp_path
        )
    assert "bookworm" in (error.value.fix or "")


# --- the scanned table ----------------------------------------------------------------------


def test_packages_file_round_trip(tmp_path: Path) -> None:
    text = fixture_text("provider_order").encode()
    scanned = PackagesFile.scan(text)
    scanned.save(tmp_path / "p.txt", tmp_path / "p.table")
    loaded = PackagesFile.load(
        tmp_path / "p.txt", tmp_path / "p.table", order_path=tmp_path / "p.order"
    )
    assert loaded is not None
    assert [loaded.entry(row) for row in range(len(loaded))] == [
        scanned.entry(row) for row in range(len(scanned))
    ]
    assert loaded.stanza(0).startswith("Package: early-mention\n")
    # apt's creation order: zz-prov is mentioned (Suggests) before its own stanza
    assert loaded.mentions()[:4] == ["early-mention", "zz-prov", "wants-thing", "thing"]
    assert (tmp_path / "p.order").exists()
    assert scanned.mentions() == loaded.mentions()  # found in the scan's pass, and again from the text
    (tmp_path / "p.table").write_bytes(b"garbage")
    assert PackagesFile.load(tmp_path / "p.txt", tmp_path / "p.table") is None


def test_index_lookups() -> None:
    from .synthetic import fixture_index

    index: PackageIndex = fixture_index("versioned_provides")
    assert {(p.package.name, p.version) for p in index.providers("virt")} == {
        ("prov-v1", "1"),
        ("prov-v2", "2"),
        ("prov-unversioned", None),
    }
    assert index.is_virtual("virt") and "virt" not in index.names()
    needs = index.candidate("needs-v2")
    assert needs is not None and index.control(needs).startswith("Package: needs-v2\n")
    assert index.candidate("nope") is None and index.versions("nope") == []
    assert index.get("needs-v2", "1.0") == needs and index.get("needs-v2", "9") is None


# --- the real archive -----------------------------------------------------------------------


@pytest.mark.network
def test_real_inrelease_signature(mirrors: Mirrors) -> None:
    url = f"{mirrors.debian}/dists/bookworm-updates/InRelease"
    try:
        signed = fetch(url)
    except MirrorError as error:
        pytest.fail(f"the configured Debian mirror is needed: {error}", pytrace=False)
    assert "Codename: bookworm-updates" in verify_signed(signed, url=url)
    tampered = signed.replace(b"Codename: bookworm-updates", b"Codename: bookworm-evil!")
    with pytest.raises(MirrorError) as error:
        verify_signed(tampered, url=url)
    assert url in str(error.value)


@pytest.mark.network
def test_real_snapshot_downloads_by_hash(
    bookworm: PackageIndex, mirrors: Mirrors, tmp_path: Path
) -> None:
    updates = [s for s in bookworm.snapshots if s.suite == "bookworm-updates"]
    again = load_snapshot(updates, mirrors=mirrors, cache_dir=tmp_path)
    assert again.snapshots == updates
    assert IndexCache(tmp_path, updates[0].packages_sha256).xz.exists()
