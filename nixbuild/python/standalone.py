"""python-build-standalone: the Python of a series Debian does not ship.

Modal's ``debian_slim`` of a series without a Debian package (3.10, 3.12, 3.14, 3.15 on
bookworm) and its ``add_python`` copy a python-build-standalone ``install_only`` tree's
``python/`` into ``/usr/local``. nixbuild does the same with a pinned archive:

- Which build serves a series is uv's knowledge, not ours: ``uv python list --only-downloads
  --all-versions --output-format json`` (the uv nixbuild pins) lists every CPython download
  with its URL. The newest build of the series is chosen at lock time (a micro version given,
  ``"3.12.3"``, picks that one), as pip, wheel and uv are the current ones when locked.
- Where it is downloaded from is configuration: uv's own ``UV_PYTHON_INSTALL_MIRROR`` (the
  folder that holds ``<release>/<file>``), else uv's default. The lock records the release,
  file name, size and sha256, never a host, so a lock moves between machines with different
  mirrors like the Debian pins do.
- The archive is downloaded at lock time only to hash it; the build fetches it again when the
  store lacks it, as a fixed-output download checked against that hash.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import urllib.parse

from pydantic import BaseModel, ConfigDict, Field

from nixbuild.debian.fetch import fetch
from nixbuild.errors import InvalidError, MirrorError, ResolveError
from nixbuild.python.resolve import uv_bin

MIRROR_ENV = "UV_PYTHON_INSTALL_MIRROR"
MIRROR_FIX = (f"set {MIRROR_ENV} to a mirror of python-build-standalone's releases that this machine "
              "reaches (a folder of <release>/<archive> files, as uv uses it)")
# What Modal's python:X-slim images and add_python set, for the build's own terminfo database.
TERMINFO_DIRS = "/etc/terminfo:/lib/terminfo:/usr/share/terminfo:/usr/lib/terminfo"
_PLATFORM = {"os": "linux", "arch": "x86_64", "libc": "gnu", "implementation": "cpython"}


class StandalonePin(BaseModel):
    """One python-build-standalone archive, exactly."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: str = Field(description="the CPython version it holds (3.12.16)")
    freethreaded: bool = False
    release: str = Field(description="the python-build-standalone release (20261110)")
    filename: str
    size: int
    sha256: str

    @property
    def name(self) -> str:  # as a package pin's, for the messages that name a download
        return "python-build-standalone"

    def url(self, mirror: str | None = None) -> str:
        return f"{(mirror or default_mirror()).rstrip('/')}/{self.release}/{urllib.parse.quote(self.filename)}"


def _downloads(env: dict[str, str] | None = None) -> list[dict]:
    proc = subprocess.run([uv_bin(), "python", "list", "--only-downloads", "--all-versions", "--output-format",
                           "json"], capture_output=True, text=True, env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise ResolveError(f"uv cannot list the Python downloads it knows: {proc.stderr.strip()}")
    return [d for d in json.loads(proc.stdout) if all(d.get(k) == v for k, v in _PLATFORM.items())]


def _release_and_file(url: str) -> tuple[str, str]:
    path = urllib.parse.urlsplit(url).path
    release, filename = path.rsplit("/", 2)[-2:]
    return release, urllib.parse.unquote(filename)


def default_mirror() -> str:
    """Where downloads come from: ``UV_PYTHON_INSTALL_MIRROR``, else uv's default."""
    configured = os.environ.get(MIRROR_ENV)
    return configured.rstrip("/") if configured else _uv_default_mirror()


@functools.cache
def _uv_default_mirror() -> str:
    # Read from uv's own listing, so no host is written here; once per run, as every image
    # spec names the archive's URL.
    env = {k: v for k, v in os.environ.items() if k != MIRROR_ENV}
    return _downloads(env)[0]["url"].rsplit("/", 2)[0]


def choose(requested: str, series: str) -> dict:
    """uv's download entry for ``requested`` (a series: its newest build; a micro version: that
    one); ``series`` is ``major.minor`` with ``t`` for free-threaded."""
    freethreaded = series.endswith("t")
    minor = series.rstrip("t")
    variant = "freethreaded" if freethreaded else "default"
    candidates = [d for d in _downloads() if d["variant"] == variant
                  and f"{d['version_parts']['major']}.{d['version_parts']['minor']}" == minor
                  and "install_only" in d["url"] and not d["version"][len(minor):].strip(".0123456789")]
    if requested.rstrip("t").count(".") == 2:
        candidates = [d for d in candidates if d["version"] == requested.rstrip("t")]
    if not candidates:
        raise InvalidError(f"uv knows no python-build-standalone build of Python {requested} for x86_64 Linux",
                           fix="pick a series or micro version `uv python list --only-downloads --all-versions` "
                               "lists")
    return max(candidates, key=lambda d: (d["version_parts"]["patch"], _release_and_file(d["url"])[0]))


def pin(requested: str, series: str) -> StandalonePin:
    """Pin the build for ``requested``: download it to hash it."""
    entry = choose(requested, series)
    release, filename = _release_and_file(entry["url"])
    draft = StandalonePin(version=entry["version"], freethreaded=series.endswith("t"), release=release,
                          filename=filename, size=0, sha256="0" * 64)
    url = draft.url()
    try:
        data = fetch(url, fix=MIRROR_FIX)
    except MirrorError as exc:
        raise MirrorError(f"cannot download Python {entry['version']} (python-build-standalone {release}) "
                          f"from {url}: {exc.message}", fix=MIRROR_FIX) from None
    return draft.model_copy(update={"size": len(data), "sha256": hashlib.sha256(data).hexdigest()})
