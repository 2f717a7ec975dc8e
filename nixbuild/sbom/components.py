"""The components of one image, read from its lock: the model both SBOM formats render.

Every pinned input becomes a :class:`Component` with the hash the lock pins it by:
Debian packages (purl ``pkg:deb/debian/NAME@VERSION?arch=...``, the .deb's sha256, the
licence of its DEP-5 copyright file), wheels and sdists (``pkg:pypi/...``, the file's sha256),
packages from private repositories (``pkg:github/...@COMMIT``, the checkout's NAR sha256),
conda packages (``pkg:conda/...``, the package file's sha256; the zstd .debs that unpack them
are build inputs),
local trees (the NAR sha256 of the tree put into the store), steps that ran with the network
(the pinned NAR sha256 of their output) and registry bases (``pkg:oci/...`` by manifest
digest: :func:`registry_base`). What only builds the image (the bootstrap toolchain, sdists'
build requirements) has ``role="build"``. Debian packages on a registry base name the base's
release as their distro (an Ubuntu base's: ``pkg:deb/ubuntu/...``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from packageurl import PackageURL
from pydantic import BaseModel, ConfigDict

from nixbuild.conda.pin import CondaPin
from nixbuild.lock import BootstrapLock, DebPin, ImageLock, OutputLock
from nixbuild.local.nar import nar_sha256_hex
from nixbuild.local.tree import LocalTree
from nixbuild.python.git_source import GitPin
from nixbuild.python.names import normalize
from nixbuild.python.resolve import FilePin

Kind = Literal["deb", "wheel", "sdist", "git", "conda", "local", "output", "oci-base"]
LicenseOf = Callable[[DebPin], "str | None"]


class Component(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Kind
    name: str
    version: str | None = None
    purl: str | None = None
    sha256: str  # hex: of the file (deb, wheel, sdist, conda), of the NAR (git, local, output), of the manifest (oci-base)
    license: str | None = None  # an SPDX expression; None: not known (NOASSERTION)
    download: str | None = None  # where the lock fetches it from, when the lock holds a full URL
    step: int | None = None  # the step of the image chain that brings it (None: bootstrap)
    role: Literal["image", "build"] = "image"
    comment: str = ""

    @property
    def ref(self) -> str:
        """A stable identifier, unique within one image's components."""
        digest = hashlib.sha256(f"{self.kind}|{self.name}|{self.version}|{self.sha256}|{self.role}".encode())
        return f"{self.kind}-{re.sub(r'[^A-Za-z0-9.-]+', '-', self.name)}-{digest.hexdigest()[:12]}"


class ImageComponents(BaseModel):
    """What an SBOM describes: one built image and everything it was made from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    app: str  # the app file's name
    image: str
    manifest_digest: str  # sha256:...
    manifest_size: int
    created: str  # the image's creation time (fixed in every nixbuild image), RFC 3339
    lock_sha256: str
    distribution: str
    nixbuild_version: str
    components: list[Component]


def deb(pin: DebPin, distribution: str, step: int | None, license: str | None, role: str = "image") -> Component:
    # purl's deb namespace is the vendor: an Ubuntu base's packages are Ubuntu's.
    purl = PackageURL(type="deb", namespace="ubuntu" if pin.archive == "ubuntu" else "debian", name=pin.name,
                      version=pin.version, qualifiers={"arch": pin.architecture, "distro": distribution})
    return Component(kind="deb", name=pin.name, version=pin.version, purl=purl.to_string(), sha256=pin.sha256,
                     license=license, step=step, role=role, comment=f"{pin.archive} {pin.path}")


def python_file(pin: FilePin, kind: Literal["wheel", "sdist"], step: int | None, role: str = "image") -> Component:
    name = normalize(pin.name)
    purl = PackageURL(type="pypi", name=name, version=pin.version, qualifiers={"file_name": pin.filename})
    return Component(kind=kind, name=name, version=pin.version, purl=purl.to_string(), sha256=pin.sha256,
                     download=pin.url, step=step, role=role, comment=pin.filename)


def git_source(pin: GitPin, step: int) -> Component:
    """A package built from a private repository's checkout (purl type ``github``/``gitlab``,
    the commit as its version; the checkout's NAR hash as its digest)."""
    host, _, path = pin.repository.partition("/")
    namespace, _, name = path.rpartition("/")
    purl = PackageURL(type=host.removesuffix(".com"), namespace=namespace, name=name, version=pin.commit)
    return Component(kind="git", name=normalize(pin.name), version=pin.version, purl=purl.to_string(),
                     sha256=nar_sha256_hex(pin.nar_hash), step=step,
                     comment=f"{pin.repository} at {pin.commit}" + (f" ({pin.ref})" if pin.ref else ""))


