"""What apt steps on a registry base resolve against: the base's own dpkg status and release.

A Debian base (os-release ``ID=debian`` of a release nixbuild indexes) gets its apt steps
resolved against that release's signed index; an Ubuntu base (``ID=ubuntu``) against the
suites its own apt sources name, from the configured Ubuntu mirror, signed by the keyring it
ships (:mod:`nixbuild.registry.ubuntu`). Either way the packages its dpkg status lists as
installed (``Status: install ok installed``) are taken as installed, as apt would on that image.
Each installed package is the index's entry of that exact version when the index has it, else
read from its status stanza (relations included; nothing is downloaded for it). Other bases
are refused.
"""

from __future__ import annotations

from pathlib import Path

from nixbuild.api.steps import FromRegistry
from nixbuild.debian.control import parse_paragraphs
from nixbuild.debian.index import PackageIndex
from nixbuild.debian.package import Package, parse_package
from nixbuild.errors import LockError
from nixbuild.registry import blobs
from nixbuild.registry.facts import dpkg_status
from nixbuild.registry.pin import RegistryPin

_FIELDS = ("package", "version", "architecture", "source", "priority", "essential", "protected", "multi-arch",
           "section", "depends", "pre-depends", "provides", "conflicts", "breaks")
# The Debian releases whose index nixbuild reads (nixbuild.debian.slim's).
RELEASES = ("bookworm", "trixie")


def release_of(pinned: RegistryPin, where: str) -> str | None:
    """The Debian release an apt step on this base resolves against; None for an Ubuntu base
    (its own apt sources name its suites)."""
    facts = pinned.facts
    if not facts.dpkg:
        raise LockError(f"the base image {pinned.reference} has no dpkg status database (var/lib/dpkg/status), so "
                        "apt_install has nothing to install into", where=where,
                        fix="use a Debian-based image, or install what you need with run_commands")
    if facts.os_id == "ubuntu" and facts.os_version:
        return None
    if facts.os_id != "debian" or facts.os_version not in RELEASES:
        system = f"{facts.os_id or 'an unknown system'} {facts.os_version or ''}".strip()
        raise LockError(f"apt_install on {pinned.reference} ({system}): nixbuild resolves apt steps against "
                        f"Debian's archive ({', '.join(RELEASES)}) or an Ubuntu base's own apt sources only",
                        where=where,
                        fix="install the packages in the base image itself, or use a Debian- or Ubuntu-based image")
    return facts.os_version


def installed(step: FromRegistry, pinned: RegistryPin, index: PackageIndex, cache_dir: Path,
              where: str) -> list[Package]:
    """The packages the base's dpkg status lists as installed."""
    layer = pinned.layers[pinned.facts.dpkg_layer]
    blob = blobs.cached(step, pinned, [layer.digest], cache_dir, where)[layer.digest]
    out = []
    for paragraph in parse_paragraphs(dpkg_status(blob)):
        if paragraph.get("status", "").split()[-1:] != ["installed"]:
            continue
        found = index.get(paragraph["package"], paragraph["version"])
        if found is None:  # relations only: descriptions span lines, and nothing else is read
            text = "\n".join(f"{key}: {paragraph[key]}" for key in _FIELDS if key in paragraph)
            found = parse_package(text, archive=index.snapshots[0].archive, suite=pinned.facts.os_version)
        out.append(found)
    return out
