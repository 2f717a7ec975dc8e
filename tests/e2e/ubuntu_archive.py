"""A stand-in Ubuntu base and archive, for apt_install on an Ubuntu registry base
(nixbuild.registry.ubuntu).

No Ubuntu archive and no public registry is reachable from these machines, so the tests make
both. The base: an image made with umoci from one nixbuild built (its dpkg status lists what
it holds: libc6, curl, jq...), given Ubuntu's os-release (``ID=ubuntu``,
``VERSION_CODENAME=jammy``), apt sources naming ``jammy``, ``jammy-updates`` and
``jammy-security`` with ``main universe`` (plus a vendor's flat repository, which is not
read), and a throw-away test key as its archive keyring, in the place and with the links
Ubuntu's ubuntu-keyring package has. The archive: those suites, signed with that key
(InRelease, Acquire-By-Hash), holding two small .debs built with ``dpkg-deb``.
"""

from __future__ import annotations

import hashlib
import lzma
import subprocess
from pathlib import Path

from conftest import umoci_bundle

CODENAME = "jammy"
DATE = "Tue, 01 Dec 2026 10:00:00 UTC"
OS_RELEASE = ('PRETTY_NAME="Ubuntu 22.04 stand-in"\nNAME="Ubuntu"\nVERSION_ID="22.04"\nID=ubuntu\nID_LIKE=debian\n'
              f"VERSION_CODENAME={CODENAME}\n")
# The addresses are never fetched: every Ubuntu suite comes from NIXBUILD_UBUNTU_MIRROR.
SOURCES = (f"deb http://archive.example.org/ubuntu/ {CODENAME} main universe\n"
           f"deb http://archive.example.org/ubuntu/ {CODENAME}-updates main universe\n"
           f"deb http://security.example.org/ubuntu/ {CODENAME}-security main universe\n")
VENDOR = "deb [signed-by=/usr/share/keyrings/vendor-keyring.gpg] https://vendor.example.com/repo/ /\n"
# (name, suite, component, Depends, the file it installs, its content)
DEBS = (
    ("stand-in-lib", f"{CODENAME}", "universe", "", "usr/share/stand-in/greeting", "hello from stand-in-lib\n"),
    ("stand-in-hello", f"{CODENAME}-updates", "main", "stand-in-lib (>= 1.0), libc6",
     "usr/bin/stand-in-hello", "#!/bin/sh\ncat /usr/share/stand-in/greeting\n"),
)


def base_layout(source_layout: str, work: Path, keyring: Path) -> Path:
    """An OCI layout (tag ``jammy``) of ``source_layout``'s ``latest`` made Ubuntu-like."""
    layout, bundle = work / "ubuntu-layout", work / "ubuntu-bundle"
    root = umoci_bundle(source_layout, layout, bundle)
    os_release = root / "etc" / "os-release"
    os_release.unlink(missing_ok=True)
    os_release.write_text(OS_RELEASE)
    apt = root / "etc" / "apt"
    for old in (apt / "sources.list.d").glob("*"):
        old.unlink()
    (apt / "sources.list.d").mkdir(parents=True, exist_ok=True)
    (apt / "sources.list").write_text(SOURCES)
    (apt / "sources.list.d" / "vendor.list").write_text(VENDOR)
    keyrings = root / "usr" / "share" / "keyrings"
    keyrings.mkdir(parents=True, exist_ok=True)
    (keyrings / "ubuntu-archive-keyring.gpg").write_bytes(keyring.read_bytes())
    trusted = apt / "trusted.gpg.d"
    trusted.mkdir(parents=True, exist_ok=True)
    (trusted / "ubuntu-keyring-2018-archive.gpg").symlink_to("/usr/share/keyrings/ubuntu-archive-keyring.gpg")
    subprocess.run(["umoci", "repack", "--image", f"{layout}:{CODENAME}", str(bundle)], check=True,
                   capture_output=True)
    return layout


def _deb(work: Path, name: str, depends: str, path: str, content: str) -> Path:
    tree = work / "debs" / name
    (tree / "DEBIAN").mkdir(parents=True)
    control = f"Package: {name}\nVersion: 1.0-0ubuntu1\nArchitecture: all\nMaintainer: Test <test@example.org>\n"
    control += (f"Depends: {depends}\n" if depends else "") + f"Description: {name}, a stand-in package\n"
    (tree / "DEBIAN" / "control").write_text(control)
    target = tree / path
    target.parent.mkdir(parents=True)
    target.write_text(content)
    target.chmod(0o755)
    out = work / "debs" / f"{name}_1.0-0ubuntu1_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", str(tree), str(out)], check=True,
                   capture_output=True)
    return out


def publish(root: Path, work: Path, gnupg: Path) -> list[dict]:
    """The signed archive under ``root``; returns the debs' {name, path, sha256}."""
    stanzas: dict[tuple[str, str], str] = {}
    made = []
    for name, suite, component, depends, path, content in DEBS:
        deb = _deb(work, name, depends, path, content)
        pool = f"pool/{component}/s/{name}/{deb.name}"
        (root / pool).parent.mkdir(parents=True, exist_ok=True)
        (root / pool).write_bytes(deb.read_bytes())
        sha256 = hashlib.sha256(deb.read_bytes()).hexdigest()
        control = subprocess.run(["dpkg-deb", "--field", str(deb)], check=True, capture_output=True,
                                 text=True).stdout.rstrip("\n")
        stanzas[suite, component] = stanzas.get((suite, component), "") + (
            f"{control}\nFilename: {pool}\nSize: {deb.stat().st_size}\nSHA256: {sha256}\n\n")
        made.append({"name": name, "path": pool, "sha256": sha256})
    for suite in (CODENAME, f"{CODENAME}-updates", f"{CODENAME}-security"):
        folder = root / "dists" / suite
        listed = []
        for component in ("main", "universe"):
            binary = folder / component / "binary-amd64"
            (binary / "by-hash" / "SHA256").mkdir(parents=True)
            data = lzma.compress(stanzas.get((suite, component), "").encode(), format=lzma.FORMAT_XZ)
            digest = hashlib.sha256(data).hexdigest()
            (binary / "Packages.xz").write_bytes(data)
            (binary / "by-hash" / "SHA256" / digest).write_bytes(data)
            listed.append(f" {digest} {len(data)} {component}/binary-amd64/Packages.xz\n")
        (folder / "Release").write_text(
            f"Origin: Ubuntu\nLabel: Ubuntu\nSuite: {suite}\nCodename: {CODENAME}\nDate: {DATE}\n"
            "Acquire-By-Hash: yes\nArchitectures: amd64\nComponents: main universe\nSHA256:\n" + "".join(listed))
        subprocess.run(["gpg", "--batch", "--quiet", "--homedir", str(gnupg), "--passphrase", "", "--clearsign",
                        "--output", str(folder / "InRelease"), str(folder / "Release")], check=True,
                       capture_output=True)
    return made