def conda_package(pin: CondaPin, step: int, role: str = "image") -> Component:
    """A conda package (purl type ``conda``: build, channel, subdir and file type as qualifiers)."""
    purl = PackageURL(type="conda", name=pin.name, version=pin.version,
                      qualifiers={"build": pin.build, "channel": pin.channel, "subdir": pin.subdir,
                                  "type": "conda" if pin.filename.endswith(".conda") else "tar.bz2"})
    return Component(kind="conda", name=pin.name, version=pin.version, purl=purl.to_string(), sha256=pin.sha256,
                     step=step, role=role)


def local_tree(tree: LocalTree, step: int, kind: str) -> Component:
    return Component(kind="local", name=f"step-{step}-{kind}", sha256=nar_sha256_hex(tree.nar_hash), step=step,
                     comment=f"local files of step {step} {kind}, {len(tree.files)} files, as {tree.store_path}")


def network_output(record: OutputLock) -> Component:
    return Component(kind="output", name=f"step-{record.index}-{record.kind}", sha256=nar_sha256_hex(record.output_hash),
                     step=record.index, comment=f"pinned output of step {record.index} {record.kind}, "
                                                "which ran with the network")


def registry_base(repository: str, digest: str, step: int = 0) -> Component:
    """A base image pulled from a registry by manifest digest (``repository`` is HOST/PATH)."""
    algorithm, _, hex_digest = digest.partition(":")
    if algorithm != "sha256" or not re.fullmatch(r"[0-9a-f]{64}", hex_digest):
        raise ValueError(f"{digest!r} is not a sha256 manifest digest")
    name = repository.rsplit("/", 1)[-1]
    purl = PackageURL(type="oci", name=name, version=digest, qualifiers={"repository_url": repository})
    return Component(kind="oci-base", name=name, version=digest, purl=purl.to_string(), sha256=hex_digest,
                     step=step, comment=f"base image {repository}@{digest}")


def components_of(image: ImageLock, bootstrap: BootstrapLock, trees: Mapping[int, LocalTree],
                  kinds: Mapping[int, str], license_of: LicenseOf) -> list[Component]:
    """Every input of one image, in chain order; the bootstrap toolchain last (role "build")."""
    by_step: dict[int, list[Component]] = {}
    base = next((step.registry for step in image.steps if step.registry is not None), None)
    distro = base.facts.os_version or image.distribution if base is not None else image.distribution
    for step in image.steps:
        items = by_step.setdefault(step.index, [])
        if step.registry is not None:
            items.append(registry_base(step.registry.repository, step.registry.manifest, step.index))
        items += [deb(p, distro, step.index, license_of(p)) for p in step.packages]
        items += [conda_package(p, step.index) for p in step.conda]
        items += [deb(p, distro, step.index, license_of(p), role="build") for p in step.conda_tools]
        items += [python_file(w, "wheel", step.index) for w in step.wheels]
        for sdist in step.sdists:
            items.append(python_file(sdist, "sdist", step.index))
            items += [python_file(w, "wheel", step.index, role="build") for w in sdist.build]
        for source in step.git:
            items.append(git_source(source, step.index))
            items += [python_file(w, "wheel", step.index, role="build") for w in source.build]
    for index, tree in trees.items():
        by_step.setdefault(index, []).append(local_tree(tree, index, kinds[index]))
    for record in image.outputs:
        by_step.setdefault(record.index, []).append(network_output(record))
    found = [c for index in sorted(by_step) for c in by_step[index]]
    found.append(deb(bootstrap.busybox, bootstrap.distribution, None, license_of(bootstrap.busybox), role="build"))
    found += [deb(p, bootstrap.distribution, None, license_of(p), role="build") for p in bootstrap.python]
    if bootstrap.installer is not None:
        found.append(python_file(bootstrap.installer, "wheel", None, role="build"))
    unique: dict[str, Component] = {}
    for component in found:
        unique.setdefault(component.ref, component)
    return list(unique.values())


def lock_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
