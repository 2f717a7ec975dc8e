"""The apt sources and archive keyring of an Ubuntu registry base, read as apt in it reads them.

What this mirrors from apt (sources.list(5), apt-secure(8)):

- The entries: ``etc/apt/sources.list``, then ``etc/apt/sources.list.d/*.list`` and
  ``*.sources`` sorted by file name; ``deb`` entries only (``deb-src`` and disabled ones not).
- The suites read are the entries' suites of the base's release (os-release
  ``VERSION_CODENAME``: ``jammy``, ``jammy-updates``, ``jammy-security``...), each with the
  components its entries list, in the order apt meets them. The entries' URIs are not used:
  every suite is fetched from the one mirror configured in ``NIXBUILD_UBUNTU_MIRROR`` (the
  archive ``ubuntu`` of :class:`nixbuild.debian.sources.Mirrors`). Entries of other suites (a
  vendor's repository, e.g. a flat ``/`` one) are not read, and a warning names them.
- The keyring: an entry's ``Signed-By`` file when it has one, else apt's global keyrings
  (``etc/apt/trusted.gpg`` and ``etc/apt/trusted.gpg.d/*.gpg``), taken from the base's own
  layers (symlinks followed within the image). The base is pinned by digest, so its keyring
  is as trusted as the base. The keyrings of the entries read are concatenated into one
  (binary OpenPGP keyrings concatenate) and kept in the cache by hash, for gpgv.
"""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path

from nixbuild.api.steps import FromRegistry
from nixbuild.debian.cache import write_atomic
from nixbuild.debian.index import PackageIndex, Suite, load_suites
from nixbuild.debian.sources import AptSource, Mirrors, parse_deb822, parse_one_line
from nixbuild.errors import LockError, NixbuildError
from nixbuild.registry import blobs
from nixbuild.registry.facts import layered_files
from nixbuild.registry.pin import RegistryPin
from nixbuild.warn import warn

ARCHIVE = "ubuntu"
_LIST = "etc/apt/sources.list"
_PARTS = "etc/apt/sources.list.d/"
_GLOBAL_KEYRING = "etc/apt/trusted.gpg"
_GLOBAL_KEYRINGS = "etc/apt/trusted.gpg.d/"
_POCKETS = ("", "-updates", "-security", "-backports", "-proposed")
_LINK_HOPS = 8

Files = dict[str, bytes]


def _wanted(name: str) -> bool:
    # Sources and keyrings: everything under etc/apt, and any *.gpg a Signed-By may name.
    return name.startswith("etc/apt/") or name.endswith(".gpg")


def apt_sources(files: Files) -> list[AptSource]:
    """Every ``deb`` entry of the image's apt configuration, in apt's order."""
    def text(name: str) -> str:
        return files[name].decode("utf-8", "replace")

    sources = list(parse_one_line(text(_LIST), "/" + _LIST)) if _regular(files, _LIST) else []
    for name in sorted(n for n in files if posixpath.dirname(n) + "/" == _PARTS and _regular(files, n)):
        if name.endswith(".list"):
            sources.extend(parse_one_line(text(name), "/" + name))
        elif name.endswith(".sources"):
            sources.extend(parse_deb822(text(name), "/" + name))
    return sources


def suites(sources: list[AptSource], codename: str) -> tuple[tuple[Suite, ...], list[AptSource]]:
    """The suites of release ``codename`` the entries name (components merged per suite, in
    apt's order), and the entries of those suites."""
    release = {codename + pocket for pocket in _POCKETS}
    components: dict[str, list[str]] = {}
    for source in sources:
        if source.suite in release:
            listed = components.setdefault(source.suite, [])
            listed.extend(c for c in source.components if c not in listed)
    return (tuple(Suite(archive=ARCHIVE, name=name, components=tuple(listed))
                  for name, listed in components.items() if listed),
            [source for source in sources if source.suite in release])


def keyring(files: Files, sources: list[AptSource]) -> bytes:
    """The keys the entries ``sources`` are checked against (see the module docstring)."""
    names: list[str] = []
    for source in sources:
        if source.signed_by is None:
            wanted = ([_GLOBAL_KEYRING] if _GLOBAL_KEYRING in files else []) + sorted(
                n for n in files if posixpath.dirname(n) + "/" == _GLOBAL_KEYRINGS and n.endswith(".gpg"))
        elif source.signed_by.startswith("/") and len(source.signed_by.split()) == 1:
            wanted = [source.signed_by.lstrip("/")]
        else:  # fingerprints or an inline key block: apt's other Signed-By forms
            raise ValueError(f"{source.origin}: Signed-By {source.signed_by.split()[0]}... is not a keyring file "
                             "path, the only form nixbuild reads")
        names.extend(n for n in wanted if n not in names)
    data = b"".join(_follow(files, name) for name in names)
    if not data:
        looked = ", ".join("/" + name for name in names) or f"/{_GLOBAL_KEYRING}, /{_GLOBAL_KEYRINGS}*.gpg"
        raise ValueError(f"no archive keyring for its apt sources in its layers (looked for {looked})")
    return data


def _regular(files: Files, name: str) -> bool:
    return name in files and not files[name].startswith(b"->")


def _follow(files: Files, name: str) -> bytes:
    """The bytes of ``name``, symlinks followed within the image (b"" when it has none)."""
    for _ in range(_LINK_HOPS):
        data = files.get(name)
        if data is None or not data.startswith(b"->"):
            return data or b""
        target = data[2:].decode()
        name = posixpath.normpath(posixpath.join("/" + posixpath.dirname(name), target)).lstrip("/")
    return b""


def load_index(step: FromRegistry, pinned: RegistryPin, *, mirrors: Mirrors, cache_dir: Path,
               where: str) -> PackageIndex:
    """The current index of the suites an Ubuntu base's apt sources name, from the configured
    Ubuntu mirror, verified against the keyring the base ships."""
    codename = pinned.facts.os_version
    paths = blobs.cached(step, pinned, [layer.digest for layer in pinned.layers], cache_dir, where)
    layered = layered_files((paths[layer.digest] for layer in pinned.layers), content=_wanted)
    files = {name: data for name, (_, data) in layered.items() if data is not None}
    sources = apt_sources(files)
    read, entries = suites(sources, codename)
    for source in (s for s in sources if s not in entries):
        warn(f"{where}: the apt source {source.uri} {source.suite} ({source.origin}) of {pinned.reference} is not "
             f"read: only Ubuntu {codename}'s suites are, from NIXBUILD_UBUNTU_MIRROR")
    if not read:
        raise LockError(f"the apt sources of {pinned.reference} name no suite of Ubuntu {codename}", where=where,
                        fix="install the packages in the base image itself, or use a base whose apt sources "
                            f"list {codename}")
    try:
        keys = keyring(files, entries)
    except ValueError as exc:
        raise LockError(f"{pinned.reference}: {exc}", where=where,
                        fix="use a base that ships its archive keyring (ubuntu-keyring)") from None
    path = cache_dir / "ubuntu" / "keyrings" / f"{hashlib.sha256(keys).hexdigest()}.gpg"
    if not path.exists():
        write_atomic(path, keys)
    try:
        return load_suites(read, mirrors=mirrors, cache_dir=cache_dir / "debian", keyring=path)
    except NixbuildError as exc:
        raise exc.at(where)
