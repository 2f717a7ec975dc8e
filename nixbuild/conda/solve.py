"""Resolve conda match specs for the image at lock time, with rattler's solver.

What ``micromamba install -n base SPECS -c CH...`` does before it downloads anything: read
each channel's ``repodata.json`` for the image's platform (``linux-64``) and ``noarch``, and
solve the specs with strict channel priority (micromamba's default: a package found in an
earlier channel is taken only from there) and the image's virtual packages (``__glibc`` of the
base's Debian release, ``__linux``, ``__unix``, ``__archspec``), keeping what earlier steps
installed exactly as it is. The solver is py-rattler's (resolvo, the one pixi and rattler use).

Each package is pinned by channel (as the user named it), subdir, file name, sha256 and size:
the build fetches it as a fixed-output download and needs no channel when it is in the store.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from pathlib import Path

import rattler
import rattler.exceptions

from nixbuild.conda import channels as conda_channels
from nixbuild.conda.pin import CondaPin
from nixbuild.debian.fetch import fetch
from nixbuild.errors import MirrorError, ResolveError

PLATFORM = "linux-64"  # the images are x86_64 (plan.py: architecture "amd64")
SUBDIRS = (PLATFORM, "noarch")
_BAD_SPEC = (rattler.exceptions.InvalidMatchSpecError, rattler.exceptions.InvalidPackageNameError,
             rattler.exceptions.InvalidVersionSpecError)
ARCHSPEC = "x86_64"


def virtual_packages(glibc: tuple[int, int]) -> list[rattler.GenericVirtualPackage]:
    """What micromamba detects on the image: its glibc, Linux, Unix, the CPU family."""
    def virtual(name: str, version: str) -> rattler.GenericVirtualPackage:
        return rattler.GenericVirtualPackage(rattler.PackageName(name), rattler.Version(version),
                                              rattler.BuildString("0"))
    return [virtual("__glibc", f"{glibc[0]}.{glibc[1]}"), virtual("__linux", "0"), virtual("__unix", "0"),
            virtual("__archspec", "1")]


def _repodata(channel: str, subdir: str, cache_dir: Path) -> rattler.SparseRepoData:
    base = conda_channels.channel_url(channel)
    url = f"{base}/{subdir}/repodata.json"
    try:
        data = fetch(url, fix=conda_channels.FIX)
    except MirrorError as exc:
        raise MirrorError(f"conda channel {channel!r} ({base}) is not reachable: {exc.message}",
                          fix=conda_channels.FIX) from None
    path = cache_dir / "conda" / f"repodata-{hashlib.sha256(data).hexdigest()}.json"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return rattler.SparseRepoData(rattler.Channel(base), subdir, path)


def solve(specs: Sequence[str], channels: Sequence[str], *, glibc: tuple[int, int], cache_dir: Path,
          installed: Sequence[CondaPin] = ()) -> list[CondaPin]:
    """Every package ``specs`` need on top of ``installed`` (kept at their builds; not in the
    result), in dependency order."""
    channels = list(channels) or list(conda_channels.DEFAULT_CHANNELS)
    # What is installed stays installed, as micromamba passes the prefix's records to its
    # solver: each installed package's record, from the channel it came from (read after the
    # step's own channels, so those keep their priority).
    extra = [c for c in dict.fromkeys(p.channel for p in installed) if c not in channels]
    sparse = {(channel, subdir): _repodata(channel, subdir, cache_dir)
              for channel in [*channels, *extra] for subdir in SUBDIRS}
    pinned = [_record(sparse[(p.channel, p.subdir)], p) for p in installed]
    try:
        wanted = [rattler.MatchSpec(s) for s in specs]
    except _BAD_SPEC as exc:
        raise ResolveError(f"not a conda match spec: {exc}", fix="write specs as micromamba takes them, "
                           "e.g. `numpy`, `numpy>=1.26`, `python=3.11`, `conda-forge::numpy`") from None
    try:
        records = asyncio.run(rattler.solve_with_sparse_repodata(
            wanted, list(sparse.values()), pinned_packages=pinned, virtual_packages=virtual_packages(glibc)))
    except rattler.exceptions.SolverError as exc:
        raise ResolveError(f"cannot resolve {' '.join(specs)} from {', '.join(channels)}: {exc}",
                           fix="check the package names and version constraints against the channels") from None
    by_url = {conda_channels.channel_url(c): c for c in [*channels, *extra]}
    kept = {p.name for p in installed}
    pins = []
    by_key = {(r.name.normalized, str(r.version), str(r.build)): r for r in records}
    ordered = [by_key[(r.name.normalized, str(r.version), str(r.build))]
               for r in rattler.PackageRecord.sort_topologically(records)]
    for record in ordered:
        if record.name.normalized in kept:
            continue
        base = record.url.rsplit("/", 2)[0]
        pins.append(CondaPin(name=record.name.normalized, version=str(record.version), build=str(record.build),
                             channel=by_url[base], subdir=record.subdir, filename=record.file_name,
                             sha256=_hex(record.sha256), size=record.size or 0,
                             noarch=_noarch(record.noarch)))
    return pins


def _record(sparse: rattler.SparseRepoData, pin: CondaPin) -> rattler.RepoDataRecord:
    """The channel's record of an installed package."""
    for record in sparse.load_records(rattler.PackageName(pin.name)):
        if record.file_name == pin.filename:
            return record
    raise ResolveError(f"{pin.filename}, installed by an earlier step, is no longer in conda channel {pin.channel!r}",
                       fix="run `nixbuild lock --update` to solve the whole environment again")


def _noarch(kind: rattler.NoArchType) -> str | None:
    return "python" if kind.python else "generic" if kind.generic else None


def _hex(digest: bytes | None) -> str:
    if digest is None:
        raise ResolveError("a package in the channel's repodata.json has no sha256, so it cannot be pinned",
                           fix="use a channel whose repodata lists sha256 for every package")
    return digest.hex()
